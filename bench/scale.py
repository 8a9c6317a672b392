"""Scale: creating and driving 1k order actors versus 10k.

Run: ``python -m bench.scale``. Budget (design.md): 10k costs <= 11x 1k (linear, not quadratic).

Each order is created (its "submitted" journal entry written to a file), started, told an
acknowledgement and a complete fill, and asked for its state; the clock stops when every actor
has answered. The sizes alternate in ``--repeat`` rounds (drift on a shared machine lands on
both); the ratio is the median of the rounds' ratios, their spread printed beside it.
"""

from __future__ import annotations

import asyncio
import gc
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from bench._actors import NullBroker, make_order
from bench._common import base_arguments, median, record, results_path
from ibkr_exec.actors import GetOrder, OrderActor
from ibkr_exec.audit import AuditLogger
from ibkr_exec.broker.port import ExecutionReport, OrderAccepted
from ibkr_exec.models import Side


async def create_and_drive(n: int, journal: AuditLogger) -> float:
    """Seconds to create ``n`` actors and drive each to FILLED."""
    orders = [make_order(i) for i in range(n)]
    now = datetime.now(UTC)
    fills = [
        ExecutionReport(
            f"e{i:08d}.01.01", str(i), "AAPL", Side.BUY, Decimal(100), Decimal(150), now
        )
        for i in range(n)
    ]
    broker = NullBroker()
    gc.collect()
    start = time.perf_counter()
    actors = [OrderActor.create(o, broker=broker, journal=journal).start() for o in orders]
    for a, fill in zip(actors, fills, strict=True):
        a.tell(OrderAccepted(a.client_order_id, perm_id=1))
        a.tell(fill)
    await asyncio.gather(*(a.ask(GetOrder(), timeout=None) for a in actors))
    journal.flush()
    elapsed = time.perf_counter() - start
    for a in actors:
        await a.stop()
    return elapsed


async def measure(small: int, large: int, repeat: int) -> list[str]:
    """The figures, as printed lines: sizes alternated in rounds, medians and the spread."""
    smalls: list[float] = []
    larges: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        journal = AuditLogger(Path(tmp) / "journal.jsonl")
        for _ in range(repeat):
            smalls.append(await create_and_drive(small, journal))
            larges.append(await create_and_drive(large, journal))
        journal.close()
    ratios = [big / little for little, big in zip(smalls, larges, strict=True)]
    t_small, t_large = median(smalls), median(larges)
    return [
        f"create + acknowledge + fill, journal to a file, {repeat} alternated rounds, medians",
        f"{small} orders {t_small * 1e3:8.1f} ms ({t_small / small * 1e6:.1f} us/order)",
        f"{large} orders {t_large * 1e3:8.1f} ms ({t_large / large * 1e6:.1f} us/order)",
        f"ratio {median(ratios):.2f}x for {large // small}x the orders "
        f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)})   (budget <= 11x)",
    ]


def main(argv: Sequence[str] | None = None) -> list[str]:
    """Run the benchmark; returns the printed lines."""
    parser = base_arguments("1k versus 10k order actors")
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    lines = asyncio.run(measure(args.small, args.large, args.repeat))
    record("Scale: 1k vs 10k order actors", lines, path=results_path(args))
    return lines


if __name__ == "__main__":
    main()
