"""Order lifecycle paths under broker faults, run against FakeTWS over loopback.

A *path* drives one order through a lifecycle (fill, partial fills, cancel, ...) and calls
``stage(...)`` at the points where a *fault* can strike (before the ack, during partial fills,
during a pending cancel, at the end). Each run checks the invariants the design promises and
returns the violations, so the fault matrix reports every broken combination by name.

Every run also records the lifecycle edges the order machine took (``EDGES``), so a test can
check that every edge of ORDER_TRANSITIONS is reached against the simulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from ibkr_exec import (
    AckTimeoutError,
    AuditLogger,
    IBKRConnectionManager,
    IBKROrderExecutor,
    Order,
    OrderRejectedError,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    read_journal,
    replay_orders,
)
from ibkr_exec.sim import FakeTWS
from ibkr_exec.statemachines import order_machine

from .conftest import far_zone
from .waiting import Events, Recorder

# -- edge recording -------------------------------------------------------------------------------

#: (source state, trigger, destination state) of every transition any run took.
EDGES: set[tuple[str, str, str]] = set()


def _record_edges() -> None:
    machine = order_machine()
    if getattr(machine, "_edge_recording", False):
        return
    fire = machine.fire

    def recording_fire(model: Any, trigger: str) -> bool:
        src = model.state
        taken = fire(model, trigger)
        if taken:
            EDGES.add((src, trigger, model.state))
        return taken

    machine.fire = recording_fire  # type: ignore[method-assign]
    machine._edge_recording = True  # type: ignore[attr-defined]


_record_edges()

# -- the run context ------------------------------------------------------------------------------

SIM_STATUS = {
    "Filled": OrderStatus.FILLED,
    "Cancelled": OrderStatus.CANCELLED,
    "ApiCancelled": OrderStatus.CANCELLED,
    "Inactive": OrderStatus.REJECTED,
}


@attrs.define
class Run:
    """One path under one fault: the simulator, the executor and what the path learned."""

    tws: FakeTWS
    executor: IBKROrderExecutor
    recorder: Recorder
    fault: Fault
    cid: str
    journal_path: Path
    violations: list[str] = attrs.Factory(list)
    rejected: OrderRejectedError | None = None

    async def stage(self, name: str) -> None:
        """A point where the fault may strike."""
        await self.fault.strike(self, name)

    async def submit(self, request: OrderRequest) -> None:
        """Submit (the fault may wrap it); a reject or ack timeout is an outcome, not an error."""
        try:
            await self.fault.submit(self, request)
        except OrderRejectedError as error:
            self.rejected = error
        except AckTimeoutError:
            pass

    async def until(self, predicate: Callable[[Order], bool], timeout: float = 8.0) -> Order:
        """Wait until this run's order satisfies ``predicate``."""
        return await self.recorder.until(self.cid, predicate, timeout)

    async def wait_ready(self) -> None:
        """Wait until the executor's link is READY again."""
        await self.executor.connection.ensure_connected(8.0)

    async def cancel(self) -> None:
        """Ask the executor to cancel this run's order."""
        await self.executor.cancel_order(self.cid)


class Fault:
    """No fault: the base of every fault. Subclasses strike at one stage."""

    name = "none"
    stage = ""
    struck = False

    async def submit(self, run: Run, request: OrderRequest) -> None:
        await run.executor.submit_order(request)

    async def strike(self, run: Run, stage: str) -> None:
        if not self.struck and stage in (self.stage, "end"):
            self.struck = True
            await self.act(run)

    async def act(self, run: Run) -> None:
        """What the fault does when it strikes."""


class DropBeforeAck(Fault):
    name = "socket drop before the ack"

    async def submit(self, run: Run, request: OrderRequest) -> None:
        self.struck = True
        tws = run.tws
        for message in ("openOrder", "orderStatus", "execDetails", "commissionReport", "error"):
            tws.delay_messages(message, 60.0, count=None)
        placed = tws.placements_received
        task = asyncio.create_task(run.executor.submit_order(request))
        await tws.wait_for_placements(placed + 1)
        tws.disconnect_clients()  # the acknowledgement never leaves
        tws.clear_faults()
        await task


