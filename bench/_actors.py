"""Order actors without a socket: a broker that sends nothing, orders to drive, a bare model."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from ibkr_exec.models import Order

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


class NullBroker:
    """Accepts commands and sends nothing."""

    def place_order(self, order: Order) -> None:
        """Send nothing."""

    def cancel_order(self, order: Order) -> None:
        """Send nothing."""


class BareModel:
    """The order table's model with the same condition and callback names, trivial bodies."""

    def __init__(self) -> None:
        self.pre_cancel: str | None = None
        self.state = "SUBMITTED"

    def remember_pre_cancel(self) -> None:
        self.pre_cancel = self.state

    def forget_pre_cancel(self) -> None:
        self.pre_cancel = None

    def note_acknowledged(self) -> None:
        pass

    def note_partial(self) -> None:
        pass

    def apply_fill(self) -> None:
        pass

    def within_quantity(self) -> bool:
        return True

    def completes_order(self) -> bool:
        return True

    def is_correction(self) -> bool:
        return False

    def was_submitted(self) -> bool:
        return self.pre_cancel == "SUBMITTED"

    def was_partial(self) -> bool:
        return self.pre_cancel == "PARTIAL"

    def was_pending(self) -> bool:
        return self.pre_cancel == "PENDING"


def make_order(i: int) -> Order:
    """A new (PENDING) limit order with order id ``i`` and client_order_id ``c-i``."""
    return Order(
        str(i),
        f"c-{i}",
        "AAPL",
        Decimal(100),
        "LIMIT",
        "BUY",
        Decimal("150.25"),
        None,
        "PENDING",
        T0,
    )
