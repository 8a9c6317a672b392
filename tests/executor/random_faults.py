"""Seeded randomized fault schedules through the public API against FakeTWS.

One seed drives a few orders (resting, filling, partly filled, cancelled, withdrawn) while faults
strike at random points: socket drops, 1100 then 1101/1102, duplicated or delayed messages,
placements IB never receives, unanswered executions requests, execution corrections. At the end
the link is left alone and the run checks, as :func:`run_seed`'s violations:

- every order equals the simulator's truth (status and filled quantity);
- its fills are the simulator's executions (a correction replacing what it corrects);
- handlers heard each execId once;
- replaying the journal gives the live Orders;
- a new executor restarted from the journal recovers every order as it was;
- nothing hangs (each step and the whole run are bounded in time).

``tests/executor/test_random_faults.py`` runs a few seeds in CI; for a longer run:
``IBKR_FAULT_SEEDS=200 pytest tests/executor/test_random_faults.py`` (or ``IBKR_FAULT_SEED=n``
for one seed), or ``python -m tests.executor.random_faults 200``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

from ibkr_exec import (
    AuditLogger,
    IBKRConnectionManager,
    IBKRExecError,
    IBKROrderExecutor,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    read_journal,
    replay_orders,
)
from ibkr_exec.sim import FakeTWS

from .waiting import Recorder

_TRUTH = {
    "Filled": OrderStatus.FILLED,
    "Cancelled": OrderStatus.CANCELLED,
    "ApiCancelled": OrderStatus.CANCELLED,
    "Inactive": OrderStatus.REJECTED,
}
_MESSAGES = ("openOrder", "orderStatus", "execDetails", "commissionReport", "error")


def _executor(tws: FakeTWS, journal: Path, recorder: Recorder) -> IBKROrderExecutor:
    manager = IBKRConnectionManager(
        tws.host,
        tws.port,
        1,
        timeout_seconds=0.5,
        reconnect_backoff_seconds=0.01,
        reconnect_max_attempts=200,
        audit_logger=AuditLogger(journal),
        max_requests_per_second=0,
    )
    return IBKROrderExecutor(manager, order_handlers=[recorder])


def _truth(tws: FakeTWS, cid: str) -> tuple[OrderStatus, Decimal] | None:
    sim = next((o for o in reversed(tws.orders) if o.order_ref == cid), None)
    if sim is None:
        return None
    if sim.status in _TRUTH:
        return _TRUTH[sim.status], sim.filled
    return (OrderStatus.PARTIAL if sim.filled else OrderStatus.SUBMITTED), sim.filled


def _expected_fill_ids(tws: FakeTWS, cid: str) -> set[str]:
    executions = [e for e in tws.executions if e.order_ref == cid]
    corrected = {_prefix(e.exec_id) for e in executions}
    latest: dict[str, str] = {}
    for e in executions:  # a correction keeps the prefix and raises the last segment
        prefix = _prefix(e.exec_id)
        if prefix not in latest or e.exec_id > latest[prefix]:
            latest[prefix] = e.exec_id
    return {latest[p] for p in corrected}


def _prefix(exec_id: str) -> str:
    return exec_id.rpartition(".")[0]


class _Schedule:
    """What one seed does: a list of steps, each an order action or a fault."""

    def __init__(self, seed: int, tws: FakeTWS, ex: IBKROrderExecutor) -> None:
        self.rng = random.Random(seed)
        self.tws = tws
        self.ex = ex
        self.cids: list[str] = []

    async def submit(self) -> None:
        cid = f"o{len(self.cids)}"
        self.cids.append(cid)
        price = self.rng.choice(["100", "150", "150"])  # rests, or fills at once
        qty = self.rng.choice(["10", "100"])
        request = OrderRequest(
            "AAPL", qty, OrderType.LIMIT, Side.BUY, limit_price=price, client_order_id=cid
        )
        with contextlib.suppress(IBKRExecError):
            await self.ex.submit_order(request)

    async def partial_fill(self) -> None:
        working = [o for o in self.tws.orders if not o.is_done and o.order_ref in self.cids]
        if working:
            order = self.rng.choice(working)
            self.tws.fill(order.order_ref, min(order.remaining, Decimal(self.rng.choice([3, 7]))))

    async def cancel(self) -> None:
        if self.cids:
            with contextlib.suppress(IBKRExecError, KeyError):
                await self.ex.cancel_order(self.rng.choice(self.cids))

    async def withdraw(self) -> None:
        working = [o for o in self.tws.orders if not o.is_done and o.order_ref in self.cids]
        if working:
            self.tws.reject_working_order(self.rng.choice(working).order_ref, "withdrawn")

    async def drop(self) -> None:
        self.tws.disconnect_clients()

    async def connectivity(self) -> None:
        self.tws.notify_connectivity(1100)
        self.tws.notify_connectivity(self.rng.choice([1101, 1102]))

    async def duplicate(self) -> None:
        self.tws.duplicate_messages(self.rng.choice(_MESSAGES), count=2)

    async def delay(self) -> None:
        self.tws.delay_messages(self.rng.choice(_MESSAGES), 0.05, count=2)

    async def swallow(self) -> None:
        self.tws.swallow_placements()

    async def unanswered(self) -> None:
        self.tws.leave_unanswered("executions", count=1)

    async def correct(self) -> None:
        mine = [e for e in self.tws.executions if e.order_ref in self.cids]
        if mine:
            self.tws.correct_execution(self.rng.choice(mine).exec_id)

    async def step(self) -> str:
        actions = [
            (self.submit, 4),
            (self.partial_fill, 3),
            (self.cancel, 2),
            (self.withdraw, 1),
            (self.drop, 1),
            (self.connectivity, 1),
            (self.duplicate, 1),
            (self.delay, 1),
            (self.swallow, 1),
            (self.unanswered, 1),
            (self.correct, 1),
        ]
        action = self.rng.choices([a for a, _ in actions], [w for _, w in actions])[0]
        await action()
        return action.__name__


def _key(order: Order | None) -> tuple[object, ...] | None:
    return None if order is None else (order.status, order.filled_quantity)


async def run_seed(seed: int, steps: int = 14) -> list[str]:
    """Run one seed's schedule; return the violated invariants (empty: all held)."""
    violations: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        journal = Path(tmp) / "journal.jsonl"
        async with FakeTWS() as tws:
            tws.set_price("AAPL", Decimal("150"))
            tws.max_fill_size = Decimal(40)  # marketable orders fill in pieces
            recorder = Recorder()
            ex = _executor(tws, journal, recorder)
            await ex.start()
            schedule = _Schedule(seed, tws, ex)
            done: list[str] = []
            try:
                async with asyncio.timeout(30):
                    for _ in range(steps):
                        done.append(await schedule.step())
                tws.clear_faults()
                # A last reconnect: its sync settles what only a sync settles (a placement that
                # timed out unacknowledged and that IB never had is placed again).
                tws.disconnect_clients()
                async with asyncio.timeout(20):
                    await ex.connection.wait_reconciled(10)
                    # A re-sent cancel or placement needs its own round trip: settle, then again.
                    await ex.connection.wait_reconciled(10)
                    await _settle(tws, ex, schedule.cids, violations)
                await _check_live(
                    tws,
                    ex,
                    recorder=recorder,
                    journal=journal,
                    cids=schedule.cids,
                    violations=violations,
                )
                live = {o.client_order_id: _key(o) for o in await ex.get_orders()}
            except TimeoutError:
                violations.append(f"hung after steps {done}")
                live = {}
            except ConnectionError as error:  # NotConnectedError: the link ended FAILED
                violations.append(f"not reconnected after steps {done}: {error}")
                live = {}
            finally:
                await ex.stop()
                ex.journal.close()
            if live:
                await _check_restart(tws, journal, live, violations)
    return [f"seed {seed}: {v}" for v in violations]


