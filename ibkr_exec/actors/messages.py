"""The commands an :class:`~ibkr_exec.actors.order.OrderActor` accepts, besides broker reports.

Broker reports (``ibkr_exec.broker.port``) are messages too: tell them to the order's actor as they
are. Commands are the executor's side: place the order, cancel it, or read it back in order.
"""

from __future__ import annotations

import attrs

from ibkr_exec.audit import register_payload_type


@register_payload_type
@attrs.frozen
class PlaceOrder:
    """Send the actor's order to the broker (``Broker.place_order``). Answers the Order snapshot."""


@register_payload_type
@attrs.frozen
class RequestCancel:
    """Ask the broker to cancel the order. Stashed while the actor is paused.

    On resume a stashed cancel is re-checked: if the order reached a terminal state meanwhile it is
    dropped with an audit entry instead of being sent. Answers the Order snapshot.
    """

    reason: str = ""


@register_payload_type
@attrs.frozen
class Reassign:
    """Give the order a fresh order id before it is placed again (same orderRef).

    A placement IB never saw is re-sent under a new id: once newer ids were used, IB answers an
    old one with 103 (duplicate order id) and the order would never trade. Journaled (kind
    "reassigned") and replayed, so a restart knows the id IB has.
    """

    order_id: str


@register_payload_type
@attrs.frozen
class GetOrder:
    """Answers the Order snapshot once every message sent before it has been processed."""


#: The commands that wait in the stash while the actor is paused (outbound to the broker).
#: Reassign waits with them: it must stay ahead of the PlaceOrder it precedes.
STASHED_WHILE_PAUSED: tuple[type, ...] = (PlaceOrder, RequestCancel, Reassign)
