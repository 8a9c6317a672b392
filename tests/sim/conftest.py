"""Fixtures for the simulator tests; ``fake_tws`` itself comes from the ibkr_exec.sim plugin."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from ib_async import IB

from ibkr_exec.sim import FakeTWS

from .helpers import connect


@pytest_asyncio.fixture
async def ib(fake_tws: FakeTWS) -> AsyncIterator[IB]:
    """Client id 1, connected to the fake_tws fixture."""
    client = await connect(fake_tws)
    yield client
    client.disconnect()
