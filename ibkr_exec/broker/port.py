"""What the actors need from a broker, and what a broker tells them.

The actors never see ib_async. The adapter (``broker/ib.py``) turns IB's raw callbacks into the
normalised reports below (through the tables in ``broker/translate.py``) and carries out the two
commands of :class:`Broker`. Tests can put any object with the same two methods behind an actor.

Reports identify their order by ``order_id`` (IB's orderId, as a string) and, where IB supplies
them, ``perm_id`` and ``order_ref`` (our client_order_id). The connection actor routes each report
to its order actor by order_ref, then perm_id, then order_id.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Protocol

import attrs

from ibkr_exec.models import Order, Position, Side


class Broker(Protocol):
    """The commands an order actor issues. Both only write to the broker link: they never block."""

    def place_order(self, order: Order) -> None:
        """Send ``order`` (its ``order_id`` is already assigned) to the broker."""

    def cancel_order(self, order: Order) -> None:
        """Ask the broker to cancel ``order``; the answer comes back as a report."""

    # Optionally, ``is_connected() -> bool``: an order actor whose broker says False keeps
    # its commands in its stash until the link is back (see OrderActor._link_up).


@attrs.frozen
class OrderAccepted:
    """The broker acknowledged the order and it is working (PreSubmitted / Submitted)."""

    order_id: str
    perm_id: int | None = None
    order_ref: str | None = None
    broker_status: str = "Submitted"


@attrs.frozen
class ExecutionReport:
    """One execution (IB's execDetails). ``exec_id`` is unique; a correction keeps its prefix
    and raises the last segment (``...01.01`` -> ``...01.02``) and replaces the fill it corrects."""

    exec_id: str
    order_id: str
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    time: datetime
    perm_id: int | None = None
    order_ref: str | None = None


@attrs.frozen
class CommissionReport:
    """The commission of one execution; it follows its execution, never precedes it."""

    exec_id: str
    commission: Decimal
    currency: str = "USD"


@attrs.frozen
class CancelPending:
    """The broker says a cancel is pending (IB status PendingCancel), whoever asked for it."""

    order_id: str
    perm_id: int | None = None
    order_ref: str | None = None


@attrs.frozen
class CancelConfirmed:
    """The broker confirmed the order is cancelled (Cancelled / ApiCancelled, or error 202)."""

    order_id: str
    reason: str = ""
    code: int | None = None
    perm_id: int | None = None
    order_ref: str | None = None


@attrs.frozen
class CancelRefused:
    """The broker refused a cancel (10147, 10148, 161). The order is *not* cancelled."""

    order_id: str
    code: int
    reason: str


@attrs.frozen
class OrderRejected:
    """The broker rejected the order (201, 203, 110 or 321 on a new order, 103, Inactive)."""

    order_id: str
    code: int | None
    reason: str
    perm_id: int | None = None
    order_ref: str | None = None


@attrs.frozen
class BrokerWarning:
    """A message about the order that changes nothing (399, 2109, 10349, Inactive+locate)."""

    order_id: str
    code: int | None
    message: str


@attrs.frozen
class BrokerAnomaly:
    """A broker message that could not be understood or routed. Journaled; never raised."""

    description: str
    raw: str = ""
    order_id: str | None = None


@attrs.frozen
class OrderDiscovered:
    """The broker reported an order (openOrder) that the link was not told is the library's:
    its full description, validated, sent just before the report about its status. The
    connection actor offers it to its discovery hook (restart recovery adopts an order whose
    orderRef carries the executor's prefix when the journal lacks it)."""

    order: Order


#: Everything a broker can report about one order (or could not make sense of).
BrokerReport = (
    OrderAccepted
    | OrderDiscovered
    | ExecutionReport
    | CommissionReport
    | CancelPending
    | CancelConfirmed
    | CancelRefused
    | OrderRejected
    | BrokerWarning
    | BrokerAnomaly
)


# -- link events: what the connection actor hears about the broker link itself ------------------


@attrs.frozen
class LinkLost:
    """The socket to TWS / Gateway closed."""

    reason: str = ""


@attrs.frozen
class ConnectivityLost:
    """IB error 1100: TWS lost its link to IB; the socket is still up."""

    message: str = ""


@attrs.frozen
class ConnectivityRestored:
    """IB error 1101 (``data_kept=False``: reconcile) or 1102 (``data_kept=True``)."""

    data_kept: bool
    message: str = ""


@attrs.frozen
class BrokerNotice:
    """An informational message from the broker (farm status 2104/2106/2158, other system notes)."""

    code: int
    message: str


#: Everything a broker can report about the link.
LinkEvent = LinkLost | ConnectivityLost | ConnectivityRestored | BrokerNotice


#: Where a link delivers what it hears: every BrokerReport and LinkEvent, in arrival order.
Sink = Callable[[BrokerReport | LinkEvent], None]


class BrokerLink(Broker, Protocol):
    """A broker connection as the connection actor drives it (``broker/ib.py`` implements it).

    Reports and link events go to the sink given when the link was made, in arrival order; the
    reports produced by :meth:`connect`'s sync and by :meth:`resync` are all delivered before
    those coroutines return.
    """

    async def connect(
        self, host: str, port: int, client_id: int, *, timeout: float, readonly: bool
    ) -> None:
        """Open the link and run the connect-time sync (open orders, completed orders,
        executions). Raises ConnectionError / OSError / TimeoutError on failure."""

    async def disconnect(self) -> None:
        """Close the link and wait until the socket is closed (so the client id can be reused)."""

    async def resync(self, timeout: float) -> None:
        """Request open orders, completed orders and executions again (after IB error 1101)."""

    def is_connected(self) -> bool:
        """True while the socket is up."""

    async def round_trip(self, timeout: float) -> None:
        """Ask the broker something trivial and wait for its answer on the live socket: every
        report it sent before that answer has then reached the sink. Raises ConnectionError when
        the socket is (or turns out to be) dead, TimeoutError when no answer comes in time."""

    def sync_complete(self) -> bool:
        """True when the last connect/resync got every answer about orders (open, completed)."""

    def note_order_id(self, order_id: int) -> None:
        """Remember an order id in use, so it is never handed out again."""

    def next_order_id(self) -> int:
        """A fresh order id, above the broker's next valid id and every id seen."""

    def positions(self) -> list[Position]:
        """Positions as last reported by the broker."""
