"""TWS's time zone: zone-less execution times become the right UTC instant whatever the machine's
own zone, because the adapter reads the zone from the handshake (IB.TimezoneTWS)."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from ibkr_exec import (
    AuditLogger,
    IBKRConnectionManager,
    IBKROrderExecutor,
    Order,
    OrderEventHandler,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
)
from ibkr_exec.broker.ib import IBBroker
from ibkr_exec.broker.port import BrokerAnomaly
from ibkr_exec.sim import FakeTWS

MOMENT = datetime(2025, 1, 15, 23, 30, 5, tzinfo=UTC)  # already the 16th in Tokyo


class _Done(OrderEventHandler):
    """Sets ``filled`` once an order reaches FILLED (on_order_status keeps its signature)."""

    def __init__(self) -> None:
        self.filled = asyncio.Event()

    def on_order_status(self, order: Order) -> None:
        if order.status is OrderStatus.FILLED:
            self.filled.set()


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "America/Los_Angeles", "Europe/London"])
async def test_fill_timestamps_are_the_true_utc_instant_in_any_tws_zone(
    zone: str, tmp_path: Path
) -> None:
    async with FakeTWS(timezone=zone, clock=lambda: MOMENT) as tws:
        tws.set_price("AAPL", Decimal("150"))
        manager = IBKRConnectionManager(
            tws.host, tws.port, 1, audit_logger=AuditLogger(tmp_path / "j.jsonl")
        )
        executor = IBKROrderExecutor(manager)
        done = _Done()
        executor.add_order_handler(done)
        await executor.start()
        try:
            assert manager.ib.TimezoneTWS == zone
            order = await executor.submit_order(
                OrderRequest("AAPL", "10", OrderType.MARKET, Side.BUY)
            )
            await asyncio.wait_for(done.filled.wait(), 5)
            (fill,) = await executor.get_fills(order.client_order_id)
            assert fill.timestamp == MOMENT
        finally:
            await executor.stop()
            executor.journal.close()


async def _handshake_server(connection_time: str) -> AsyncIterator[int]:
    """A server that answers the API handshake with ``connection_time`` and nothing else."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(64)
        payload = f"176\0{connection_time}\0".encode()
        writer.write(struct.pack(">I", len(payload)) + payload)
        await writer.drain()
        await reader.read(64)  # startApi; then hang up
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    ("connection_time", "expected"),
    [
        ("20240324 21:18:59 Greenwich Mean Time", "Europe/London"),  # capture 31 (pyfutures)
        ("20250415 19:38:30 British Summer Time", "Europe/London"),  # capture 16 (rust-ibapi)
        ("20250102 10:00:00 Eastern Standard Time", "America/New_York"),
        ("20250102 10:00:00 America/Chicago", "America/Chicago"),
    ],
)
async def test_the_adapter_reads_the_zone_named_in_a_real_handshake(
    connection_time: str, expected: str
) -> None:
    reports: list[object] = []
    broker = IBBroker(reports.append, lambda _: None)
    async for port in _handshake_server(connection_time):
        with pytest.raises((ConnectionError, TimeoutError, OSError)):
            await broker.connect("127.0.0.1", port, 1, timeout=1, readonly=False)
    assert broker.tws_time_zone == expected
    assert not [r for r in reports if isinstance(r, BrokerAnomaly)]


async def test_an_unknown_zone_name_is_an_anomaly_and_read_at_the_offset_of_the_tws_clock() -> None:
    reports: list[object] = []
    broker = IBBroker(reports.append, lambda _: None)
    # Three hours ahead of UTC, under a name no table knows.
    ahead = (datetime.now(UTC) + timedelta(hours=3)).strftime("%Y%m%d %H:%M:%S")
    async for port in _handshake_server(f"{ahead} Mars Standard Time"):
        with pytest.raises((ConnectionError, TimeoutError, OSError)):
            await broker.connect("127.0.0.1", port, 1, timeout=1, readonly=False)
    assert broker.tws_time_zone == "Etc/GMT-3"
    (anomaly,) = [r for r in reports if isinstance(r, BrokerAnomaly)]
    assert "Mars Standard Time" in anomaly.raw