class DropDuringFills(Fault):
    name = "socket drop during partial fills"
    stage = "mid_fills"

    async def act(self, run: Run) -> None:
        run.tws.disconnect_clients()  # the path goes on filling while the client is away


class DropDuringPendingCancel(Fault):
    name = "socket drop during a pending cancel"
    stage = "pending_cancel"

    async def act(self, run: Run) -> None:
        run.tws.disconnect_clients()  # the cancel that follows is sent into a dead link


class LostThenRestored(Fault):
    """1100, then 1101 or 1102 at the next stage (or at the end)."""

    stage = "mid_fills"

    def __init__(self, restore: int) -> None:
        self.restore = restore
        self.name = f"1100 then {restore}"
        self.lost = False

    async def strike(self, run: Run, stage: str) -> None:
        if self.lost:
            self.lost = False
            run.tws.notify_connectivity(self.restore)
            await run.wait_ready()
        elif not self.struck and stage in ("mid_fills", "pending_cancel", "end"):
            self.struck = self.lost = True
            await _lose_connectivity(run)
            if stage == "end":
                await self.strike(run, stage)


class DuplicatedMessages(Fault):
    name = "duplicated messages"
    stage = "before_ack"

    async def act(self, run: Run) -> None:
        for message in ("openOrder", "orderStatus", "execDetails", "commissionReport", "error"):
            run.tws.duplicate_messages(message, count=None)


class ReorderedMessages(Fault):
    name = "reordered messages"
    stage = "before_ack"

    async def act(self, run: Run) -> None:
        run.tws.reorder_messages("openOrder", after="orderStatus", count=None)


class ExecutionCorrection(Fault):
    name = "execution correction"
    stage = "end"

    async def act(self, run: Run) -> None:
        mine = [e for e in run.tws.executions if e.order_ref == run.cid]
        if mine:
            run.tws.correct_execution(mine[-1].exec_id, price=mine[-1].price + Decimal("0.25"))


class GatewayRestart(Fault):
    name = "gateway restart with id rollback"
    stage = "mid_fills"

    async def strike(self, run: Run, stage: str) -> None:
        if not self.struck and stage in ("mid_fills", "pending_cancel", "end"):
            self.struck = True
            run.tws.restart_gateway(next_valid_id=1)
            await run.wait_ready()


async def _lose_connectivity(run: Run) -> None:
    """Send 1100 and wait until the executor has heard it (its order actors are paused)."""
    heard = Events()
    run.executor.add_connection_handler(heard)
    run.tws.notify_connectivity(1100)
    await heard.until(1)
    assert heard.seen == ["disconnected"]
    run.executor.connection.remove_handler(heard)


FAULTS: dict[str, Callable[[], Fault]] = {
    "none": Fault,
    "drop-before-ack": DropBeforeAck,
    "drop-during-fills": DropDuringFills,
    "drop-during-pending-cancel": DropDuringPendingCancel,
    "1100-then-1101": lambda: LostThenRestored(1101),
    "1100-then-1102": lambda: LostThenRestored(1102),
    "duplicates": DuplicatedMessages,
    "reordered": ReorderedMessages,
    "execution-correction": ExecutionCorrection,
    "gateway-restart": GatewayRestart,
}

# -- the lifecycle paths --------------------------------------------------------------------------


def _limit(run: Run, price: str, qty: str = "100") -> OrderRequest:
    return OrderRequest(
        "AAPL", qty, OrderType.LIMIT, Side.BUY, limit_price=price, client_order_id=run.cid
    )


async def path_fill(run: Run) -> None:
    await run.stage("before_ack")
    await run.submit(
        OrderRequest("AAPL", "100", OrderType.MARKET, Side.BUY, client_order_id=run.cid)
    )


async def path_partial_fills(run: Run) -> None:
    run.tws.auto_match = False
    await run.stage("before_ack")
    await run.submit(_limit(run, "150"))
    run.tws.fill(run.cid, Decimal("30"))
    await run.until(lambda o: o.filled_quantity >= 30)
    await run.stage("mid_fills")
    run.tws.fill(run.cid, Decimal("30"))
    run.tws.fill(run.cid, Decimal("40"))


