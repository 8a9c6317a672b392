"""One order's state: the model the shared order machine drives, and its replay from the journal.

:class:`OrderLedger` is pure and synchronous: :meth:`OrderLedger.handle` applies one message (a
broker report or a command) as a lifecycle trigger and says what happened, and nothing else (no
I/O, no journal, no broker). The actor journals that outcome; replaying the journal through the
same method rebuilds the same ledger, which is how a restarted actor recovers.

The ledger keeps raw inputs (the ``ExecutionReport`` per execId) and builds ``Order`` and ``Fill``
snapshots only when asked, because building validated attrs instances on every transition would
cost more than the transition itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

import attrs

from ibkr_exec.actors.messages import Reassign, RequestCancel
from ibkr_exec.audit import decodable, decode
from ibkr_exec.broker.port import (
    BrokerWarning,
    CancelConfirmed,
    CancelPending,
    CancelRefused,
    CommissionReport,
    ExecutionReport,
    OrderAccepted,
    OrderRejected,
)
from ibkr_exec.models import Fill, Order, OrderStatus
from ibkr_exec.statemachines.order import (
    ORDER_LATE_FILL_STATES,
    ORDER_TERMINAL_STATES,
    PARTIAL,
    PENDING,
    SUBMITTED,
    order_machine,
)
from ibkr_exec.statemachines.shared import MachineError

_ZERO = Decimal(0)

#: Journal entry kinds whose payload is re-applied by replay (anomalies included: a rejected
#: trigger is rejected again, a late fill is recorded again).
REPLAYED_KINDS = frozenset({"transition", "fill", "anomaly", "commission", "reassigned"})

#: IB's "order not found" answer to a cancel (ErrorMeaning.CANCEL_REFUSED in broker.translate).
_NOT_FOUND = 10147
#: IB's "duplicate order id".
_DUPLICATE_ID = 103
_REPLACED_103 = "103 on a re-placement: not a rejection; the next sync settles the order"
_LATE_FILL_NOTES = {
    "CANCELLED": "late fill after cancel: recorded, order stays CANCELLED",
    "REJECTED": "fill after the order was rejected or withdrawn: recorded, order stays REJECTED",
}

_TRIGGER_BY_TYPE: dict[type, str] = {
    OrderAccepted: "acknowledge",
    ExecutionReport: "fill",
    CancelPending: "cancel_pending",
    CancelRefused: "cancel_refused",
    CancelConfirmed: "cancelled",
    OrderRejected: "reject",
    RequestCancel: "request_cancel",
}


class Outcome(NamedTuple):
    """What one message did. ``kind`` is the journal entry kind; ``note`` explains an anomaly."""

    kind: str
    trigger: str | None
    src: str
    dst: str
    note: str | None = None
    order_changed: bool = False
    fill_id: str | None = None


def _split_exec_id(exec_id: str) -> tuple[str, int | str]:
    # IB execIds look like "0001f4e8.65.01.01": a correction keeps the prefix and raises the last
    # segment (hex digits). Non-hex segments still compare, as strings.
    prefix, _, last = exec_id.rpartition(".")
    try:
        return prefix, int(last, 16)
    except ValueError:
        return prefix, last


class OrderLedger:
    """The mutable state of one order, driven by the shared order machine (``state`` attribute).

    Build one with :meth:`new` for a fresh order or :meth:`from_entries` from its journal.
    """

    __slots__ = (
        "_commissions",
        "_dirty",
        "_fills",
        "_snapshot",
        "_staged",
        "base",
        "filled",
        "perm_id",
        "pre_cancel",
        "reason",
        "reason_code",
        "replaced",
        "state",
        "updated_at",
    )

    def __init__(self, base: Order) -> None:
        """Start from ``base``, the order as created (its status is the initial state)."""
        self.base = base
        self.state: str = base.status.value
        self.filled: Decimal = base.filled_quantity
        self.perm_id = base.perm_id
        self.reason = base.reason
        self.reason_code = base.reason_code
        self.updated_at = base.updated_at
        self.pre_cancel: str | None = None
        #: True once the order was given a fresh id to be placed again (see Reassign).
        self.replaced = False
        self._fills: dict[str, ExecutionReport] | None = None  # created with the first fill
        self._commissions: dict[str, Decimal] | None = None
        self._staged: tuple[ExecutionReport, str | None, Decimal] | None = None
        self._snapshot: Order | None = base
        self._dirty = False

    @classmethod
    def new(cls, order: Order) -> OrderLedger:
        """The ledger of a newly created order."""
        return cls(order)

    @classmethod
    def from_entries(cls, entries: Iterable[dict[str, Any]]) -> OrderLedger:
        """Rebuild a ledger from its journal entries (the first must be kind "submitted")."""
        it = iter(entries)
        first = next(it, None)
        if first is None or first.get("kind") != "submitted":
            raise ValueError("an order's journal must start with its 'submitted' entry")
        ledger = cls(decode(first["payload"]["order"]))
        for entry in it:
            payload = entry.get("payload")
            if entry.get("kind") in REPLAYED_KINDS and payload and decodable(payload):
                ledger.handle(decode(payload), datetime.fromisoformat(entry["ts"]))
        return ledger

    # -- accessors ------------------------------------------------------------------------------

    @property
    def client_order_id(self) -> str:
        """The order's client_order_id (the journal and routing key)."""
        return self.base.client_order_id

    @property
    def is_terminal(self) -> bool:
        """True in FILLED, CANCELLED or REJECTED."""
        return self.state in ORDER_TERMINAL_STATES

    @property
    def exec_ids(self) -> frozenset[str]:
        """The execIds of the fills that count (corrected ones replaced)."""
        return frozenset(self._fills or ())

    def order(self) -> Order:
        """The current Order snapshot (built on first request after a change, then cached)."""
        if self._snapshot is None:
            self._snapshot = self.base._evolved(
                status=OrderStatus(self.state),
                filled_quantity=self.filled,
                average_fill_price=self.average_fill_price(),
                perm_id=self.perm_id,
                reason=self.reason,
                reason_code=self.reason_code,
                updated_at=self.updated_at,
            )
        return self._snapshot

    def average_fill_price(self) -> Decimal | None:
        """The quantity-weighted average price of the fills, or None before the first fill."""
        if not self._fills or not self.filled:
            return None
        notional = sum((f.quantity * f.price for f in self._fills.values()), _ZERO)
        return notional / self.filled

    def fill(self, exec_id: str) -> Fill:
        """The Fill snapshot for ``exec_id`` (with its commission once reported)."""
        report = (self._fills or {})[exec_id]
        return Fill._trusted(
            fill_id=report.exec_id,
            order_id=report.order_id,
            symbol=report.symbol,
            quantity=report.quantity,
            price=report.price,
            side=report.side,
            timestamp=report.time,
            commission=(self._commissions or {}).get(exec_id),
            client_order_id=self.base.client_order_id,
        )

    def fills(self) -> list[Fill]:
        """Every fill that counts, in arrival order."""
        return [self.fill(exec_id) for exec_id in self._fills or ()]

    # -- applying messages ----------------------------------------------------------------------

    def handle(self, message: Any, now: datetime) -> Outcome | None:
        """Apply ``message`` at time ``now``; None when it changed nothing worth recording."""
        src = self.state
        if type(message) is CommissionReport:
            return self._commission(message, src)
        if type(message) is BrokerWarning:
            return Outcome("warning", None, src, src)
        message_type = type(message)
        if message_type is Reassign:
            return self._reassign(message, src, now)
        trigger = _TRIGGER_BY_TYPE.get(message_type)
        if trigger is None:
            return None
        if message_type is CancelRefused and message.code == _NOT_FOUND:
            trigger = "cancel_unknown"
        elif message_type is OrderRejected and message.code == _DUPLICATE_ID and self.replaced:
            # 103 on a re-placement: IB has an order under that id (ours, placed after all)
            # or refused the id. Either way not a rejection of the order: the next sync decides.
            return Outcome("anomaly", trigger, src, src, _REPLACED_103)
        if trigger == "fill" and not self._stage(message):
            return None  # a duplicate, or an original that its correction already replaced
        self._dirty = False
        perm_id = getattr(message, "perm_id", None)
        if perm_id is not None and perm_id != self.perm_id:
            self.perm_id = perm_id
            self._dirty = True
        note = self._fire(trigger, src)
        self._staged = None
        dst = self.state
        if dst != src and trigger in ("cancelled", "reject", "cancel_unknown"):
            self.reason, self.reason_code = message.reason, message.code
        changed = self._dirty or dst != src
        if changed:
            self.updated_at = now
            self._snapshot = None
        fill_id = message.exec_id if trigger == "fill" and note is None else None
        if note is None and trigger == "fill" and dst in ORDER_LATE_FILL_STATES:
            note = _LATE_FILL_NOTES[dst]
        if note is not None:
            return Outcome("anomaly", trigger, src, dst, note, changed, fill_id)
        if not changed:
            return None  # a repeated acknowledgement or request: idempotent
        kind = "fill" if trigger == "fill" else "transition"
        return Outcome(kind, trigger, src, dst, None, changed, fill_id)

    def _fire(self, trigger: str, src: str) -> str | None:
        try:
            if order_machine().fire(self, trigger):
                return None
        except MachineError:
            return f"unexpected {trigger} in {src}: ignored"
        if trigger == "fill" and self._staged is not None and not self.within_quantity():
            _, _, prospective = self._staged
            return f"overfill: fill would make {prospective} of {self.base.quantity}: ignored"
        return f"no edge for {trigger} in {src} whose conditions hold: ignored"

    def _stage(self, report: ExecutionReport) -> bool:
        fills = self._fills
        replaced: str | None = None
        if fills:
            if report.exec_id in fills:
                return False
            prefix, seq = _split_exec_id(report.exec_id)
            for exec_id in fills:  # an order has few fills; corrections are rare
                other_prefix, other_seq = _split_exec_id(exec_id)
                if other_prefix == prefix and type(other_seq) is type(seq):
                    if other_seq >= seq:  # type: ignore[operator]  # same type, checked above
                        return False
                    replaced = exec_id
                    break
        prospective = self.filled + report.quantity
        if replaced is not None and fills is not None:
            prospective -= fills[replaced].quantity
        self._staged = (report, replaced, prospective)
        return True

    def _reassign(self, message: Reassign, src: str, now: datetime) -> Outcome:
        self.base = attrs.evolve(self.base, order_id=message.order_id)
        self.replaced = True
        self.updated_at = now
        self._snapshot = None
        return Outcome("reassigned", None, src, src, None, True)

    def _commission(self, report: CommissionReport, src: str) -> Outcome | None:
        commissions = self._commissions
        if commissions is None:
            commissions = self._commissions = {}
        if commissions.get(report.exec_id) == report.commission:
            return None
        commissions[report.exec_id] = report.commission
        # Commission may come before its execution: kept by execId, joined when the fill arrives.
        known = self._fills is not None and report.exec_id in self._fills
        return Outcome("commission", None, src, src, None, False, report.exec_id if known else None)

    # -- conditions and callbacks named in ORDER_TRANSITIONS --------------------------------------

    def within_quantity(self) -> bool:
        """The staged fill keeps cumulative filled quantity within the order quantity."""
        return self._staged is not None and self._staged[2] <= self.base.quantity

    def completes_order(self) -> bool:
        """The staged fill brings cumulative filled quantity to the order quantity."""
        return self._staged is not None and self._staged[2] == self.base.quantity

    def is_correction(self) -> bool:
        """The staged fill replaces an earlier execution."""
        return self._staged is not None and self._staged[1] is not None

    def was_partial(self) -> bool:
        """The order was partly filled when the cancel was requested (or while pending)."""
        return self.pre_cancel == PARTIAL

    def was_submitted(self) -> bool:
        """The order was acknowledged and unfilled when the cancel was requested."""
        return self.pre_cancel == SUBMITTED

    def was_pending(self) -> bool:
        """The cancel was requested before the order was acknowledged."""
        return self.pre_cancel == PENDING

    def apply_fill(self) -> None:
        """Commit the staged fill: add it, or replace the execution it corrects."""
        assert self._staged is not None  # only fill edges call this, after staging
        report, replaced, prospective = self._staged
        fills = self._fills
        if fills is None:
            fills = self._fills = {}
        if replaced is not None:
            del fills[replaced]
        fills[report.exec_id] = report
        self.filled = prospective
        self._dirty = True

    def remember_pre_cancel(self) -> None:
        """Remember where a refused cancel returns to (runs before entering PENDING_CANCEL)."""
        self.pre_cancel = self.state

    def forget_pre_cancel(self) -> None:
        """The cancel was refused and the order is back where it was."""
        self.pre_cancel = None

    def note_acknowledged(self) -> None:
        """Acknowledged while a cancel is pending: a refusal returns to SUBMITTED, not PENDING."""
        if self.pre_cancel == PENDING:
            self.pre_cancel = SUBMITTED

    def note_partial(self) -> None:
        """Partly filled while a cancel is pending: a refusal returns to PARTIAL."""
        self.pre_cancel = PARTIAL


def replay_orders(entries: Iterable[dict[str, Any]]) -> dict[str, Order]:
    """Rebuild every order in ``entries`` (any mix of orders), keyed by client_order_id."""
    by_order: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        coid = entry.get("client_order_id")
        if coid is None:
            continue
        if entry.get("kind") == "submitted":
            by_order[coid] = [entry]  # a resubmission under the same id starts over
        elif coid in by_order:
            by_order[coid].append(entry)
    return {coid: OrderLedger.from_entries(es).order() for coid, es in by_order.items()}


def entries_of(entries: Iterable[dict[str, Any]], client_order_id: str) -> Iterator[dict[str, Any]]:
    """The entries of one order, in journal order."""
    return (e for e in entries if e.get("client_order_id") == client_order_id)
