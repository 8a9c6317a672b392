"""ConnectionActor: owns the broker link and supervises the order actors.

It runs the connection table (``statemachines.connection``): on socket loss or IB error 1100 it
pauses every order actor (their outbound commands wait in their stashes); it reconnects with
exponential backoff and jitter, never two attempts at once and only after the old socket closed;
every (re)connect and every 1101 passes through SYNCING, where the broker's open orders, completed
orders and executions are routed to the order actors (by orderRef, then permId, then orderId) and
applied, fills deduplicated by execId. Only then are the order actors resumed, and their stashed
commands re-checked and replayed. "Connected" is not "reconciled".

The link is behind ``broker.port.BrokerLink``: this module never sees ib_async.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
from loguru import logger

from ibkr_exec.actors.messages import GetOrder, PlaceOrder, Reassign, RequestCancel
from ibkr_exec.actors.notify import Notifier
from ibkr_exec.actors.order import OrderActor
from ibkr_exec.actors.reconcile import settle_lost_commands
from ibkr_exec.actors.retirement import Retirement
from ibkr_exec.actors.routing import Routes
from ibkr_exec.actors.runtime import Actor, RestartPolicy
from ibkr_exec.audit import AuditLogger, encode
from ibkr_exec.broker.port import (
    BrokerAnomaly,
    BrokerLink,
    BrokerNotice,
    ConnectivityLost,
    ConnectivityRestored,
    LinkLost,
    OrderDiscovered,
    Sink,
)
from ibkr_exec.errors import NotConnectedError
from ibkr_exec.models import Order
from ibkr_exec.statemachines.actor import STOPPED
from ibkr_exec.statemachines.connection import (
    CLOSED,
    CONNECTING,
    DEGRADED,
    DISCONNECTED,
    FAILED,
    READY,
    RECONNECTING,
    SYNCING,
    connection_machine,
)
from ibkr_exec.statemachines.shared import MachineError

__all__ = ["ConnectionActor", "LinkSettings"]

_MACHINE = connection_machine()
_CONNECT_ERRORS = (OSError, TimeoutError, ConnectionError)


@attrs.frozen
class LinkSettings:
    """Where to connect and how hard to try to stay connected."""

    host: str
    port: int
    client_id: int
    readonly: bool = False
    timeout: float = 10.0
    reconnect_max_attempts: int = 10
    reconnect_backoff: float = 1.0
    reconnect_backoff_cap: float = 60.0
    jitter: float = 0.25

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Seconds before reconnect attempt ``attempt`` (0-based): doubling, capped, jittered."""
        base = min(self.reconnect_backoff_cap, self.reconnect_backoff * 2**attempt)
        return float(base * (1.0 + self.jitter * rng.random()))


# -- the connection actor's own messages -----------------------------------------------------------


@attrs.frozen
class _Linked:
    """The link's connect, with its sync, completed: every sync report is already queued."""


@attrs.frozen
class _Resynced:
    """A resync after 1101 completed: every report it produced is already queued."""


@attrs.frozen
class _AttemptFailed:
    attempt: int
    reason: str


@attrs.frozen
class _GiveUp:
    reason: str


@attrs.frozen
class _LinkWorkFailed:
    """The reconnect or resync task died of an exception: the link's state is unknown."""

    reason: str
    task: asyncio.Task[None]


#: What stop() reports for each stashed command that never left (see ConnectionActor.unsent).
_COMMAND_NAMES = {RequestCancel: "cancel", PlaceOrder: "place", Reassign: "reassign"}


@attrs.frozen
class _Barrier:
    """Answered once every message queued before it has been handled (see ``applied``)."""