async def path_cancel(run: Run) -> None:
    await run.stage("before_ack")
    await run.submit(_limit(run, "100"))
    await run.stage("pending_cancel")
    await run.cancel()


async def path_cancel_after_partial(run: Run) -> None:
    run.tws.auto_match = False
    await run.stage("before_ack")
    await run.submit(_limit(run, "150"))
    run.tws.fill(run.cid, Decimal("40"))
    await run.until(lambda o: o.filled_quantity >= 40)
    await run.stage("mid_fills")
    await run.stage("pending_cancel")
    await run.cancel()


async def path_cancel_refused_filled(run: Run) -> None:
    await run.stage("before_ack")
    await run.submit(_limit(run, "100"))
    run.tws.inject_cancel_error(10148)
    await run.stage("pending_cancel")
    await run.cancel()


async def path_reject(run: Run) -> None:
    run.tws.inject_order_error(201, "Order rejected - reason: insufficient margin")
    await run.stage("before_ack")
    await run.submit(_limit(run, "100"))


PATHS: dict[str, tuple[Callable[[Run], Awaitable[None]], OrderStatus]] = {
    "fill": (path_fill, OrderStatus.FILLED),
    "partial-fills": (path_partial_fills, OrderStatus.FILLED),
    "cancel": (path_cancel, OrderStatus.CANCELLED),
    "cancel-after-partial": (path_cancel_after_partial, OrderStatus.CANCELLED),
    "cancel-refused-filled": (path_cancel_refused_filled, OrderStatus.FILLED),
    "reject": (path_reject, OrderStatus.REJECTED),
}

# -- running and checking -------------------------------------------------------------------------


async def run_path(
    path: Callable[[Run], Awaitable[None]],
    fault: Fault,
    expected: OrderStatus | None,
    cid: str = "order-under-test",
    *,
    check: bool = True,
    timeout: float = 2.0,
) -> list[str]:
    """Run ``path`` under ``fault`` on a fresh simulator and executor; return the violations.

    ``check=False`` skips the end-of-run checks (edge scenarios assert their own end state)."""
    with tempfile.TemporaryDirectory() as tmp:
        journal_path = Path(tmp) / "journal.jsonl"
        async with FakeTWS(timezone=far_zone()) as tws:
            tws.set_price("AAPL", Decimal("150"))
            manager = IBKRConnectionManager(
                tws.host,
                tws.port,
                1,
                timeout_seconds=timeout,
                reconnect_backoff_seconds=0.01,
                reconnect_max_attempts=100,
                audit_logger=AuditLogger(journal_path),
                max_requests_per_second=0,
            )
            recorder = Recorder()
            executor = IBKROrderExecutor(manager, order_handlers=[recorder])
            await executor.start()
            run = Run(tws, executor, recorder, fault, cid, journal_path)
            try:
                await path(run)
                if check:
                    await run.stage("end")
                    await _check(run, expected)
            finally:
                await executor.stop()
                executor.journal.close()
        return run.violations


