"""Reconnect: from socket loss to every order actor resumed, with 5k open orders, versus raw
ib_async's own reconnect and sync of the same orders.

Run: ``python -m bench.reconnect``. Budget (design.md): lib / raw <= 1.0x.

Both sides place ``--n`` BUY limit orders at 100 (AAPL is at 150: they stay working) on a fresh
FakeTWS, then the simulator drops the connection (``tws.disconnect_clients()``) and the clock
runs until: raw, ``IB.connectAsync`` returns after ib_async noticed the loss (its sync of open
orders, completed orders and executions included); lib, the connection manager is READY again
(reconnected, every open order routed to its actor and applied, every actor resumed), heard by a
ConnectionEventHandler. The library's reconnect backoff is set to 1 ms so that backoff does not
dominate; raw reconnects at once. The simulator runs in this process and loop (the benchmark must
drop its sockets), so its cost is in both figures. Runs alternate raw, lib; medians reported.
"""

from __future__ import annotations

import asyncio
import gc
import tempfile
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import ib_async

from bench._common import base_arguments, median, quiet_ib_async, record, results_path
from ibkr_exec import (
    AuditLogger,
    ConnectionEventHandler,
    IBKRConnectionManager,
    IBKROrderExecutor,
    OrderRequest,
    OrderType,
    Side,
)
from ibkr_exec.sim import FakeTWS

PRICE = Decimal("150")
LIMIT = "100"
BATCH = 500  # submissions in flight at once while setting up (setup is not timed)


async def run_raw(n: int) -> float:
    """Seconds from the drop to ``connectAsync`` returning, ``n`` orders working."""
    async with FakeTWS() as tws:
        tws.set_price("AAPL", PRICE)
        ib = ib_async.IB()
        ib.client.MaxRequests = 0
        await ib.connectAsync(tws.host, tws.port, clientId=1, timeout=60)
        contract = ib_async.Stock("AAPL", "SMART", "USD")
        for i in range(n):
            ib.placeOrder(contract, ib_async.LimitOrder("BUY", 100, float(LIMIT), orderRef=f"r{i}"))
        await tws.wait_for(lambda: len(tws.orders) == n, timeout=120)
        await asyncio.sleep(0.2)  # let the acknowledgements in, as the lib side awaits them
        lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_lost() -> None:
            if not lost.done():
                lost.set_result(None)

        ib.disconnectedEvent += on_lost
        gc.collect()
        start = time.perf_counter()
        tws.disconnect_clients()
        await lost
        await ib.connectAsync(tws.host, tws.port, clientId=1, timeout=60)
        elapsed = time.perf_counter() - start
        if len(ib.openTrades()) != n:
            raise RuntimeError(f"raw sync found {len(ib.openTrades())} open orders, not {n}")
        ib.disconnect()
        return elapsed


class _Ready(ConnectionEventHandler):
    """A ConnectionEventHandler that resolves a future when the link is READY again."""

    def __init__(self) -> None:
        self.future: asyncio.Future[float] | None = None

    def on_connected(self) -> None:
        if self.future is not None and not self.future.done():
            self.future.set_result(time.perf_counter())


async def run_lib(n: int, journal: Path) -> float:
    """Seconds from the drop to READY again, ``n`` orders working."""
    async with FakeTWS() as tws:
        tws.set_price("AAPL", PRICE)
        ready = _Ready()
        manager = IBKRConnectionManager(
            tws.host,
            tws.port,
            1,
            audit_logger=AuditLogger(journal),
            timeout_seconds=120,
            reconnect_backoff_seconds=0.001,
            reconnect_max_attempts=100,
            max_requests_per_second=0,
        )
        executor = IBKROrderExecutor(manager, connection_handlers=[ready])
        await executor.start()
        for first in range(0, n, BATCH):
            await asyncio.gather(
                *(
                    executor.submit_order(
                        OrderRequest("AAPL", 100, OrderType.LIMIT, Side.BUY, limit_price=LIMIT)
                    )
                    for _ in range(first, min(n, first + BATCH))
                )
            )
        ready.future = asyncio.get_running_loop().create_future()
        gc.collect()
        start = time.perf_counter()
        tws.disconnect_clients()
        elapsed = await asyncio.wait_for(ready.future, 120) - start
        if manager.state != "READY" or len(await executor.get_open_orders()) != n:
            raise RuntimeError("the library did not come back READY with every order open")
        await executor.stop()
        executor.journal.close()
        return elapsed


async def measure(n: int, pairs: int) -> list[str]:
    """The figures, as printed lines."""
    raw: list[float] = []
    lib: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for pair in range(pairs):
            raw.append(await run_raw(n))
            lib.append(await run_lib(n, Path(tmp) / f"journal-{pair}.jsonl"))
    r, m = median(raw), median(lib)
    return [
        f"{n} working orders; FakeTWS in this process (its cost is in both); {pairs} pairs",
        "lib reconnect backoff 1 ms (first attempt after 1-1.25 ms); raw reconnects at once",
        f"raw  drop -> connectAsync returned: {r * 1e3:8.1f} ms  (runs: "
        + ", ".join(f"{x * 1e3:.0f}" for x in raw)
        + ")",
        f"lib  drop -> READY, actors resumed: {m * 1e3:8.1f} ms  (runs: "
        + ", ".join(f"{x * 1e3:.0f}" for x in lib)
        + ")",
        f"ratio lib/raw {m / r:.3f}   (budget <= 1.0)",
    ]


def main(argv: Sequence[str] | None = None) -> list[str]:
    """Run the benchmark; returns the printed lines."""
    parser = base_arguments("reconnect with open orders: library versus raw ib_async")
    parser.add_argument("--n", type=int, default=5_000, help="working orders")
    parser.add_argument("--pairs", type=int, default=2, help="alternated raw/lib pairs")
    args = parser.parse_args(argv)
    quiet_ib_async()
    lines = asyncio.run(measure(args.n, args.pairs))
    record("Reconnect with open orders: lib vs raw ib_async", lines, path=results_path(args))
    return lines


if __name__ == "__main__":
    main()
