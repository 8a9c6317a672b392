"""The exception hierarchy.

Every exception the library raises on purpose derives from :class:`IBKRExecError`, so a caller can
catch the library's failures in one clause. Where a standard exception already means the same thing
(a lost connection, a timeout), ours also derives from it, so generic handlers keep working.
"""

from __future__ import annotations


class IBKRExecError(Exception):
    """Base class of every error raised by ibkr-exec."""


class RiskCheckError(IBKRExecError):
    """The risk check callback refused an order; nothing was sent to the broker."""


class OrderRejectedError(IBKRExecError):
    """The broker rejected an order.

    ``code`` is IB's error code (for example 201) and ``reason`` IB's message text.
    """

    def __init__(self, code: int | None, reason: str, client_order_id: str | None = None) -> None:
        self.code = code
        self.reason = reason
        self.client_order_id = client_order_id
        who = f" (client_order_id={client_order_id!r})" if client_order_id else ""
        super().__init__(f"order rejected by IB{who}: code {code}: {reason}")


class NotConnectedError(IBKRExecError, ConnectionError):
    """The broker link was not ready within the allowed time."""


class AckTimeoutError(IBKRExecError, TimeoutError):
    """The broker did not acknowledge an order in time.

    The order stays tracked: reconciliation with the broker settles whether it is live.
    """


class ReadOnlyError(IBKRExecError):
    """An order operation was attempted on a connection configured read-only."""


class DuplicateOrderError(IBKRExecError):
    """A ``client_order_id`` was submitted that is already live or done."""


class LiveTradingNotAllowedError(IBKRExecError):
    """A live-trading port was used without ``IBKR_ALLOW_LIVE=true``."""


class StashFullError(IBKRExecError):
    """A paused actor's stash is full; the command was refused, not queued."""


class UnknownOrderError(IBKRExecError, KeyError):
    """No order has this id (neither a client_order_id nor IB's order id).

    Also a KeyError, so ``except KeyError`` keeps working. ``key`` is the id that was asked for.
    """

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(key)

    def __str__(self) -> str:
        # KeyError's str() is the repr of its argument; say what was wrong instead.
        return f"unknown order {self.key!r} (neither a client_order_id nor an order_id)"


class ActorStoppedError(IBKRExecError):
    """A message was sent to an actor that has stopped."""


class AskTimeoutError(IBKRExecError, TimeoutError):
    """An actor did not answer an ``ask`` in time. The message may still be processed later."""


class EscalationError(IBKRExecError):
    """A child actor failed more often than its restart intensity allows; its parent fails.

    ``child`` is the failing child's name and ``__cause__`` its last failure.
    """

    def __init__(self, child: str, restarts: int, within_seconds: float) -> None:
        self.child = child
        super().__init__(
            f"actor {child!r} failed more than {restarts} times within {within_seconds} s: "
            "escalated to its parent"
        )


class JournalError(IBKRExecError):
    """The audit journal cannot be written (no space, file-size limit, permissions) or read.

    The journal fails closed: once a write has failed, no placement is sent (its write-ahead
    entry could not be stored) until a new executor is started on a writable journal.
    """
