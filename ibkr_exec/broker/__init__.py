"""The broker boundary: ``port`` says what the actors need, ``ib`` is the ib_async adapter."""
