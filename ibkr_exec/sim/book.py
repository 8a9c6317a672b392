"""The simulator's records: contracts, order tickets, live orders and executions.

Quantities and prices are Decimal; every string field a client sent is kept verbatim so that
openOrder, execDetails and completedOrder echo it back exactly as TWS would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Final

__all__ = [
    "DONE_STATUSES",
    "SUPPORTED_ORDER_TYPES",
    "OrderTicket",
    "SimContract",
    "SimExecution",
    "SimOrder",
    "SimPosition",
]

#: Order types the exchange can match; anything else is rejected with error 201.
SUPPORTED_ORDER_TYPES: Final = frozenset({"MKT", "LMT", "STP", "STP LMT"})
_ZERO = Decimal(0)
#: TWS statuses after which an order never changes again.
DONE_STATUSES: Final = frozenset({"Filled", "Cancelled", "ApiCancelled", "Inactive"})


@dataclass(slots=True)
class SimContract:
    """The contract fields a placeOrder carries (the 12 of ib_async's ``Contract`` encoding)."""

    con_id: int
    symbol: str
    sec_type: str = "STK"
    last_trade_date: str = ""
    strike: str = "0"
    right: str = ""
    multiplier: str = ""
    exchange: str = "SMART"
    primary_exchange: str = ""
    currency: str = "USD"
    local_symbol: str = ""
    trading_class: str = ""


@dataclass(slots=True)
class OrderTicket:
    """One decoded placeOrder: what the client asked for, before the exchange decides anything."""

    order_id: int
    contract: SimContract
    action: str
    quantity: Decimal
    order_type: str
    limit_price: Decimal | None
    aux_price: Decimal | None
    tif: str = "DAY"
    oca_group: str = ""
    account: str = ""
    open_close: str = ""
    origin: str = "0"
    order_ref: str = ""
    transmit: bool = True
    parent_id: int = 0
    block_order: bool = False
    sweep_to_fill: bool = False
    display_size: str = ""
    trigger_method: str = "0"
    outside_rth: bool = False
    hidden: bool = False
    good_after_time: str = ""
    good_till_date: str = ""
    all_or_none: bool = False
    min_qty: str = ""
    oca_type: str = "0"
    rule80a: str = ""
    model_code: str = ""
    algo_strategy: str = ""
    what_if: bool = False
    num_conditions: int = 0
    cash_qty: str = ""


@dataclass(slots=True, eq=False)
class SimOrder:
    """An order the exchange holds. It outlives the client connection that placed it."""

    client_id: int
    perm_id: int
    ticket: OrderTicket
    status: str = "PreSubmitted"
    filled: Decimal = Decimal(0)
    avg_fill_price: Decimal = Decimal(0)
    last_fill_price: Decimal = Decimal(0)
    #: Set once a stop's trigger price has been crossed; the order then works as MKT or LMT.
    triggered: bool = False
    #: False until the placement's own matching is over: fills then add liquidity, not take it.
    rested: bool = False
    #: Placement sequence number: matching visits orders in time priority.
    sequence: int = 0
    completed_time: str = ""
    completed_status: str = ""
    reject_reason: str = ""

    @property
    def order_id(self) -> int:
        """The client's order id."""
        return self.ticket.order_id

    @property
    def order_ref(self) -> str:
        """The client's orderRef (ibkr-exec puts its client_order_id there)."""
        return self.ticket.order_ref

    @property
    def symbol(self) -> str:
        """The contract's symbol: the key prices are set by."""
        return self.ticket.contract.symbol

    @property
    def quantity(self) -> Decimal:
        """The total quantity ordered."""
        return self.ticket.quantity

    @property
    def remaining(self) -> Decimal:
        """What is still to fill."""
        return self.ticket.quantity - self.filled

    @property
    def is_done(self) -> bool:
        """True once the order is filled, cancelled or inactive."""
        return self.status in DONE_STATUSES


@dataclass(slots=True, frozen=True)
class SimExecution:
    """One fill (or a correction of one), as TWS reports it in execDetails and commissionReport."""

    exec_id: str
    client_id: int
    order_id: int
    perm_id: int
    order_ref: str
    account: str
    contract: SimContract
    side: str
    shares: Decimal
    price: Decimal
    cum_qty: Decimal
    avg_price: Decimal
    time: datetime
    commission: Decimal
    commission_currency: str = "USD"
    #: The venue that executed it (ISLAND, IEX...), as real TWS reports it.
    exchange: str = "ISLAND"
    #: P&L this fill realized, net of commissions (None: it opened or extended a position).
    realized_pnl: Decimal | None = None
    #: 1 added liquidity, 2 removed it (a marketable order: captures 2, 21), 3 routed out.
    last_liquidity: int = 2
    #: Set on a correction: the execId it replaces.
    corrects: str | None = field(default=None)


@dataclass(slots=True)
class SimPosition:
    """An account's position in one contract: signed quantity and average cost."""

    account: str
    contract: SimContract
    quantity: Decimal = _ZERO
    avg_cost: Decimal = _ZERO

    def apply(
        self, signed_qty: Decimal, price: Decimal, commission: Decimal = _ZERO
    ) -> Decimal | None:
        """Book a fill and return the P&L it realizes (None when it only opens or extends).

        As at IB, the average cost includes commission (capture 15 and the README of
        shared/reference/real-tws): a buy costs ``price + commission/qty`` a share, and a
        closing fill realizes ``(fill - avg_cost) * qty - commission`` (signed for shorts).
        """
        held = self.quantity
        new = held + signed_qty
        qty = abs(signed_qty)
        # What one share of this fill costs (buy) or brings (sell), commission included.
        net = price + commission / qty if signed_qty > 0 else price - commission / qty
        realized: Decimal | None = None
        if held == 0 or (held > 0) == (signed_qty > 0):
            self.avg_cost = (abs(held) * self.avg_cost + qty * net) / abs(new)
        else:
            closed = min(qty, abs(held))
            per_share = price - self.avg_cost if held > 0 else self.avg_cost - price
            realized = per_share * closed - commission
            if new == 0:
                self.avg_cost = _ZERO
            elif (new > 0) != (held > 0):
                self.avg_cost = net
        self.quantity = new
        return realized
