"""After a sync: settle the commands a dying socket swallowed.

A command written into a socket that is already dying leaves no error and no answer: ib_async has
not yet noticed the loss, so the bytes go nowhere. The sync that follows the reconnect is the
evidence of what IB really has, and these rules act on it before the order actors resume.
"""

from __future__ import annotations

from ibkr_exec.actors.messages import PlaceOrder, Reassign
from ibkr_exec.actors.order import OrderActor
from ibkr_exec.actors.routing import Routes
from ibkr_exec.audit import AuditLogger
from ibkr_exec.broker.port import BrokerLink
from ibkr_exec.models import OrderStatus

__all__ = ["settle_lost_commands"]


def settle_lost_commands(
    actors: list[OrderActor], routes: Routes, link: BrokerLink, journal: AuditLogger
) -> None:
    """Re-send lost cancels and place again lost placements (see the two rules below)."""
    resend_lost_cancels(actors, routes, link, journal)
    replace_lost_placements(actors, routes, link, journal)


def resend_lost_cancels(
    actors: list[OrderActor], routes: Routes, link: BrokerLink, journal: AuditLogger
) -> None:
    """An order PENDING_CANCEL here that IB never said PendingCancel or Cancelled about: its
    cancel never arrived. Send it again rather than leave the order pending forever."""
    for actor in actors:
        order = actor.order
        if order.status is not OrderStatus.PENDING_CANCEL:
            continue
        if actor.client_order_id in routes.cancel_evidence:
            continue
        journal.record(
            "command",
            actor=actor.name,
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            src=order.status.value,
            dst=order.status.value,
            trigger="cancel_order",
            payload={"note": "re-sent after reconnect: the sync showed no cancel at IB"},
        )
        link.cancel_order(order)


def replace_lost_placements(
    actors: list[OrderActor], routes: Routes, link: BrokerLink, journal: AuditLogger
) -> None:
    """An order still PENDING, with nothing in its stash, that a *complete* sync (open orders,
    completed orders and executions all answered) did not mention never reached IB: place it
    again under a fresh order id with the same orderRef. The old id cannot be reused: once newer
    ids were used IB answers it with 103 (duplicate order id) and the order would never trade.
    After an incomplete sync nothing is certain: journal it and leave it to the next sync."""
    complete = link.sync_complete()
    for actor in actors:
        order = actor.order
        if order.status is not OrderStatus.PENDING or actor.stash_size:
            continue
        if actor.client_order_id in routes.heard:
            continue
        if not complete:
            journal.log_anomaly(
                "order unknown to IB after an incomplete sync: not placed again",
                actor=actor.name,
                order_id=order.order_id,
                client_order_id=order.client_order_id,
            )
            continue
        fresh = str(link.next_order_id())
        routes.alias(actor, fresh)
        actor.tell(Reassign(fresh))
        actor.tell(PlaceOrder())
