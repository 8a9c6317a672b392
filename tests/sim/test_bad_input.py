"""Bad client input is answered as TWS would or the connection closed; the server survives."""

from __future__ import annotations

import asyncio
import struct

import pytest
from ib_async import IB, MarketOrder, Stock

from ibkr_exec.sim import FakeTWS

from .helpers import AAPL, connect, errors_of


def _frame(*fields: str) -> bytes:
    payload = ("\0".join(fields) + "\0").encode()
    return struct.pack(">I", len(payload)) + payload


async def _started_raw_client(
    tws: FakeTWS, client_id: int = 9
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", tws.port)
    hello = b"v157..178"
    writer.write(
        b"API\0" + struct.pack(">I", len(hello)) + hello + _frame("71", "2", str(client_id), "")
    )
    await tws.wait_for_client(client_id)
    return reader, writer


async def _read_frames_until(reader: asyncio.StreamReader, msg_id: str) -> list[list[str]]:
    frames: list[list[str]] = []
    while not frames or frames[-1][0] != msg_id:
        (length,) = struct.unpack(">I", await asyncio.wait_for(reader.readexactly(4), 2))
        frames.append((await reader.readexactly(length)).decode().split("\0")[:-1])
    return frames


async def _other_client_still_trades(tws: FakeTWS) -> None:
    tws.set_price("AAPL", 100)
    ib = await connect(tws, client_id=1)
    trade = ib.placeOrder(AAPL, MarketOrder("BUY", 1))
    await asyncio.wait_for(trade.filledEvent, 2)
    ib.disconnect()


@pytest.mark.parametrize(
    "garbage",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"API\0" + struct.pack(">I", 0x7FFFFFFF) + b"x",
        b"\xff\xfe\x00\x01garbage",
    ],
    ids=["http", "oversized-length-prefix", "binary"],
)
async def test_garbage_closes_that_connection_and_the_server_keeps_serving(
    fake_tws: FakeTWS, garbage: bytes
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", fake_tws.port)
    writer.write(garbage)
    assert await asyncio.wait_for(reader.read(), 2) == b""
    writer.close()
    await _other_client_still_trades(fake_tws)


async def test_truncated_frame_then_hang_up_does_not_disturb_other_clients(
    fake_tws: FakeTWS,
) -> None:
    _, writer = await _started_raw_client(fake_tws)
    writer.write(_frame("3", "77", "0", "AAPL")[:-3])
    writer.close()
    await fake_tws.wait_for_client(9, connected=False)
    await _other_client_still_trades(fake_tws)


async def test_unknown_message_id_is_answered_with_320_and_the_connection_stays(
    fake_tws: FakeTWS,
) -> None:
    reader, writer = await _started_raw_client(fake_tws)
    writer.write(_frame("999", "1") + _frame("49", "1"))
    frames = await _read_frames_until(reader, "49")
    errors = [f for f in frames if f[0] == "4" and f[3] == "320"]
    assert errors
    assert "999" in errors[0][4]
    writer.close()


async def test_non_numeric_message_id_closes_the_connection(fake_tws: FakeTWS) -> None:
    _reader, writer = await _started_raw_client(fake_tws)
    writer.write(_frame("hello", "world"))
    await fake_tws.wait_for_client(9, connected=False)
    writer.close()
    await _other_client_still_trades(fake_tws)


async def test_truncated_place_order_is_answered_with_320_for_that_order(
    fake_tws: FakeTWS,
) -> None:
    reader, writer = await _started_raw_client(fake_tws)
    writer.write(_frame("3", "77", "0", "AAPL", "STK") + _frame("49", "1"))
    frames = await _read_frames_until(reader, "49")
    assert [f[2:4] for f in frames if f[0] == "4" and f[3] == "320"] == [["77", "320"]]
    assert fake_tws.orders == []
    writer.close()


async def test_ignored_requests_such_as_auto_open_orders_break_nothing(fake_tws: FakeTWS) -> None:
    ib = IB()
    received = errors_of(ib)
    await ib.connectAsync("127.0.0.1", fake_tws.port, clientId=0, timeout=2)  # sends message 15
    ib.reqMktData(Stock("AAPL", "SMART", "USD", conId=265598))
    await asyncio.wait_for(ib.reqCurrentTimeAsync(), 2)
    assert ib.isConnected()
    assert not [code for _, code, _ in received if code < 2100]
    ib.disconnect()
