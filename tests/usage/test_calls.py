"""Unknown ids, per-call timeouts, waiting for the link to be reconciled (issue 11: 1, 10, 12)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
import pytest_asyncio

from ibkr_exec import (
    AskTimeoutError,
    ConnectionEventHandler,
    IBKRConnectionManager,
    IBKRExecError,
    IBKROrderExecutor,
    NotConnectedError,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    UnknownOrderError,
)
from ibkr_exec.sim import FakeTWS


def _manager(tws: FakeTWS, **options: float) -> IBKRConnectionManager:
    return IBKRConnectionManager(tws.host, tws.port, client_id=1, **options)  # type: ignore[arg-type]


@pytest_asyncio.fixture
async def executor(fake_tws: FakeTWS) -> AsyncIterator[IBKROrderExecutor]:
    fake_tws.set_price("AAPL", Decimal("150"))
    async with IBKROrderExecutor(_manager(fake_tws, reconnect_backoff_seconds=0.02)) as ex:
        yield ex


def _resting(cid: str) -> OrderRequest:
    return OrderRequest(
        "AAPL", "100", OrderType.LIMIT, Side.BUY, limit_price="140", client_order_id=cid
    )


# -- item 10: unknown ids --------------------------------------------------------------------------


async def test_cancel_of_an_unknown_id_raises_unknown_order_error(
    executor: IBKROrderExecutor,
) -> None:
    with pytest.raises(UnknownOrderError) as caught:
        await executor.cancel_order("no-such-order")
    assert isinstance(caught.value, KeyError)
    assert isinstance(caught.value, IBKRExecError)
    assert caught.value.key == "no-such-order"
    assert str(caught.value) == (
        "unknown order 'no-such-order' (neither a client_order_id nor an order_id)"
    )


async def test_fills_of_an_unknown_id_raise_unknown_order_error(
    executor: IBKROrderExecutor,
) -> None:
    with pytest.raises(UnknownOrderError, match="'999'"):
        await executor.get_fills("999")


async def test_status_of_an_unknown_id_is_none(executor: IBKROrderExecutor) -> None:
    assert await executor.get_order_status("no-such-order") is None


# -- item 12: per-call timeouts --------------------------------------------------------------------


class _Down(ConnectionEventHandler):
    def __init__(self) -> None:
        self.event = asyncio.Event()

    def on_disconnected(self) -> None:
        self.event.set()


async def test_submit_while_the_link_is_down_gives_up_after_its_own_timeout(
    fake_tws: FakeTWS,
) -> None:
    # The settings allow 30 s; the call allows 0.2 s. The outer 10 s guard only catches a
    # submit that ignored its timeout (it would then raise TimeoutError, not NotConnectedError).
    manager = _manager(fake_tws, timeout_seconds=30.0, reconnect_backoff_seconds=60.0)
    down = _Down()
    async with IBKROrderExecutor(manager, connection_handlers=[down]) as executor:
        fake_tws.disconnect_clients()
        await asyncio.wait_for(down.event.wait(), 5)  # the client noticed: RECONNECTING
        with pytest.raises(NotConnectedError, match=r"within 0\.2 s"):
            await asyncio.wait_for(executor.submit_order(_resting("t-1"), timeout=0.2), 10)


async def test_cancel_takes_its_own_timeout(executor: IBKROrderExecutor) -> None:
    await executor.submit_order(_resting("t-2"))
    # timeout=0: the order actor cannot have answered before the call gives up.
    with pytest.raises(AskTimeoutError, match="within 0 s"):
        await executor.cancel_order("t-2", timeout=0)
    order = await executor.cancel_order("t-2", timeout=5)
    assert order.status in (OrderStatus.PENDING_CANCEL, OrderStatus.CANCELLED)


# -- item 1: wait for "reconnected and reconciled" ----------------------------------------------


async def _drop_and_fill(fake_tws: FakeTWS, executor: IBKROrderExecutor, cid: str) -> None:
    await executor.submit_order(_resting(cid))
    fake_tws.disconnect_clients()  # the link drops ...
    fake_tws.set_price("AAPL", Decimal("139"))  # ... and the order fills meanwhile
    await fake_tws.wait_for_status(cid, "Filled")


async def test_ensure_connected_does_not_trust_a_link_the_other_end_cut(
    fake_tws: FakeTWS, executor: IBKROrderExecutor
) -> None:
    await _drop_and_fill(fake_tws, executor, "d-1")
    await executor.connection.ensure_connected()
    order = await executor.get_order_status("d-1")
    assert order is not None
    assert (order.status, order.filled_quantity) == (OrderStatus.FILLED, Decimal("100"))
    assert [f.quantity for f in await executor.get_fills("d-1")] == [Decimal("100")]
    assert executor.connection.is_connected()


async def test_wait_reconciled_returns_after_the_reconnect_and_its_sync(
    fake_tws: FakeTWS, executor: IBKROrderExecutor
) -> None:
    await _drop_and_fill(fake_tws, executor, "d-2")
    await executor.connection.wait_reconciled(timeout=5)
    order = await executor.get_order_status("d-2")
    assert order is not None
    assert (order.status, order.filled_quantity) == (OrderStatus.FILLED, Decimal("100"))


async def test_wait_reconciled_is_a_barrier_on_a_live_link(
    fake_tws: FakeTWS, executor: IBKROrderExecutor
) -> None:
    await executor.submit_order(_resting("d-3"))
    fake_tws.set_price("AAPL", Decimal("139"))  # TWS sends the fill now
    await executor.connection.wait_reconciled()
    order = await executor.get_order_status("d-3")
    assert order is not None
    assert order.status is OrderStatus.FILLED


async def test_wait_reconciled_raises_when_the_link_stays_down(fake_tws: FakeTWS) -> None:
    manager = _manager(fake_tws, reconnect_backoff_seconds=60.0)
    async with IBKROrderExecutor(manager):
        fake_tws.disconnect_clients()
        with pytest.raises(NotConnectedError):
            await manager.wait_reconciled(timeout=0.3)
        assert manager.state == "RECONNECTING"


async def test_wait_reconciled_raises_when_the_broker_does_not_answer(
    fake_tws: FakeTWS, executor: IBKROrderExecutor
) -> None:
    fake_tws.leave_unanswered("currentTime")  # the socket is up, but nothing comes back
    with pytest.raises(NotConnectedError, match="not confirmed live and reconciled within 0.3 s"):
        await executor.connection.wait_reconciled(timeout=0.3)
