"""Write-ahead through the public API: the placement entry is on disk before IB gets the order,
and an order's terminal entry is on disk before any handler hears of it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from ibkr_exec import (
    Fill,
    IBKRConnectionManager,
    IBKROrderExecutor,
    Order,
    OrderEventHandler,
    OrderRequest,
    OrderStatus,
)
from ibkr_exec.sim import FakeTWS


def kinds_on_disk(path: Path, cid: str) -> list[tuple[str, str | None, str | None]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry["client_order_id"] == cid:
            rows.append((entry["kind"], entry["trigger"], entry["dst"]))
    return rows


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Handlers run in the client, after the simulator's last event: poll the client's side."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0)


def executor_for(tws: FakeTWS, path: Path) -> IBKROrderExecutor:
    manager = IBKRConnectionManager(
        tws.host, tws.port, 1, journal_path=path, timeout_seconds=3.0, max_requests_per_second=0
    )
    return IBKROrderExecutor(manager)


async def test_a_terminal_entry_is_on_disk_before_handlers_hear_of_it(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    seen: list[tuple[OrderStatus, list[Any]]] = []

    class ReadsTheJournal(OrderEventHandler):
        def on_order_status(self, order: Order) -> None:
            seen.append((order.status, kinds_on_disk(path, order.client_order_id)))

    async with FakeTWS() as tws:
        tws.set_price("AAPL", Decimal("150"))
        executor = executor_for(tws, path)
        executor.add_order_handler(ReadsTheJournal())
        await executor.start()
        try:
            await executor.submit_order(
                OrderRequest("AAPL", 10, "MARKET", "BUY", client_order_id="t-1")
            )
            await until(lambda: any(s is OrderStatus.FILLED for s, _ in seen))
        finally:
            await executor.stop()
    on_disk = next(d for s, d in seen if s is OrderStatus.FILLED)
    assert ("fill", "fill", "FILLED") in on_disk


KILLED_AT_SEND = textwrap.dedent(
    """
    import asyncio, os, sys
    from decimal import Decimal
    from ibkr_exec import IBKRConnectionManager, IBKROrderExecutor, OrderRequest

    async def main(port: int, path: str) -> None:
        manager = IBKRConnectionManager(
            "127.0.0.1", port, 1, journal_path=path, timeout_seconds=3.0,
            max_requests_per_second=0,
        )
        executor = IBKROrderExecutor(manager)
        await executor.start()
        conn = manager.ib.client.conn
        send = conn.sendMsg

        def die_instead_of_placing(msg: bytes) -> None:
            if msg[4:6] == b"3\\x00":  # placeOrder: the process dies before a byte leaves
                os._exit(17)
            send(msg)

        conn.sendMsg = die_instead_of_placing
        await executor.submit_order(
            OrderRequest("AAPL", 10, "LIMIT", "BUY", limit_price="140", client_order_id="k-1")
        )

    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
    """
)


async def test_a_placement_is_on_disk_before_its_bytes_are_sent_and_recovered_after_a_kill(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.jsonl"
    async with FakeTWS() as tws:
        tws.set_price("AAPL", Decimal("150"))
        proc = await asyncio_run(KILLED_AT_SEND, str(tws.port), str(path))
        assert proc.returncode == 17, proc.stderr
        assert tws.placements_received == 0
        assert ("command", "place_order", "PENDING") in kinds_on_disk(path, "k-1")
        executor = executor_for(tws, path)  # a new process would do the same: start from disk
        await executor.start()
        try:
            recovered = await executor.get_order_status("k-1")
        finally:
            await executor.stop()
    assert recovered is not None
    assert (recovered.symbol, recovered.quantity) == ("AAPL", Decimal(10))


async def asyncio_run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a child Python without blocking this loop (the simulator lives here)."""
    import asyncio

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return subprocess.CompletedProcess(args, proc.returncode or 0, out.decode(), err.decode())


async def test_handlers_hear_of_changes_in_the_order_the_journal_records_them(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.jsonl"
    heard: list[tuple[str, str]] = []

    class Recorder(OrderEventHandler):
        def on_order_status(self, order: Order) -> None:
            heard.append(("status", f"{order.status.value} {order.filled_quantity}"))

        def on_fill(self, fill: Fill) -> None:
            heard.append(("fill", fill.fill_id))

    async with FakeTWS() as tws:
        tws.set_price("AAPL", Decimal("150"))
        tws.max_fill_size = 3  # 10 shares in four executions: PARTIAL three times, then FILLED
        executor = executor_for(tws, path)
        executor.add_order_handler(Recorder())
        await executor.start()
        try:
            await executor.submit_order(
                OrderRequest("AAPL", 10, "LIMIT", "BUY", limit_price="140", client_order_id="o-1")
            )
            for _ in range(4):
                tws.set_price("AAPL", Decimal("139"))
                tws.set_price("AAPL", Decimal("150"))
            await until(lambda: ("status", "FILLED 10") in heard)
        finally:
            await executor.stop()
    journaled: list[tuple[str, str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry["client_order_id"] != "o-1" or entry["src"] == entry["dst"] is None:
            continue
        if entry["kind"] == "fill":
            journaled.append(("fill", entry["payload"]["exec_id"]))
        if entry["kind"] in ("fill", "transition") and entry["trigger"] in ("fill", "acknowledge"):
            journaled.append(("status", entry["dst"]))
    statuses_heard = [("status", s.split()[0]) if k == "status" else (k, s) for k, s in heard]
    assert statuses_heard == journaled
    assert len([k for k, _ in heard if k == "fill"]) == 4
