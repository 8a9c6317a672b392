"""The library on real captured TWS sessions: a server replays the captured messages byte for byte
over loopback to the unmodified ib_async client and ibkr-exec, and the test checks the Orders,
Fills and positions the library builds from them (capture numbers are positions in
shared/reference/real-tws/captures.json)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from ibkr_exec import (
    AckTimeoutError,
    Fill,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    read_journal,
)
from ibkr_exec.broker.ib import IBBroker
from ibkr_exec.broker.port import BrokerAnomaly, BrokerWarning, CancelConfirmed

from .replay import Session, incoming, message, replaying
from .support import Statuses, executor_for
from .test_fill_commission import Heard

CLIENT_ID = 100  # the client id the rust-ibapi sessions used (orderStatus' last-but-two field)


def _anomalies(journal: Path) -> list[dict[str, object]]:
    return [e for e in read_journal(journal) if e["kind"] == "anomaly"]


async def test_a_2025_market_order_fills_as_real_tws_reported_it(tmp_path: Path) -> None:
    # rust-ibapi 2025, server version 173: handshake 16 (British Summer Time), connect 17-18,
    # the market order 19-23 (PreSubmitted, execDetails, openOrder/orderStatus Filled).
    session = Session(
        handshake=message(16),
        on_start=[message(17), message(18)],
        on_place=incoming("rust2025-mkt"),
        order_id="5",
    )
    journal = tmp_path / "j.jsonl"
    heard = Heard()
    async with replaying(session) as port:
        executor = executor_for(_Tws(port), journal, client_id=CLIENT_ID)
        executor.add_order_handler(heard)
        async with executor:
            order = await executor.submit_order(
                OrderRequest("AAPL", "100", OrderType.MARKET, Side.BUY, client_order_id="m")
            )
            assert int(order.order_id or 0) >= 5  # nextValidId of capture 18
            assert order.status is OrderStatus.SUBMITTED  # PreSubmitted is an acknowledgement
            done = await heard.until("m", lambda o: o.status is OrderStatus.FILLED)
            (fill,) = await executor.get_fills("m")
            assert executor.connection.ib.TimezoneTWS == "Europe/London"
    assert (done.filled_quantity, done.average_fill_price) == (Decimal(100), Decimal("201.94"))
    assert done.perm_id == 600745656
    assert (fill.fill_id, fill.quantity, fill.price) == (
        "0000e0d5.67fe667b.01.01",
        Decimal(100),
        Decimal("201.94"),
    )
    # "20250415  19:38:31" in British Summer Time is 18:38:31 UTC.
    assert fill.timestamp == datetime(2025, 4, 15, 18, 38, 31, tzinfo=UTC)
    assert fill.commission is None  # this capture holds no commissionReport
    assert [f.fill_id for f in heard.fills] == [fill.fill_id]  # heard once
    assert _anomalies(journal) == []


async def test_a_2023_market_order_carries_its_commission(tmp_path: Path) -> None:
    # rust-ibapi 2023, server version 165: the market order 0-6, with the second openOrder
    # carrying the commission and the commissionReport. That session's handshake and connect
    # messages were not recorded: the handshake below is an assumption (the account's TWS wrote
    # completed times in America/Los_Angeles, capture 13); managedAccounts and nextValidId
    # carry the capture's account and order id.
    session = Session(
        handshake=["165", "20230224 12:04:50 Pacific Standard Time"],
        on_start=[["15", "1", "DU1236109"], ["9", "1", "13"]],
        on_place=incoming("rust2023-mkt"),
        order_id="13",
    )
    journal = tmp_path / "j.jsonl"
    heard = Heard()
    async with replaying(session) as port:
        executor = executor_for(_Tws(port), journal, client_id=CLIENT_ID)
        executor.add_order_handler(heard)
        async with executor:
            await executor.submit_order(
                OrderRequest("TSLA", "100", OrderType.MARKET, Side.BUY, client_order_id="t")
            )
            done = await heard.until("t", lambda o: o.status is OrderStatus.FILLED)
            (fill,) = await executor.get_fills("t")
    assert (done.filled_quantity, done.average_fill_price) == (Decimal(100), Decimal("196.52"))
    assert done.perm_id == 1376327563
    assert (fill.quantity, fill.price, fill.commission) == (
        Decimal(100),
        Decimal("196.52"),
        Decimal("1"),
    )
    assert fill.timestamp == datetime(2023, 2, 24, 20, 4, 56, tzinfo=UTC)
    # The handler heard the fill once, with the commission IB sent right after it.
    assert [(f.fill_id, f.commission) for f in heard.fills] == [
        ("00025b46.63f8f39c.01.01", Decimal("1"))
    ]
    assert [o.status for o in heard.seen["t"]] == [OrderStatus.SUBMITTED, OrderStatus.FILLED]
    assert _anomalies(journal) == []


async def test_a_2023_cancel_ends_cancelled_with_nothing_filled(tmp_path: Path) -> None:
    # rust-ibapi 2023: the cancel answer 8-9 (orderStatus Cancelled with remaining 100, then
    # error 202). The acknowledgement of that order was not recorded, so none is sent.
    session = Session(
        handshake=["165", "20230224 12:04:50 Pacific Standard Time"],
        on_start=[["15", "1", "DU1236109"], ["9", "1", "41"]],
        on_cancel=incoming("rust2023-cancel"),
        order_id="41",
    )
    journal = tmp_path / "j.jsonl"
    statuses = Statuses()
    async with replaying(session) as port:
        executor = executor_for(_Tws(port), journal, client_id=CLIENT_ID, timeout_seconds=0.3)
        executor.add_order_handler(statuses)
        async with executor:
            with pytest.raises(AckTimeoutError):
                await executor.submit_order(
                    OrderRequest(
                        "TSLA", "100", OrderType.LIMIT, Side.BUY, limit_price="150",
                        client_order_id="c",
                    )
                )  # fmt: skip
            await executor.cancel_order("c")
            done = await statuses.until("c", lambda o: o.status is OrderStatus.CANCELLED)
    assert done.filled_quantity == 0
    assert next(m for m in session.received if m[0] == "4")[2] == done.order_id


async def test_completed_orders_and_positions_at_version_165() -> None:
    # Capture 13: a filled order as reqCompletedOrders returns it ("Filled Size: 100");
    # capture 15: a position whose average cost includes commission.
    session = Session(
        handshake=["165", "20230327 10:00:00 Pacific Daylight Time"],
        on_start=[["15", "1", "DU1236109"], ["9", "1", "1"]],
        completed=[message(13)],
        positions=[message(15)],
    )
    reports: list[object] = []
    broker = IBBroker(reports.append, lambda _: None)
    async with replaying(session) as port:
        await broker.connect("127.0.0.1", port, CLIENT_ID, timeout=3, readonly=False)
        (position,) = broker.positions()
        await broker.disconnect()
    assert (position.symbol, position.quantity, position.average_cost, position.account) == (
        "TSLA",
        Decimal(500),
        Decimal("196.77"),
        "DU1236109",
    )
    # A Filled completed order moves nothing by itself (fills come from executions) and is
    # neither a warning nor an anomaly.
    assert not [r for r in reports if isinstance(r, (BrokerAnomaly, BrokerWarning))]


async def test_a_completed_cancel_at_version_173_reads_as_cancelled_by_the_trader() -> None:
    # Handshake 24 (Greenwich Mean Time), connect 25-29 with the farm notices, and capture 30:
    # a cancelled ES order as reqCompletedOrders returns it after a reconnect.
    session = Session(
        handshake=message(24),
        on_start=[message(i) for i in range(25, 30)],
        completed=[message(30)],
    )
    reports: list[object] = []
    broker = IBBroker(reports.append, lambda _: None)
    async with replaying(session) as port:
        await broker.connect("127.0.0.1", port, CLIENT_ID, timeout=3, readonly=False)
        assert broker.tws_time_zone == "Europe/London"
        await broker.disconnect()
    (cancelled,) = [r for r in reports if isinstance(r, CancelConfirmed)]
    assert cancelled.perm_id == 2126726143
    assert cancelled.reason == "Cancelled by Trader"
    assert not [r for r in reports if isinstance(r, (BrokerAnomaly, BrokerWarning))]


@pytest.mark.parametrize("scenario", ["pyf2024-test_connect", "pyf2024-test_reconnect"])
async def test_a_2024_session_at_version_176_connects_cleanly(
    scenario: str, tmp_path: Path
) -> None:
    # pyfutures 2024, server version 176: handshake, managedAccounts, nextValidId, the farm
    # notices (2104, 2106/2107, 2158) and the account summary the client asked for.
    messages = incoming(scenario)[:43]  # one session (the reconnect scenario holds two)
    session = Session(
        handshake=messages[0],
        on_start=[m for m in messages[1:] if m[0] in ("15", "9", "4")],
        after_sync=[m for m in messages[1:] if m[0] in ("63", "64")],
    )
    journal = tmp_path / "j.jsonl"
    async with replaying(session) as port:
        executor = executor_for(_Tws(port), journal, client_id=1)
        async with executor:
            assert executor.connection.state == "READY"
            assert executor.connection.ib.TimezoneTWS == "Europe/London"
            assert executor.connection.ib.client.serverVersion() == 176
    assert _anomalies(journal) == []


class _Tws:
    """Where executor_for connects: the replaying server."""

    def __init__(self, port: int) -> None:
        self.host = "127.0.0.1"
        self.port = port


_ = Fill  # the handler in test_fill_commission types its fills with it
