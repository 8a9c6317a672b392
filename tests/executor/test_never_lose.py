"""Never lose a fill, never resurrect an order, never hang (issue 16), through the public API.

Each test reproduces one failure that randomized fault schedules found, deterministically, with the
real ib_async client talking to FakeTWS over loopback.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from ibkr_exec import (
    AckTimeoutError,
    NotConnectedError,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    read_journal,
    replay_orders,
)
from ibkr_exec.sim import FakeTWS
from ibkr_exec.trace import load_trace
from ibkr_exec.trace_render import render_trace

from .conftest import make_executor
from .waiting import Events, Recorder


def _limit(cid: str, price: str = "100", qty: str = "100") -> OrderRequest:
    return OrderRequest(
        "AAPL", qty, OrderType.LIMIT, Side.BUY, limit_price=price, client_order_id=cid
    )


async def _reconnect(tws: FakeTWS, executor: object, events: Events) -> None:
    """Drop the socket and wait for the executor's reconnect and reconciliation."""
    seen = len(events.seen)
    tws.disconnect_clients()
    await events.until(seen + 2)  # disconnected, connected (after the sync)


async def test_a_cancelled_order_ib_never_had_ends_cancelled_and_is_never_placed(
    tws: FakeTWS, journal_path: Path
) -> None:
    rec, events = Recorder(), Events()
    ex = make_executor(tws, journal_path, timeout_seconds=0.5)
    ex.add_order_handler(rec)
    ex.add_connection_handler(events)
    async with ex:
        tws.swallow_placements()  # IB never receives it
        with pytest.raises(AckTimeoutError):
            await ex.submit_order(_limit("ghost", price="150"))
        await ex.cancel_order("ghost")  # IB answers 10147: it does not know the order
        done = await rec.until("ghost", lambda o: o.status is not OrderStatus.PENDING_CANCEL)
        assert done.status is OrderStatus.CANCELLED
        await _reconnect(tws, ex, events)
        await _reconnect(tws, ex, events)
        order = await ex.get_order_status("ghost")
        assert order is not None
        assert order.status is OrderStatus.CANCELLED
    assert [o for o in tws.orders if o.order_ref == "ghost"] == []
    assert replay_orders(read_journal(journal_path))["ghost"].status is OrderStatus.CANCELLED


async def test_a_placement_ib_never_saw_is_sent_again_under_a_fresh_id(
    tws: FakeTWS, journal_path: Path
) -> None:
    rec, events = Recorder(), Events()
    ex = make_executor(tws, journal_path, timeout_seconds=0.5)
    ex.add_order_handler(rec)
    ex.add_connection_handler(events)
    async with ex:
        tws.swallow_placements()
        with pytest.raises(AckTimeoutError):
            await ex.submit_order(_limit("lost", price="150", qty="5"))
        old_id = (await ex.get_order_status("lost")).order_id  # type: ignore[union-attr]
        later = await ex.submit_order(_limit("later", price="100"))  # a newer id is used
        assert int(later.order_id or 0) > int(old_id or 0)
        await _reconnect(tws, ex, events)
        filled = await rec.until("lost", lambda o: o.status is OrderStatus.FILLED)
        assert filled.order_id != old_id
        assert int(filled.order_id or 0) > int(later.order_id or 0)
        assert tws.order("lost").order_id == int(filled.order_id or 0)
    entries = list(read_journal(journal_path))
    assert any(e["kind"] == "reassigned" and e["client_order_id"] == "lost" for e in entries)
    assert replay_orders(entries)["lost"].order_id == filled.order_id


async def test_start_can_be_retried_after_a_failed_first_start(
    tws: FakeTWS, journal_path: Path
) -> None:
    a = make_executor(tws, journal_path)
    async with a:
        await a.submit_order(_limit("resting"))
    a.journal.close()
    await tws.stop()  # nobody listens: the next start fails
    b = make_executor(tws, journal_path, timeout_seconds=1.0)
    with pytest.raises(NotConnectedError):
        await b.start()
    await tws.start()
    await b.start()
    try:
        order = await b.get_order_status("resting")
        assert order is not None
        assert order.status is OrderStatus.SUBMITTED
    finally:
        await b.stop()
        b.journal.close()


async def test_a_socket_drop_during_the_resync_after_1101_reconnects(
    tws: FakeTWS, journal_path: Path
) -> None:
    rec, events = Recorder(), Events()
    ex = make_executor(tws, journal_path, timeout_seconds=1.0)
    ex.add_order_handler(rec)
    ex.add_connection_handler(events)
    async with ex:
        tws.auto_match = False
        await ex.submit_order(_limit("resting", price="150"))
        tws.leave_unanswered("executions", count=1)  # the resync hangs on its executions
        tws.notify_connectivity(1101)
        await tws.wait_for(lambda: "executions" not in tws.plan.unanswered)
        tws.fill("resting", Decimal("100"))
        tws.disconnect_clients()  # while the resync waits
        filled = await rec.until("resting", lambda o: o.status is OrderStatus.FILLED)
        assert filled.filled_quantity == 100
        await events.until(3)  # connected, disconnected, connected again
        assert ex.connection.is_connected()
        assert events.seen[0] == "connected"
        assert "connected" in events.seen[1:]