async def _check(run: Run, expected: OrderStatus | None) -> None:
    tws, ex, cid = run.tws, run.executor, run.cid
    # A cancel lost with a dropped socket is re-sent after the reconnect: give it time.
    with contextlib.suppress(TimeoutError):
        await tws.wait_for(lambda: tws.order(cid).is_done, timeout=8.0)
    await run.wait_ready()
    sim = tws.order(cid)
    truth = OrderStatus.REJECTED if sim.reject_reason else SIM_STATUS.get(sim.status)
    if truth is None:
        run.violations.append(f"the simulator's order did not finish: {sim.status}")
        return
    if expected is not None and truth is not expected:
        run.violations.append(f"simulator ended {truth}, the path expects {expected}")
    try:
        final = await run.until(
            lambda o: (
                o.status is truth
                and o.filled_quantity == sim.filled
                and (sim.filled == 0 or o.average_fill_price == sim.avg_fill_price)
            )
        )
    except TimeoutError:
        got = await ex.get_order_status(cid)
        ours = got and (got.status, got.filled_quantity, got.average_fill_price)
        run.violations.append(
            f"order never matched the simulator: ours {ours}, "
            f"simulator {(sim.status, sim.filled, sim.avg_fill_price)}"
        )
        return
    fills = await ex.get_fills(cid)
    if sum((f.quantity for f in fills), Decimal(0)) != final.filled_quantity:
        run.violations.append(f"fills {[f.quantity for f in fills]} do not add up to filled")
    if len({f.fill_id for f in fills}) != len(fills):
        run.violations.append("a fill was counted twice")
    # IB's code travels with the error message; a reject learned from the reconnect's completed
    # orders (the error was lost with the socket) has the reason but no code.
    if run.rejected is not None and (
        run.rejected.code not in (201, None) or "insufficient margin" not in run.rejected.reason
    ):
        run.violations.append(f"reject lost its code or reason: {run.rejected}")
    # A probe order after the fault: the executor still trades and never reuses an order id.
    tws.auto_match = True
    probe = await ex.submit_order(OrderRequest("AAPL", "1", OrderType.MARKET, Side.BUY))
    await run.recorder.until(probe.client_order_id, lambda o: o.status is OrderStatus.FILLED)
    ids = [o.order_id for o in tws.orders if o.client_id == 1]
    if len(ids) != len(set(ids)):
        run.violations.append(f"an order id was reused: {sorted(ids)}")
    ex.journal.flush()
    replayed = replay_orders(read_journal(run.journal_path))
    for key in (cid, probe.client_order_id):
        if replayed.get(key) != await ex.get_order_status(key):
            run.violations.append(f"journal replay of {key} differs from the live order")


# -- edge scenarios: the rarer races, one lifecycle edge or two each ------------------------------


async def _submit_in_background(run: Run, request: OrderRequest) -> asyncio.Task[None]:
    """Submit without waiting for the acknowledgement (it may be held back on purpose)."""
    placed = run.tws.placements_received
    task = asyncio.create_task(run.submit(request))
    await run.tws.wait_for_placements(placed + 1)
    return task


async def edge_cancel_before_ack_refused(run: Run) -> None:
    """PENDING -> PENDING_CANCEL, a second request, refused twice (161) -> PENDING -> PENDING."""
    run.tws.swallow_placements()
    await run.submit(_limit(run, "100"))  # never acknowledged: times out, stays PENDING
    run.tws.inject_cancel_error(161)
    run.tws.duplicate_messages("error")  # IB repeats the refusal
    await run.cancel()
    await run.cancel()
    await run.until(lambda o: o.status is OrderStatus.PENDING)


async def edge_fill_before_ack(run: Run) -> None:
    """Execution first: PENDING -> PARTIAL, then the late acknowledgement PARTIAL -> PARTIAL."""
    run.tws.auto_match = False
    # Hold the acknowledgement (openOrder and orderStatus) until the execution has arrived.
    run.tws.reorder_messages("openOrder", after="execDetails", count=None)
    run.tws.reorder_messages("orderStatus", after="execDetails", count=None)
    task = await _submit_in_background(run, _limit(run, "150"))
    run.tws.fill(run.cid, Decimal("40"))
    await task
    await run.until(lambda o: o.filled_quantity == 40)


async def edge_complete_fill_before_ack(run: Run) -> None:
    """The whole execution first: PENDING -> FILLED, then the late acknowledgement."""
    run.tws.auto_match = False
    run.tws.reorder_messages("openOrder", after="execDetails", count=None)
    run.tws.reorder_messages("orderStatus", after="execDetails", count=None)
    task = await _submit_in_background(run, _limit(run, "150"))
    run.tws.fill(run.cid, Decimal("100"))
    await task
    await run.until(lambda o: o.status is OrderStatus.FILLED)


