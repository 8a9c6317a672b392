"""End to end: N orders submitted and filled through IBKROrderExecutor versus raw ib_async.

Run: ``python -m bench.e2e`` (``--n 2000 --pairs 3``). Budget (design.md): lib / raw <= 0.90 in
client CPU per order, with every transition journaled to a real file (``--fsync``: the journal's
policy, default the library's default).

Both sides: half market, half marketable limit orders (AAPL at 150, BUY limits at 151), all N
started at once with ``asyncio.gather`` (each coroutine builds its order, submits it and awaits its
fill), ib_async unthrottled (``MaxRequests = 0``), a fresh simulator per run, runs alternated raw,
lib, raw, lib, ... and medians reported. Submit-to-fill latency is from the moment the coroutine
builds its order to the moment the fill is heard: raw, ib_async's ``orderStatusEvent`` with
"Filled"; lib, ``OrderEventHandler.on_order_status`` with FILLED. By default the simulator runs in
a child process (``ibkr-exec simulate``) so the ratio compares client-side cost only;
``--in-process`` runs it in this loop (its cost is then shared by both sides).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ib_async

from bench._common import (
    Endpoint,
    FillClock,
    base_arguments,
    median,
    percentile,
    quiet_ib_async,
    record,
    results_path,
    simulator,
)
from ibkr_exec import (
    AuditLogger,
    IBKRConnectionManager,
    IBKROrderExecutor,
    OrderRequest,
    OrderType,
    Side,
)

LIMIT = "151"


@dataclass(frozen=True)
class Run:
    """One run's figures."""

    side: str
    n: int
    seconds: float
    cpu_seconds: float
    latencies: tuple[float, ...]

    @property
    def rate(self) -> float:
        """Orders filled per second."""
        return self.n / self.seconds


def _is_limit(i: int) -> bool:
    return i % 2 == 1


async def run_raw(endpoint: Endpoint, n: int, client_id: int) -> Run:
    """N orders placed with ``ib.placeOrder``; done when every one is Filled."""
    ib = ib_async.IB()
    ib.client.MaxRequests = 0
    await ib.connectAsync(endpoint.host, endpoint.port, clientId=client_id, timeout=60)
    loop = asyncio.get_running_loop()
    filled: dict[str, asyncio.Future[float]] = {}

    def on_status(trade: Any) -> None:
        if trade.orderStatus.status == "Filled":
            future = filled.get(trade.order.orderRef)
            if future is not None and not future.done():
                future.set_result(time.perf_counter())

    ib.orderStatusEvent += on_status

    async def one(i: int) -> float:
        ref = f"raw-{i}"
        future: asyncio.Future[float] = loop.create_future()
        filled[ref] = future
        start = time.perf_counter()
        contract = ib_async.Stock("AAPL", "SMART", "USD")
        order = (
            ib_async.LimitOrder("BUY", 100, float(LIMIT), orderRef=ref)
            if _is_limit(i)
            else ib_async.MarketOrder("BUY", 100, orderRef=ref)
        )
        ib.placeOrder(contract, order)
        return await future - start

    try:
        return await _timed("raw", n, one)
    finally:
        ib.disconnect()


async def run_lib(
    endpoint: Endpoint, n: int, client_id: int, journal: Path, fsync: str = "terminal"
) -> Run:
    """N orders through ``IBKROrderExecutor.submit_order``; done when every one is FILLED.
    ``fsync`` is the journal's policy (the library's default: terminal)."""
    manager = IBKRConnectionManager(
        endpoint.host,
        endpoint.port,
        client_id,
        audit_logger=AuditLogger(journal, fsync=fsync),
        timeout_seconds=60,
        max_requests_per_second=0,
    )
    loop = asyncio.get_running_loop()
    filled: dict[str, asyncio.Future[float]] = {}
    executor = IBKROrderExecutor(manager, order_handlers=[FillClock(filled)])
    await executor.start()

    async def one(i: int) -> float:
        ref = f"lib-{i}"
        future: asyncio.Future[float] = loop.create_future()
        filled[ref] = future
        start = time.perf_counter()
        request = (
            OrderRequest(
                "AAPL", 100, OrderType.LIMIT, Side.BUY, limit_price=LIMIT, client_order_id=ref
            )
            if _is_limit(i)
            else OrderRequest("AAPL", 100, OrderType.MARKET, Side.BUY, client_order_id=ref)
        )
        await executor.submit_order(request)
        return await future - start

    try:
        return await _timed("lib", n, one)
    finally:
        await executor.stop()
        executor.journal.close()


