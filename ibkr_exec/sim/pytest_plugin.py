"""pytest plugin (entry point ``ibkr_exec_sim``): the ``fake_tws`` fixture.

Installed with ibkr-exec, so it loads in every pytest run of that environment. It must never
break a run that does not use it: pytest-asyncio is imported only if it is there, and the
fixture says what to install when a test asks for it without pytest-asyncio. Example (runs in
pytest-asyncio's strict mode, the default, as written)::

    @pytest.mark.asyncio
    async def test_market_order_fills(fake_tws):
        fake_tws.set_price("AAPL", Decimal("150"))
        ib = IB()
        await ib.connectAsync("127.0.0.1", fake_tws.port, clientId=1)
        ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from ibkr_exec.sim.server import FakeTWS

__all__ = ["fake_tws"]

_NEEDS_ASYNCIO = (
    "the fake_tws fixture (ibkr-exec's simulator) is async and needs pytest-asyncio: "
    "pip install pytest-asyncio (or ibkr-exec[test]); then mark the test "
    '@pytest.mark.asyncio, or set asyncio_mode = "auto"'
)


async def _running_simulator() -> AsyncIterator[FakeTWS]:
    """A started FakeTWS on a free port of 127.0.0.1, stopped after the test."""
    async with FakeTWS() as tws:
        yield tws


def _pytest_asyncio_missing() -> FakeTWS:
    """Fails the test asking for ``fake_tws``, naming what to install."""
    pytest.fail(_NEEDS_ASYNCIO, pytrace=False)


def _fixture() -> Any:
    try:
        import pytest_asyncio
    except ImportError:  # not installed: tell only a test that asks for the fixture
        return pytest.fixture(name="fake_tws")(_pytest_asyncio_missing)
    return pytest_asyncio.fixture(name="fake_tws")(_running_simulator)


#: A started FakeTWS on a free port of 127.0.0.1, stopped after the test.
fake_tws = _fixture()