async def edge_fill_during_pending_cancel_then_refused(run: Run) -> None:
    """PARTIAL -> PENDING_CANCEL, a fill while pending, then the refusal -> PARTIAL."""
    run.tws.auto_match = False
    await run.submit(_limit(run, "150"))
    run.tws.fill(run.cid, Decimal("40"))
    await run.until(lambda o: o.filled_quantity == 40)
    run.tws.inject_cancel_error(161)
    run.tws.delay_messages("error", 0.2)  # the refusal comes after the fill
    await run.cancel()
    run.tws.fill(run.cid, Decimal("10"))
    await run.until(lambda o: o.status is OrderStatus.PARTIAL and o.filled_quantity == 50)


async def edge_cancel_refused_twice_while_partial(run: Run) -> None:
    """PARTIAL -> PENDING_CANCEL, refused -> PARTIAL, the repeated refusal PARTIAL -> PARTIAL."""
    run.tws.auto_match = False
    await run.submit(_limit(run, "150"))
    run.tws.fill(run.cid, Decimal("40"))
    await run.until(lambda o: o.filled_quantity == 40)
    run.tws.inject_cancel_error(161)
    run.tws.duplicate_messages("error")
    await run.cancel()
    await run.until(lambda o: o.status is OrderStatus.PARTIAL and o.updated_at is not None)


async def edge_cancel_not_found_while_partial(run: Run) -> None:
    """10147 for an order IB acknowledged is a refusal: PENDING_CANCEL -> PARTIAL -> PARTIAL."""
    run.tws.auto_match = False
    await run.submit(_limit(run, "150"))
    run.tws.fill(run.cid, Decimal("40"))
    await run.until(lambda o: o.filled_quantity == 40)
    run.tws.inject_cancel_error(10147)
    run.tws.duplicate_messages("error")
    await run.cancel()
    await run.until(lambda o: o.status is OrderStatus.PARTIAL and o.updated_at is not None)


async def edge_cancel_before_ack_not_found(run: Run) -> None:
    """The placement never reached IB, the cancel gets 10147 (twice): PENDING_CANCEL ->
    CANCELLED -> CANCELLED, never placed again."""
    run.tws.swallow_placements()
    await run.submit(_limit(run, "100"))
    run.tws.duplicate_messages("error")
    await run.cancel()
    await run.until(lambda o: o.status is OrderStatus.CANCELLED)


async def edge_partial_order_withdrawn_then_late_fill(run: Run) -> None:
    """IB withdraws a partly filled order (Inactive) and a fill it overtook arrives after:
    PARTIAL -> REJECTED, then REJECTED -> REJECTED with the fill recorded."""
    run.tws.auto_match = False
    await run.submit(_limit(run, "150"))
    run.tws.fill(run.cid, Decimal("40"))
    await run.until(lambda o: o.filled_quantity == 40)
    run.tws.delay_messages("execDetails", 0.2)
    run.tws.fill(run.cid, Decimal("10"))
    run.tws.reject_working_order(run.cid, "withdrawn by IB")
    await run.until(lambda o: o.status is OrderStatus.REJECTED and o.filled_quantity == 50)


async def edge_cancel_refused_while_submitted(run: Run) -> None:
    """SUBMITTED -> PENDING_CANCEL, refused -> SUBMITTED, the repeat SUBMITTED -> SUBMITTED."""
    await run.submit(_limit(run, "100"))
    run.tws.inject_cancel_error(161)
    run.tws.duplicate_messages("error")
    await run.cancel()
    await run.until(lambda o: o.status is OrderStatus.SUBMITTED and o.updated_at is not None)


async def edge_cancel_not_found_while_submitted(run: Run) -> None:
    """10147 for an acknowledged order: SUBMITTED -> PENDING_CANCEL -> SUBMITTED -> SUBMITTED."""
    await run.submit(_limit(run, "100"))
    run.tws.inject_cancel_error(10147)
    run.tws.duplicate_messages("error")
    await run.cancel()
    await run.until(lambda o: o.status is OrderStatus.SUBMITTED and o.updated_at is not None)