async def _settle(
    tws: FakeTWS, ex: IBKROrderExecutor, cids: list[str], violations: list[str]
) -> None:
    """Wait (bounded) until every order equals the simulator's truth."""

    async def matches() -> bool:
        for cid in cids:
            ours = await ex.get_order_status(cid)
            truth = _truth(tws, cid)
            if ours is None or truth is None:
                continue
            if (ours.status, ours.filled_quantity) != truth:
                return False
        return True

    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(8):
            while not await matches():
                await ex.connection.wait_reconciled(5)
    for cid in cids:
        ours = await ex.get_order_status(cid)
        truth = _truth(tws, cid)
        if ours is None:
            continue  # refused before submission (not connected): nothing to track
        if truth is None:
            if ours.status is not OrderStatus.CANCELLED or ours.filled_quantity:
                violations.append(f"{cid}: IB never had it, ours is {_key(ours)}")
        elif (ours.status, ours.filled_quantity) != truth:
            violations.append(f"{cid}: ours {_key(ours)}, simulator {truth}")


async def _check_live(
    tws: FakeTWS,
    ex: IBKROrderExecutor,
    *,
    recorder: Recorder,
    journal: Path,
    cids: list[str],
    violations: list[str],
) -> None:
    for cid in cids:
        if await ex.get_order_status(cid) is None:
            continue
        ours = {f.fill_id for f in await ex.get_fills(cid)}
        expected = _expected_fill_ids(tws, cid)
        if ours != expected:
            violations.append(f"{cid}: fills {sorted(ours)}, executions {sorted(expected)}")
    heard = [c[2][0] for c in recorder.calls if c[0] == "fill"]  # type: ignore[index]
    if len(heard) != len(set(heard)):
        violations.append(f"a handler heard an execId twice: {sorted(heard)}")
    ex.journal.flush()
    replayed = replay_orders(read_journal(journal))
    for order in await ex.get_orders():
        if replayed.get(order.client_order_id) != order:
            violations.append(f"{order.client_order_id}: journal replay differs from live")


async def _check_restart(
    tws: FakeTWS, journal: Path, live: dict[str, tuple[object, ...] | None], violations: list[str]
) -> None:
    recorder = Recorder()
    again = _executor(tws, journal, recorder)
    try:
        async with asyncio.timeout(20):
            await again.start()
            await again.connection.wait_reconciled(10)
            recovered = {o.client_order_id: _key(o) for o in await again.get_orders()}
    except (TimeoutError, ConnectionError) as error:
        violations.append(f"the restart from the journal did not reconcile: {error!r}")
        return
    finally:
        await again.stop()
        again.journal.close()
    for cid, key in live.items():
        if recovered.get(cid) != key:
            violations.append(f"{cid}: restart recovered {recovered.get(cid)}, was {key}")


def main(argv: list[str]) -> int:
    """``python -m tests.executor.random_faults [SEEDS] [FIRST]``: run many seeds."""
    count = int(argv[0]) if argv else 50
    first = int(argv[1]) if len(argv) > 1 else 0
    failed = 0
    for seed in range(first, first + count):
        violations = asyncio.run(run_seed(seed))
        for violation in violations:
            print(violation)
        failed += bool(violations)
    print(f"{count} seeds, {failed} with violations")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
