"""Handler protocols: how an application hears about orders and the broker link.

Subclass either protocol and override what you need; every method has a no-op default. A method
may be a plain function or a coroutine function (the executor runs coroutines as tracked tasks
and awaits them on stop). An exception raised by a handler never reaches the actors: it is logged
through loguru at ERROR with its traceback (your sinks decide where that goes) and journaled as an
anomaly with the traceback.

The signatures are those of the original design; the extra facts are on the objects passed:
a Fill names its order (``fill.order_id``, ``fill.client_order_id``), a rejected Order carries
IB's error code (``order.reason_code``), and the connection manager keeps the reason of the
last disconnect (``IBKRConnectionManager.last_disconnect_reason``).

>>> class PrintFills(OrderEventHandler):
...     def on_fill(self, fill: Fill) -> None:
...         print(fill.client_order_id, fill.quantity, "@", fill.price)
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Protocol, runtime_checkable

from ibkr_exec.errors import JournalError
from ibkr_exec.models import Fill, Order


@runtime_checkable
class OrderEventHandler(Protocol):
    """Order events, once per real change, in the order they happened for each order."""

    def on_order_status(self, order: Order) -> Awaitable[None] | None:
        """The order's status or filled quantity changed; ``order`` is the new snapshot."""
        return None

    def on_fill(self, fill: Fill) -> Awaitable[None] | None:
        """A new execution (or a correction replacing one) was applied to its order.

        ``fill.order_id`` and ``fill.client_order_id`` name the order; the order's new snapshot
        follows in ``on_order_status`` (or ``executor.get_order_status(fill.client_order_id)``).
        Called once per execution, with ``fill.commission`` set when IB reports it within
        0.25 s (it normally follows at once); a later commission reaches ``get_fills`` only.
        """
        return None

    def on_order_rejected(self, order: Order, reason: str) -> Awaitable[None] | None:
        """The broker rejected ``order``: ``reason`` is IB's text, ``order.reason_code`` IB's
        error code."""
        return None


@runtime_checkable
class ConnectionEventHandler(Protocol):
    """Broker link events."""

    def on_connected(self) -> Awaitable[None] | None:
        """The link is up *and reconciled*: orders can be sent."""
        return None

    def on_disconnected(self) -> Awaitable[None] | None:
        """The link was lost (socket closed or IB error 1100); order actors are paused.

        Why: ``IBKRConnectionManager.last_disconnect_reason``.
        """
        return None

    def on_connection_failed(self, reason: str) -> Awaitable[None] | None:
        """Reconnecting gave up after IBKR_RECONNECT_MAX_ATTEMPTS attempts."""
        return None

    def on_journal_failed(self, error: JournalError) -> Awaitable[None] | None:
        """The audit journal cannot be written (no space, file-size limit, permissions).

        Called once. From then on no order is placed (``submit_order`` raises ``error``'s kind,
        JournalError): restart on a writable journal. See docs/journal.md.
        """
        return None
