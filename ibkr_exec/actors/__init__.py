"""The asyncio actor core and the order actor (see ``runtime`` and ``order``)."""

from ibkr_exec.actors.ledger import OrderLedger, Outcome
from ibkr_exec.actors.messages import GetOrder, PlaceOrder, RequestCancel
from ibkr_exec.actors.order import OrderActor, Subscriber
from ibkr_exec.actors.runtime import Actor, Restart, RestartPolicy

__all__ = [
    "Actor",
    "GetOrder",
    "OrderActor",
    "OrderLedger",
    "Outcome",
    "PlaceOrder",
    "RequestCancel",
    "Restart",
    "RestartPolicy",
    "Subscriber",
]
