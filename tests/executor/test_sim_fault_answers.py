"""Injected broker errors always get an answer to the client, and say what real TWS does."""

from __future__ import annotations

import pytest

from ibkr_exec import (
    IBKROrderExecutor,
    OrderRejectedError,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
)
from ibkr_exec.sim import FakeTWS

from .waiting import Recorder


@pytest.mark.parametrize("code", [10148, 161])
async def test_an_injected_cancel_refusal_on_an_order_without_a_price_is_answered(
    tws: FakeTWS, executor: IBKROrderExecutor, code: int
) -> None:
    rec = Recorder()
    executor.add_order_handler(rec)
    # No price for XYZ: the market order rests, and 10148 cannot fill it first.
    order = await executor.submit_order(OrderRequest("XYZ", "5", OrderType.MARKET, Side.BUY))
    tws.inject_cancel_error(code)
    await executor.cancel_order(order.client_order_id)
    back = await rec.until(order.client_order_id, lambda o: o.status is OrderStatus.SUBMITTED)
    assert back.filled_quantity == 0
    assert not tws.order(order.client_order_id).is_done


async def test_error_321_on_a_new_order_refuses_it(
    tws: FakeTWS, executor: IBKROrderExecutor
) -> None:
    tws.inject_order_error(321, "Error validating request")
    with pytest.raises(OrderRejectedError) as raised:
        await executor.submit_order(
            OrderRequest("AAPL", "5", OrderType.MARKET, Side.BUY, client_order_id="refused")
        )
    assert raised.value.code == 321
    assert [e for e in tws.executions if e.order_ref == "refused"] == []
    assert all(o.status != "Filled" for o in tws.orders if o.order_ref == "refused")


def test_completed_order_after_its_end_is_an_explicit_out_of_spec_fault() -> None:
    tws = FakeTWS()
    with pytest.raises(ValueError, match="out_of_spec"):
        tws.delay_messages("completedOrder", 0.1)
    with pytest.raises(ValueError, match="out_of_spec"):
        tws.reorder_messages("completedOrder", after="completedOrdersEnd")
    tws.delay_messages("completedOrder", 0.1, out_of_spec=True)
    tws.reorder_messages("completedOrder", after="completedOrdersEnd", out_of_spec=True)
    assert len(tws.plan.rules) == 2
