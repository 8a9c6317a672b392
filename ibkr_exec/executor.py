"""The facade users call: IBKRConnectionManager (the link) and IBKROrderExecutor (the orders).

>>> async def trade() -> None:  # doctest: +SKIP
...     manager = IBKRConnectionManager.from_settings(Settings.from_env())
...     async with IBKROrderExecutor(manager) as executor:
...         order = await executor.submit_order(
...             OrderRequest("AAPL", "100", OrderType.LIMIT, Side.BUY, limit_price="150")
...         )
...         await executor.cancel_order(order.client_order_id)

Everything runs inside the caller's event loop and never blocks it. There is no global state: two
executors with different client ids in one process are independent.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from inspect import isawaitable
from types import TracebackType
from typing import Any

import attrs

from ibkr_exec.actors.commission_hold import CommissionHold
from ibkr_exec.actors.messages import PlaceOrder, RequestCancel
from ibkr_exec.actors.notify import Notifier
from ibkr_exec.actors.order import OrderActor
from ibkr_exec.audit import AuditLogger
from ibkr_exec.connection_manager import IBKRConnectionManager
from ibkr_exec.errors import (
    AckTimeoutError,
    DuplicateOrderError,
    JournalError,
    NotConnectedError,
    OrderRejectedError,
    ReadOnlyError,
    RiskCheckError,
    UnknownOrderError,
)
from ibkr_exec.events import ConnectionEventHandler, OrderEventHandler
from ibkr_exec.models import Fill, Order, OrderRequest, OrderStatus, Position
from ibkr_exec.statemachines.actor import PAUSED
from ibkr_exec.statemachines.connection import READY

__all__ = ["IBKRConnectionManager", "IBKROrderExecutor", "RiskCheck"]  # the manager re-exported

#: A risk check: return False (or raise RiskCheckError) to refuse; may be a coroutine function.
RiskCheck = Callable[[OrderRequest], bool | Awaitable[bool | None] | None]


class IBKROrderExecutor:
    """Submit, cancel and follow orders. Use ``async with`` (or :meth:`start` / :meth:`stop`).

    ``risk_check_callback(request)`` runs before anything touches TWS: return False or raise
    RiskCheckError to refuse (any other exception refuses too: the check fails closed).
    ``audit_logger`` defaults to the connection manager's journal. On start, orders found in the
    journal are rebuilt and reconciled with the broker (orders of an earlier process are found
    by their orderRef and managed again); an open order IB reports whose orderRef starts with
    ``client_order_id_prefix + "-"`` but that the journal lacks (lost or cut short) is adopted:
    managed like the others, journaled as "adopted".
    """

    def __init__(
        self,
        connection_manager: IBKRConnectionManager,
        risk_check_callback: RiskCheck | None = None,
        audit_logger: AuditLogger | None = None,
        *,
        order_handlers: Iterable[OrderEventHandler] = (),
        connection_handlers: Iterable[ConnectionEventHandler] = (),
        client_order_id_prefix: str = "ibx",
    ) -> None:
        """Wire an executor to ``connection_manager``; nothing runs until :meth:`start`."""
        if audit_logger is not None:
            connection_manager.use_journal(audit_logger)
        self.connection = connection_manager
        self._risk_check = risk_check_callback
        self._handlers: list[OrderEventHandler] = list(order_handlers)
        for handler in connection_handlers:
            connection_manager.add_handler(handler)
        self._prefix = client_order_id_prefix
        self._reserved: set[str] = set()
        self._notifier: Notifier | None = None
        # Order notifications held until a fill's commission arrives (see CommissionHold).
        self._holding: set[CommissionHold] = set()

    @property
    def journal(self) -> AuditLogger:
        """The audit journal every order of this executor writes to."""
        return self.connection.journal

    def add_order_handler(self, handler: OrderEventHandler) -> None:
        """Receive on_order_status / on_fill / on_order_rejected for every order."""
        self._handlers.append(handler)

    def remove_order_handler(self, handler: OrderEventHandler) -> None:
        """Stop notifying ``handler``."""
        if handler in self._handlers:
            self._handlers.remove(handler)

    def add_connection_handler(self, handler: ConnectionEventHandler) -> None:
        """Receive the connection manager's link events."""
        self.connection.add_handler(handler)

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Rebuild journaled orders, then connect and reconcile them with the broker.

        A start that fails (NotConnectedError...) stops what it started, so calling
        :meth:`start` again retries from scratch.
        """
        self._notifier = Notifier(self.journal)
        try:
            self._recover()
            self.connection.actor().discover = self._adopt_unjournaled
            self.connection.actor().revive = self._revive_retired
            await self.connection.connect()
        except BaseException:
            actor = self.connection._actor
            if actor is not None:
                await actor.close()  # its order actors with it: the retry recovers them again
            raise

    async def stop(self) -> list[tuple[Order, str]]:
        """Stop every actor, await handler tasks and close the link. Leaves no task behind.

        Returns the commands that were asked for while the link was down and never sent, as
        (Order, "cancel" | "place") pairs (empty after a clean run). Each is also journaled as
        an anomaly and logged (loguru, WARNING), so ``async with`` users learn of them too.
        """
        actor = self.connection._actor
        await self.connection.disconnect()
        for hold in list(self._holding):
            hold.release()  # fills still waiting for their commission are announced now
        if self._notifier is not None:
            await self._notifier.drain()
        if actor is None:
            return []
        unsent, actor.unsent = actor.unsent, []
        return unsent

    async def __aenter__(self) -> IBKROrderExecutor:
        """Start on entry."""
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop on exit."""
        await self.stop()

    def _recover(self) -> None:
        path = self.journal.path
        if path is None or not path.exists():
            return
        by_order: dict[str, list[dict[str, Any]]] = {}
        for entry in self.journal.entries():
            cid = entry.get("client_order_id")
            if cid:
                by_order.setdefault(cid, []).append(entry)
        conn = self.connection.actor()
        recovered = 0
        for cid, entries in by_order.items():
            if not any(e.get("kind") == "submitted" for e in entries):
                continue  # refused before submission (risk check): nothing to manage
            actor = OrderActor.recover(
                cid, broker=conn.link, journal=self.journal, entries=entries, parent=conn
            )
            self._watch(actor)
            conn.adopt(actor)
            actor.start()
            recovered += 1
        if recovered:
            self.journal.connection_changed(
                "recovered", payload={"orders": recovered}, actor="executor"
            )

    def _revive_retired(self, client_order_id: str) -> OrderActor | None:
        # A retired order the broker reports on again: rebuilt from the journal file (an
        # in-memory journal forgot its entries when it retired: the report stays "unrouted").
        if self.journal.path is None:
            return None
        conn = self.connection.actor()
        actor = OrderActor.recover(
            client_order_id, broker=conn.link, journal=self.journal, parent=conn
        )
        self._watch(actor)
        return actor

    def _adopt_unjournaled(self, order: Order) -> OrderActor | None:
        # An order IB reports whose orderRef carries our prefix but that the journal lacks (lost
        # or cut short before its entries reached the disk): ours, so managed, not "unrouted".
        if not order.client_order_id.startswith(f"{self._prefix}-"):
            return None
        conn = self.connection.actor()
        actor = OrderActor.create(order, broker=conn.link, journal=self.journal, parent=conn)
        self.journal.record(
            "adopted",
            actor="executor",
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            dst=order.status.value,
            payload={"note": "reported by IB with this executor's orderRef prefix; not journaled"},
        )
        self._watch(actor)
        return actor

    # -- orders ---------------------------------------------------------------------------------

    async def submit_order(self, request: OrderRequest, *, timeout: float | None = None) -> Order:
        """Send ``request`` and return the acknowledged Order.

        ``timeout`` (seconds; None: the settings' ``timeout_seconds``) bounds each wait: for
        the link to be READY, then for IB's acknowledgement.
        Raises ReadOnlyError, DuplicateOrderError, RiskCheckError (nothing sent),
        NotConnectedError (not READY within the timeout), AckTimeoutError (sent, not
        acknowledged in time: the order stays tracked and reconciliation settles it),
        OrderRejectedError (IB's code and reason) and JournalError (the journal cannot be
        written, so nothing was sent: docs/journal.md, "Fail closed").
        """
        if not isinstance(request, OrderRequest):
            raise TypeError(f"submit_order takes an OrderRequest, got {type(request).__name__}")
        conn = self.connection.actor()
        settings = self.connection.settings
        wait = settings.timeout_seconds if timeout is None else timeout
        cid = request.client_order_id or f"{self._prefix}-{uuid.uuid4().hex[:20]}"
        if settings.readonly:
            raise ReadOnlyError(f"connection is read-only: order {cid!r} not sent")
        known = conn.order_actor(cid) is not None or conn.retired.get(cid) is not None
        if cid in self._reserved or known:
            raise DuplicateOrderError(f"client_order_id {cid!r} was already submitted")
        self._check_journal(cid)
        self._reserved.add(cid)
        try:
            if self._risk_check is not None:
                await self._check_risk(request, cid)
            if conn.state != READY or not conn.link.is_connected():
                await conn.wait_ready(wait)
            try:
                order_id = conn.link.next_order_id()
            except ConnectionError as error:
                raise NotConnectedError(f"link lost while submitting {cid!r}: {error}") from error
            order = Order._pending(request, cid, datetime.now(UTC), str(order_id))
            actor = OrderActor.create(order, broker=conn.link, journal=self.journal, parent=conn)
        finally:
            self._reserved.discard(cid)
        acknowledged: asyncio.Future[Order] = asyncio.get_running_loop().create_future()

        def on_snapshot(snapshot: Order | Fill) -> None:
            if (
                type(snapshot) is Order
                and snapshot.status is not OrderStatus.PENDING
                and not acknowledged.done()
            ):
                acknowledged.set_result(snapshot)

        # Tick to wire: when READY the bytes leave from this task, before it yields (the
        # write-ahead entry is on disk first); subscriptions, routing and the actor's task
        # follow at once, before any report about the order can be read from the socket (and
        # an order refused before sending is announced at the end of this loop turn).
        placed = False
        try:
            placed = conn.state == READY and actor.place_now()
        finally:
            unsubscribe = actor.subscribe(on_snapshot)
            self._watch(actor, since=order)
            conn.adopt(actor)
            actor.start()
        if not placed:
            actor.tell(PlaceOrder())
        try:
            result = await asyncio.wait_for(acknowledged, wait)
        except TimeoutError:
            raise AckTimeoutError(
                f"order {cid!r} (id {order_id}) not acknowledged within "
                f"{wait} s; it stays tracked and reconciliation settles it"
            ) from None
        finally:
            unsubscribe()
        if result.status is OrderStatus.REJECTED and result.reason_code is None:
            self._check_journal(cid)  # refused before sending: the write-ahead failed
        if result.status is OrderStatus.REJECTED:
            raise OrderRejectedError(result.reason_code, result.reason or "rejected", cid)
        return result

    async def cancel_order(self, key: str, *, timeout: float | None = None) -> Order:
        """Ask the broker to cancel the order ``key`` (client_order_id or order_id).

        Returns the order as it is once the request is recorded (PENDING_CANCEL, or its terminal
        state if it was already done). While the link is down the request is stashed and sent
        after reconciliation; StashFullError when too many commands already wait.
        UnknownOrderError for an unknown ``key``; AskTimeoutError (a TimeoutError) when the
        order's actor has not recorded the request within ``timeout`` seconds (None: the
        settings' ``timeout_seconds``): it may still do so later.
        """
        if self.connection.settings.readonly:
            raise ReadOnlyError(f"connection is read-only: cancel of {key!r} not sent")
        retired = self.connection.actor().retired.get(key)
        if retired is not None:
            return retired.order  # finished and retired: nothing to cancel
        actor = self._actor(key)
        if actor.mode == PAUSED:
            actor.tell(RequestCancel("requested while paused"))
            return actor.order
        wait = self.connection.settings.timeout_seconds if timeout is None else timeout
        order: Order = await actor.ask(RequestCancel(), timeout=wait)
        return order

    async def get_order_status(self, key: str) -> Order | None:
        """The current Order for a client_order_id or order_id, or None when no order has that
        id (a query, unlike cancel_order and get_fills, which raise UnknownOrderError). A retired
        order answers from its compact record."""
        conn = self.connection.actor()
        actor = conn.order_actor(key)
        if actor is None:
            retired = conn.retired.get(key)
            return None if retired is None else retired.order
        return actor.order

    async def get_open_orders(self) -> list[Order]:
        """Every order not yet FILLED, CANCELLED or REJECTED."""
        return [a.order for a in self.connection.actor().orders.values() if not a.is_terminal]

    async def get_orders(self) -> list[Order]:
        """Every order this executor knows, terminal ones included (retired ones first)."""
        conn = self.connection.actor()
        return conn.retired.orders() + [a.order for a in conn.orders.values()]

    async def get_fills(self, key: str) -> list[Fill]:
        """The fills of one order (corrections replace what they correct).

        UnknownOrderError (also a KeyError) when no order has the id ``key``."""
        retired = self.connection.actor().retired.get(key)
        if retired is not None:
            return list(retired.fills)
        return self._actor(key).fills

    async def get_positions(self) -> list[Position]:
        """Positions as last reported by the broker."""
        return self.connection.actor().link.positions()

    # -- internals ------------------------------------------------------------------------------

    def _actor(self, key: str) -> OrderActor:
        actor = self.connection.actor().order_actor(key)
        if actor is None:
            raise UnknownOrderError(key)
        return actor

    def _check_journal(self, cid: str) -> None:
        failure = self.journal.failure
        if failure is not None:
            raise JournalError(f"order {cid!r} not sent: {failure}") from failure

    async def _check_risk(self, request: OrderRequest, cid: str) -> None:
        check = self._risk_check
        if check is None:
            return
        try:
            verdict = check(request)
            if isawaitable(verdict):
                verdict = await verdict
        except RiskCheckError as error:
            self._journal_risk(request, cid, str(error))
            raise
        except Exception as error:  # a broken check fails closed
            self._journal_risk(request, cid, f"risk check raised {error!r}")
            raise RiskCheckError(f"risk check failed for {cid!r}: {error!r}") from error
        if verdict is False:
            self._journal_risk(request, cid, "risk check returned False")
            raise RiskCheckError(f"risk check refused order {cid!r}")

    def _journal_risk(self, request: OrderRequest, cid: str, reason: str) -> None:
        self.journal.record(
            "risk_rejected",
            actor="executor",
            client_order_id=cid,
            trigger="risk_check",
            payload={"request": attrs.asdict(request), "reason": reason},
        )

    def _watch(self, actor: OrderActor, since: Order | None = None) -> None:
        # ``since``: the order as handlers last knew it (default: as it is now).
        notifier = self._notifier or Notifier(self.journal)
        self._notifier = notifier
        handlers = self._handlers
        known = actor.order if since is None else since
        last = [known.status, known.filled_quantity, known.average_fill_price]
        announced = set(actor.exec_ids)

        def on_snapshot(snapshot: Order | Fill) -> None:
            if type(snapshot) is Fill:
                if snapshot.fill_id in announced:
                    return  # the same execution again, now with its commission
                announced.add(snapshot.fill_id)
                for handler in list(handlers):
                    notifier.call(handler, "on_fill", snapshot, actor=actor.name)
                return
            assert type(snapshot) is Order
            now = [snapshot.status, snapshot.filled_quantity, snapshot.average_fill_price]
            if now == last:
                return  # not a real change (a perm id learned, a commission)
            last[:] = now
            for handler in list(handlers):
                notifier.call(handler, "on_order_status", snapshot, actor=actor.name)
                if snapshot.status is OrderStatus.REJECTED:
                    reason = snapshot.reason or ""
                    notifier.call(handler, "on_order_rejected", snapshot, reason, actor=actor.name)

        # A fill is announced once, with its commission when IB sends it promptly.
        actor.subscribe(CommissionHold(on_snapshot, self._holding))
