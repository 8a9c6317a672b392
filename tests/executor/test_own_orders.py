"""The executor's orders are its own: ib_async keeps no Trade for them, and its sync still ends."""

from __future__ import annotations

from decimal import Decimal

from ib_async import MarketOrder, Stock

from ibkr_exec import IBKROrderExecutor, OrderRequest, OrderStatus, OrderType, Side
from ibkr_exec.sim import FakeTWS

from .waiting import Events, Recorder


async def test_ib_async_lists_none_of_the_executors_orders(
    tws: FakeTWS, executor: IBKROrderExecutor
) -> None:
    rec = Recorder()
    executor.add_order_handler(rec)
    await executor.submit_order(
        OrderRequest("AAPL", "3", OrderType.MARKET, Side.BUY, client_order_id="mkt")
    )
    await executor.submit_order(
        OrderRequest(
            "AAPL", "2", OrderType.LIMIT, Side.BUY, limit_price="1", client_order_id="rest"
        )
    )
    await rec.until("mkt", lambda o: o.status is OrderStatus.FILLED)
    ib = executor.connection.ib
    assert ib.trades() == []
    assert ib.fills() == []
    assert [f.quantity for f in await executor.get_fills("mkt")] == [Decimal(3)]


async def test_a_foreign_order_is_still_ib_asyncs_to_track(
    tws: FakeTWS, executor: IBKROrderExecutor
) -> None:
    # Placed on the diagnostic IB object (not through the executor): ib_async keeps its Trade.
    ib = executor.connection.ib
    trade = ib.placeOrder(Stock("AAPL", "SMART", "USD"), MarketOrder("BUY", 1))
    await trade.filledEvent
    assert ib.trades() == [trade]
    assert [f.execution.shares for f in ib.fills()] == [1]


async def test_reconnect_sync_completes_with_open_orders_ib_async_never_tracked(
    tws: FakeTWS, executor: IBKROrderExecutor
) -> None:
    # ib_async's own connect-time requests (open orders, completed orders, executions) resolve
    # on their End messages: a reconnect reaches READY although it kept no Trade for our orders.
    events = Events()
    executor.add_connection_handler(events)
    rec = Recorder()
    executor.add_order_handler(rec)
    for cid in ("a", "b"):
        await executor.submit_order(
            OrderRequest(
                "AAPL", "4", OrderType.LIMIT, Side.BUY, limit_price="100", client_order_id=cid
            )
        )
    tws.auto_match = False
    tws.fill("a", Decimal("4"))
    await rec.until("a", lambda o: o.status is OrderStatus.FILLED)
    tws.disconnect_clients()
    await events.until(2)  # connected again, and reconciled
    assert executor.connection.state == "READY"
    assert executor.connection.ib.trades() == []
    # Still managed after the sync: a fill made now is heard.
    tws.fill("b", Decimal("4"))
    done = await rec.until("b", lambda o: o.status is OrderStatus.FILLED)
    assert done.filled_quantity == 4