async def edge_broker_cancels_working_orders(run: Run) -> None:
    """IB cancels on its own: SUBMITTED -> PENDING_CANCEL (PendingCancel) -> CANCELLED."""
    await run.submit(_limit(run, "100"))
    run.tws.pending_cancel = True  # real TWS rarely shows PendingCancel: ask for it
    run.tws.cancel_all()
    await run.until(lambda o: o.status is OrderStatus.CANCELLED)


async def edge_broker_cancels_without_pending(run: Run) -> None:
    """Cancelled with no PendingCancel first (real TWS): SUBMITTED -> CANCELLED."""
    await run.submit(_limit(run, "100"))
    run.tws.cancel_all()
    await run.until(lambda o: o.status is OrderStatus.CANCELLED)


async def edge_broker_cancels_partial(run: Run) -> None:
    """PARTIAL -> PENDING_CANCEL (PendingCancel) -> CANCELLED."""
    run.tws.auto_match = False
    await run.submit(_limit(run, "150"))
    run.tws.fill(run.cid, Decimal("40"))
    await run.until(lambda o: o.filled_quantity == 40)
    run.tws.pending_cancel = True
    run.tws.cancel_all()
    await run.until(lambda o: o.status is OrderStatus.CANCELLED)


async def edge_broker_cancels_partial_without_pending(run: Run) -> None:
    """PARTIAL -> CANCELLED directly."""
    run.tws.auto_match = False
    await run.submit(_limit(run, "150"))
    run.tws.fill(run.cid, Decimal("40"))
    await run.until(lambda o: o.filled_quantity == 40)
    run.tws.cancel_all()
    await run.until(lambda o: o.status is OrderStatus.CANCELLED)


async def edge_broker_cancels_before_ack(run: Run) -> None:
    """No acknowledgement ever arrives: PENDING -> PENDING_CANCEL (PendingCancel) -> CANCELLED."""
    run.tws.drop_messages("openOrder", count=None)
    run.tws.drop_messages("orderStatus", count=1)  # the acknowledgement (Submitted)
    run.tws.pending_cancel = True
    task = await _submit_in_background(run, _limit(run, "100"))
    run.tws.cancel_all()
    await task
    await run.until(lambda o: o.status is OrderStatus.CANCELLED)


async def edge_broker_cancels_before_ack_directly(run: Run) -> None:
    """PENDING -> CANCELLED: neither the acknowledgement nor PendingCancel arrives."""
    run.tws.drop_messages("openOrder", count=None)
    run.tws.drop_messages("orderStatus", count=1)  # the acknowledgement (Submitted)
    task = await _submit_in_background(run, _limit(run, "100"))
    run.tws.cancel_all()
    await task
    await run.until(lambda o: o.status is OrderStatus.CANCELLED)


async def edge_cancel_shows_pending_first(run: Run) -> None:
    """Our cancel, then IB's PendingCancel (asked for: real TWS seldom sends it):
    PENDING_CANCEL -> PENDING_CANCEL -> CANCELLED."""
    await run.submit(_limit(run, "100"))
    run.tws.pending_cancel = True
    await run.cancel()
    await run.until(lambda o: o.status is OrderStatus.CANCELLED)


async def edge_working_order_rejected(run: Run) -> None:
    """IB rejects an order it had accepted: SUBMITTED -> REJECTED (201, then Inactive)."""
    await run.submit(_limit(run, "100"))
    run.tws.reject_working_order(run.cid, "insufficient margin")
    await run.until(lambda o: o.status is OrderStatus.REJECTED)


async def edge_reject_overtakes_cancel(run: Run) -> None:
    """The reject arrives while our cancel is pending: PENDING_CANCEL -> REJECTED."""
    await run.submit(_limit(run, "100"))
    run.tws.inject_cancel_error(10147)
    run.tws.delay_messages("error", 0.2)  # our cancel's refusal comes after the reject
    await run.cancel()
    run.tws.reject_working_order(run.cid, "insufficient margin")
    await run.until(lambda o: o.status is OrderStatus.REJECTED)


EDGE_SCENARIOS: dict[str, Callable[[Run], Awaitable[None]]] = {
    name.removeprefix("edge_"): function
    for name, function in list(globals().items())
    if name.startswith("edge_") and callable(function)
}
