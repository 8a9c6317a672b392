"""The fault-injection methods of FakeTWS, kept apart from the server plumbing they arm."""

from __future__ import annotations

from decimal import Decimal

from ibkr_exec.sim.book import SimExecution
from ibkr_exec.sim.exchange import Exchange
from ibkr_exec.sim.faults import REQUESTS, FaultPlan, InjectedError, MessageRule, message_id

__all__ = ["FaultMethods"]

_CONNECTIVITY_CODES = frozenset({1100, 1101, 1102})


def _check_in_spec(message: str, out_of_spec: bool) -> None:
    # Real TWS sends every completedOrder of an answer before its completedOrdersEnd; a client
    # may rightly treat the end as "nothing more". Moving one past it is a fault TWS never
    # shows, so a test must ask for it by name.
    if message == "completedOrder" and not out_of_spec:
        raise ValueError(
            "delaying or reordering completedOrder delivers it after completedOrdersEnd, which "
            "real TWS never does; pass out_of_spec=True to inject it anyway"
        )


class FaultMethods:
    """Mixin: every fault a test or scenario can arm. Message names are TWS API callback names
    (``"openOrder"``, ``"orderStatus"``, ``"execDetails"``, ``"commissionReport"``...)."""

    plan: FaultPlan
    exchange: Exchange

    def disconnect_clients(self) -> None:
        """Close every client socket now (implemented by FakeTWS)."""
        raise NotImplementedError

    def _broadcast_error(self, code: int) -> None:
        raise NotImplementedError

    def drop_connections(self, after_messages: int | None = None) -> None:
        """Drop every client connection now, or right after the next ``after_messages`` messages
        the simulator sends (to any client)."""
        if after_messages is None or after_messages <= 0:
            self.disconnect_clients()
        else:
            self.plan.drop_after = after_messages

    def delay_messages(
        self, message: str, seconds: float, count: int | None = 1, *, out_of_spec: bool = False
    ) -> None:
        """Send the next ``count`` (None: all) ``message`` messages ``seconds`` late; messages
        sent meanwhile overtake them.

        Delaying ``completedOrder`` would deliver it after ``completedOrdersEnd``, which real TWS
        never does: it raises ValueError unless ``out_of_spec=True`` asks for it explicitly.
        """
        _check_in_spec(message, out_of_spec)
        self.plan.add_rule(MessageRule("delay", message_id(message), count, seconds=seconds))

    def drop_messages(self, message: str, count: int | None = 1) -> None:
        """Never send the next ``count`` (None: all) ``message`` messages."""
        self.plan.add_rule(MessageRule("drop", message_id(message), count))

    def duplicate_messages(self, message: str, count: int | None = 1) -> None:
        """Send the next ``count`` (None: all) ``message`` messages twice in a row."""
        self.plan.add_rule(MessageRule("duplicate", message_id(message), count))

    def reorder_messages(
        self, message: str, after: str, count: int | None = 1, *, out_of_spec: bool = False
    ) -> None:
        """Hold back the next ``count`` ``message`` messages until the next ``after`` message to
        the same client has been sent: ``reorder_messages("openOrder", after="orderStatus")``
        delivers orderStatus before openOrder. ``completedOrder`` needs ``out_of_spec=True``
        (see :meth:`delay_messages`)."""
        _check_in_spec(message, out_of_spec)
        rule = MessageRule("hold", message_id(message), count, until=message_id(after))
        self.plan.add_rule(rule)

    def inject_order_error(self, code: int, message: str | None = None, count: int = 1) -> None:
        """Answer the next ``count`` placements with error ``code``.

        201: rejected with ``message`` as the reason. 202: accepted, then cancelled by TWS.
        103: duplicate order id. Warnings (399, 2109...): sent, then the order goes ahead.
        Any other code: sent, and the order is refused.
        """
        self.plan.order_errors.extend(InjectedError(code, message) for _ in range(count))

    def inject_cancel_error(self, code: int, message: str | None = None, count: int = 1) -> None:
        """Answer the next ``count`` cancel requests with error ``code`` instead of cancelling.

        10148 ("cannot cancel, state: Filled") fills the order first so the answer is true;
        10147 ("not found") and other codes leave the order working; 202 cancels it with
        ``message`` as the reason.
        """
        self.plan.cancel_errors.extend(InjectedError(code, message) for _ in range(count))

    def notify_connectivity(self, code: int) -> None:
        """Send 1100 (TWS lost IB), 1101 (restored, data lost) or 1102 (restored, data kept) to
        every client; the sockets stay up."""
        if code not in _CONNECTIVITY_CODES:
            raise ValueError(f"connectivity codes are {sorted(_CONNECTIVITY_CODES)}, got {code}")
        self._broadcast_error(code)

    def restart_gateway(self, next_valid_id: int | None = 1) -> None:
        """Simulate a gateway restart: every client is dropped, orders and executions are kept,
        and nextValidId reports ``next_valid_id`` (lower than ids already used) from now on.
        ``None`` restores the normal "one above the highest id used"."""
        self.exchange.next_valid_id_override = next_valid_id
        self.disconnect_clients()

    def correct_execution(
        self, exec_id: str | None = None, price: Decimal | int | str | None = None
    ) -> SimExecution:
        """Correct an execution (default: the latest): a new execId with the last segment bumped
        (``.01`` -> ``.02``), the same shares, and ``price`` if given (else the same price)."""
        executions = self.exchange.executions
        if not executions:
            raise LookupError("no execution to correct")
        if exec_id is None:
            target = executions[-1]
        else:
            target = next(ex for ex in executions if ex.exec_id == exec_id)
        return self.exchange.correct(target, None if price is None else Decimal(price))

    def leave_unanswered(self, request: str, count: int | None = None) -> None:
        """Ignore the next ``count`` (None: all) requests of a kind: ``"executions"``,
        ``"openOrders"``, ``"completedOrders"``, ``"positions"``, ``"accountUpdates"``,
        ``"accountUpdatesMulti"``, ``"accountSummary"``, ``"currentTime"``, ``"ids"``,
        ``"allOpenOrders"``."""
        if request not in REQUESTS:
            raise ValueError(f"unknown request {request!r}; expected one of {sorted(REQUESTS)}")
        self.plan.unanswered[request] = count

    def swallow_placements(self, count: int = 1) -> None:
        """Accept the next ``count`` placeOrder messages and answer nothing: the order never
        reaches the exchange (as when a paper server loses a placement)."""
        self.plan.swallowed_placements += count

    def clear_faults(self) -> None:
        """Disarm every fault not yet consumed (nextValidId rollback included)."""
        self.plan.clear()
        self.exchange.next_valid_id_override = None
