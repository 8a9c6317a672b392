"""Order flow against the deterministic exchange, seen through the unmodified ib_async client."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from ib_async import IB, LimitOrder, MarketOrder, Order, StopLimitOrder, StopOrder

from ibkr_exec.sim import FakeTWS

from .helpers import AAPL, MSFT, connect, errors_of, until


async def test_market_order_fills_at_the_set_price(fake_tws: FakeTWS, ib: IB) -> None:
    fake_tws.set_price("AAPL", Decimal("150.25"))
    trade = ib.placeOrder(AAPL, MarketOrder("BUY", 100, orderRef="cid-1"))
    await asyncio.wait_for(trade.filledEvent, 2)
    assert trade.orderStatus.status == "Filled"
    assert trade.orderStatus.avgFillPrice == 150.25
    assert trade.filled() == 100
    assert fake_tws.order("cid-1").status == "Filled"


async def test_market_order_without_a_price_works_until_one_is_set(
    fake_tws: FakeTWS, ib: IB
) -> None:
    trade = ib.placeOrder(AAPL, MarketOrder("BUY", 10))
    # A US stock market order is held by TWS until it can route it: PreSubmitted (capture 19).
    await fake_tws.wait_for_status(trade.order.orderId, "PreSubmitted")
    await until(ib, lambda: trade.orderStatus.status == "PreSubmitted")
    fake_tws.set_price("AAPL", 99)
    await asyncio.wait_for(trade.filledEvent, 2)
    assert trade.orderStatus.avgFillPrice == 99


async def test_limit_order_fills_in_partial_fills_with_the_right_average_price() -> None:
    async with FakeTWS(max_fill_size=30, auto_match=False) as tws:
        ib = await connect(tws)
        tws.set_price("AAPL", 101)
        trade = ib.placeOrder(AAPL, LimitOrder("BUY", 100, 100.5, orderRef="partial"))
        await tws.wait_for_status("partial", "Submitted")
        assert tws.fill_next("partial") is None  # 101 is above the limit
        tws.set_price("AAPL", 100)
        shares = [tws.fill_next("partial"), tws.fill_next("partial")]
        tws.set_price("AAPL", 99)
        tws.match()
        await asyncio.wait_for(trade.filledEvent, 2)
        assert [f.execution.shares for f in trade.fills] == [30, 30, 30, 10]
        assert [f.execution.price for f in trade.fills] == [100, 100, 99, 99]
        assert trade.filled() == 100
        assert trade.orderStatus.avgFillPrice == 99.6
        assert all(s is not None for s in shares)
        assert len({f.execution.execId for f in trade.fills}) == 4
        ib.disconnect()


async def test_each_partial_fill_gets_its_own_commission_report() -> None:
    async with FakeTWS(max_fill_size=30) as tws:
        ib = await connect(tws)
        tws.set_price("AAPL", 100)
        trade = ib.placeOrder(AAPL, MarketOrder("BUY", 100))
        await asyncio.wait_for(trade.filledEvent, 2)
        await until(ib, lambda: all(f.commissionReport.execId for f in trade.fills))
        assert [f.commissionReport.commission for f in trade.fills] == [1.0] * 4
        ib.disconnect()


async def test_sell_limit_fills_only_when_the_price_reaches_the_limit(
    fake_tws: FakeTWS, ib: IB
) -> None:
    fake_tws.set_price("AAPL", 100)
    trade = ib.placeOrder(AAPL, LimitOrder("SELL", 5, 101))
    await fake_tws.wait_for_status(trade.order.orderId, "Submitted")
    fake_tws.set_price("AAPL", Decimal("101.5"))
    await asyncio.wait_for(trade.filledEvent, 2)
    assert trade.orderStatus.avgFillPrice == 101.5


async def test_stop_order_stays_presubmitted_until_the_price_crosses_the_stop(
    fake_tws: FakeTWS, ib: IB
) -> None:
    fake_tws.set_price("AAPL", 100)
    trade = ib.placeOrder(AAPL, StopOrder("SELL", 10, 95))
    await fake_tws.wait_for_status(trade.order.orderId, "PreSubmitted")
    fake_tws.set_price("AAPL", 96)
    assert fake_tws.order(trade.order.orderId).status == "PreSubmitted"
    fake_tws.set_price("AAPL", 94)
    await asyncio.wait_for(trade.filledEvent, 2)
    assert trade.orderStatus.avgFillPrice == 94


async def test_stop_limit_order_triggers_then_works_as_a_limit(fake_tws: FakeTWS, ib: IB) -> None:
    fake_tws.set_price("AAPL", 100)
    trade = ib.placeOrder(AAPL, StopLimitOrder("BUY", 10, 106, 105))
    await fake_tws.wait_for_status(trade.order.orderId, "PreSubmitted")
    fake_tws.set_price("AAPL", 107)  # triggered, but above the limit
    await fake_tws.wait_for_status(trade.order.orderId, "Submitted")
    fake_tws.set_price("AAPL", Decimal("105.5"))
    await asyncio.wait_for(trade.filledEvent, 2)
    assert trade.orderStatus.avgFillPrice == 105.5


async def test_cancel_is_confirmed(fake_tws: FakeTWS, ib: IB) -> None:
    trade = ib.placeOrder(AAPL, LimitOrder("BUY", 10, 50, orderRef="to-cancel"))
    await fake_tws.wait_for_status("to-cancel", "Submitted")
    ib.cancelOrder(trade.order)
    await asyncio.wait_for(trade.cancelledEvent, 2)
    order = await fake_tws.wait_for_status("to-cancel", "Cancelled")
    assert order.filled == 0
    assert trade.orderStatus.status == "Cancelled"


async def test_cancel_of_an_unknown_order_is_answered_with_10147(ib: IB) -> None:
    received = errors_of(ib)
    client: Any = ib.client
    client.cancelOrder(999)
    await until(ib, lambda: received)
    assert received[0][:2] == (999, 10147)


async def test_order_with_an_unknown_account_is_rejected_with_201_and_a_reason(
    fake_tws: FakeTWS, ib: IB
) -> None:
    received = errors_of(ib)
    trade = ib.placeOrder(AAPL, LimitOrder("BUY", 10, 50, account="U999"))
    await asyncio.wait_for(trade.cancelledEvent, 2)
    assert received[-1][1] == 201
    assert "U999" in received[-1][2]
    assert trade.log[1].errorCode == 201
    # Then openOrder and orderStatus Inactive, as real TWS sends them (ib_insync issue 554).
    await until(ib, lambda: trade.orderStatus.status == "Inactive")
    assert fake_tws.order(trade.order.orderId).status == "Inactive"


async def test_modifying_a_working_order_amends_it_in_place(fake_tws: FakeTWS, ib: IB) -> None:
    fake_tws.set_price("AAPL", 100)
    trade = ib.placeOrder(AAPL, LimitOrder("BUY", 10, 90, orderRef="amend"))
    await fake_tws.wait_for_status("amend", "Submitted")
    trade.order.lmtPrice = 100
    ib.placeOrder(AAPL, trade.order)
    await asyncio.wait_for(trade.filledEvent, 2)
    assert fake_tws.order("amend").ticket.limit_price == 100
    assert len(fake_tws.orders) == 1


async def test_reusing_the_id_of_a_finished_order_is_error_103(fake_tws: FakeTWS, ib: IB) -> None:
    fake_tws.set_price("AAPL", 100)
    done = ib.placeOrder(AAPL, MarketOrder("BUY", 1))
    await asyncio.wait_for(done.filledEvent, 2)
    received = errors_of(ib)
    client: Any = ib.client
    client.placeOrder(done.order.orderId, AAPL, MarketOrder("BUY", 1))
    await until(ib, lambda: received)
    assert received[0][:2] == (done.order.orderId, 103)


async def test_a_new_order_id_below_the_highest_used_is_error_103(
    fake_tws: FakeTWS, ib: IB
) -> None:
    fake_tws.set_price("AAPL", 100)
    order = Order(orderId=50, action="BUY", totalQuantity=1, orderType="MKT")
    client: Any = ib.client
    client.placeOrder(50, AAPL, order)
    await fake_tws.wait_for_status(50, "Filled")
    received = errors_of(ib)
    client.placeOrder(40, AAPL, Order(orderId=40, action="BUY", totalQuantity=1, orderType="MKT"))
    await until(ib, lambda: received)
    assert received[0][:2] == (40, 103)


async def test_fills_update_positions_per_account(fake_tws: FakeTWS, ib: IB) -> None:
    fake_tws.set_price("AAPL", 100)
    fake_tws.set_price("MSFT", 400)
    for contract, action, qty in [(AAPL, "BUY", 30), (AAPL, "SELL", 10), (MSFT, "SELL", 5)]:
        trade = ib.placeOrder(contract, MarketOrder(action, qty))
        await asyncio.wait_for(trade.filledEvent, 2)
    account = fake_tws.accounts[0]
    assert fake_tws.positions == {(account, "AAPL"): 20, (account, "MSFT"): -5}
    await until(
        ib,
        lambda: {p.contract.symbol: p.position for p in ib.positions()} == {"AAPL": 20, "MSFT": -5},
    )


async def test_executions_carry_ib_style_unique_exec_ids_and_the_order_ref(
    fake_tws: FakeTWS, ib: IB
) -> None:
    fake_tws.set_price("AAPL", 100)
    trade = ib.placeOrder(AAPL, MarketOrder("BUY", 1, orderRef="ref-x"))
    await asyncio.wait_for(trade.filledEvent, 2)
    execution = trade.fills[0].execution
    assert execution.execId == "0000e0d5.6554a1b2.01.01"
    assert execution.orderRef == "ref-x"
    assert execution.clientId == 1
    assert fake_tws.executions[0].exec_id == execution.execId


async def test_two_clients_trade_at_once_without_seeing_each_others_orders(
    fake_tws: FakeTWS,
) -> None:
    alice = await connect(fake_tws, client_id=1)
    bob = await connect(fake_tws, client_id=2)
    fake_tws.set_price("AAPL", 100)
    alice_trade = alice.placeOrder(AAPL, MarketOrder("BUY", 10, orderRef="alice"))
    bob_trade = bob.placeOrder(AAPL, MarketOrder("SELL", 3, orderRef="bob"))
    await asyncio.wait_for(asyncio.gather(alice_trade.filledEvent, bob_trade.filledEvent), 2)
    assert {t.order.orderRef for t in alice.trades()} == {"alice"}
    assert {t.order.orderRef for t in bob.trades()} == {"bob"}
    assert {f.execution.orderRef for f in alice.fills()} == {"alice"}
    assert {f.execution.orderRef for f in bob.fills()} == {"bob"}
    assert fake_tws.order("alice").client_id == 1
    assert fake_tws.order("bob").client_id == 2
    alice.disconnect()
    bob.disconnect()


async def test_global_cancel_cancels_every_working_order(fake_tws: FakeTWS, ib: IB) -> None:
    trades = [ib.placeOrder(AAPL, LimitOrder("BUY", 1, 10 + i)) for i in range(3)]
    await fake_tws.wait_for(lambda: len(list(fake_tws.exchange.working_orders())) == 3)
    client: Any = ib
    client.reqGlobalCancel()
    await until(ib, lambda: all(t.orderStatus.status == "Cancelled" for t in trades))
    assert all(o.status == "Cancelled" for o in fake_tws.orders)


async def test_wait_for_placements_counts_place_order_messages(fake_tws: FakeTWS, ib: IB) -> None:
    for _ in range(3):
        ib.placeOrder(MSFT, LimitOrder("BUY", 1, 1))
    await fake_tws.wait_for_placements(3)
    assert fake_tws.placements_received == 3


async def test_closing_fill_reports_realized_pnl_and_positions_cost_includes_commission(
    fake_tws: FakeTWS, ib: IB
) -> None:
    fake_tws.set_price("AAPL", 150)
    buy = ib.placeOrder(AAPL, MarketOrder("BUY", 100))
    await asyncio.wait_for(buy.filledEvent, 2)
    await until(ib, lambda: buy.fills and buy.fills[0].commissionReport.commission)
    (opening,) = buy.fills
    assert opening.execution.exchange == "ISLAND"  # the venue, never SMART (captures 2, 21)
    assert opening.execution.lastLiquidity == 2  # a marketable order took liquidity
    assert opening.commissionReport.realizedPNL == 0.0  # sent unset; ib_async reads it as 0
    assert fake_tws.executions[0].realized_pnl is None
    await until(ib, ib.positions)
    (position,) = ib.positions()
    assert position.avgCost == pytest.approx(150.01)  # 150 + 1.00 commission / 100 shares
    fake_tws.set_price("AAPL", 151)
    sell = ib.placeOrder(AAPL, MarketOrder("SELL", 100))
    await asyncio.wait_for(sell.filledEvent, 2)
    await until(ib, lambda: sell.fills and sell.fills[0].commissionReport.commission)
    # (151 - 150.01) * 100 - 1.00 of the closing fill's own commission
    assert sell.fills[0].commissionReport.realizedPNL == pytest.approx(98.0)
    assert fake_tws.executions[1].realized_pnl == Decimal("98.00")
    assert fake_tws.positions[("DU1234567", "AAPL")] == 0


async def test_a_resting_order_filled_later_added_liquidity(fake_tws: FakeTWS, ib: IB) -> None:
    fake_tws.set_price("AAPL", 150)
    trade = ib.placeOrder(AAPL, LimitOrder("BUY", 10, 149))
    await fake_tws.wait_for_status(trade.order.orderId, "Submitted")
    fake_tws.set_price("AAPL", 149)
    await asyncio.wait_for(trade.filledEvent, 2)
    assert trade.fills[0].execution.lastLiquidity == 1


async def test_acknowledge_twice_brings_back_presubmitted_then_submitted() -> None:
    async with FakeTWS(acknowledge_twice=True) as tws:
        ib = await connect(tws)
        trade = ib.placeOrder(AAPL, LimitOrder("BUY", 10, 50))
        await tws.wait_for_status(trade.order.orderId, "Submitted")
        await until(ib, lambda: trade.orderStatus.status == "Submitted")
        assert [e.status for e in trade.log] == ["PendingSubmit", "PreSubmitted", "Submitted"]
        ib.disconnect()


async def test_pending_cancel_option_shows_pending_cancel_first() -> None:
    async with FakeTWS(pending_cancel=True) as tws:
        ib = await connect(tws)
        trade = ib.placeOrder(AAPL, LimitOrder("BUY", 10, 50))
        await tws.wait_for_status(trade.order.orderId, "Submitted")
        ib.client.cancelOrder(trade.order.orderId, "")  # type: ignore[no-untyped-call]
        await until(ib, lambda: trade.orderStatus.status == "Cancelled")
        assert [e.status for e in trade.log][-2:] == ["PendingCancel", "Cancelled"]
        ib.disconnect()
