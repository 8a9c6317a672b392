"""IBKRConnectionManager: the broker link behind the executor (connect, stay connected).

It owns the connection actor (``actors.connection``) and builds the ib_async adapter it drives;
``executor.IBKROrderExecutor`` puts orders on top of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import attrs

from ibkr_exec.actors.connection import ConnectionActor, LinkSettings
from ibkr_exec.audit import AuditLogger
from ibkr_exec.broker.port import BrokerLink, Sink
from ibkr_exec.config import Settings, check_live_allowed
from ibkr_exec.errors import JournalError, NotConnectedError
from ibkr_exec.events import ConnectionEventHandler
from ibkr_exec.statemachines.actor import STOPPED
from ibkr_exec.statemachines.connection import CLOSED, DISCONNECTED, FAILED, READY

if TYPE_CHECKING:
    from ibkr_exec.broker.ib import IBBroker

__all__ = ["IBKRConnectionManager"]


class IBKRConnectionManager:
    """The broker link: connect, disconnect, and stay connected.

    ``max_requests_per_second`` sets ib_async's client-side throttle (default 45 per second;
    0 disables it; IB's own pacing limit is 50 messages per second).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 7497,
        client_id: int = 1,
        readonly: bool = False,
        *,
        timeout_seconds: float = 10.0,
        reconnect_max_attempts: int = 10,
        reconnect_backoff_seconds: float = 1.0,
        allow_live: bool = False,
        journal_path: str | Path | None = None,
        journal_fsync: str = "terminal",
        journal_log_level: str = "TRACE",
        order_retention_seconds: float | None = 600.0,
        audit_logger: AuditLogger | None = None,
        max_requests_per_second: int | None = None,
    ) -> None:
        """Validate the settings; nothing connects until :meth:`connect`."""
        self.settings = Settings(
            host=host,
            port=port,
            client_id=client_id,
            readonly=readonly,
            timeout_seconds=timeout_seconds,
            reconnect_max_attempts=reconnect_max_attempts,
            reconnect_backoff_seconds=reconnect_backoff_seconds,
            allow_live=allow_live,
            journal_path=None if journal_path is None else Path(journal_path),
            journal_fsync=journal_fsync,
            journal_log_level=journal_log_level,
            order_retention_seconds=order_retention_seconds,
        )
        self._owns_journal = audit_logger is None
        self._journal = audit_logger
        self._handlers: list[object] = []
        self._unwatch_journal: Callable[[], None] | None = None
        self._actor: ConnectionActor | None = None
        self._broker: IBBroker | None = None
        self._max_requests: int | None = None
        self.max_requests_per_second = max_requests_per_second  # validated by the setter

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> IBKRConnectionManager:
        """A manager configured from ``settings`` (e.g. ``Settings.from_env()``).

        The constructor's keywords are Settings' field names, so every setting carries over.
        """
        values: dict[str, Any] = attrs.asdict(settings, recurse=False)
        values.update(overrides)
        return cls(**values)

    # -- properties -----------------------------------------------------------------------------

    def use_journal(self, audit_logger: AuditLogger) -> None:
        """Journal to ``audit_logger`` (the caller's: flushed, not closed, on disconnect) instead
        of the one the settings describe. Only before the first connect."""
        if self._actor is not None:
            raise ValueError("pass audit_logger before the connection manager connects")
        self._journal = audit_logger
        self._owns_journal = False

    @property
    def journal(self) -> AuditLogger:
        """The audit journal (IBKR_JOURNAL_PATH, or in memory when unset)."""
        if self._journal is None:
            settings = self.settings
            level = settings.journal_log_level
            self._journal = AuditLogger(
                settings.journal_path,
                fsync=settings.journal_fsync,
                log_level=None if level == "OFF" else level,
            )
        return self._journal

    @property
    def state(self) -> str:
        """The connection state: DISCONNECTED, CONNECTING, SYNCING, READY, DEGRADED, ..."""
        return self._actor.state if self._actor is not None else DISCONNECTED

    @property
    def last_disconnect_reason(self) -> str:
        """Why the link was last lost ("socket closed by peer", "IB 1100: ...", "closed" after
        :meth:`disconnect`); "" while it never was. Read it in ``on_disconnected``."""
        return self._actor.last_disconnect_reason if self._actor is not None else ""

    @property
    def ib(self) -> Any:
        """The underlying ib_async ``IB`` object, read-only, for diagnostics (None before
        connecting). Orders placed on it directly bypass the lifecycle and the journal."""
        return self._broker.ib if self._broker is not None else None

    @property
    def max_requests_per_second(self) -> int | None:
        """ib_async's client-side throttle; None means ib_async's default (45)."""
        return self._max_requests

    @max_requests_per_second.setter
    def max_requests_per_second(self, value: int | None) -> None:
        if value is not None and value < 0:
            raise ValueError(f"max_requests_per_second must be >= 0 (0: unthrottled), got {value}")
        self._max_requests = value
        if self._broker is not None and value is not None:
            self._broker.ib.client.MaxRequests = value

    def add_handler(self, handler: ConnectionEventHandler) -> None:
        """Receive on_connected / on_disconnected / on_connection_failed / on_journal_failed."""
        self._handlers.append(handler)

    def remove_handler(self, handler: ConnectionEventHandler) -> None:
        """Stop notifying ``handler``."""
        if handler in self._handlers:
            self._handlers.remove(handler)

    # -- lifecycle ------------------------------------------------------------------------------

    def actor(self) -> ConnectionActor:
        """The connection actor (created and started on first use, inside the running loop)."""
        if self._actor is None or self._actor.mode == STOPPED:
            settings = self.settings
            link = LinkSettings(
                host=settings.host,
                port=settings.port,
                client_id=settings.client_id,
                readonly=settings.readonly,
                timeout=settings.timeout_seconds,
                reconnect_max_attempts=settings.reconnect_max_attempts,
                reconnect_backoff=settings.reconnect_backoff_seconds,
            )
            actor = ConnectionActor(
                link,
                link_factory=self._make_link,
                journal=self.journal,
                order_retention=settings.order_retention_seconds,
            )
            actor.handlers = self._handlers  # shared list: handlers added later are seen
            actor.start()
            self._actor = actor
            self._watch_journal(actor)
        assert self._actor is not None
        return self._actor

    def _watch_journal(self, actor: ConnectionActor) -> None:
        """Tell the connection handlers (on_journal_failed) when the journal cannot be written."""
        if self._unwatch_journal is not None:
            self._unwatch_journal()

        def failed(error: JournalError) -> None:
            # Through the connection actor's notifier: coroutine handlers are awaited on stop.
            actor.notify_handlers("on_journal_failed", error)

        self._unwatch_journal = self.journal.add_failure_listener(failed)

    def _make_link(self, sink: Sink) -> BrokerLink:
        # Imported here, not at the top: ib_async pulls in numpy (~0.3 s), and ``import
        # ibkr_exec`` (``ibkr-exec --version``, the trace and diagrams commands) needs none of it.
        from ibkr_exec.broker.ib import IBBroker

        self._broker = IBBroker(sink, sink, max_requests_per_second=self._max_requests)
        return self._broker

    async def connect(self) -> None:
        """Connect and reconcile. Raises LiveTradingNotAllowedError for a live port without
        allow_live, NotConnectedError when TWS cannot be reached."""
        check_live_allowed(self.settings.port, allow_live=self.settings.allow_live)
        await self.actor().connect()

    async def disconnect(self) -> None:
        """Disconnect, stop every order actor and flush the journal. Idempotent."""
        if self._actor is not None:
            await self._actor.close()
        if self._journal is not None:
            if self._owns_journal:
                self._journal.close()
                self._journal = None
            else:
                self._journal.flush()

    def is_connected(self) -> bool:
        """True when READY: connected *and* reconciled."""
        return self.state == READY

    async def ensure_connected(self, timeout: float | None = None) -> None:
        """Return once connected and reconciled over a live link: connect if never connected
        (or after a failure), else do what :meth:`wait_reconciled` does.

        A READY state alone is not trusted: the socket may already be closed by the other end
        without the client having noticed yet, so this checks the link with a round trip.
        NotConnectedError when that does not happen within ``timeout`` (None: the settings').
        """
        if self.state in (DISCONNECTED, FAILED, CLOSED):
            await self.connect()
        await self.wait_reconciled(timeout)

    async def wait_reconciled(self, timeout: float | None = None) -> None:
        """A barrier: return once the link is READY *and* every message the broker sent before
        this call has been applied to the orders.

        It asks the broker for its time on the live socket and waits for the answer (whatever
        the broker sent before it has then arrived), then lets every order actor apply what it
        was given. If the socket turns out to be dead (dropped by the other end, not noticed
        yet), it waits for the reconnect and its reconciliation, and checks again. So after::

            fake_tws.disconnect_clients()
            await manager.wait_reconciled()

        the client has reconnected, and fills made while it was away are applied.
        Raises NotConnectedError when that is not reached within ``timeout`` seconds (None: the
        settings' ``timeout_seconds``), or when the connection is closed or gave up.
        """
        loop = asyncio.get_running_loop()
        limit = self.settings.timeout_seconds if timeout is None else timeout
        deadline = loop.time() + limit
        conn = self.actor()
        while True:
            await conn.wait_ready(max(deadline - loop.time(), 0.0))
            try:
                await conn.link.round_trip(max(deadline - loop.time(), 0.0))
                await conn.applied(max(deadline - loop.time(), 0.0))
            except ConnectionError:
                continue  # the socket was dead: wait_ready now waits for the reconnect
            except TimeoutError:
                raise NotConnectedError(
                    f"link not confirmed live and reconciled within {limit} s (state {self.state})"
                ) from None
            if conn.state == READY and conn.link.is_connected():
                return

    async def __aenter__(self) -> IBKRConnectionManager:
        """Connect on entry."""
        await self.connect()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Disconnect on exit."""
        await self.disconnect()
