"""Quick lifecycle figures: memory per live order actor, cost per transition, build scaling.

Run: ``python bench/lifecycle_quick.py``. Ratios come from one run on one machine (budgets in
design.md: per transition <= 2.0x a bare ``transitions`` trigger; <= 4 KB per live order actor at
10k; building 10k actors <= 11x building 1k).
"""

from __future__ import annotations

import asyncio
import gc
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from transitions import Machine

from ibkr_exec.actors import GetOrder, OrderActor
from ibkr_exec.audit import AuditLogger
from ibkr_exec.broker.port import CancelPending, CancelRefused, OrderAccepted
from ibkr_exec.models import Order
from ibkr_exec.statemachines import ORDER_STATES, ORDER_TRANSITIONS

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


class NullBroker:
    """Accepts commands and does nothing."""

    def place_order(self, order: Order) -> None:
        """Send nothing."""

    def cancel_order(self, order: Order) -> None:
        """Send nothing."""


class BareModel:
    """The bare model: same condition and callback names, trivial bodies."""

    def __init__(self) -> None:
        self.pre_cancel: str | None = None
        self.state = "SUBMITTED"

    def remember_pre_cancel(self) -> None:
        self.pre_cancel = self.state

    def forget_pre_cancel(self) -> None:
        self.pre_cancel = None

    def was_submitted(self) -> bool:
        return self.pre_cancel == "SUBMITTED"

    def was_partial(self) -> bool:
        return self.pre_cancel == "PARTIAL"

    def was_pending(self) -> bool:
        return self.pre_cancel == "PENDING"


def make_order(i: int) -> Order:
    return Order(
        str(i),
        f"c-{i}",
        "AAPL",
        Decimal(100),
        "LIMIT",
        "BUY",
        Decimal("150.25"),
        None,
        "PENDING",
        T0,
    )


def bare_per_trigger(n: int) -> float:
    model = BareModel()
    Machine(
        model=model,
        states=list(ORDER_STATES),
        transitions=ORDER_TRANSITIONS,
        initial="SUBMITTED",
        auto_transitions=False,
    )
    fire: Any = model
    start = time.perf_counter()
    for _ in range(n // 2):
        fire.cancel_pending()
        fire.cancel_refused()
    return (time.perf_counter() - start) / n


async def actor_per_transition(n: int, journal: AuditLogger) -> float:
    actor = OrderActor.create(make_order(0), broker=NullBroker(), journal=journal).start()
    await actor.ask(OrderAccepted("0"))
    pending, refused = CancelPending("0"), CancelRefused("0", 10147, "refused")
    start = time.perf_counter()
    for _ in range(n // 2):
        actor.tell(pending)
        actor.tell(refused)
    await actor.ask(GetOrder(), timeout=None)
    journal.flush()
    elapsed = (time.perf_counter() - start) / n
    await actor.stop()
    return elapsed


async def actor_per_transition_spread(n: int, journal: AuditLogger) -> float:
    """One message per actor per loop turn: every transition pays a drain scheduling."""
    actors = [
        OrderActor.create(make_order(i), broker=NullBroker(), journal=journal).start()
        for i in range(1000)
    ]
    for a in actors:
        a.tell(OrderAccepted(a.client_order_id))
    await asyncio.gather(*(a.ask(GetOrder(), timeout=None) for a in actors))
    pending, refused = CancelPending("x"), CancelRefused("x", 10147, "refused")
    start = time.perf_counter()
    for _ in range(n // 2000):
        for a in actors:
            a.tell(pending)
        await asyncio.sleep(0)
        for a in actors:
            a.tell(refused)
        await asyncio.sleep(0)
    await asyncio.gather(*(a.ask(GetOrder(), timeout=None) for a in actors))
    journal.flush()
    elapsed = (time.perf_counter() - start) / n
    for a in actors:
        await a.stop()
    return elapsed


async def build(n: int, journal: AuditLogger) -> tuple[float, list[OrderActor]]:
    orders = [make_order(i) for i in range(n)]
    broker = NullBroker()
    gc.collect()
    start = time.perf_counter()
    actors = [OrderActor.create(o, broker=broker, journal=journal).start() for o in orders]
    return time.perf_counter() - start, actors


async def memory_per_actor(n: int, journal: AuditLogger) -> tuple[float, float]:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    orders = [make_order(i) for i in range(n)]
    with_orders = tracemalloc.get_traced_memory()[0]
    broker = NullBroker()
    actors = [OrderActor.create(o, broker=broker, journal=journal).start() for o in orders]
    for a in actors:  # live orders: acknowledged and working
        a.tell(OrderAccepted(a.client_order_id, perm_id=1))
    await asyncio.gather(*(a.ask(GetOrder(), timeout=None) for a in actors))
    journal.flush()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    per_actor = (after - with_orders) / n
    per_order_total = (after - before) / n
    for a in actors:
        await a.stop()
    return per_actor, per_order_total


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        journal = AuditLogger(Path(tmp) / "journal.jsonl")
        n = 100_000
        bare = min(bare_per_trigger(n) for _ in range(3))
        burst = min([await actor_per_transition(n, journal) for _ in range(3)])
        spread = min([await actor_per_transition_spread(n, journal) for _ in range(3)])
        print(f"bare transitions trigger        {bare * 1e6:7.2f} us")
        print(f"actor transition (burst)        {burst * 1e6:7.2f} us  ratio {burst / bare:.2f}x")
        print(f"actor transition (1 msg/actor)  {spread * 1e6:7.2f} us  ratio {spread / bare:.2f}x")
        per_actor, per_order = await memory_per_actor(10_000, journal)
        print(
            f"memory per live order actor     {per_actor:7.0f} B"
            f" (with its Order: {per_order:.0f} B)"
        )
        t1 = min([(await build(1_000, journal))[0] for _ in range(5)])
        t10 = min([(await build(10_000, journal))[0] for _ in range(5)])
        print(f"build 1k {t1 * 1e3:.1f} ms, 10k {t10 * 1e3:.1f} ms: ratio {t10 / t1:.2f}x")
        journal.close()


if __name__ == "__main__":
    asyncio.run(main())
