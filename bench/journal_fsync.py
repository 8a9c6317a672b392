"""The cost of the journal's fsync policy (``IBKR_JOURNAL_FSYNC``).

Each simulated order writes the entries a market order writes in the executor (submitted, the
placement command, acknowledged, fill, fill -> FILLED), batched per loop turn as the executor does:
the placement write-ahead flush, one loop turn for the acknowledgement, and the terminal flush.
The three policies run alternated in rounds in one process; the figure is microseconds per order
and the ratio to ``never`` (no fsync at all). The file is on this machine's temporary folder, so
the absolute fsync cost is that disk's.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench._common import base_arguments, median, record, results_path
from ibkr_exec.audit import AuditLogger

POLICIES = ("never", "terminal", "always")


async def per_order(policy: str, n: int, folder: Path) -> float:
    """Seconds per order written under ``policy``."""
    path = folder / f"journal-{policy}.jsonl"
    path.unlink(missing_ok=True)
    journal = AuditLogger(path, fsync=policy)
    payload = {"type": "ExecutionReport", "exec_id": "0001.01", "quantity": "100", "price": "150"}
    started = time.perf_counter()
    for i in range(n):
        cid = f"bench-{i}"
        ids: dict[str, Any] = {"actor": cid, "order_id": str(i), "client_order_id": cid}
        journal.record("submitted", dst="PENDING", payload={"order": payload}, **ids)
        journal.record("command", trigger="place_order", src="PENDING", dst="PENDING", **ids)
        journal.write_ahead()
        await asyncio.sleep(0)  # the acknowledgement comes on a later loop turn
        journal.record("transition", trigger="acknowledge", src="PENDING", dst="SUBMITTED", **ids)
        journal.record(
            "fill", trigger="fill", src="SUBMITTED", dst="FILLED", payload=payload, **ids
        )
        journal.flush(terminal=True)
    elapsed = time.perf_counter() - started
    journal.close()
    return elapsed / n


def record_cost(level: str | None, n: int) -> float:
    """Seconds per ``record`` of an in-memory journal whose loguru records go at ``level``."""
    journal = AuditLogger(log_level=level, memory_entries=1000)
    started = time.perf_counter()
    for i in range(n):
        journal.record("transition", actor="c", order_id=str(i), src="PENDING", dst="SUBMITTED")
    return (time.perf_counter() - started) / n


async def measure(n: int, rounds: int) -> list[str]:
    """The figures, as printed lines."""
    runs: dict[str, list[float]] = {p: [] for p in POLICIES}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(rounds):
            for policy in POLICIES:
                runs[policy].append(await per_order(policy, n, Path(tmp)))
    base = median(runs["never"])
    lines = [f"{n} orders x 4 entries per policy, {rounds} alternated rounds, medians"]
    for policy in POLICIES:
        value = median(runs[policy])
        lines.append(
            f"IBKR_JOURNAL_FSYNC={policy:<8} {value * 1e6:8.1f} us/order   "
            f"ratio to never {value / base:6.2f}x"
        )
    # loguru's default stderr sink listens at DEBUG: a TRACE record is refused at its level check.
    off_runs: list[float] = []
    trace_runs: list[float] = []
    for _ in range(rounds * 3):  # alternated: drift on a shared machine biases neither side
        off_runs.append(record_cost(None, n * 10))
        trace_runs.append(record_cost("TRACE", n * 10))
    off, trace = median(off_runs), median(trace_runs)
    lines.append(
        f"record(), loguru record at TRACE with no sink listening {trace * 1e6:6.2f} us vs "
        f"no loguru record {off * 1e6:6.2f} us: ratio {trace / off:5.2f}x"
    )
    return lines


def main(argv: Sequence[str] | None = None) -> list[str]:
    """Run the benchmark; returns the printed lines."""
    parser = base_arguments("journal cost per order under each fsync policy")
    parser.add_argument("--n", type=int, default=2000, help="orders per run")
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds")
    args = parser.parse_args(argv)
    lines = asyncio.run(measure(args.n, args.rounds))
    record("Journal fsync policy", lines, path=results_path(args))
    return lines


if __name__ == "__main__":
    main()
