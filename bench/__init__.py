"""Benchmarks against raw ib_async and the performance budgets of design.md (see README.md)."""
