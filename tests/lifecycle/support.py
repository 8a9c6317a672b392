"""Test support for the lifecycle specifications: a recording broker and message factories."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from ibkr_exec.broker.port import ExecutionReport
from ibkr_exec.models import Order, Side

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
QUANTITY = Decimal(100)


class FakeBroker:
    """Records the commands an order actor issues, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def place_order(self, order: Order) -> None:
        """Record a placement."""
        self.calls.append(("place", order.client_order_id))

    def cancel_order(self, order: Order) -> None:
        """Record a cancel request."""
        self.calls.append(("cancel", order.client_order_id))


def new_order(client_order_id: str = "c-1", order_id: str = "7") -> Order:
    """A PENDING limit order to buy 100 AAPL."""
    return Order(
        order_id, client_order_id, "AAPL", QUANTITY, "LIMIT", "BUY", Decimal("150"), None,
        "PENDING", T0, updated_at=T0,
    )  # fmt: skip


def execution(
    exec_id: str, quantity: int | str | Decimal, price: str = "150", order_id: str = "7"
) -> ExecutionReport:
    """An execution of the test order."""
    return ExecutionReport(
        exec_id=exec_id,
        order_id=order_id,
        symbol="AAPL",
        side=Side.BUY,
        quantity=Decimal(quantity),
        price=Decimal(price),
        time=T0 + timedelta(seconds=1),
    )


async def until(predicate: Callable[[], bool], timeout: float = 2.0) -> None:
    """Wait until ``predicate()`` holds, yielding to the loop; fail after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110  # the states polled here have no event to await
            await asyncio.sleep(0)
