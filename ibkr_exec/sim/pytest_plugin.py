"""pytest plugin (entry point ``ibkr_exec_sim``): the ``fake_tws`` fixture.

Example::

    async def test_market_order_fills(fake_tws):
        fake_tws.set_price("AAPL", Decimal("150"))
        ib = IB()
        await ib.connectAsync("127.0.0.1", fake_tws.port, clientId=1)
        ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from ibkr_exec.sim.server import FakeTWS

__all__ = ["fake_tws"]


@pytest_asyncio.fixture
async def fake_tws() -> AsyncIterator[FakeTWS]:
    """A started FakeTWS on a free port of 127.0.0.1, stopped after the test."""
    async with FakeTWS() as tws:
        yield tws