class ConnectionActor(Actor):
    """The broker link's actor and the order actors' supervisor.

    ``link_factory`` builds the link given the sink it must report to (the adapter, or a test
    double). Connection events go to ``handlers`` (ConnectionEventHandler-like objects).
    """

    restart_policy = RestartPolicy(max_restarts=10, within_seconds=60.0)

    def __init__(
        self,
        settings: LinkSettings,
        *,
        link_factory: Callable[[Sink], BrokerLink],
        journal: AuditLogger,
        notifier: Notifier | None = None,
        name: str = "connection",
        order_retention: float | None = None,
    ) -> None:
        """Create the actor (not started, not connected)."""
        super().__init__(name)
        self.state: str = DISCONNECTED
        self.settings = settings
        self.journal = journal
        self.handlers: list[object] = []
        self._notifier = notifier or Notifier(journal)
        self._link = link_factory(self._hear)
        self._routes = Routes()
        #: Finished order actors retired after ``order_retention`` seconds (actors/retirement.py).
        self.retired = Retirement(self._routes, journal, order_retention)
        #: Offered every order the broker reports that no actor manages (OrderDiscovered); it
        #: returns the actor it created for it (routed from then on) or None. Set by the executor.
        self.discover: Callable[[Order], OrderActor | None] | None = None
        #: Rebuilds a retired order's actor from the journal when the broker reports on it again
        #: (a late fill, a correction); None when it cannot. Set by the executor.
        self.revive: Callable[[str], OrderActor | None] | None = None
        self._link_task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._rng = random.Random()
        self._last_error = ""
        #: The commands still stashed when the connection closed, as (Order, command name).
        self.unsent: list[tuple[Any, str]] = []
        #: Why the link was last lost ("" before any loss); handlers' on_disconnected reads it.
        self.last_disconnect_reason = ""

    # -- public API (called by the executor) -----------------------------------------------------

    @property
    def link(self) -> BrokerLink:
        """The broker link (order actors send their commands through it)."""
        return self._link

    @property
    def orders(self) -> dict[str, OrderActor]:
        """The order actors by client_order_id (a copy)."""
        return self._routes.by_client_order_id()

    def order_actor(self, key: str) -> OrderActor | None:
        """The order actor for a client_order_id or an order_id, if known."""
        return self._routes.get(key)

    async def connect(self) -> None:
        """Connect and reconcile; returns once READY. Raises NotConnectedError on failure."""
        if self.state == READY:
            return
        if self.state in (DISCONNECTED, FAILED):
            self._routes.heard.clear()
            self._transition("connect")
            try:
                await self._link.connect(
                    self.settings.host,
                    self.settings.port,
                    self.settings.client_id,
                    timeout=self.settings.timeout,
                    readonly=self.settings.readonly,
                )
            except _CONNECT_ERRORS as error:
                self._transition("connect_failed", reason=repr(error))
                raise NotConnectedError(
                    f"could not connect to {self.settings.host}:{self.settings.port} as client "
                    f"id {self.settings.client_id}: {error!r}"
                ) from error
            self.tell(_Linked())
        await self.wait_ready(self.settings.timeout)

    async def wait_ready(self, timeout: float) -> None:
        """Return once READY; NotConnectedError when the link is down for good or ``timeout``
        passes first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        # READY with a dead socket is the instant before the loss is processed: wait it out.
        while self.state != READY or not self._link.is_connected():
            if self.state in (DISCONNECTED, FAILED, CLOSED):
                detail = f": {self._last_error}" if self._last_error else ""
                raise NotConnectedError(f"not connected (connection {self.state}){detail}")
            changed = self._changed
            remaining = deadline - loop.time()
            try:
                if remaining <= 0:
                    raise TimeoutError
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                raise NotConnectedError(
                    f"connection not READY within {timeout} s (state {self.state})"
                ) from None

    async def applied(self, timeout: float) -> None:
        """Return once every report told to this actor before the call has been routed and
        applied by its order actor (a barrier through both mailboxes)."""
        await self.ask(_Barrier(), timeout=timeout)
        actors = [a for a in self._routes.actors() if a.mode != STOPPED]
        answers = await asyncio.gather(
            *(a.ask(GetOrder(), timeout=timeout) for a in actors), return_exceptions=True
        )
        # An actor that stopped meanwhile has nothing left to apply; one that is too slow has.
        for answer in answers:
            if isinstance(answer, TimeoutError):
                raise answer

    async def close(self) -> None:
        """Disconnect for good and stop every order actor. Idempotent."""
        if self.state != CLOSED:
            was_up = self.state in (SYNCING, READY, DEGRADED)
            self._abandon_stashes()
            self._transition("close")
            if was_up:
                self._disconnected("closed")
        await self.stop()

    def _abandon_stashes(self) -> None:
        # Commands that waited for a reconnect that never came: the caller asked for them and
        # they were never sent. Journal each as an anomaly, warn, and keep them for stop().
        for actor in self._routes.actors():
            for message in actor.stashed():
                command = _COMMAND_NAMES.get(type(message), type(message).__name__)
                if command == "reassign":
                    continue  # part of a placement: the PlaceOrder after it is reported
                order = actor.order
                note = f"{command} stashed while the link was down was never sent"
                self.journal.log_anomaly(
                    note,
                    actor=actor.name,
                    order_id=order.order_id,
                    client_order_id=order.client_order_id,
                    payload=encode(message),
                )
                logger.warning("ibkr-exec: order {}: {}", order.client_order_id, note)
                self.unsent.append((order, command))

    def adopt(self, actor: OrderActor) -> None:
        """Route reports to ``actor`` from now on (a new order, or one recovered from the
        journal). It is paused unless the link is READY: it waits for the sync."""
        self._routes.add(actor)
        self.retired.watch(actor)
        if actor.order.order_id is not None:
            self._link.note_order_id(int(actor.order.order_id))
        if self.state != READY:
            self._change_mode(actor, "pause")

    # -- Actor hooks -----------------------------------------------------------------------------

    def receive(self, message: Any) -> Any:
        """Route broker reports; drive the connection machine on link events."""
        kind = type(message)
        handler = _HANDLERS.get(kind)
        if handler is not None:
            return handler(self, message)
        return self._route(message)

    def on_failure(self, error: BaseException, message: Any) -> None:
        """Journal the failure; supervision restarts the actor (its routing tables survive)."""
        self.journal.log_anomaly(
            f"connection actor failed on {type(message).__name__}: {error!r}", actor=self.name
        )

    async def on_stop(self) -> None:
        """Stop reconnecting and close the socket."""
        task = self._link_task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            await self._link.disconnect()
        await self._notifier.drain()
        await self.retired.close()
        self.journal.flush()

    # -- link events ------------------------------------------------------------------------------

    def _hear(self, item: Any) -> None:
        # Called from the link's socket callback: only enqueue.
        if self.mode != STOPPED:
            self.tell(item)

    def _link_lost(self, event: LinkLost) -> None:
        if self.state not in (SYNCING, READY, DEGRADED):
            self._journal_event("link_lost_ignored", {"reason": event.reason})
            return
        was_up = self.state != DEGRADED
        self._transition("socket_lost", reason=event.reason)
        self._pause_orders()
        if was_up:
            self._disconnected(event.reason or "socket closed")
        self._start_link_task(self._reconnect)

    def _connectivity_lost(self, event: ConnectivityLost) -> None:
        if self.state != READY:
            self._journal_event("1100", {"message": event.message, "note": f"in {self.state}"})
            return
        self._transition("connectivity_lost", reason=event.message)
        self._pause_orders()
        self._disconnected(f"IB 1100: {event.message}")

    def _connectivity_restored(self, event: ConnectivityRestored) -> None:
        if event.data_kept and self.state == DEGRADED:
            self._transition("restored_data_kept", reason=event.message)
            self._resume_orders()
            self.notify_handlers("on_connected")
        elif not event.data_kept and self.state in (DEGRADED, READY):
            if self.state == READY:
                self._pause_orders()
            self._transition("restored_data_lost", reason=event.message)
            self._start_link_task(self._resync)
        else:
            code = 1102 if event.data_kept else 1101
            self._journal_event(str(code), {"message": event.message, "note": f"in {self.state}"})

    def _notice(self, event: BrokerNotice) -> None:
        self._journal_event("notice", {"code": event.code, "message": event.message})

    async def _linked(self, message: _Linked | _Resynced) -> None:
        if type(message) is _Resynced and self.state != SYNCING:
            return  # a resync overtaken by a socket loss: the reconnect syncs afresh
        if self.state in (CONNECTING, RECONNECTING):
            self._transition("connected")
        if self.state != SYNCING:
            return
        # Every sync report was routed before this message; wait until each order actor has
        # applied its share, so stashed commands are re-checked against reconciled state.
        actors = [a for a in self._routes.actors() if a.mode != STOPPED]
        await asyncio.gather(
            *(a.ask(GetOrder(), timeout=self.settings.timeout) for a in actors),
            return_exceptions=True,
        )
        self._transition("synced", orders=len(actors))
        settle_lost_commands(actors, self._routes, self._link, self.journal)
        self._resume_orders()
        self.notify_handlers("on_connected")

    def _attempt_failed(self, message: _AttemptFailed) -> None:
        self._last_error = message.reason
        self._transition("retry", attempt=message.attempt, reason=message.reason)

    def _give_up(self, message: _GiveUp) -> None:
        self._last_error = message.reason
        self._transition("give_up", reason=message.reason)
        self.notify_handlers("on_connection_failed", message.reason)

    # -- background work (one at a time) -----------------------------------------------------------

    def _start_link_task(self, work: Callable[[], Awaitable[None]]) -> None:
        # Never two reconnects (or resyncs) at once, and never a new one discarded: the old task
        # answers a link that is gone (a resync cut by a socket drop), so it is cancelled and the
        # new work starts once it has finished. Its outcome is always retrieved (_link_work_done).
        previous = self._link_task
        self._routes.heard.clear()
        task = asyncio.get_running_loop().create_task(self._after(previous, work))
        task.add_done_callback(self._link_work_done)
        self._link_task = task

    @staticmethod
    async def _after(
        previous: asyncio.Task[None] | None, work: Callable[[], Awaitable[None]]
    ) -> None:
        if previous is not None and not previous.done():
            previous.cancel()
            await asyncio.wait([previous])
        await work()

    def _link_work_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            self._hear(_LinkWorkFailed(repr(error), task))

    def _link_work_failed(self, message: _LinkWorkFailed) -> None:
        # Every path out of SYNCING leads to a reconnect or to FAILED: a sync that died (the
        # socket dropped under it, or its answers never came) is treated as a lost link, and
        # the reconnect that follows syncs afresh.
        if message.task is not self._link_task:
            # A resync cut by a socket loss: the reconnect that superseded it syncs afresh.
            self._journal_event("link_task_superseded", {"reason": message.reason})
            return
        self.journal.log_anomaly(f"link task failed: {message.reason}", actor=self.name)
        self._last_error = message.reason
        if self.state in (SYNCING, READY, DEGRADED):
            self._link_lost(LinkLost(f"sync failed: {message.reason}"))
        elif self.state == RECONNECTING:
            self._give_up(_GiveUp(f"reconnect failed: {message.reason}"))

    async def _reconnect(self) -> None:
        settings = self.settings
        reason = "no reconnect attempts configured"
        for attempt in range(settings.reconnect_max_attempts):
            await asyncio.sleep(settings.backoff(attempt, self._rng))
            if self.state != RECONNECTING:
                return
            try:
                await self._link.disconnect()  # the old socket is closed before the id is reused
                await self._link.connect(
                    settings.host,
                    settings.port,
                    settings.client_id,
                    timeout=settings.timeout,
                    readonly=settings.readonly,
                )
            except _CONNECT_ERRORS as error:
                reason = repr(error)
                self._hear(_AttemptFailed(attempt + 1, reason))
                continue
            self._hear(_Linked())
            return
        self._hear(_GiveUp(f"gave up after {settings.reconnect_max_attempts} attempts: {reason}"))

    async def _resync(self) -> None:
        await self._link.resync(self.settings.timeout)
        if not self._link.sync_complete():
            raise ConnectionError("the resync after 1101 did not get every answer")
        self._hear(_Resynced())

    # -- routing ----------------------------------------------------------------------------------

    def _route(self, report: Any) -> None:
        if type(report) is BrokerAnomaly:
            self.journal.log_anomaly(
                report.description,
                actor=self.name,
                order_id=report.order_id,
                payload={"raw": report.raw},
            )
            return
        routes = self._routes
        deliveries = routes.route(report)
        if deliveries is None and self._revive_retired(report):
            deliveries = routes.route(report)
        if deliveries is None:
            self._unrouted(report)
            return
        if routes.conflicts:
            self._perm_conflicts()
        for actor, message in deliveries:
            if actor.mode == STOPPED:
                self._unrouted(message)
            else:
                actor.tell(message)

    def _perm_conflicts(self) -> None:
        conflicts, self._routes.conflicts = self._routes.conflicts, []
        for actor, report in conflicts:
            order = actor.order
            self.journal.record(
                "perm_id_conflict",
                actor=self.name,
                order_id=getattr(report, "order_id", None),
                client_order_id=actor.client_order_id,
                payload={
                    **encode(report),
                    "note": f"orderRef {actor.client_order_id!r} is order permId "
                    f"{order.perm_id} here; a report of permId {report.perm_id} is not merged",
                },
            )
            logger.warning(
                "ibkr-exec: a second IB order (permId {}) carries orderRef {!r}: not merged",
                report.perm_id,
                actor.client_order_id,
            )

    def _revive_retired(self, report: Any) -> bool:
        cid = self.retired.owner(report)
        if cid is None or self.revive is None or cid in self.children:
            return False  # not retired here, nothing can rebuild it, or it is still stopping
        actor = self.revive(cid)
        if actor is None:
            return False
        self.retired.forget(cid)
        self.journal.record(
            "revived",
            actor=self.name,
            order_id=actor.order.order_id,
            client_order_id=cid,
            payload={
                "note": f"retired order rebuilt from the journal for a {type(report).__name__}"
            },
        )
        self.adopt(actor)
        actor.start()
        return True

    def _discovered(self, report: OrderDiscovered) -> None:
        order = report.order
        if self.discover is None or self._routes.get(order.client_order_id) is not None:
            return
        if self.retired.get(order.client_order_id) is not None:
            return  # finished and retired here: the broker's sync still lists it, nothing to adopt
        actor = self.discover(order)
        if actor is not None:
            self.adopt(actor)
            actor.start()

    def _unrouted(self, report: Any) -> None:
        payload = encode(report)
        retired = self.retired.owner(report)
        if retired is not None:
            # Its actor was retired after the retention: say so, under the order's own id.
            payload["note"] = "order retired after its retention: recorded, not applied"
            logger.warning(
                "ibkr-exec: {} for order {} arrived after it was retired: journaled, not applied",
                type(report).__name__,
                retired,
            )
        self.journal.record(
            "unrouted",
            actor=self.name,
            order_id=getattr(report, "order_id", None),
            client_order_id=retired,
            payload=payload,
        )

    # -- helpers ----------------------------------------------------------------------------------

    def _pause_orders(self) -> None:
        for actor in self._routes.actors():
            self._change_mode(actor, "pause")

    def _resume_orders(self) -> None:
        for actor in self._routes.actors():
            self._change_mode(actor, "resume")

    def _change_mode(self, actor: OrderActor, trigger: str) -> None:
        # The actor mode machine's transitions are journaled like every other machine's, so a
        # trace shows when this order was paused and resumed.
        src = actor.mode
        if src == STOPPED:
            return
        if trigger == "pause":
            actor.pause()
        else:
            actor.resume()
        if actor.mode != src:
            order = actor.order
            self.journal.record(
                "mode",
                actor=actor.name,
                order_id=order.order_id,
                client_order_id=order.client_order_id,
                src=src,
                dst=actor.mode,
                trigger=trigger,
            )

    def _transition(self, trigger: str, **payload: Any) -> None:
        src = self.state
        try:
            _MACHINE.fire(self, trigger)
        except MachineError:
            self.journal.log_anomaly(
                f"unexpected connection event {trigger} in {src}: ignored", actor=self.name
            )
            return
        self.journal.connection_changed(trigger, src=src, dst=self.state, payload=payload)
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _journal_event(self, event: str, payload: dict[str, Any]) -> None:
        self.journal.connection_changed(event, src=self.state, dst=self.state, payload=payload)

    def _disconnected(self, reason: str) -> None:
        self.last_disconnect_reason = reason
        self.notify_handlers("on_disconnected")

    def notify_handlers(self, method: str, *args: Any) -> None:
        """Call ``method(*args)`` on every connection handler, as this actor does for its own
        events (a handler that raises is logged and journaled, never propagated)."""
        for handler in list(self.handlers):
            self._notifier.call(handler, method, *args, actor=self.name)


_HANDLERS: dict[type, Callable[[ConnectionActor, Any], Any]] = {
    OrderDiscovered: ConnectionActor._discovered,
    LinkLost: ConnectionActor._link_lost,
    ConnectivityLost: ConnectionActor._connectivity_lost,
    ConnectivityRestored: ConnectionActor._connectivity_restored,
    BrokerNotice: ConnectionActor._notice,
    _Linked: ConnectionActor._linked,
    _Resynced: ConnectionActor._linked,
    _AttemptFailed: ConnectionActor._attempt_failed,
    _GiveUp: ConnectionActor._give_up,
    _LinkWorkFailed: ConnectionActor._link_work_failed,
    _Barrier: lambda actor, _: None,
}
