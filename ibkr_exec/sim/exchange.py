"""The deterministic exchange: order book per client, matching against set prices, fills, positions.

Matching rules (the same every run, so tests can assert exact fills):

* A market order fills at the symbol's current price; with no price set it keeps working until one
  is set. A BUY limit fills when the price is at or below the limit, a SELL limit at or above; the
  fill price is the market price (the better one). A stop (STP, STP LMT) stays PreSubmitted until
  the price touches its stop (BUY: price >= stop, SELL: price <= stop), then works as MKT or LMT.
* One match fills at most ``max_fill_size`` (None = everything), so a 100-share order with
  ``max_fill_size=30`` fills 30, 30, 30, 10.
* With ``auto_match`` (the default) the exchange matches right after a placement, an amendment and
  every ``set_price``, filling each eligible order completely, chunk by chunk, in time priority.
  Without it nothing fills until the test calls ``fill_next()`` (one chunk) or ``match()``.

The exchange knows nothing about sockets: it reports every change to an ``ExchangeListener``.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from ibkr_exec.sim.book import OrderTicket, SimContract, SimExecution, SimOrder, SimPosition
from ibkr_exec.sim.tz import DEFAULT_TWS_ZONE, completed_time

__all__ = ["Exchange", "ExchangeListener", "Placement", "SimPosition", "conid_for", "utc_now"]

Placement = Literal["new", "amend", "duplicate"]
_ZERO = Decimal(0)
_PERM_ID_BASE = 1_000_000_000
_EXEC_PREFIX = "0000e0d5"
_EXEC_BASE = 0x6554A1B2


def utc_now() -> datetime:
    """The default clock: the real time in UTC."""
    return datetime.now(UTC)


def _filled_text(order: SimOrder) -> str:
    """completedStatus of a filled order, as TWS words it: ``Filled Size: 100`` (capture 13)."""
    return f"Filled Size: {order.filled:f}"


def _complete_contract(contract: SimContract) -> None:
    """Fill in what TWS fills in for a contract the client named by symbol: conId, localSymbol,
    tradingClass and primary exchange (captures 0, 15, 19: ``TSLA``, ``NMS``, ``NASDAQ``)."""
    if contract.con_id == 0:
        contract.con_id = conid_for(contract.symbol)
    if not contract.local_symbol:
        contract.local_symbol = contract.symbol
    if contract.sec_type == "STK":
        if not contract.trading_class:
            contract.trading_class = "NMS"
        if not contract.primary_exchange:
            contract.primary_exchange = "NASDAQ"


def conid_for(symbol: str) -> int:
    """A stable contract id for a symbol, the same in every run (TWS always reports a conId)."""
    return zlib.crc32(symbol.encode()) % 900_000_000 + 100_000


class ExchangeListener(Protocol):
    """Receives every change the exchange makes, in the order it makes them."""

    def order_changed(self, order: SimOrder, *, with_open_order: bool) -> None:
        """The order's status changed; ``with_open_order`` when TWS would also send openOrder."""

    def order_filled(self, order: SimOrder, execution: SimExecution) -> None:
        """An execution happened (the order's state already includes it)."""

    def execution_corrected(self, order: SimOrder, correction: SimExecution) -> None:
        """An execution was corrected by a new one with a higher execId suffix."""

    def position_changed(self, position: SimPosition) -> None:
        """An account's position in a contract changed."""