async def test_a_sync_waits_for_its_executions_before_it_is_complete(
    tws: FakeTWS, journal_path: Path
) -> None:
    """The order filled while the link was down and the executions request went unanswered:
    the order must not be placed again (103) and its fill must not be dropped."""
    rec, events = Recorder(), Events()
    ex = make_executor(tws, journal_path, timeout_seconds=1.0)
    ex.add_order_handler(rec)
    ex.add_connection_handler(events)
    async with ex:
        tws.auto_match = False
        for name in ("openOrder", "orderStatus", "error"):
            tws.delay_messages(name, 60.0, count=None)  # acks never reach the executor
        with pytest.raises(AckTimeoutError):
            await ex.submit_order(_limit("filled-away", price="150"))
        tws.disconnect_clients()
        tws.clear_faults()
        await events.until(2)
        tws.fill("filled-away", Decimal("100"))
        tws.leave_unanswered("executions", count=1)
        done = await rec.until("filled-away", lambda o: o.status is OrderStatus.FILLED, timeout=10)
        assert done.filled_quantity == 100
    assert len([o for o in tws.orders if o.order_ref == "filled-away"]) == 1
    assert replay_orders(read_journal(journal_path))["filled-away"].filled_quantity == 100


async def test_an_order_withdrawn_by_ib_after_partial_fills_keeps_its_fills(
    tws: FakeTWS, journal_path: Path
) -> None:
    rec = Recorder()
    ex = make_executor(tws, journal_path)
    ex.add_order_handler(rec)
    async with ex:
        tws.auto_match = False
        await ex.submit_order(_limit("withdrawn", price="150"))
        tws.fill("withdrawn", Decimal("30"))
        await rec.until("withdrawn", lambda o: o.filled_quantity == 30)
        tws.reject_working_order("withdrawn", "order withdrawn by IB")
        done = await rec.until("withdrawn", lambda o: o.status is OrderStatus.REJECTED)
        assert done.filled_quantity == 30
        assert [f.quantity for f in await ex.get_fills("withdrawn")] == [30]
    assert replay_orders(read_journal(journal_path))["withdrawn"] == done


async def test_a_fill_that_arrives_after_the_withdrawal_is_applied(
    tws: FakeTWS, journal_path: Path
) -> None:
    rec = Recorder()
    ex = make_executor(tws, journal_path)
    ex.add_order_handler(rec)
    async with ex:
        tws.auto_match = False
        await ex.submit_order(_limit("overtaken", price="150"))
        tws.delay_messages("execDetails", 0.3)  # the withdrawal overtakes the fill
        tws.fill("overtaken", Decimal("40"))
        tws.reject_working_order("overtaken", "order withdrawn by IB")
        await rec.until("overtaken", lambda o: o.status is OrderStatus.REJECTED)
        done = await rec.until("overtaken", lambda o: o.filled_quantity == 40)
        assert done.status is OrderStatus.REJECTED
        assert [c for c in rec.calls if c[0] == "fill"] == [
            ("fill", "overtaken", (tws.executions[-1].exec_id, Decimal("40")))
        ]
    entries = list(read_journal(journal_path))
    assert replay_orders(entries)["overtaken"].filled_quantity == 40
    assert any(e["kind"] == "anomaly" and e["trigger"] == "fill" for e in entries)
    trace = load_trace(journal_path, "overtaken")
    assert (trace.path[-1].src, trace.path[-1].trigger) == ("REJECTED", "fill")
    assert "**fill after reject**" in render_trace(trace)


async def test_a_cancel_requested_while_the_link_is_down_is_journaled_and_reported_on_stop(
    tws: FakeTWS, journal_path: Path
) -> None:
    events = Events()
    ex = make_executor(tws, journal_path, reconnect_backoff_seconds=30.0)
    ex.add_connection_handler(events)
    await ex.start()
    try:
        await ex.submit_order(_limit("resting"))
        tws.disconnect_clients()
        await events.until(2)  # connected, disconnected
        await ex.cancel_order("resting")
        stashed = [e for e in ex.journal.entries() if e["kind"] == "command_stashed"]
        assert [e["client_order_id"] for e in stashed] == ["resting"]
    finally:
        unsent = await ex.stop()
        ex.journal.close()
    assert [(o.client_order_id, command) for o, command in unsent] == [("resting", "cancel")]
    anomalies = [e for e in read_journal(journal_path) if e["kind"] == "anomaly"]
    assert any(
        e["client_order_id"] == "resting" and "never sent" in e["payload"]["note"]
        for e in anomalies
    )


async def test_an_execution_of_another_ib_order_with_the_same_order_ref_is_not_attached(
    tws: FakeTWS, tmp_path: Path
) -> None:
    earlier = make_executor(tws, tmp_path / "earlier.jsonl")
    async with earlier:  # another program (or an earlier journal) used the same orderRef
        await earlier.submit_order(
            OrderRequest("AAPL", "7", OrderType.MARKET, Side.BUY, client_order_id="same")
        )
        await tws.wait_for_status("same", "Filled")
    earlier.journal.close()
    journal = tmp_path / "ours.jsonl"
    a = make_executor(tws, journal)
    async with a:
        mine = await a.submit_order(_limit("same", price="100"))
    a.journal.close()
    b = make_executor(tws, journal)
    async with b:
        order = await b.get_order_status("same")
        assert order is not None
        assert order.status is OrderStatus.SUBMITTED
        assert order.filled_quantity == 0
        assert order.perm_id == mine.perm_id
        assert await b.get_fills("same") == []
    conflicts = [e for e in read_journal(journal) if e["kind"] == "perm_id_conflict"]
    assert conflicts
    assert all(e["client_order_id"] == "same" for e in conflicts)


async def test_stop_after_a_clean_run_reports_nothing_unsent(executor: object) -> None:
    from ibkr_exec import IBKROrderExecutor

    assert isinstance(executor, IBKROrderExecutor)
    await executor.submit_order(_limit("fine"))
    await executor.cancel_order("fine")
    assert await executor.stop() == []
