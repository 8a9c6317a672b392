"""First contact: an order's whole path through the executor, ib_async and FakeTWS."""

from __future__ import annotations

from decimal import Decimal

from ibkr_exec import IBKROrderExecutor, OrderRequest, OrderStatus, OrderType, Side
from ibkr_exec.sim import FakeTWS


async def test_market_order_fills(executor: IBKROrderExecutor, tws: FakeTWS) -> None:
    order = await executor.submit_order(OrderRequest("AAPL", "100", OrderType.MARKET, Side.BUY))
    sim = await tws.wait_for_status(order.client_order_id, "Filled")
    assert sim.filled == Decimal("100")
    final = await executor.get_order_status(order.client_order_id)
    assert final is not None
    print(final)
    assert final.status is OrderStatus.FILLED
