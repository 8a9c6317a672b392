"""IBKROrderExecutor through the public API, over ib_async and FakeTWS on loopback."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from ibkr_exec import (
    AckTimeoutError,
    DuplicateOrderError,
    IBKRConnectionManager,
    IBKROrderExecutor,
    LiveTradingNotAllowedError,
    NotConnectedError,
    OrderRejectedError,
    OrderRequest,
    OrderStatus,
    OrderType,
    ReadOnlyError,
    RiskCheckError,
    Settings,
    Side,
    read_journal,
    replay_orders,
)
from ibkr_exec.sim import FakeTWS

from .conftest import make_executor
from .waiting import Recorder

MARKET = OrderRequest("AAPL", "100", OrderType.MARKET, Side.BUY)


def limit(qty: str = "100", price: str = "150", **kw: object) -> OrderRequest:
    return OrderRequest("AAPL", qty, OrderType.LIMIT, Side.BUY, limit_price=price, **kw)  # type: ignore[arg-type]


async def test_market_order_fills_at_the_simulator_price(
    executor: IBKROrderExecutor, tws: FakeTWS
) -> None:
    rec = Recorder()
    executor.add_order_handler(rec)
    order = await executor.submit_order(MARKET)
    done = await rec.until(order.client_order_id, lambda o: o.status is OrderStatus.FILLED)
    assert (done.filled_quantity, done.average_fill_price) == (Decimal("100"), Decimal("150"))
    assert done.order_id == order.order_id
    assert done.perm_id is not None
    assert tws.order(order.client_order_id).filled == Decimal("100")


async def test_client_order_id_is_generated_and_sent_as_order_ref(
    executor: IBKROrderExecutor, tws: FakeTWS
) -> None:
    order = await executor.submit_order(limit(price="100"))
    assert order.client_order_id.startswith("ibx-")
    assert tws.order(order.client_order_id).order_ref == order.client_order_id


async def test_limit_order_fills_in_parts_with_weighted_average_price(
    executor: IBKROrderExecutor, tws: FakeTWS
) -> None:
    tws.max_fill_size = Decimal("30")
    tws.auto_match = False
    rec = Recorder()
    executor.add_order_handler(rec)
    order = await executor.submit_order(limit(price="151"))
    cid = order.client_order_id
    tws.fill(cid, Decimal("30"), Decimal("150"))
    await rec.until(cid, lambda o: o.filled_quantity == 30)
    assert (await executor.get_order_status(cid)).status is OrderStatus.PARTIAL  # type: ignore[union-attr]
    tws.fill(cid, Decimal("70"), Decimal("151"))
    done = await rec.until(cid, lambda o: o.status is OrderStatus.FILLED)
    assert done.average_fill_price == Decimal("150.7")
    fills = await executor.get_fills(cid)
    assert [f.quantity for f in fills] == [Decimal("30"), Decimal("70")]
    assert all(f.commission is not None for f in fills)


async def test_handlers_hear_each_real_change_once_and_in_order(
    executor: IBKROrderExecutor, tws: FakeTWS
) -> None:
    tws.auto_match = False
    rec = Recorder()
    executor.add_order_handler(rec)
    order = await executor.submit_order(limit())
    cid = order.client_order_id
    tws.fill(cid, Decimal("40"))
    await rec.until(cid, lambda o: o.filled_quantity == 40)
    tws.fill(cid, Decimal("60"))
    await rec.until(cid, lambda o: o.status is OrderStatus.FILLED)
    kinds = [(kind, value) for kind, c, value in rec.calls if c == cid]
    assert kinds[0] == ("status", (OrderStatus.SUBMITTED, Decimal("0")))
    assert [k for k, _ in kinds[1:]] == ["fill", "status", "fill", "status"]
    assert kinds[2] == ("status", (OrderStatus.PARTIAL, Decimal("40")))
    assert kinds[4] == ("status", (OrderStatus.FILLED, Decimal("100")))


async def test_a_handler_that_raises_is_journaled_and_breaks_nothing(
    executor: IBKROrderExecutor,
) -> None:
    class Broken(Recorder):
        def on_order_status(self, order: object) -> None:
            raise RuntimeError("handler bug")

    rec = Recorder()
    executor.add_order_handler(Broken())
    executor.add_order_handler(rec)
    order = await executor.submit_order(MARKET)
    await rec.until(order.client_order_id, lambda o: o.status is OrderStatus.FILLED)
    anomalies = [e for e in executor.journal.entries() if e["kind"] == "anomaly"]
    assert any("handler bug" in e["payload"]["note"] for e in anomalies)


async def test_async_handlers_are_awaited_on_stop(tws: FakeTWS, journal_path: Path) -> None:
    seen: list[OrderStatus] = []

    class Slow(Recorder):
        async def on_order_status(self, order: object) -> None:  # type: ignore[override]
            seen.append(order.status)  # type: ignore[attr-defined]

    ex = make_executor(tws, journal_path)
    ex.add_order_handler(Slow())
    await ex.start()
    await ex.submit_order(MARKET)
    await ex.stop()
    assert OrderStatus.SUBMITTED in seen


async def test_reject_raises_with_ib_code_and_reason(
    executor: IBKROrderExecutor, tws: FakeTWS
) -> None:
    rec = Recorder()
    executor.add_order_handler(rec)
    tws.inject_order_error(201, "Order rejected - reason: insufficient margin")
    with pytest.raises(OrderRejectedError) as caught:
        await executor.submit_order(MARKET)
    assert caught.value.code == 201
    assert "insufficient margin" in caught.value.reason
    cid = caught.value.client_order_id
    assert cid is not None
    order = await executor.get_order_status(cid)
    assert order is not None
    assert (order.status, order.reason_code) == (OrderStatus.REJECTED, 201)
    assert ("rejected", cid, (201, caught.value.reason)) in rec.calls


async def test_cancel_is_confirmed(executor: IBKROrderExecutor, tws: FakeTWS) -> None:
    rec = Recorder()
    executor.add_order_handler(rec)
    order = await executor.submit_order(limit(price="100"))
    pending = await executor.cancel_order(order.client_order_id)
    assert pending.status in (OrderStatus.PENDING_CANCEL, OrderStatus.CANCELLED)
    done = await rec.until(order.client_order_id, lambda o: o.status is OrderStatus.CANCELLED)
    assert done.filled_quantity == 0
    assert tws.order(order.client_order_id).status == "Cancelled"


async def test_cancel_refused_because_filled_ends_filled_not_cancelled(
    executor: IBKROrderExecutor, tws: FakeTWS
) -> None:
    rec = Recorder()
    executor.add_order_handler(rec)
    order = await executor.submit_order(limit(price="100"))
    tws.inject_cancel_error(10148)
    await executor.cancel_order(order.client_order_id)
    done = await rec.until(order.client_order_id, lambda o: o.status is OrderStatus.FILLED)
    assert done.filled_quantity == Decimal("100")


async def test_cancel_by_order_id_and_unknown_ids(executor: IBKROrderExecutor) -> None:
    order = await executor.submit_order(limit(price="100"))
    assert order.order_id is not None
    assert (await executor.get_order_status(order.order_id)) == (
        await executor.get_order_status(order.client_order_id)
    )
    await executor.cancel_order(order.order_id)
    assert await executor.get_order_status("nope") is None
    with pytest.raises(KeyError, match="unknown order 'nope'"):
        await executor.cancel_order("nope")


async def test_duplicate_client_order_id_is_refused_live_or_done(
    executor: IBKROrderExecutor, tws: FakeTWS
) -> None:
    await executor.submit_order(limit(price="100", client_order_id="strategy-1"))
    with pytest.raises(DuplicateOrderError, match="strategy-1"):
        await executor.submit_order(limit(price="100", client_order_id="strategy-1"))
    await executor.submit_order(
        OrderRequest("AAPL", "1", OrderType.MARKET, Side.BUY, client_order_id="done-1")
    )
    with pytest.raises(DuplicateOrderError):
        await executor.submit_order(
            OrderRequest("AAPL", "1", OrderType.MARKET, Side.BUY, client_order_id="done-1")
        )
    assert tws.placements_received == 2


async def test_risk_check_refusal_sends_nothing_and_is_journaled(
    tws: FakeTWS, journal_path: Path
) -> None:
    def too_big(request: OrderRequest) -> bool:
        return request.quantity <= 1000

    ex = make_executor(tws, journal_path)
    ex._risk_check = too_big
    async with ex:
        with pytest.raises(RiskCheckError):
            await ex.submit_order(OrderRequest("AAPL", "5000", OrderType.MARKET, Side.BUY))
        await ex.submit_order(MARKET)
    assert tws.placements_received == 1
    kinds = [e["kind"] for e in read_journal(journal_path)]
    assert "risk_rejected" in kinds


@pytest.mark.parametrize("mode", ["async-false", "raises"])
async def test_async_or_broken_risk_checks_fail_closed(
    tws: FakeTWS, journal_path: Path, mode: str
) -> None:
    async def refuse(request: OrderRequest) -> bool:
        return False

    def broken(request: OrderRequest) -> bool:
        raise ZeroDivisionError("bug in check")

    manager = IBKRConnectionManager(tws.host, tws.port, 1, timeout_seconds=3.0)
    ex = IBKROrderExecutor(manager, risk_check_callback=refuse if mode == "async-false" else broken)
    async with ex:
        with pytest.raises(RiskCheckError):
            await ex.submit_order(MARKET)
    assert tws.placements_received == 0


async def test_readonly_refuses_orders(tws: FakeTWS) -> None:
    manager = IBKRConnectionManager(tws.host, tws.port, 1, readonly=True, timeout_seconds=3.0)
    async with IBKROrderExecutor(manager) as ex:
        with pytest.raises(ReadOnlyError):
            await ex.submit_order(MARKET)
    assert tws.placements_received == 0


async def test_not_connected_raises_a_connection_error(journal_path: Path) -> None:
    manager = IBKRConnectionManager("127.0.0.1", 9, 1, timeout_seconds=0.5)
    ex = IBKROrderExecutor(manager)
    with pytest.raises(NotConnectedError) as caught:
        await ex.start()
    assert isinstance(caught.value, ConnectionError)
    with pytest.raises(NotConnectedError):
        await ex.submit_order(MARKET)
    await ex.stop()


async def test_live_port_needs_allow_live() -> None:
    manager = IBKRConnectionManager("127.0.0.1", 7496, 1)
    with pytest.raises(LiveTradingNotAllowedError):
        await manager.connect()


async def test_unacknowledged_order_times_out_but_stays_tracked(
    tws: FakeTWS, journal_path: Path
) -> None:
    ex = make_executor(tws, journal_path, timeout_seconds=0.3)
    async with ex:
        tws.swallow_placements()
        with pytest.raises(AckTimeoutError) as caught:
            await ex.submit_order(limit(price="100", client_order_id="lost-1"))
        assert "stays tracked" in str(caught.value)
        order = await ex.get_order_status("lost-1")
        assert order is not None
        assert order.status is OrderStatus.PENDING
        assert [o.client_order_id for o in await ex.get_open_orders()] == ["lost-1"]


async def test_positions_follow_fills(executor: IBKROrderExecutor, tws: FakeTWS) -> None:
    rec = Recorder()
    executor.add_order_handler(rec)
    order = await executor.submit_order(MARKET)
    await rec.until(order.client_order_id, lambda o: o.status is OrderStatus.FILLED)
    positions = {p.symbol: p.quantity for p in await executor.get_positions()}
    assert positions == {"AAPL": Decimal("100")}


async def test_two_executors_with_different_client_ids_are_independent(
    tws: FakeTWS, tmp_path: Path
) -> None:
    a = make_executor(tws, tmp_path / "a.jsonl", client_id=1)
    b = make_executor(tws, tmp_path / "b.jsonl", client_id=2)
    async with a, b:
        oa = await a.submit_order(limit(price="100", client_order_id="a-1"))
        ob = await b.submit_order(limit(price="100", client_order_id="b-1"))
        await a.cancel_order("a-1")
        ra = Recorder()
        a.add_order_handler(ra)
        await ra.until("a-1", lambda o: o.status is OrderStatus.CANCELLED)
        assert (await b.get_order_status("b-1")).status is OrderStatus.SUBMITTED  # type: ignore[union-attr]
        assert await a.get_order_status("b-1") is None
        assert oa.order_id is not None
        assert ob.order_id is not None
    a_ids = {e["client_order_id"] for e in read_journal(tmp_path / "a.jsonl")} - {None}
    assert a_ids == {"a-1"}


async def test_the_journal_replays_into_the_final_orders(
    executor: IBKROrderExecutor, tws: FakeTWS, journal_path: Path
) -> None:
    rec = Recorder()
    executor.add_order_handler(rec)
    filled = await executor.submit_order(MARKET)
    resting = await executor.submit_order(limit(price="100"))
    await executor.cancel_order(resting.client_order_id)
    await rec.until(filled.client_order_id, lambda o: o.status is OrderStatus.FILLED)
    await rec.until(resting.client_order_id, lambda o: o.status is OrderStatus.CANCELLED)
    executor.journal.flush()
    replayed = replay_orders(read_journal(journal_path))
    for cid in (filled.client_order_id, resting.client_order_id):
        assert replayed[cid] == await executor.get_order_status(cid)


def test_from_settings_carries_every_setting(tmp_path: Path) -> None:
    settings = Settings(
        host="gw",
        port=4002,
        client_id=9,
        readonly=True,
        timeout_seconds=2.5,
        reconnect_max_attempts=3,
        reconnect_backoff_seconds=0.5,
        allow_live=True,
        journal_path=tmp_path / "j.jsonl",
    )
    assert IBKRConnectionManager.from_settings(settings).settings == settings
    overridden = IBKRConnectionManager.from_settings(settings, client_id=10)
    assert overridden.settings.client_id == 10


def test_a_negative_throttle_is_refused_at_construction_and_later() -> None:
    with pytest.raises(ValueError, match="max_requests_per_second must be >= 0"):
        IBKRConnectionManager(max_requests_per_second=-1)
    manager = IBKRConnectionManager(max_requests_per_second=0)
    with pytest.raises(ValueError, match="max_requests_per_second must be >= 0"):
        manager.max_requests_per_second = -5
    assert manager.max_requests_per_second == 0