async def _timed(side: str, n: int, one: Callable[[int], Awaitable[float]]) -> Run:
    gc.collect()
    cpu = time.process_time()
    start = time.perf_counter()
    latencies = await asyncio.gather(*(one(i) for i in range(n)))
    seconds = time.perf_counter() - start
    return Run(side, n, seconds, time.process_time() - cpu, tuple(latencies))


async def measure(n: int, pairs: int, *, subprocess: bool, fsync: str) -> list[Run]:
    """``pairs`` alternated raw and lib runs, each against a fresh simulator."""
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp:
        for pair in range(pairs):
            for side in ("raw", "lib"):
                async with simulator(subprocess=subprocess) as endpoint:
                    client_id = 10 + pair
                    if side == "raw":
                        runs.append(await run_raw(endpoint, n, client_id))
                    else:
                        journal = Path(tmp) / f"journal-{pair}.jsonl"
                        runs.append(await run_lib(endpoint, n, client_id, journal, fsync))
    return runs


def report(runs: Sequence[Run], *, subprocess: bool, fsync: str = "terminal") -> list[str]:
    """Medians per side, and the budget's ratio with its spread over the pairs."""
    lines: list[str] = []
    seconds: dict[str, float] = {}
    cpu: dict[str, float] = {}
    n = runs[0].n
    where = "child process" if subprocess else "same process and loop (cost shared)"
    lines.append(f"N={n} orders (market + marketable limit), {len(runs) // 2} alternated pairs")
    lines.append(
        f"simulator: {where}; ib_async unthrottled on both sides; journal to a file, "
        f"fsync policy {fsync}"
    )
    for side in ("raw", "lib"):
        mine = [r for r in runs if r.side == side]
        seconds[side] = median([r.seconds for r in mine])
        cpu[side] = median([r.cpu_seconds for r in mine])
        p50 = median([percentile(r.latencies, 0.50) for r in mine])
        p99 = median([percentile(r.latencies, 0.99) for r in mine])
        rates = ", ".join(f"{r.rate:.0f}" for r in mine)
        lines.append(
            f"{side:>4}: {n / seconds[side]:6.0f} orders/s (runs: {rates}); "
            f"client CPU {cpu[side] / n * 1e6:5.0f} us/order; "
            f"submit-to-fill p50 {p50 * 1e3:6.1f} ms, p99 {p99 * 1e3:6.1f} ms"
        )
    wall = seconds["lib"] / seconds["raw"]
    raws = [r for r in runs if r.side == "raw"]
    libs = [r for r in runs if r.side == "lib"]
    pair_ratios = [lib.cpu_seconds / raw.cpu_seconds for raw, lib in zip(raws, libs, strict=True)]
    lines.append(
        f"ratio lib/raw: client CPU per order {cpu['lib'] / cpu['raw']:.3f} "
        f"(per pair: {', '.join(f'{r:.3f}' for r in pair_ratios)}; "
        f"spread {min(pair_ratios):.3f}-{max(pair_ratios):.3f}), "
        f"wall time to fill all N {wall:.3f}   (budget: CPU <= 0.90)"
    )
    return lines


def main(argv: Sequence[str] | None = None) -> list[str]:
    """Run the benchmark; returns the printed lines."""
    parser = base_arguments(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--n", type=int, default=2000, help="orders per run")
    parser.add_argument("--pairs", type=int, default=3, help="alternated raw/lib pairs")
    parser.add_argument(
        "--in-process", action="store_true", help="run the simulator in this process and loop"
    )
    parser.add_argument(
        "--fsync",
        default="terminal",
        choices=("never", "terminal", "always"),
        help="the journal's fsync policy (default: the library's default, terminal)",
    )
    args: argparse.Namespace = parser.parse_args(argv)
    subprocess = not args.in_process
    quiet_ib_async()
    runs = asyncio.run(measure(args.n, args.pairs, subprocess=subprocess, fsync=args.fsync))
    lines = report(runs, subprocess=subprocess, fsync=args.fsync)
    record("End to end: IBKROrderExecutor vs raw ib_async", lines, path=results_path(args))
    return lines


if __name__ == "__main__":
    main()
