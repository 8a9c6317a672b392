"""Connecting: handshake, start API, the connect-time sync, and the refusals TWS makes."""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from typing import Any

import pytest
from ib_async import IB, MarketOrder

from ibkr_exec.sim import FakeTWS

from .helpers import AAPL, connect, errors_of, until


async def test_connect_completes_quickly_without_any_request_timing_out(
    fake_tws: FakeTWS, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ib_async")
    started = time.perf_counter()
    ib = await connect(fake_tws, timeout=4)
    elapsed = time.perf_counter() - started
    ib.disconnect()
    assert elapsed < 0.5
    assert "timed out" not in caplog.text
    assert "Error handling fields" not in caplog.text


async def test_client_sees_server_version_178_and_the_managed_accounts() -> None:
    async with FakeTWS(accounts=["DU111", "DU222"]) as tws:
        ib = await connect(tws)
        assert ib.client.serverVersion() == 178
        assert ib.managedAccounts() == ["DU111", "DU222"]
        ib.disconnect()


async def test_farm_notices_2104_2106_2158_arrive_on_connect(fake_tws: FakeTWS) -> None:
    ib = IB()
    received = errors_of(ib)
    await ib.connectAsync("127.0.0.1", fake_tws.port, clientId=1, timeout=2)
    ib.disconnect()
    assert {code for _, code, _ in received} >= {2104, 2106, 2158}


async def test_connected_client_ids_lists_started_api_connections(fake_tws: FakeTWS) -> None:
    ib = await connect(fake_tws, client_id=7)
    assert fake_tws.connected_client_ids == {7}
    ib.disconnect()
    await fake_tws.wait_for_client(7, connected=False)
    assert fake_tws.connected_client_ids == frozenset()


async def test_current_time_comes_from_the_injected_clock() -> None:
    from datetime import UTC, datetime

    moment = datetime(2025, 4, 25, 15, 23, 54, tzinfo=UTC)
    async with FakeTWS(clock=lambda: moment) as tws:
        ib = await connect(tws)
        assert await asyncio.wait_for(ib.reqCurrentTimeAsync(), 2) == moment
        ib.disconnect()


async def test_req_ids_answers_next_valid_id(fake_tws: FakeTWS, ib: IB) -> None:
    received: list[int] = []
    setattr(ib.wrapper, "nextValidId", received.append)  # noqa: B010
    client: Any = ib.client
    client.reqIds(1)
    await until(ib, lambda: received)
    assert received[0] >= 1


async def test_second_connection_with_the_same_client_id_gets_326_and_is_closed(
    fake_tws: FakeTWS,
) -> None:
    first = await connect(fake_tws, client_id=5)
    second = IB()
    received = errors_of(second)
    with pytest.raises((TimeoutError, ConnectionError)):
        await second.connectAsync("127.0.0.1", fake_tws.port, clientId=5, timeout=0.5)
    assert any(code == 326 for _, code, _ in received)
    assert first.isConnected()
    assert fake_tws.connected_client_ids == {5}
    first.disconnect()


async def test_a_client_too_old_for_the_layouts_the_simulator_writes_is_refused() -> None:
    async with FakeTWS(server_version=178) as tws:
        reader, writer = await asyncio.open_connection("127.0.0.1", tws.port)
        announcement = b"v100..150"
        writer.write(b"API\0" + struct.pack(">I", len(announcement)) + announcement)
        assert await asyncio.wait_for(reader.read(), 2) == b""
        writer.close()


async def test_a_client_needing_a_newer_server_gets_the_servers_own_version(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # As real TWS: it answers its own version and the client refuses (ib_async checks
    # serverVersion against its MinClientVersion and disconnects), not a silent close.
    async with FakeTWS(server_version=165) as tws:
        reader, writer = await asyncio.open_connection("127.0.0.1", tws.port)
        announcement = b"v170..178"
        writer.write(b"API\0" + struct.pack(">I", len(announcement)) + announcement)
        (length,) = struct.unpack(">I", await asyncio.wait_for(reader.readexactly(4), 2))
        payload = await reader.readexactly(length)
        assert payload.split(b"\0")[0] == b"165"
        writer.close()
        ib = IB()
        ib.client.MinClientVersion = 170
        with pytest.raises((ConnectionError, TimeoutError)):
            await ib.connectAsync("127.0.0.1", tws.port, clientId=1, timeout=0.5)
        assert "TWS/gateway version must be" in caplog.text  # the client's own refusal


@pytest.mark.parametrize(
    ("announcement", "expected"),
    [(b"v157..178", b"178"), (b"v100..187", b"178"), (b"v100..176", b"176")],
)
async def test_what_ib_async_and_ibkrs_text_clients_announce_is_accepted(
    announcement: bytes, expected: bytes
) -> None:
    # ib_async 2.1 announces v157..178; IBKR's text-protocol clients v100..<their max>.
    async with FakeTWS() as tws:
        reader, writer = await asyncio.open_connection("127.0.0.1", tws.port)
        writer.write(b"API\0" + struct.pack(">I", len(announcement)) + announcement)
        (length,) = struct.unpack(">I", await asyncio.wait_for(reader.readexactly(4), 2))
        payload = await reader.readexactly(length)
        assert payload.split(b"\0")[0] == expected
        writer.close()


@pytest.mark.parametrize("version", [158, 156, 179, 187])
def test_server_refuses_to_announce_versions_it_cannot_speak(version: int) -> None:
    with pytest.raises(ValueError, match="server_version"):
        FakeTWS(server_version=version)


async def test_server_negotiates_down_to_the_clients_highest_version() -> None:
    async with FakeTWS(server_version=178) as tws:
        reader, writer = await asyncio.open_connection("127.0.0.1", tws.port)
        hello = b"v157..170 +PACEAPI"
        writer.write(b"API\0" + struct.pack(">I", len(hello)) + hello)
        (length,) = struct.unpack(">I", await reader.readexactly(4))
        payload = await reader.readexactly(length)
        assert payload.split(b"\0")[0] == b"170"
        writer.close()


async def test_server_version_157_serves_ib_async_with_the_older_layouts() -> None:
    async with FakeTWS(server_version=157) as tws:
        tws.set_price("AAPL", 100)
        ib = await connect(tws)
        assert ib.client.serverVersion() == 157
        trade = ib.placeOrder(AAPL, MarketOrder("BUY", 10))
        await asyncio.wait_for(trade.filledEvent, 2)
        assert trade.orderStatus.avgFillPrice == 100
        ib.disconnect()
