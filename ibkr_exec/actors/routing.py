"""Which order actor a broker report is about.

IB identifies an order several ways, none of them always present: orderRef (our client_order_id;
survives reconnects and process restarts), permId (IB's permanent id, known once acknowledged),
orderId (per client id and session; completed orders carry 0) and, for a commission, only the
execId of its execution. Reports are routed by orderRef, then permId, then orderId; commissions by
execId, held back if they overtake their execution.
"""

from __future__ import annotations

from typing import Any

from ibkr_exec.actors.order import OrderActor
from ibkr_exec.broker.port import CancelConfirmed, CancelPending, CommissionReport, ExecutionReport

__all__ = ["Routes"]

_CANCEL_EVIDENCE = (CancelPending, CancelConfirmed)


class Routes:
    """The routing tables of one connection, and what the broker said about each order."""

    __slots__ = (
        "_by_exec",
        "_by_order_id",
        "_by_perm",
        "_by_ref",
        "_early_commissions",
        "_perm_of",
        "cancel_evidence",
        "conflicts",
        "heard",
    )

    def __init__(self) -> None:
        """Empty tables."""
        self._by_ref: dict[str, OrderActor] = {}
        self._by_perm: dict[int, OrderActor] = {}
        self._by_order_id: dict[str, OrderActor] = {}
        self._by_exec: dict[str, OrderActor] = {}
        self._early_commissions: dict[str, CommissionReport] = {}
        #: The permId each order is known by at IB (by client_order_id), once known.
        self._perm_of: dict[str, int] = {}
        #: Reports held back because they carry an orderRef of ours but another order's permId.
        self.conflicts: list[tuple[OrderActor, Any]] = []
        #: client_order_ids the broker reported anything about (cleared when a sync begins).
        self.heard: set[str] = set()
        #: client_order_ids the broker said PendingCancel / Cancelled about: it has their cancel.
        self.cancel_evidence: set[str] = set()

    def add(self, actor: OrderActor) -> None:
        """Route reports about ``actor``'s order to it, by every id it already has."""
        order = actor.order
        self._by_ref[actor.client_order_id] = actor
        if order.order_id is not None:
            self._by_order_id[order.order_id] = actor
        if order.perm_id is not None:
            self._by_perm[order.perm_id] = actor
            self._perm_of[actor.client_order_id] = order.perm_id
        for exec_id in actor.exec_ids:
            self._by_exec[exec_id] = actor

    def remove(self, actor: OrderActor) -> None:
        """Stop routing reports to ``actor`` (a retired order): every table forgets it."""
        cid = actor.client_order_id
        if self._by_ref.get(cid) is actor:
            del self._by_ref[cid]
        order = actor.order
        if order.order_id is not None and self._by_order_id.get(order.order_id) is actor:
            del self._by_order_id[order.order_id]
        if order.perm_id is not None and self._by_perm.get(order.perm_id) is actor:
            del self._by_perm[order.perm_id]
        for exec_id in actor.exec_ids:
            if self._by_exec.get(exec_id) is actor:
                del self._by_exec[exec_id]
        self.heard.discard(cid)
        self.cancel_evidence.discard(cid)

    def alias(self, actor: OrderActor, order_id: str) -> None:
        """Route reports about ``order_id`` (a fresh id ``actor``'s order is placed again under)
        to ``actor``; its earlier ids stay routed to it too."""
        self._by_order_id[order_id] = actor

    def get(self, key: str) -> OrderActor | None:
        """The actor of a client_order_id or an order_id."""
        return self._by_ref.get(key) or self._by_order_id.get(key)

    def actors(self) -> list[OrderActor]:
        """Every routed actor, in the order they were added."""
        return list(self._by_ref.values())

    def by_client_order_id(self) -> dict[str, OrderActor]:
        """The actors by client_order_id (a copy)."""
        return dict(self._by_ref)

    def route(self, report: Any) -> list[tuple[OrderActor, Any]] | None:
        """Where ``report`` goes, as (actor, message) deliveries in order; ``[]`` when it is held
        (a commission ahead of its execution, or a report of another IB order that carries one
        of our orderRefs: see :attr:`conflicts`), None when no actor is known for it."""
        if type(report) is CommissionReport:
            actor = self._by_exec.get(report.exec_id)
            if actor is None:
                self._early_commissions[report.exec_id] = report
                return []
            return [(actor, report)]
        actor = self._find(report)
        if actor is None:
            return None
        cid = actor.client_order_id
        perm_id = getattr(report, "perm_id", None)
        if perm_id:
            known = self._perm_of.setdefault(cid, perm_id)
            if known != perm_id:
                # Same orderRef, another IB order (an earlier program's, or a duplicate): never
                # merged into ours. Its commissions are held back with it.
                self.conflicts.append((actor, report))
                return []
        self.heard.add(cid)
        if type(report) in _CANCEL_EVIDENCE:
            self.cancel_evidence.add(cid)
        deliveries: list[tuple[OrderActor, Any]] = [(actor, report)]
        if type(report) is ExecutionReport:
            self._by_exec[report.exec_id] = actor
            early = self._early_commissions.pop(report.exec_id, None)
            if early is not None:
                deliveries.append((actor, early))
        return deliveries

    def _find(self, report: Any) -> OrderActor | None:
        # permId first: once known it names one IB order, whatever its orderRef says.
        perm_id = getattr(report, "perm_id", None)
        actor = self._by_perm.get(perm_id) if perm_id else None
        ref = getattr(report, "order_ref", None)
        if actor is None and ref:
            actor = self._by_ref.get(ref)
        if actor is None:
            order_id = report.order_id
            if order_id and order_id != "0":  # completed orders all carry orderId 0
                actor = self._by_order_id.get(order_id)
        if (
            actor is not None
            and perm_id
            and self._perm_of.get(actor.client_order_id)
            in (
                None,
                perm_id,
            )
        ):
            self._by_perm.setdefault(perm_id, actor)
        return actor
