"""The library against the simulator's real-TWS behaviour: one acknowledgement, the reject path
through Inactive, error 110, and real completedStatus wording after a reconnect."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from ibkr_exec import OrderRejectedError, OrderRequest, OrderStatus, OrderType, Side
from ibkr_exec.sim import FakeTWS

from .support import Statuses, executor_for


def _limit(price: str, cid: str, symbol: str = "AAPL") -> OrderRequest:
    return OrderRequest(
        symbol, "10", OrderType.LIMIT, Side.BUY, limit_price=price, client_order_id=cid
    )


async def test_a_price_off_the_min_tick_is_rejected_with_110(tmp_path: Path) -> None:
    async with FakeTWS(min_ticks={"ES": "0.25"}) as tws:
        tws.set_price("ES", Decimal("5800"))
        async with executor_for(tws, tmp_path / "j.jsonl") as executor:
            with pytest.raises(OrderRejectedError) as caught:
                await executor.submit_order(_limit("5800.10", "off-tick", "ES"))
            assert caught.value.code == 110
            order = await executor.get_order_status("off-tick")
            assert order is not None
            assert order.status is OrderStatus.REJECTED
            # On the tick, the same instrument is accepted.
            accepted = await executor.submit_order(_limit("5799.75", "on-tick", "ES"))
            assert accepted.status is OrderStatus.SUBMITTED
    assert tws.order("off-tick").status == "Inactive"


async def test_one_acknowledgement_moves_the_order_once(tmp_path: Path) -> None:
    async with FakeTWS() as tws:
        tws.set_price("AAPL", Decimal("150"))
        statuses = Statuses()
        async with executor_for(tws, tmp_path / "j.jsonl") as executor:
            executor.add_order_handler(statuses)
            await executor.submit_order(_limit("100", "resting"))
            await statuses.until("resting", lambda o: o.status is OrderStatus.SUBMITTED)
            await executor.cancel_order("resting")
            await statuses.until("resting", lambda o: o.status is OrderStatus.CANCELLED)
        assert [o.status for o in statuses.seen["resting"]] == [
            OrderStatus.SUBMITTED,
            OrderStatus.PENDING_CANCEL,
            OrderStatus.CANCELLED,
        ]


async def test_a_reject_while_disconnected_is_learnt_from_the_completed_order(
    tmp_path: Path,
) -> None:
    async with FakeTWS() as tws:
        statuses = Statuses()
        async with executor_for(tws, tmp_path / "j.jsonl") as executor:
            executor.add_order_handler(statuses)
            await executor.submit_order(_limit("100", "gone"))
            await executor.submit_order(_limit("100", "cut"))
            tws.disconnect_clients()
            await tws.wait_for_client(1, connected=False)
            tws.reject_working_order("gone", "YOUR ORDER IS NOT ACCEPTED")
            tws.cancel_all()
            rejected = await statuses.until("gone", lambda o: o.status is OrderStatus.REJECTED)
            cancelled = await statuses.until("cut", lambda o: o.status is OrderStatus.CANCELLED)
        assert "YOUR ORDER IS NOT ACCEPTED" in (rejected.reason or "")
        assert cancelled.filled_quantity == 0
    # What the library read: TWS's own completedStatus wording.
    assert tws.order("gone").completed_status == "YOUR ORDER IS NOT ACCEPTED"
    assert tws.order("cut").completed_status == "Cancelled by Trader"
