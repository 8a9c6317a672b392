"""What every benchmark shares: the machine description, RESULTS.md, statistics, the simulator.

Figures are ratios measured in one run on one machine (design.md, "Performance budgets"); they are
never asserted by the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from ibkr_exec import Order, OrderEventHandler, OrderStatus
from ibkr_exec.sim import FakeTWS

RESULTS = Path(__file__).with_name("RESULTS.md")
PRICES = {"AAPL": Decimal("150"), "MSFT": Decimal("300")}


def machine() -> str:
    """CPU model and core count (from /proc/cpuinfo where there is one), OS and Python."""
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        found = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
        if found:
            model = found.group(1).strip()
    return (
        f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()} ({platform.python_implementation()})"
    )


def record(title: str, lines: Sequence[str], *, path: Path | None = None) -> None:
    """Print ``lines`` and append them to RESULTS.md (or ``path``) under a dated heading."""
    for line in lines:
        print(line)
    if path is None:
        return
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    with path.open("a", encoding="utf-8") as out:
        out.write(f"\n### {title} ({stamp})\n\n{machine()}\n\n```\n")
        out.write("\n".join(lines))
        out.write("\n```\n")


def base_arguments(description: str) -> argparse.ArgumentParser:
    """The options every benchmark takes: where to record its figures."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--no-record", action="store_true", help="print only; do not append to bench/RESULTS.md"
    )
    return parser


def results_path(args: argparse.Namespace) -> Path | None:
    """RESULTS.md unless ``--no-record``."""
    return None if args.no_record else RESULTS


def quiet_ib_async() -> None:
    """Keep ib_async's connection-loss messages off the benchmark's output."""
    logging.getLogger("ib_async").setLevel(logging.CRITICAL)


class FillClock(OrderEventHandler):
    """An OrderEventHandler that resolves ``filled[client_order_id]`` with the time the order is
    heard FILLED."""

    def __init__(self, filled: dict[str, asyncio.Future[float]]) -> None:
        self.filled = filled

    def on_order_status(self, order: Order) -> None:
        """Resolve the order's future once FILLED."""
        if order.status is OrderStatus.FILLED:
            future = self.filled.get(order.client_order_id)
            if future is not None and not future.done():
                future.set_result(time.perf_counter())


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, nearest rank."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    """The median of ``values``."""
    return float(statistics.median(values))


# ``ibkr-exec simulate`` without the rest of the CLI (what it runs, option for option).
_SIMULATE = (
    "import argparse, sys\n"
    "from ibkr_exec.sim.cli import add_arguments, run\n"
    "parser = argparse.ArgumentParser()\n"
    "add_arguments(parser)\n"
    "sys.exit(run(parser.parse_args()))\n"
)


@dataclass(frozen=True)
class Endpoint:
    """Where a simulator listens."""

    host: str
    port: int


@contextlib.asynccontextmanager
async def simulator(*, subprocess: bool) -> AsyncIterator[Endpoint]:
    """A fresh FakeTWS with PRICES set: in a child process (``ibkr-exec simulate``, so its CPU
    cost is not charged to the client under test) or in this process and loop."""
    if not subprocess:
        async with FakeTWS() as tws:
            for symbol, price in PRICES.items():
                tws.set_price(symbol, price)
            yield Endpoint(tws.host, tws.port)
        return
    prices = [f"--price={symbol}={price}" for symbol, price in PRICES.items()]
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _SIMULATE,
        "--port",
        "0",
        *prices,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert child.stdout is not None
        line = (await asyncio.wait_for(child.stdout.readline(), 30)).decode()
        found = re.search(r"listening on ([\d.]+):(\d+)", line)
        if found is None:
            raise RuntimeError(f"simulator did not start: {line!r}")
        yield Endpoint(found.group(1), int(found.group(2)))
    finally:
        if child.returncode is None:
            child.terminate()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(child.wait(), 10)
        if child.returncode is None:
            child.kill()
            await child.wait()
