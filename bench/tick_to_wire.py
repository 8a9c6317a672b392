"""Tick to wire: from deciding to trade to the placeOrder bytes being written to the socket.

Run: ``python -m bench.tick_to_wire``. No budget in design.md; p50 and p99 reported.

One order at a time (each filled before the next, so nothing else runs in between). The clock
starts when the caller builds its order (raw: ``Stock`` + ``LimitOrder``/``MarketOrder``, then
``ib.placeOrder``; lib: ``OrderRequest``, then ``executor.submit_order``) and stops when
ib_async's ``Connection.sendMsg`` is called with the placeOrder message (message id 3), i.e. just
before ``transport.write``: wrapped on this connection's instance, measured on the client side.
ib_async unthrottled on both sides; the simulator in a child process (``--in-process``: here).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import ib_async

from bench._common import (
    Endpoint,
    FillClock,
    base_arguments,
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


def _stamp_place_orders(ib: Any, stamps: list[float]) -> None:
    conn = ib.client.conn
    send: Callable[[bytes], None] = conn.sendMsg

    def send_and_stamp(msg: bytes) -> None:
        if msg[4:6] == _PLACE_ORDER:
            stamps.append(time.perf_counter())
        send(msg)

    conn.sendMsg = send_and_stamp


async def run_raw(endpoint: Endpoint, n: int) -> list[float]:
    """Seconds from building each order to its placeOrder write."""
    ib = ib_async.IB()
    ib.client.MaxRequests = 0
    await ib.connectAsync(endpoint.host, endpoint.port, clientId=1, timeout=60)
    stamps: list[float] = []
    _stamp_place_orders(ib, stamps)
    latencies: list[float] = []
    try:
        for i in range(n):
            start = time.perf_counter()
            contract = ib_async.Stock("AAPL", "SMART", "USD")
            order = (
                ib_async.LimitOrder("BUY", 100, 151.0, orderRef=f"r{i}")
                if i % 2
                else ib_async.MarketOrder("BUY", 100, orderRef=f"r{i}")
            )
            trade = ib.placeOrder(contract, order)
            latencies.append(stamps[-1] - start)
            while not trade.isDone():
                await trade.statusEvent
    finally:
        ib.disconnect()
    return latencies


async def run_lib(endpoint: Endpoint, n: int, journal: Path) -> list[float]:
    """Seconds from building each request to its placeOrder write."""
    manager = IBKRConnectionManager(
        endpoint.host,
        endpoint.port,
        2,
        audit_logger=AuditLogger(journal),
        timeout_seconds=60,
        max_requests_per_second=0,
    )
    filled: dict[str, asyncio.Future[float]] = {}
    executor = IBKROrderExecutor(manager, order_handlers=[FillClock(filled)])
    await executor.start()
    stamps: list[float] = []
    _stamp_place_orders(manager.ib, stamps)
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    try:
        for i in range(n):
            ref = f"l{i}"
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
            latencies.append(stamps[-1] - start)
            await done
    finally:
        await executor.stop()
        executor.journal.close()
    return latencies


async def measure(n: int, *, subprocess: bool) -> list[str]:
    """The figures, as printed lines."""
    with tempfile.TemporaryDirectory() as tmp:
        async with simulator(subprocess=subprocess) as endpoint:
            raw = await run_raw(endpoint, n)
        async with simulator(subprocess=subprocess) as endpoint:
            lib = await run_lib(endpoint, n, Path(tmp) / "journal.jsonl")
    where = "child process" if subprocess else "this process"
    lines = [f"{n} orders one at a time; simulator in {where}; stamped at Connection.sendMsg"]
    for side, values in (("raw", raw), ("lib", lib)):
        lines.append(
            f"{side}: p50 {percentile(values, 0.5) * 1e6:7.1f} us   "
            f"p99 {percentile(values, 0.99) * 1e6:7.1f} us"
        )
    ratio = percentile(lib, 0.5) / percentile(raw, 0.5)
    lines.append(f"ratio lib/raw at p50 {ratio:.2f}x (no budget)")
    return lines


def main(argv: Sequence[str] | None = None) -> list[str]:
    """Run the benchmark; returns the printed lines."""
    parser = base_arguments("tick to wire: submit to placeOrder bytes, lib versus raw ib_async")
    parser.add_argument("--n", type=int, default=500, help="orders per side")
    parser.add_argument(
        "--in-process", action="store_true", help="run the simulator in this process and loop"
    )
    args: argparse.Namespace = parser.parse_args(argv)
    quiet_ib_async()
    lines = asyncio.run(measure(args.n, subprocess=not args.in_process))
    record("Tick to wire: lib vs raw ib_async", lines, path=results_path(args))
    return lines


if __name__ == "__main__":
    main()
