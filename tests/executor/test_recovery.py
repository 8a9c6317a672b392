"""Process restart: a killed process's orders are recovered from its journal and reconciled."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from decimal import Decimal
from pathlib import Path

from ibkr_exec import (
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    read_journal,
)
from ibkr_exec.sim import FakeTWS

from .conftest import far_zone, make_executor
from .waiting import Events, Recorder

# Executor A, in its own process: submits a resting order and a partly filled one, reports
# each status on stdout, and then waits to be killed.
PROCESS_A = """
import asyncio, sys
from ibkr_exec import (AuditLogger, IBKRConnectionManager, IBKROrderExecutor,
                       OrderEventHandler, OrderRequest, OrderType, Side)

class Say(OrderEventHandler):
    def on_order_status(self, order):
        print(order.client_order_id, order.status.value, order.filled_quantity, flush=True)

async def main(host, port, journal):
    manager = IBKRConnectionManager(host, int(port), 1, audit_logger=AuditLogger(journal),
                                    timeout_seconds=3.0)
    executor = IBKROrderExecutor(manager, order_handlers=[Say()])
    await executor.start()
    for cid in ("resting", "partial"):
        price = "100" if cid == "resting" else "150"
        await executor.submit_order(OrderRequest("AAPL", "100", OrderType.LIMIT, Side.BUY,
                                                 limit_price=price, client_order_id=cid))
    print("ALL-PLACED", flush=True)
    await asyncio.Event().wait()

asyncio.run(main(*sys.argv[1:]))
"""


async def _read_until(stream: asyncio.StreamReader, text: str) -> None:
    async with asyncio.timeout(10):
        while text not in (await stream.readline()).decode():
            pass


async def test_a_killed_process_orders_are_recovered_and_reconciled(
    tws: FakeTWS, journal_path: Path
) -> None:
    tws.auto_match = False
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        PROCESS_A,
        tws.host,
        str(tws.port),
        str(journal_path),
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdout is not None
    try:
        await _read_until(child.stdout, "ALL-PLACED")
        tws.fill("partial", Decimal("30"))
        await _read_until(child.stdout, "partial PARTIAL 30")
    finally:
        os.kill(child.pid, signal.SIGKILL)  # no clean stop: buffered journal entries are lost
        await child.wait()
    await tws.wait_for_client(1, connected=False)
    tws.fill("partial", Decimal("20"))  # while no process is connected

    rec = Recorder()
    b = make_executor(tws, journal_path)
    b.add_order_handler(rec)
    async with b:
        partial = await rec.until("partial", lambda o: o.filled_quantity == 50)
        assert partial.status is OrderStatus.PARTIAL
        assert [f.quantity for f in await b.get_fills("partial")] == [30, 20]
        resting = await b.get_order_status("resting")
        assert resting is not None
        assert resting.status is OrderStatus.SUBMITTED
        # Managed again: B can cancel what A placed, and never reuses A's order ids.
        await b.cancel_order("resting")
        await rec.until("resting", lambda o: o.status is OrderStatus.CANCELLED)
        fresh = await b.submit_order(OrderRequest("AAPL", "1", OrderType.MARKET, Side.BUY))
        ids = [o.order_id for o in tws.orders]
        assert len(ids) == len(set(ids))
        assert fresh.order_id is not None
        assert int(fresh.order_id) > max(int(tws.order(c).order_id) for c in ("resting", "partial"))
    recovered = [e for e in read_journal(journal_path) if e["trigger"] == "recovered"]
    assert [e["payload"]["orders"] for e in recovered] == [2]


async def test_a_journal_order_ib_never_received_is_placed_again(
    tws: FakeTWS, journal_path: Path
) -> None:
    a = make_executor(tws, journal_path, timeout_seconds=0.3)
    await a.start()
    tws.swallow_placements()  # the process dies before IB ever had it
    with contextlib.suppress(TimeoutError):
        await a.submit_order(
            OrderRequest("AAPL", "5", OrderType.MARKET, Side.BUY, client_order_id="lost")
        )
    await a.stop()
    rec = Recorder()
    b = make_executor(tws, journal_path)
    b.add_order_handler(rec)
    async with b:
        done = await rec.until("lost", lambda o: o.status is OrderStatus.FILLED)
        assert done.filled_quantity == 5
    assert tws.order("lost").filled == 5


async def test_connection_handlers_hear_each_change_once_in_order(
    tws: FakeTWS, journal_path: Path
) -> None:
    events = Events()
    ex = make_executor(tws, journal_path)
    ex.add_connection_handler(events)
    async with ex:
        await events.until(1)
        tws.disconnect_clients()
        await events.until(3)
        tws.notify_connectivity(1100)
        await events.until(4)
        tws.notify_connectivity(1102)
        await events.until(5)
        tws.notify_connectivity(1100)
        await events.until(6)
        tws.notify_connectivity(1101)
        await events.until(7)
        assert ex.connection.state == "READY"
    assert events.seen == [
        "connected",
        "disconnected",
        "connected",
        "disconnected",
        "connected",
        "disconnected",
        "connected",
        "disconnected",
    ]


async def test_reconnect_gives_up_after_the_configured_attempts(journal_path: Path) -> None:
    events = Events()
    async with FakeTWS(timezone=far_zone()) as sim:
        ex = make_executor(sim, journal_path, reconnect_max_attempts=2)
        ex.add_connection_handler(events)
        await ex.start()
        await events.until(1)
        await sim.stop()  # the gateway is gone for good
    await events.until(3)
    assert events.seen[:2] == ["connected", "disconnected"]
    assert events.seen[2].startswith("failed: gave up after 2 attempts")
    assert ex.connection.state == "FAILED"
    await ex.stop()


async def test_pause_and_resume_of_each_order_are_journaled(
    tws: FakeTWS, journal_path: Path
) -> None:
    events = Events()
    ex = make_executor(tws, journal_path)
    ex.add_connection_handler(events)
    async with ex:
        await events.until(1)
        await ex.submit_order(
            OrderRequest(
                "AAPL", "1", OrderType.LIMIT, Side.BUY, limit_price="1", client_order_id="o"
            )
        )
        tws.disconnect_clients()
        await events.until(3)
    modes = [
        (e["src"], e["dst"])
        for e in read_journal(journal_path)
        if e["kind"] == "mode" and e["client_order_id"] == "o"
    ]
    assert modes == [("RUNNING", "PAUSED"), ("PAUSED", "RUNNING")]
