"""How FakeTWS takes orders from its clients: placement (acceptance, amendment, the refusals TWS
makes: 103, 110, 201) and cancellation (202, 10147, 10148), kept apart from the server plumbing."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from loguru import logger

from ibkr_exec.sim.book import SUPPORTED_ORDER_TYPES, OrderTicket, SimOrder
from ibkr_exec.sim.decode import parse_place_order
from ibkr_exec.sim.exchange import Exchange
from ibkr_exec.sim.faults import ERROR_TEXT, WARNING_CODES, FaultPlan, InjectedError

if TYPE_CHECKING:
    from ibkr_exec.sim.session import ClientSession

__all__ = ["OrderIntake"]

#: US stocks above $1 trade in cents; other instruments get theirs through ``min_ticks``.
_DEFAULT_MIN_TICK = Decimal("0.01")


class OrderIntake:
    """Mixin: placeOrder and cancelOrder from clients, and the order methods tests drive."""

    plan: FaultPlan
    exchange: Exchange
    accounts: list[str]
    placements_received: int
    _min_ticks: dict[str, Decimal]
    _clients: dict[int, ClientSession]

    def _changed(self) -> None:
        raise NotImplementedError

    def order(self, key: int | str, client_id: int | None = None) -> SimOrder:
        """The order with this orderRef or order id (implemented by FakeTWS)."""
        raise NotImplementedError

    def order_changed(self, order: SimOrder, *, with_open_order: bool) -> None:
        """Tell the owning client (implemented by FakeTWS)."""
        raise NotImplementedError

    def _place(self, session: ClientSession, client_id: int, fields: list[str]) -> None:
        ticket = parse_place_order(session.version, fields)
        self.placements_received += 1
        try:
            self._place_ticket(session, client_id, ticket)
        finally:
            self._changed()

    def _place_ticket(self, session: ClientSession, client_id: int, ticket: OrderTicket) -> None:
        plan = self.plan
        if plan.take_swallow():
            logger.trace("sim: swallowed placement {} of client {}", ticket.order_id, client_id)
            return
        exchange = self.exchange
        injected = plan.order_errors.popleft() if plan.order_errors else None
        kind = exchange.classify(client_id, ticket.order_id)
        if kind == "duplicate" or (injected is not None and injected.code == 103):
            session.send_error(ticket.order_id, 103, injected.message if injected else None)
            return
        if not ticket.account:
            ticket.account = self.accounts[0]
        existing = exchange.find(client_id, ticket.order_id) if kind == "amend" else None
        reason = self._refusal(ticket, existing)
        if reason is None and injected is not None and injected.code not in WARNING_CODES:
            if injected.code == 202:
                order = exchange.accept(client_id, ticket, match=False)
                self._cancel_order(order, injected.message or "", by="System")
                return
            reason = injected.message or "simulated rejection"
            if injected.code != 201:
                session.send_error(ticket.order_id, injected.code, reason)
                if existing is None:
                    exchange.reject(client_id, ticket, reason)
                return
        if reason is None and self._off_tick(ticket):
            # Real TWS refuses the order outright (error 110); nothing else is sent about it.
            session.send_error(ticket.order_id, 110)
            if existing is None:
                exchange.reject(client_id, ticket, ERROR_TEXT[110])
            return
        if reason is not None:
            # Error 201, then openOrder and orderStatus Inactive (ib_insync issue 554). A refused
            # modification leaves the working order as it was.
            session.send_error(ticket.order_id, 201, reason=reason)
            if existing is None:
                order = exchange.reject(client_id, ticket, reason)
                self.order_changed(order, with_open_order=True)
            return
        if injected is not None:
            session.send_error(ticket.order_id, injected.code, injected.message)
        if existing is not None:
            exchange.amend(existing, ticket)
        else:
            exchange.accept(client_id, ticket)

    def _refusal(self, ticket: OrderTicket, existing: SimOrder | None) -> str | None:
        if ticket.order_type not in SUPPORTED_ORDER_TYPES:
            return f"order type {ticket.order_type!r} is not supported by the simulator"
        if ticket.action not in ("BUY", "SELL"):
            return f"invalid action {ticket.action!r}"
        if ticket.quantity <= 0:
            return "order quantity must be positive"
        if ticket.order_type in ("LMT", "STP LMT") and ticket.limit_price is None:
            return "limit price is missing"
        if ticket.order_type.startswith("STP") and ticket.aux_price is None:
            return "stop price is missing"
        if ticket.account not in self.accounts:
            return f"account {ticket.account} is not managed by this login"
        if ticket.num_conditions:
            return "conditional orders are not supported by the simulator"
        if existing is not None and ticket.quantity < existing.filled:
            return "quantity is below the quantity already filled"
        return None

    def min_tick(self, symbol: str) -> Decimal:
        """The smallest price step of ``symbol`` (default 0.01, as for US stocks above $1)."""
        return self._min_ticks.get(symbol, _DEFAULT_MIN_TICK)

    def set_min_tick(self, symbol: str, tick: Decimal | int | str) -> None:
        """Set ``symbol``'s minimum price variation; a price off it gets error 110."""
        value = Decimal(tick)
        if value <= 0:
            raise ValueError(f"min tick of {symbol} must be positive, got {tick!r}")
        self._min_ticks[symbol] = value

    def _off_tick(self, ticket: OrderTicket) -> bool:
        tick = self.min_tick(ticket.contract.symbol)
        return any(
            price is not None and price % tick != 0
            for price in (ticket.limit_price, ticket.aux_price)
        )

    def _cancel(self, session: ClientSession, client_id: int, order_id: int) -> None:
        try:
            order = self.exchange.find(client_id, order_id)
            injected = self.plan.cancel_errors.popleft() if self.plan.cancel_errors else None
            if injected is not None:
                self._refuse_cancel(session, order_id, order, injected)
            elif order is None:
                session.send_error(order_id, 10147, order_id=order_id)
            elif order.is_done:
                session.send_error(order_id, 10148, order_id=order_id, state=order.status)
            else:
                self._cancel_order(order, "")
        finally:
            self._changed()

    def _refuse_cancel(
        self, session: ClientSession, order_id: int, order: SimOrder | None, fault: InjectedError
    ) -> None:
        if fault.code == 202 and order is not None and not order.is_done:
            self._cancel_order(order, fault.message or "")
            return
        # "Cannot cancel, already filled" only makes sense if it did fill first. A market order
        # with no price set cannot fill: the answer then names its real state.
        if (
            fault.code == 10148
            and order is not None
            and not order.is_done
            and (order.ticket.limit_price is not None or order.symbol in self.exchange.prices)
        ):
            self.exchange.force_fill(order)
        state = order.status if order is not None else "Unknown"
        perm_id = order.perm_id if order is not None else 0
        session.send_error(
            order_id, fault.code, fault.message, order_id=order_id, state=state, perm_id=perm_id
        )

    def _cancel_order(self, order: SimOrder, reason: str, *, by: str = "Trader") -> None:
        self.exchange.cancel(order, by=by)
        session = self._clients.get(order.client_id)
        if session is not None:
            session.send_error(order.order_id, 202, reason=reason)

    def reject_working_order(
        self, key: int | str, reason: str = "margin re-check failed", code: int = 201
    ) -> None:
        """Reject an order IB had already accepted: error ``code`` with ``reason``, then
        orderStatus Inactive (the order is done)."""
        order = self.order(key)
        if order.is_done:
            raise ValueError(f"order {key!r} is already {order.status}")
        session = self._clients.get(order.client_id)
        if session is not None:
            session.send_error(order.order_id, code, reason=reason)
        self.exchange.deactivate(order, reason)
        self._changed()

    def cancel_all(self) -> None:
        """Cancel every working order of every client, as reqGlobalCancel does."""
        for order in list(self.exchange.working_orders()):
            self._cancel_order(order, "")
        self._changed()
