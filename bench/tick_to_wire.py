"""Tick to wire: from deciding to trade to the placeOrder bytes being written to the socket.

Run: ``python -m bench.tick_to_wire``. Budget (design.md): p50 and p99 <= 1.3x raw
``IB.placeOrder``, with the write-ahead kept.

One order at a time (each filled before the next, so nothing else runs in between). The clock
starts when the caller builds its order (raw: ``Stock`` + ``LimitOrder``/``MarketOrder``, then
``ib.placeOrder``; lib: ``OrderRequest``, then ``executor.submit_order``) and stops when
ib_async's ``Connection.sendMsg`` is called with the placeOrder message (message id 3), i.e. just
before ``transport.write``: wrapped on each connection's instance, measured on the client side.

Both clients are connected to one simulator (a child process; ``--in-process``: here) for the
whole run, and take turns: a round of ``--round`` raw orders, then a round of library orders, and
so on, so that drift on a shared machine lands on both sides. A run gives one p50 and one p99 per
side; ``--runs`` runs give the medians and the spread (lowest-highest ratio) reported.
``--no-flush`` also runs a third side: the library with the write-ahead's flush skipped (the
entries still go to the file on the next loop turn), to show what the flush before the send costs.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
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

_PLACE_ORDER = b"3\x00"  # the placeOrder message id, after the 4-byte length prefix
One = Callable[[int], Awaitable[float]]


def _stamp_place_orders(ib: Any, stamps: list[float]) -> None:
    conn = ib.client.conn
    send: Callable[[bytes], None] = conn.sendMsg

    def send_and_stamp(msg: bytes) -> None:
        if msg[4:6] == _PLACE_ORDER:
            stamps.append(time.perf_counter())
        send(msg)

    conn.sendMsg = send_and_stamp


async def raw_side(endpoint: Endpoint, client_id: int) -> tuple[One, Callable[[], object]]:
    """Place one order with ``ib.placeOrder``: seconds from building it to its write."""
    ib = ib_async.IB()
    ib.client.MaxRequests = 0
    await ib.connectAsync(endpoint.host, endpoint.port, clientId=client_id, timeout=60)
    stamps: list[float] = []
    _stamp_place_orders(ib, stamps)

    async def one(i: int) -> float:
        start = time.perf_counter()
        contract = ib_async.Stock("AAPL", "SMART", "USD")
        order = (
            ib_async.LimitOrder("BUY", 100, 151.0, orderRef=f"r{i}")
            if i % 2
            else ib_async.MarketOrder("BUY", 100, orderRef=f"r{i}")
        )
        trade = ib.placeOrder(contract, order)
        latency = stamps[-1] - start
        while not trade.isDone():
            await trade.statusEvent
        return latency

    return one, ib.disconnect


async def lib_side(
    endpoint: Endpoint, client_id: int, journal: Path, *, flush: bool = True
) -> tuple[One, Callable[[], Awaitable[None]]]:
    """Submit one order with ``executor.submit_order``: seconds from building the request to
    its write. ``flush=False`` skips the write-ahead's flush (measurement only)."""
    manager = IBKRConnectionManager(
        endpoint.host,
        endpoint.port,
        client_id,
        audit_logger=AuditLogger(journal),
        timeout_seconds=60,
        max_requests_per_second=0,
    )
    filled: dict[str, asyncio.Future[float]] = {}
    executor = IBKROrderExecutor(manager, order_handlers=[FillClock(filled)])
    await executor.start()
    if not flush:
        executor.journal.write_ahead = lambda: None  # type: ignore[method-assign]
    stamps: list[float] = []
    _stamp_place_orders(manager.ib, stamps)
    loop = asyncio.get_running_loop()
    prefix = f"c{client_id}-"

    async def one(i: int) -> float:
        ref = f"{prefix}{i}"
        done = filled[ref] = loop.create_future()
        start = time.perf_counter()
        request = (
            OrderRequest(
                "AAPL", 100, OrderType.LIMIT, Side.BUY, limit_price="151", client_order_id=ref
            )
            if i % 2
            else OrderRequest("AAPL", 100, OrderType.MARKET, Side.BUY, client_order_id=ref)
        )
        await executor.submit_order(request)
        latency = stamps[-1] - start
        await done
        return latency

    async def close() -> None:
        await executor.stop()
        executor.journal.close()

    return one, close


