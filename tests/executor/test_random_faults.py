"""Seeded randomized fault schedules in CI (see random_faults.py for the invariants and the
longer run). Each failure names its seed: rerun it alone with ``IBKR_FAULT_SEED=<seed>``."""

from __future__ import annotations

import os

import pytest

from .random_faults import run_seed

_ONE = os.environ.get("IBKR_FAULT_SEED")
SEEDS = [int(_ONE)] if _ONE else list(range(int(os.environ.get("IBKR_FAULT_SEEDS", "8"))))


@pytest.mark.parametrize("seed", SEEDS)
async def test_random_faults_keep_every_invariant(seed: int) -> None:
    violations = await run_seed(seed)
    assert violations == [], f"seed {seed} (rerun: IBKR_FAULT_SEED={seed}): {violations}"
