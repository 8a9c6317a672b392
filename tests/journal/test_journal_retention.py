"""Bounded memory: an in-memory journal keeps a ring of recent entries (and the entries of orders
not yet retired), and finished order actors are retired after the retention, their Orders still
answered from a compact record."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from loguru import logger

from ibkr_exec import (
    DuplicateOrderError,
    Fill,
    IBKRConnectionManager,
    IBKROrderExecutor,
    OrderEventHandler,
    OrderRequest,
    OrderStatus,
    Settings,
)
from ibkr_exec.actors import GetOrder, OrderActor
from ibkr_exec.audit import AuditLogger
from ibkr_exec.broker.port import ExecutionReport, OrderAccepted
from ibkr_exec.models import Order, Side
from ibkr_exec.sim import FakeTWS


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110  # retirement is a timer: no event to await
            await asyncio.sleep(0)


class NullBroker:
    def place_order(self, order: Order) -> None:
        pass

    def cancel_order(self, order: Order) -> None:
        pass


def test_an_in_memory_journal_keeps_only_its_ring_of_recent_entries() -> None:
    journal = AuditLogger(memory_entries=100)
    for i in range(1000):
        journal.record("transition", client_order_id=f"o-{i}", payload={"i": i})
        journal.release(f"o-{i}")  # each order retired
    entries = journal.entries()
    assert [e["payload"]["i"] for e in entries] == list(range(900, 1000))
    assert journal.entries_for("o-5") == []  # retired and out of the ring: forgotten
    assert [e["payload"]["i"] for e in journal.entries_for("o-950")] == [950]


async def test_a_live_order_replays_from_its_own_entries_after_the_ring_moved_on() -> None:
    journal = AuditLogger(memory_entries=3)
    t0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
    order = Order(
        "7", "c-1", "AAPL", Decimal(100), "LIMIT", "BUY", Decimal("150"), None, "PENDING", t0,
        updated_at=t0,
    )  # fmt: skip
    actor = OrderActor.create(order, broker=NullBroker(), journal=journal).start()
    actor.tell(OrderAccepted("7", perm_id=99))
    actor.tell(ExecutionReport("E1", "7", "AAPL", Side.BUY, Decimal(40), Decimal("150"), t0))
    live = await actor.ask(GetOrder())
    await actor.stop()
    for i in range(50):  # other orders' entries push c-1's out of the ring
        journal.record("transition", client_order_id=f"other-{i}")
    assert all(e["client_order_id"] != "c-1" for e in journal.entries())
    rebuilt = OrderActor.recover("c-1", broker=NullBroker(), journal=journal)
    assert rebuilt.order == live
    assert (rebuilt.order.status, rebuilt.order.filled_quantity) == (
        OrderStatus.PARTIAL,
        Decimal(40),
    )


def test_order_retention_is_a_setting() -> None:
    assert Settings().order_retention_seconds == 600.0
    assert Settings.from_env({"IBKR_ORDER_RETENTION_SECONDS": "0"}).order_retention_seconds == 0
    assert (
        Settings.from_env({"IBKR_ORDER_RETENTION_SECONDS": "never"}).order_retention_seconds is None
    )
    with pytest.raises(ValueError, match="IBKR_ORDER_RETENTION_SECONDS"):
        Settings.from_env({"IBKR_ORDER_RETENTION_SECONDS": "-1"})


async def test_a_retired_order_stays_queryable_from_its_compact_record() -> None:
    async with FakeTWS() as tws:
        tws.set_price("AAPL", Decimal("150"))
        manager = IBKRConnectionManager(
            tws.host, tws.port, 1, timeout_seconds=3.0, max_requests_per_second=0,
            order_retention_seconds=0,
        )  # fmt: skip
        executor = IBKROrderExecutor(manager)
        await executor.start()
        try:
            request = OrderRequest(
                "AAPL", 10, "LIMIT", "BUY", limit_price="140", client_order_id="r-1"
            )
            submitted = await executor.submit_order(request)
            conn = manager.actor()
            actor = conn.order_actor("r-1")
            assert actor is not None  # working: kept
            tws.set_price("AAPL", Decimal("139"))  # now it fills
            await until(lambda: actor.is_terminal)
            fills = actor.fills
            assert fills
            await until(lambda: conn.order_actor("r-1") is None)  # retired
            await until(lambda: "r-1" not in conn.children)  # and stopped

            by_cid = await executor.get_order_status("r-1")
            assert by_cid is not None
            assert (by_cid.status, by_cid.filled_quantity) == (OrderStatus.FILLED, Decimal(10))
            assert submitted.order_id is not None
            assert await executor.get_order_status(submitted.order_id) == by_cid
            assert await executor.get_fills("r-1") == fills
            assert by_cid in await executor.get_orders()
            assert await executor.get_open_orders() == []
            assert await executor.cancel_order("r-1") == by_cid
            assert manager.journal.entries_for("r-1")  # still in the ring of recent entries
            with pytest.raises(DuplicateOrderError):
                await executor.submit_order(request)
        finally:
            await executor.stop()


def test_the_retention_benchmark_runs() -> None:
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[2])
    if root not in sys.path:
        sys.path.insert(0, root)
    from bench import retention

    lines = retention.main(["--no-record", "--n", "40", "--baseline", "20"])
    assert any("B per order" in line for line in lines)


async def test_a_retired_order_the_broker_lists_again_after_a_reconnect_is_not_adopted_twice() -> (
    None
):
    async with FakeTWS() as tws:
        tws.set_price("AAPL", Decimal("150"))
        manager = IBKRConnectionManager(
            tws.host, tws.port, 1, timeout_seconds=3.0, max_requests_per_second=0,
            reconnect_backoff_seconds=0.02, order_retention_seconds=0,
        )  # fmt: skip
        executor = IBKROrderExecutor(manager)
        await executor.start()
        try:
            await executor.submit_order(OrderRequest("AAPL", 10, "MARKET", "BUY"))
            conn = manager.actor()
            await until(lambda: len(conn.retired) == 1)
            tws.disconnect_clients()  # the reconnect's sync lists the order as completed
            await manager.wait_reconciled()
            orders = await executor.get_orders()
            assert conn.orders == {}
        finally:
            await executor.stop()
    assert [o.status for o in orders] == [OrderStatus.FILLED]


async def test_a_report_for_a_retired_order_is_journaled_under_its_id_and_warned_about() -> None:
    warnings: list[str] = []
    sink = logger.add(lambda m: warnings.append(str(m.record["message"])), level="WARNING")
    try:
        async with FakeTWS() as tws:
            tws.set_price("AAPL", Decimal("150"))
            manager = IBKRConnectionManager(
                tws.host, tws.port, 1, timeout_seconds=3.0, max_requests_per_second=0,
                order_retention_seconds=0,
            )  # fmt: skip
            executor = IBKROrderExecutor(manager)
            await executor.start()
            try:
                await executor.submit_order(
                    OrderRequest("AAPL", 10, "MARKET", "BUY", client_order_id="late-1")
                )
                conn = manager.actor()
                await until(lambda: len(conn.retired) == 1)
                tws.correct_execution(price="149")  # IB corrects the execution afterwards
                journal = manager.journal

                def late_entries() -> list[dict[str, object]]:
                    return [e for e in journal.entries() if e["kind"] == "unrouted"]

                await until(lambda: bool(late_entries()))
                late = late_entries()
            finally:
                await executor.stop()
    finally:
        logger.remove(sink)
    assert late[0]["client_order_id"] == "late-1"
    assert "retired" in str(late[0]["payload"])
    assert any("late-1" in w and "retired" in w for w in warnings)


async def test_a_report_for_a_retired_order_revives_it_from_a_journal_file(tmp_path: Path) -> None:
    heard: list[Fill] = []

    class Fills(OrderEventHandler):
        def on_fill(self, fill: Fill) -> None:
            heard.append(fill)

    async with FakeTWS() as tws:
        tws.set_price("AAPL", Decimal("150"))
        manager = IBKRConnectionManager(
            tws.host, tws.port, 1, timeout_seconds=3.0, max_requests_per_second=0,
            order_retention_seconds=0, journal_path=tmp_path / "journal.jsonl",
        )  # fmt: skip
        executor = IBKROrderExecutor(manager, order_handlers=[Fills()])
        await executor.start()
        try:
            await executor.submit_order(
                OrderRequest("AAPL", 10, "MARKET", "BUY", client_order_id="rev-1")
            )
            conn = manager.actor()
            await until(lambda: len(conn.retired) == 1)
            correction = tws.correct_execution(price="149")  # after the retention
            await until(lambda: any(f.fill_id == correction.exec_id for f in heard))
            await until(lambda: len(conn.retired) == 1)  # retention 0: retired again at once
            fills = await executor.get_fills("rev-1")
            kinds = [e["kind"] for e in manager.journal.entries_for("rev-1")]
        finally:
            await executor.stop()
    assert "revived" in kinds
    assert "unrouted" not in kinds
    assert [(f.fill_id, f.price) for f in fills] == [(correction.exec_id, Decimal("149"))]
