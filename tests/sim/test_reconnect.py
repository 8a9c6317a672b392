"""Orders and executions outlive the connection; a reconnecting client gets them back."""

from __future__ import annotations

import asyncio

from ib_async import IB, LimitOrder, MarketOrder

from ibkr_exec.sim import FakeTWS

from .helpers import AAPL, connect, errors_of


async def _reconnect(tws: FakeTWS, ib: IB, client_id: int = 1) -> IB:
    ib.disconnect()
    await tws.wait_for_client(client_id, connected=False)
    return await connect(tws, client_id=client_id)


async def test_reconnect_with_the_same_client_id_gets_its_open_orders_back(
    fake_tws: FakeTWS, ib: IB
) -> None:
    ib.placeOrder(AAPL, LimitOrder("BUY", 10, 90, orderRef="resting"))
    await fake_tws.wait_for_status("resting", "Submitted")
    again = await _reconnect(fake_tws, ib)
    [trade] = again.openTrades()
    assert trade.order.orderRef == "resting"
    assert trade.orderStatus.status == "Submitted"
    again.disconnect()


async def test_fills_made_while_disconnected_are_replayed_on_reconnect(
    fake_tws: FakeTWS, ib: IB
) -> None:
    fake_tws.max_fill_size = 4
    ib.placeOrder(AAPL, LimitOrder("BUY", 10, 100, orderRef="gap"))
    await fake_tws.wait_for_status("gap", "Submitted")
    ib.disconnect()
    await fake_tws.wait_for_client(1, connected=False)
    fake_tws.set_price("AAPL", 99)  # fills 4, 4, 2 with nobody connected
    assert fake_tws.order("gap").status == "Filled"
    again = await connect(fake_tws)
    fills = again.fills()
    assert sorted(f.execution.shares for f in fills) == [2, 4, 4]
    assert {f.execution.orderRef for f in fills} == {"gap"}
    assert all(f.commissionReport.execId == f.execution.execId for f in fills)
    [completed] = [t for t in again.trades() if t.order.orderRef == "gap"]
    assert completed.orderStatus.status == "Filled"
    again.disconnect()


async def test_partial_fill_in_the_gap_shows_on_the_reopened_order(
    fake_tws: FakeTWS, ib: IB
) -> None:
    fake_tws.auto_match = False
    fake_tws.max_fill_size = 4
    fake_tws.set_price("AAPL", 100)
    ib.placeOrder(AAPL, LimitOrder("BUY", 10, 100, orderRef="half"))
    await fake_tws.wait_for_status("half", "Submitted")
    ib.disconnect()
    await fake_tws.wait_for_client(1, connected=False)
    fake_tws.fill_next("half")
    again = await connect(fake_tws)
    [trade] = again.openTrades()
    assert trade.orderStatus.filled == 4
    assert [f.execution.shares for f in trade.fills] == [4]
    again.disconnect()


async def test_executions_of_earlier_sessions_come_back_with_the_reqexecutions_id(
    fake_tws: FakeTWS, ib: IB
) -> None:
    fake_tws.set_price("AAPL", 100)
    trade = ib.placeOrder(AAPL, MarketOrder("BUY", 5, orderRef="old"))
    await asyncio.wait_for(trade.filledEvent, 2)
    again = await _reconnect(fake_tws, ib)
    fills = await asyncio.wait_for(again.reqExecutionsAsync(), 2)
    assert [f.execution.orderRef for f in fills] == ["old"]
    again.disconnect()


async def test_completed_orders_are_returned_keyed_by_perm_id(fake_tws: FakeTWS, ib: IB) -> None:
    fake_tws.set_price("AAPL", 100)
    trade = ib.placeOrder(AAPL, MarketOrder("BUY", 5, orderRef="done"))
    await asyncio.wait_for(trade.filledEvent, 2)
    again = await _reconnect(fake_tws, ib)
    completed = await asyncio.wait_for(again.reqCompletedOrdersAsync(apiOnly=True), 2)
    [done] = [t for t in completed if t.order.orderRef == "done"]
    assert done.order.permId == fake_tws.order("done").perm_id
    assert done.orderStatus.status == "Filled"
    assert done.order.filledQuantity == 5
    again.disconnect()


async def test_another_client_id_does_not_receive_someone_elses_open_orders(
    fake_tws: FakeTWS, ib: IB
) -> None:
    ib.placeOrder(AAPL, LimitOrder("BUY", 10, 90, orderRef="mine"))
    await fake_tws.wait_for_status("mine", "Submitted")
    other = await connect(fake_tws, client_id=2)
    assert other.openTrades() == []
    other.disconnect()


async def test_gateway_restart_drops_clients_keeps_orders_and_rolls_next_valid_id_back(
    fake_tws: FakeTWS, ib: IB
) -> None:
    fake_tws.set_price("AAPL", 100)
    for _ in range(3):
        trade = ib.placeOrder(AAPL, MarketOrder("BUY", 1))
        await asyncio.wait_for(trade.filledEvent, 2)
    used = max(o.order_id for o in fake_tws.orders)
    disconnected = asyncio.get_running_loop().create_future()
    ib.disconnectedEvent += lambda: disconnected.set_result(None)
    fake_tws.restart_gateway(next_valid_id=1)
    await asyncio.wait_for(disconnected, 2)
    assert len(fake_tws.orders) == 3
    again = IB()
    received = errors_of(again)
    await again.connectAsync("127.0.0.1", fake_tws.port, clientId=1, timeout=2)
    assert again.client._reqIdSeq <= used  # the client was told to reuse ids
    reused = again.placeOrder(AAPL, MarketOrder("BUY", 1))
    await asyncio.wait_for(reused.cancelledEvent, 2)
    assert (reused.order.orderId, 103) in [(r, c) for r, c, _ in received]
    again.disconnect()
