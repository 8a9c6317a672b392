"""Memory over many finished orders, without IBKR_JOURNAL_PATH (the journal in memory).

Run: ``python -m bench.retention``. Budget (design.md): bounded memory over 100k finished orders.

Orders go through the real order actor, the connection's routing tables, the retirement module
and an in-memory journal, in batches: created, acknowledged, filled (FILLED), answered. Two
configurations, measured with tracemalloc in the same run:

- ``kept``: finished actors never retired, the in-memory journal unbounded (how 0.1.0 behaved),
  at the baseline size only (it grows by the same amount per order, see the per-order figure);
- ``retired``: retention 0 s and the default ring of recent journal entries, at the full size.

The figure is the memory still held per finished order after the last batch, and for the retired
configuration also the growth between half and full size (what stays per order: its compact
record, the final Order and its fills).
"""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from collections.abc import Sequence
from decimal import Decimal

from bench._actors import T0, NullBroker, make_order
from bench._common import base_arguments, record, results_path
from ibkr_exec.actors import GetOrder, OrderActor
from ibkr_exec.actors.retirement import Retirement
from ibkr_exec.actors.routing import Routes
from ibkr_exec.audit import AuditLogger
from ibkr_exec.broker.port import ExecutionReport, OrderAccepted
from ibkr_exec.models import Side

BATCH = 1000


async def held_after(n: int, *, retire: bool) -> tuple[float, float]:
    """Bytes held per finished order after ``n`` orders, and after ``n // 2``."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        journal = AuditLogger() if retire else AuditLogger(memory_entries=10**9)
        routes = Routes()
        retirement = Retirement(routes, journal, 0.0 if retire else None)
        broker = NullBroker()
        kept: list[OrderActor] = []
        half = 0.0
        for start in range(0, n, BATCH):
            actors = []
            for i in range(start, min(n, start + BATCH)):
                order = make_order(i)
                actor = OrderActor.create(order, broker=broker, journal=journal).start()
                routes.add(actor)
                retirement.watch(actor)
                oid = order.order_id or str(i)
                actor.tell(OrderAccepted(oid, perm_id=1_000_000 + i))
                actor.tell(
                    ExecutionReport(
                        f"E{i}", oid, order.symbol, Side.BUY, order.quantity, Decimal("150"), T0
                    )
                )
                actors.append(actor)
            await asyncio.gather(*(a.ask(GetOrder(), timeout=None) for a in actors))
            if not retire:
                kept.extend(actors)
            del actors
            await asyncio.sleep(0)  # the 0 s retirement timers run
            await asyncio.sleep(0)  # and the retired actors' stop tasks
            if start + BATCH == n // 2:
                gc.collect()
                half = (tracemalloc.get_traced_memory()[0] - before) / (n // 2)
        await retirement.close()
        gc.collect()
        held = (tracemalloc.get_traced_memory()[0] - before) / n
        assert not retire or len(retirement) == n, "every finished order retired"
        for actor in kept:
            await actor.stop()
        return held, half
    finally:
        tracemalloc.stop()


async def measure(n: int, baseline: int) -> list[str]:
    """The figures, as printed lines."""
    kept, _ = await held_after(baseline, retire=False)
    retired, retired_half = await held_after(n, retire=True)
    return [
        f"finished orders (FILLED), journal in memory, tracemalloc; batches of {BATCH}",
        f"kept (no retirement, unbounded journal), {baseline:>6} orders: {kept:7.0f} B per order",
        f"retired (retention 0 s, ring journal),   {n:>6} orders: {retired:7.0f} B per order"
        f"   ratio to kept {retired / kept:5.2f}x",
        f"retired, held per order at {n // 2} vs {n}: {retired_half:7.0f} B vs {retired:7.0f} B"
        " (compact record: final Order + fills)",
    ]


def main(argv: Sequence[str] | None = None) -> list[str]:
    """Run the benchmark; returns the printed lines."""
    parser = base_arguments("memory held over many finished orders, journal in memory")
    parser.add_argument("--n", type=int, default=100_000, help="finished orders (retired)")
    parser.add_argument("--baseline", type=int, default=10_000, help="finished orders (kept)")
    args = parser.parse_args(argv)
    lines = asyncio.run(measure(args.n, args.baseline))
    record("Memory over finished orders (retirement)", lines, path=results_path(args))
    return lines


if __name__ == "__main__":
    main()