class Exchange:
    """Orders, prices, executions and positions of one simulated gateway."""

    def __init__(
        self,
        listener: ExchangeListener,
        *,
        clock: Callable[[], datetime] = utc_now,
        max_fill_size: Decimal | None = None,
        auto_match: bool = True,
        commission_per_share: Decimal = Decimal("0.005"),
        min_commission: Decimal = Decimal("1.00"),
        zone: ZoneInfo | None = None,
    ) -> None:
        self.listener = listener
        self.clock = clock
        #: The venue execDetails names (real TWS names the venue, never SMART: captures 2, 21).
        self.venue = "ISLAND"
        #: Old behaviour on demand: acknowledge PreSubmitted then Submitted.
        self.acknowledge_twice = False
        #: Old behaviour on demand: PendingCancel before every Cancelled.
        self.pending_cancel = False
        #: TWS's own time zone: completed orders carry their time in it.
        self.zone = zone if zone is not None else ZoneInfo(DEFAULT_TWS_ZONE)
        self.max_fill_size = max_fill_size
        self.auto_match = auto_match
        self.commission_per_share = commission_per_share
        self.min_commission = min_commission
        self.prices: dict[str, Decimal] = {}
        self.orders: dict[int, SimOrder] = {}
        self.executions: list[SimExecution] = []
        self.positions: dict[tuple[str, str], SimPosition] = {}
        #: Overrides nextValidId after a simulated gateway restart that lost its id counter.
        self.next_valid_id_override: int | None = None
        self._by_client_key: dict[tuple[int, int], SimOrder] = {}
        self._by_ref: dict[str, SimOrder] = {}
        self._working: dict[str, dict[int, SimOrder]] = {}
        self._max_order_id: dict[int, int] = {}
        self._sequence = 0

    # -- ids -------------------------------------------------------------------------------------

    def next_valid_id(self, client_id: int) -> int:
        """What nextValidId reports to a client: one above every id it used, unless overridden."""
        if self.next_valid_id_override is not None:
            return self.next_valid_id_override
        return self._max_order_id.get(client_id, 0) + 1

    def classify(self, client_id: int, order_id: int) -> Placement:
        """Whether a placeOrder is a new order, an amendment of a working one, or a duplicate.

        As at TWS, order ids are per client id and must increase: reusing the id of a finished
        order, or a new id at or below the highest this client used, is error 103.
        """
        existing = self._by_client_key.get((client_id, order_id))
        if existing is not None:
            return "duplicate" if existing.is_done else "amend"
        if order_id <= self._max_order_id.get(client_id, 0):
            return "duplicate"
        return "new"

    # -- lookups ---------------------------------------------------------------------------------

    def find(self, client_id: int, order_id: int) -> SimOrder | None:
        """The order a client placed under ``order_id``."""
        return self._by_client_key.get((client_id, order_id))

    def find_ref(self, order_ref: str) -> SimOrder | None:
        """The latest order placed with this orderRef."""
        return self._by_ref.get(order_ref)

    def working_orders(self) -> Iterator[SimOrder]:
        """Orders still working, in time priority."""
        for book in self._working.values():
            yield from book.values()

    # -- order lifecycle --------------------------------------------------------------------------

    def accept(self, client_id: int, ticket: OrderTicket, *, match: bool = True) -> SimOrder:
        """Book a new order and acknowledge it once, then match it (with ``auto_match``, unless
        ``match=False``).

        As at real TWS, the one acknowledgement is PreSubmitted for an order that is held or not
        yet triggered (a stop; a US stock market order, which TWS holds until it routes it) and
        Submitted for an order resting at the exchange (captures 0, 19 and the README of
        shared/reference/real-tws). With ``acknowledge_twice`` the old PreSubmitted-then-Submitted
        pair is sent instead.
        """
        held = ticket.order_type.startswith("STP") or (
            ticket.order_type == "MKT" and ticket.contract.sec_type == "STK"
        )
        if self.acknowledge_twice:
            order = self._book(client_id, ticket, "PreSubmitted")
            self._working.setdefault(order.symbol, {})[order.perm_id] = order
            self.listener.order_changed(order, with_open_order=True)
            if not ticket.order_type.startswith("STP"):
                order.status = "Submitted"
                self.listener.order_changed(order, with_open_order=True)
        else:
            order = self._book(client_id, ticket, "PreSubmitted" if held else "Submitted")
            self._working.setdefault(order.symbol, {})[order.perm_id] = order
            self.listener.order_changed(order, with_open_order=True)
        if match and self.auto_match:
            self._match_order(order)
        order.rested = True  # later fills add liquidity; those at placement took it
        return order

    def reject(self, client_id: int, ticket: OrderTicket, reason: str) -> SimOrder:
        """Record a refused placement as TWS does: Inactive, its reason as completedStatus. Its id
        counts as used."""
        order = self._book(client_id, ticket, "Inactive")
        order.reject_reason = reason
        self._complete(order, "Inactive", reason)
        return order

    def amend(self, order: SimOrder, ticket: OrderTicket) -> None:
        """Replace a working order's terms (quantity, prices, tif, orderRef...) and re-match."""
        if ticket.order_ref and ticket.order_ref != order.ticket.order_ref:
            self._by_ref[ticket.order_ref] = order
        order.ticket = replace(ticket, contract=order.ticket.contract)
        self.listener.order_changed(order, with_open_order=True)
        if order.remaining <= 0:
            self._complete(order, "Filled", _filled_text(order))
            self.listener.order_changed(order, with_open_order=True)
        elif self.auto_match:
            self._match_order(order)

    def cancel(self, order: SimOrder, *, by: str = "Trader") -> None:
        """Cancel a working order: orderStatus Cancelled, ``remaining`` the unfilled quantity
        (capture 8). With ``pending_cancel``, PendingCancel comes first (no capture shows it)."""
        if self.pending_cancel:
            order.status = "PendingCancel"
            self.listener.order_changed(order, with_open_order=False)
        self._complete(order, "Cancelled", f"Cancelled by {by}")
        self.listener.order_changed(order, with_open_order=False)

    def deactivate(self, order: SimOrder, reason: str) -> None:
        """IB withdrawing an order it had accepted (a failed margin re-check, say): openOrder and
        orderStatus Inactive (ib_insync issue 554)."""
        order.reject_reason = reason
        self._complete(order, "Inactive", reason)
        self.listener.order_changed(order, with_open_order=True)

    def _book(self, client_id: int, ticket: OrderTicket, status: str) -> SimOrder:
        self._sequence += 1
        order = SimOrder(
            client_id=client_id,
            perm_id=_PERM_ID_BASE + self._sequence,
            ticket=ticket,
            status=status,
            sequence=self._sequence,
        )
        _complete_contract(ticket.contract)
        self.orders[order.perm_id] = order
        self._by_client_key[(client_id, ticket.order_id)] = order
        if ticket.order_ref:
            self._by_ref[ticket.order_ref] = order
        if ticket.order_id > self._max_order_id.get(client_id, 0):
            self._max_order_id[client_id] = ticket.order_id
        return order

    def _complete(self, order: SimOrder, status: str, completed_status: str) -> None:
        order.status = status
        order.completed_time = completed_time(self.clock(), self.zone)
        order.completed_status = completed_status
        book = self._working.get(order.symbol)
        if book is not None:
            book.pop(order.perm_id, None)

    # -- prices and matching ----------------------------------------------------------------------

    def set_price(self, symbol: str, price: Decimal) -> list[SimExecution]:
        """Move a symbol's price; with auto_match, fill whatever it makes eligible."""
        self.prices[symbol] = price
        if not self.auto_match:
            return []
        return self.match(symbol)

    def match(self, symbol: str | None = None) -> list[SimExecution]:
        """Fill every eligible order (of one symbol, or all) completely, chunk by chunk."""
        books = [self._working.get(symbol, {})] if symbol is not None else self._working.values()
        done: list[SimExecution] = []
        for book in list(books):
            for order in list(book.values()):
                done.extend(self._match_order(order))
        return done

    def order_commission(self, order: SimOrder) -> Decimal:
        """The commission of every execution of ``order`` so far (corrections excluded)."""
        return sum(
            (
                e.commission
                for e in self.executions
                if e.perm_id == order.perm_id and not e.corrects
            ),
            _ZERO,
        )

    def fill_next(self, order: SimOrder | None = None) -> SimExecution | None:
        """Fill one chunk (at most max_fill_size) of ``order``, or of the oldest eligible order."""
        candidates = [order] if order is not None else list(self.working_orders())
        for candidate in sorted(candidates, key=lambda o: o.sequence):
            price = self._eligible_price(candidate)
            if price is not None and not candidate.is_done:
                return self._execute(candidate, self._chunk(candidate), price)
        return None

    def force_fill(
        self, order: SimOrder, quantity: Decimal | None = None, price: Decimal | None = None
    ) -> SimExecution:
        """Fill ``order`` regardless of its price (default: all of it at its limit or market)."""
        if order.is_done:
            raise ValueError(f"order {order.order_id} is already {order.status}")
        fill_price = price if price is not None else self._reference_price(order)
        return self._execute(
            order, quantity if quantity is not None else order.remaining, fill_price
        )

    def correct(self, execution: SimExecution, price: Decimal | None = None) -> SimExecution:
        """Correct an execution: same fill, execId suffix bumped, optionally a new price."""
        order = self.orders[execution.perm_id]
        head, _, suffix = execution.exec_id.rpartition(".")
        new_price = execution.price if price is None else price
        if order.filled:
            order.avg_fill_price = (
                order.avg_fill_price * order.filled
                - execution.shares * execution.price
                + execution.shares * new_price
            ) / order.filled
        correction = replace(
            execution,
            exec_id=f"{head}.{int(suffix) + 1:02d}",
            price=new_price,
            avg_price=order.avg_fill_price,
            time=self.clock(),
            corrects=execution.exec_id,
        )
        self.executions.append(correction)
        self.listener.execution_corrected(order, correction)
        return correction

    def _match_order(self, order: SimOrder) -> list[SimExecution]:
        done: list[SimExecution] = []
        while not order.is_done:
            price = self._eligible_price(order)
            if price is None:
                break
            done.append(self._execute(order, self._chunk(order), price))
        return done

    def _chunk(self, order: SimOrder) -> Decimal:
        remaining = order.remaining
        limit = self.max_fill_size
        return remaining if limit is None or limit >= remaining else limit

    def _eligible_price(self, order: SimOrder) -> Decimal | None:
        price = self.prices.get(order.symbol)
        if price is None or order.is_done:
            return None
        ticket = order.ticket
        buy = ticket.action == "BUY"
        if ticket.order_type.startswith("STP") and not order.triggered:
            stop = ticket.aux_price if ticket.aux_price is not None else _ZERO
            if not (price >= stop if buy else price <= stop):
                return None
            order.triggered = True
            if order.status == "PreSubmitted":
                order.status = "Submitted"
                self.listener.order_changed(order, with_open_order=True)
        if ticket.order_type in ("MKT", "STP"):
            return price
        limit = ticket.limit_price
        if limit is None:
            return None
        return price if (price <= limit if buy else price >= limit) else None

    def _reference_price(self, order: SimOrder) -> Decimal:
        ticket = order.ticket
        if ticket.limit_price is not None:
            return ticket.limit_price
        price = self.prices.get(order.symbol)
        if price is None:
            raise ValueError(f"no price for {order.symbol}; pass price=")
        return price

    def _execute(self, order: SimOrder, shares: Decimal, price: Decimal) -> SimExecution:
        ticket = order.ticket
        filled = order.filled + shares
        order.avg_fill_price = (order.avg_fill_price * order.filled + price * shares) / filled
        order.filled = filled
        order.last_fill_price = price
        if filled >= ticket.quantity:
            self._complete(order, "Filled", _filled_text(order))
        elif order.status != "PendingCancel":
            order.status = "Submitted"
        serial = len(self.executions)
        execution = SimExecution(
            exec_id=f"{_EXEC_PREFIX}.{_EXEC_BASE + serial:08x}.01.01",
            client_id=order.client_id,
            order_id=ticket.order_id,
            perm_id=order.perm_id,
            order_ref=ticket.order_ref,
            account=ticket.account,
            contract=ticket.contract,
            side="BOT" if ticket.action == "BUY" else "SLD",
            shares=shares,
            price=price,
            cum_qty=filled,
            avg_price=order.avg_fill_price,
            time=self.clock(),
            commission=max(shares * self.commission_per_share, self.min_commission),
            exchange=self.venue,
            last_liquidity=1 if order.rested else 2,
        )
        key = (ticket.account, ticket.contract.symbol)
        position = self.positions.get(key)
        if position is None:
            position = self.positions[key] = SimPosition(ticket.account, ticket.contract)
        realized = position.apply(
            shares if ticket.action == "BUY" else -shares, price, execution.commission
        )
        if realized is not None:
            execution = replace(execution, realized_pnl=realized)
        self.executions.append(execution)
        self.listener.order_filled(order, execution)
        self.listener.position_changed(position)
        return execution