async def one_run(
    endpoint: Endpoint, n: int, per_round: int, folder: Path, run: int, *, no_flush: bool
) -> dict[str, list[float]]:
    """Latencies per side for one run: rounds of ``per_round`` orders, sides taking turns."""
    base = 10 * run
    raw, raw_close = await raw_side(endpoint, base + 1)
    sides: dict[str, One] = {"raw": raw}
    closers: list[Callable[[], Awaitable[None]]] = []
    lib, lib_close = await lib_side(endpoint, base + 2, folder / f"j{run}.jsonl")
    sides["lib"] = lib
    closers.append(lib_close)
    if no_flush:
        unflushed, close = await lib_side(
            endpoint, base + 3, folder / f"j{run}-noflush.jsonl", flush=False
        )
        sides["lib, no flush"] = unflushed
        closers.append(close)
    latencies: dict[str, list[float]] = {side: [] for side in sides}
    try:
        for start in range(0, n, per_round):
            for side, one in sides.items():
                gc.collect()
                for i in range(start, min(n, start + per_round)):
                    latencies[side].append(await one(i))
    finally:
        raw_close()
        for close in closers:
            await close()
    return latencies


async def measure(
    n: int, per_round: int, runs: int, *, subprocess: bool, no_flush: bool
) -> list[dict[str, list[float]]]:
    """``runs`` runs, each on a fresh simulator."""
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(runs):
            async with simulator(subprocess=subprocess) as endpoint:
                results.append(
                    await one_run(endpoint, n, per_round, Path(tmp), run, no_flush=no_flush)
                )
    return results


def report(
    results: Sequence[dict[str, list[float]]], n: int, per_round: int, where: str
) -> list[str]:
    """Per side: p50/p99 per run and their medians; lib/raw ratios with their spread."""
    lines = [
        f"{n} orders per side per run, one at a time, alternated rounds of {per_round}; "
        f"{len(results)} runs; simulator in {where}; stamped at Connection.sendMsg"
    ]
    for side in results[0]:
        p50s = [percentile(r[side], 0.5) * 1e6 for r in results]
        p99s = [percentile(r[side], 0.99) * 1e6 for r in results]
        lines.append(
            f"{side:>13}: p50 {median(p50s):7.1f} us (runs: {', '.join(f'{v:.0f}' for v in p50s)})"
            f"   p99 {median(p99s):7.1f} us (runs: {', '.join(f'{v:.0f}' for v in p99s)})"
        )
    for side in [s for s in results[0] if s != "raw"]:
        for q, name in ((0.5, "p50"), (0.99, "p99")):
            ratios = [percentile(r[side], q) / percentile(r["raw"], q) for r in results]
            lines.append(
                f"ratio {side}/raw at {name}: {median(ratios):.2f}x "
                f"(spread {min(ratios):.2f}-{max(ratios):.2f})   (budget <= 1.3x)"
            )
    return lines


def main(argv: Sequence[str] | None = None) -> list[str]:
    """Run the benchmark; returns the printed lines."""
    parser = base_arguments("tick to wire: submit to placeOrder bytes, lib versus raw ib_async")
    parser.add_argument("--n", type=int, default=400, help="orders per side per run")
    parser.add_argument("--round", type=int, default=20, help="orders per side per round")
    parser.add_argument("--runs", type=int, default=3, help="runs (each on a fresh simulator)")
    parser.add_argument(
        "--no-flush", action="store_true", help="also measure the library without the flush"
    )
    parser.add_argument(
        "--in-process", action="store_true", help="run the simulator in this process and loop"
    )
    args: argparse.Namespace = parser.parse_args(argv)
    quiet_ib_async()
    subprocess = not args.in_process
    results = asyncio.run(
        measure(args.n, args.round, args.runs, subprocess=subprocess, no_flush=args.no_flush)
    )
    where = "child process" if subprocess else "this process"
    lines = report(results, args.n, args.round, where)
    record("Tick to wire: lib vs raw ib_async", lines, path=results_path(args))
    return lines


if __name__ == "__main__":
    main()
