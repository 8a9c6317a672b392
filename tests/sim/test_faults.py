"""Every fault FakeTWS can inject, each observed through the unmodified ib_async client."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest
from ib_async import IB, LimitOrder, MarketOrder

from ibkr_exec.sim import FakeTWS

from .helpers import AAPL, barrier, connect, errors_of, record_messages, until

ORDER_STATUS, OPEN_ORDER, EXEC_DETAILS, COMMISSION = "3", "5", "11", "59"


def _disconnected(ib: IB) -> asyncio.Future[None]:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def closed() -> None:
        if not future.done():
            future.set_result(None)

    ib.disconnectedEvent += closed
    return future


async def test_drop_connections_now_closes_every_client_and_keeps_orders(
    fake_tws: FakeTWS, ib: IB
) -> None:
    ib.placeOrder(AAPL, LimitOrder("BUY", 1, 10, orderRef="kept"))
    await fake_tws.wait_for_status("kept", "Submitted")
    gone = _disconnected(ib)
    fake_tws.drop_connections()
    await asyncio.wait_for(gone, 2)
    assert fake_tws.connected_client_ids == frozenset()
    assert fake_tws.order("kept").status == "Submitted"


async def test_drop_connections_after_n_messages_cuts_the_order_flow_short(
    fake_tws: FakeTWS, ib: IB
) -> None:
    seen = record_messages(ib)
    gone = _disconnected(ib)
    fake_tws.set_price("AAPL", 100)
    fake_tws.drop_connections(after_messages=4)
    trade = ib.placeOrder(AAPL, MarketOrder("BUY", 1, orderRef="cut"))
    await asyncio.wait_for(gone, 2)
    assert seen == [OPEN_ORDER, ORDER_STATUS, EXEC_DETAILS, OPEN_ORDER]
    assert trade.orderStatus.status == "PreSubmitted"  # the Filled status never arrived
    assert fake_tws.order("cut").status == "Filled"


async def test_delayed_exec_details_arrive_after_the_filled_status(
    fake_tws: FakeTWS, ib: IB
) -> None:
    seen = record_messages(ib)
    fake_tws.set_price("AAPL", 100)
    fake_tws.delay_messages("execDetails", 0.05)
    trade = ib.placeOrder(AAPL, MarketOrder("BUY", 1))
    await until(ib, lambda: trade.fills)
    assert seen.index(EXEC_DETAILS) > seen.index(COMMISSION)
    assert trade.orderStatus.status == "Filled"


async def test_dropped_exec_details_leave_the_trade_filled_without_fills(
    fake_tws: FakeTWS, ib: IB
) -> None:
    fake_tws.set_price("AAPL", 100)
    fake_tws.drop_messages("execDetails")
    trade = ib.placeOrder(AAPL, MarketOrder("BUY", 1))
    await asyncio.wait_for(trade.filledEvent, 2)
    await barrier(ib)
    assert trade.fills == []


async def test_duplicated_exec_details_are_sent_twice_with_the_same_exec_id(
    fake_tws: FakeTWS, ib: IB
) -> None:
    seen = record_messages(ib)
    fake_tws.set_price("AAPL", 100)
    fake_tws.duplicate_messages("execDetails")
    trade = ib.placeOrder(AAPL, MarketOrder("BUY", 1))
    await asyncio.wait_for(trade.filledEvent, 2)
    await barrier(ib)
    assert seen.count(EXEC_DETAILS) == 2
    assert len(trade.fills) == 1  # ib_async dedups by execId


async def test_duplicated_order_status_is_ignored_by_the_client(fake_tws: FakeTWS, ib: IB) -> None:
    seen = record_messages(ib)
    fake_tws.duplicate_messages("orderStatus", count=None)
    trade = ib.placeOrder(AAPL, LimitOrder("BUY", 1, 10, orderRef="dup"))
    await fake_tws.wait_for_status("dup", "Submitted")
    await barrier(ib)
    assert seen.count(ORDER_STATUS) == 2
    assert [e.status for e in trade.log] == ["PendingSubmit", "Submitted"]


async def test_order_status_can_arrive_before_open_order(fake_tws: FakeTWS, ib: IB) -> None:
    seen = record_messages(ib)
    fake_tws.reorder_messages("openOrder", after="orderStatus")
    ib.placeOrder(AAPL, LimitOrder("BUY", 1, 10, orderRef="status-first"))
    await fake_tws.wait_for_status("status-first", "Submitted")
    await barrier(ib)
    assert seen[:2] == [ORDER_STATUS, OPEN_ORDER]


async def test_exec_details_can_arrive_before_any_open_order(fake_tws: FakeTWS, ib: IB) -> None:
    seen = record_messages(ib)
    fake_tws.set_price("AAPL", 100)
    fake_tws.reorder_messages("openOrder", after="execDetails", count=3)
    trade = ib.placeOrder(AAPL, MarketOrder("BUY", 1))
    await asyncio.wait_for(trade.filledEvent, 2)
    await barrier(ib)
    assert seen.index(EXEC_DETAILS) < seen.index(OPEN_ORDER)
    assert trade.filled() == 1


async def test_injected_201_rejects_the_next_order_with_the_reason(
    fake_tws: FakeTWS, ib: IB
) -> None:
    received = errors_of(ib)
    fake_tws.inject_order_error(201, "insufficient margin")
    trade = ib.placeOrder(AAPL, LimitOrder("BUY", 1, 10, orderRef="rejected"))
    await asyncio.wait_for(trade.cancelledEvent, 2)
    assert received[-1] == (trade.order.orderId, 201, "Order rejected - reason:insufficient margin")
    assert fake_tws.order("rejected").reject_reason == "insufficient margin"


async def test_injected_202_cancels_an_accepted_order(fake_tws: FakeTWS, ib: IB) -> None:
    received = errors_of(ib)
    fake_tws.inject_order_error(202, "by the exchange")
    trade = ib.placeOrder(AAPL, LimitOrder("BUY", 1, 10, orderRef="cxl"))
    await asyncio.wait_for(trade.cancelledEvent, 2)
    await barrier(ib)
    assert (trade.order.orderId, 202) in [(r, c) for r, c, _ in received]
    assert fake_tws.order("cxl").status == "Cancelled"


async def test_injected_103_refuses_the_next_order_as_a_duplicate(
    fake_tws: FakeTWS, ib: IB
) -> None:
    received = errors_of(ib)
    fake_tws.inject_order_error(103)
    trade = ib.placeOrder(AAPL, LimitOrder("BUY", 1, 10))
    await asyncio.wait_for(trade.cancelledEvent, 2)
    assert received[-1][:3] == (trade.order.orderId, 103, "Duplicate order id")
    assert fake_tws.orders == []


async def test_injected_399_warns_and_the_order_still_fills(fake_tws: FakeTWS, ib: IB) -> None:
    received = errors_of(ib)
    fake_tws.set_price("AAPL", 100)
    fake_tws.inject_order_error(399)
    trade = ib.placeOrder(AAPL, MarketOrder("BUY", 1))
    await asyncio.wait_for(trade.filledEvent, 2)
    assert received[0][:2] == (trade.order.orderId, 399)


async def test_injected_10147_refuses_the_cancel_and_the_order_keeps_working(
    fake_tws: FakeTWS, ib: IB
) -> None:
    received = errors_of(ib)
    trade = ib.placeOrder(AAPL, LimitOrder("BUY", 1, 10, orderRef="alive"))
    await fake_tws.wait_for_status("alive", "Submitted")
    fake_tws.inject_cancel_error(10147)
    ib.cancelOrder(trade.order)
    await until(ib, lambda: received)
    assert received[0][:2] == (trade.order.orderId, 10147)
    assert fake_tws.order("alive").status == "Submitted"


async def test_injected_10148_fills_the_order_before_refusing_the_cancel(
    fake_tws: FakeTWS, ib: IB
) -> None:
    received = errors_of(ib)
    trade = ib.placeOrder(AAPL, LimitOrder("BUY", 5, 10, orderRef="raced"))
    await fake_tws.wait_for_status("raced", "Submitted")
    fake_tws.inject_cancel_error(10148)
    ib.cancelOrder(trade.order)
    await until(ib, lambda: received)
    assert received[0][1] == 10148
    assert "state: Filled" in received[0][2]
    assert trade.orderStatus.status == "Filled"
    assert trade.filled() == 5


@pytest.mark.parametrize("code", [1100, 1101, 1102])
async def test_connectivity_notices_arrive_without_dropping_the_socket(
    fake_tws: FakeTWS, ib: IB, code: int, caplog: pytest.LogCaptureFixture
) -> None:
    received = errors_of(ib)
    fake_tws.notify_connectivity(code)
    await until(ib, lambda: received)
    await barrier(ib)
    assert received[0][:2] == (-1, code)
    assert ib.isConnected()
    assert "timed out" not in caplog.text


async def test_execution_correction_sends_a_02_exec_id_with_the_corrected_price(
    fake_tws: FakeTWS, ib: IB
) -> None:
    fake_tws.set_price("AAPL", 100)
    trade = ib.placeOrder(AAPL, MarketOrder("BUY", 10))
    await asyncio.wait_for(trade.filledEvent, 2)
    correction = fake_tws.correct_execution(price=Decimal("99.5"))
    await until(ib, lambda: len(trade.fills) == 2)
    first, second = (f.execution for f in trade.fills)
    assert second.execId == first.execId[:-2] + "02" == correction.exec_id
    assert (second.shares, second.price) == (10, 99.5)
    assert fake_tws.order(trade.order.orderId).avg_fill_price == Decimal("99.5")


@pytest.mark.parametrize(
    ("request_name", "logged"),
    [("executions", "executions request timed out"), ("openOrders", "open orders request")],
)
async def test_unanswered_sync_request_times_out_and_connect_still_succeeds(
    fake_tws: FakeTWS, caplog: pytest.LogCaptureFixture, request_name: str, logged: str
) -> None:
    caplog.set_level(logging.INFO, logger="ib_async")
    fake_tws.leave_unanswered(request_name)
    ib = await connect(fake_tws, timeout=0.3)
    assert ib.isConnected()
    assert logged in caplog.text
    ib.disconnect()


async def test_swallowed_placement_gets_no_answer_at_all(fake_tws: FakeTWS, ib: IB) -> None:
    seen = record_messages(ib)
    fake_tws.swallow_placements()
    trade = ib.placeOrder(AAPL, LimitOrder("BUY", 1, 10))
    await fake_tws.wait_for_placements(1)
    await barrier(ib)
    assert trade.orderStatus.status == "PendingSubmit"
    assert fake_tws.orders == []
    assert seen == ["49"]  # only the barrier's currentTime


async def test_clear_faults_disarms_what_was_not_consumed(fake_tws: FakeTWS, ib: IB) -> None:
    fake_tws.set_price("AAPL", 100)
    fake_tws.inject_order_error(201)
    fake_tws.drop_messages("execDetails", count=None)
    fake_tws.clear_faults()
    trade = ib.placeOrder(AAPL, MarketOrder("BUY", 1))
    await asyncio.wait_for(trade.filledEvent, 2)
    await barrier(ib)
    assert len(trade.fills) == 1
