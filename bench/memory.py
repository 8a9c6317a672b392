"""Memory per live order actor: 10k acknowledged, working orders, measured with tracemalloc.

Run: ``python -m bench.memory``. Budget (design.md): <= 4 KB per live order actor.

The Orders are built first; what the actors add is traced after that (their actor, ledger, state
and the Order snapshot they answer with), and the figure with the Order each one was built from
is printed too. Every actor has been told an acknowledgement (with a perm id) and has answered an
ask, so each has gone through the mailbox once and is idle, as live orders are between reports.
"""

from __future__ import annotations

import asyncio
import gc
import tempfile
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

from bench._actors import NullBroker, make_order
from bench._common import base_arguments, record, results_path
from ibkr_exec.actors import GetOrder, OrderActor
from ibkr_exec.audit import AuditLogger
from ibkr_exec.broker.port import OrderAccepted


async def per_actor(n: int, journal: AuditLogger) -> tuple[float, float]:
    """Bytes per live actor, without and with the Order it was built from."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        orders = [make_order(i) for i in range(n)]
        with_orders = tracemalloc.get_traced_memory()[0]
        broker = NullBroker()
        actors = [OrderActor.create(o, broker=broker, journal=journal).start() for o in orders]
        for i, a in enumerate(actors):
            a.tell(OrderAccepted(a.client_order_id, perm_id=1_000_000 + i))
        await asyncio.gather(*(a.ask(GetOrder(), timeout=None) for a in actors))
        journal.flush()
        del orders
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    result = (after - with_orders) / n, (after - before) / n
    for a in actors:
        await a.stop()
    return result


async def measure(n: int) -> list[str]:
    """The figures, as printed lines."""
    with tempfile.TemporaryDirectory() as tmp:
        journal = AuditLogger(Path(tmp) / "journal.jsonl")
        actor_bytes, total_bytes = await per_actor(n, journal)
        journal.close()
    return [
        f"{n} live order actors (acknowledged, idle), tracemalloc",
        f"per actor {actor_bytes:6.0f} B; with the Order it was built from {total_bytes:6.0f} B"
        "   (budget <= 4096 B)",
    ]


def main(argv: Sequence[str] | None = None) -> list[str]:
    """Run the benchmark; returns the printed lines."""
    parser = base_arguments("memory per live order actor")
    parser.add_argument("--n", type=int, default=10_000, help="live order actors")
    args = parser.parse_args(argv)
    lines = asyncio.run(measure(args.n))
    record("Memory per live order actor", lines, path=results_path(args))
    return lines


if __name__ == "__main__":
    main()
