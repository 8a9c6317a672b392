"""OrderActor: one order, driven through the shared order machine, journaled entry by entry.

Tell it broker reports (``ibkr_exec.broker.port``) and commands (``actors.messages``). Each one
becomes a lifecycle trigger on its :class:`~ibkr_exec.actors.ledger.OrderLedger`; what happened is
written to the journal, commands go to the broker, and new ``Order`` / ``Fill`` snapshots go to the
subscribers. A restart rebuilds the ledger from the journal, never from half-mutated memory.

>>> import asyncio
>>> from datetime import UTC, datetime
>>> from ibkr_exec.audit import AuditLogger
>>> from ibkr_exec.broker.port import OrderAccepted
>>> from ibkr_exec.models import Order
>>> class NullBroker:
...     def place_order(self, order): pass
...     def cancel_order(self, order): pass
>>> async def main():
...     journal = AuditLogger()
...     order = Order("1", "c-1", "AAPL", 10, "LIMIT", "BUY", "150", None, "PENDING",
...                   datetime(2024, 1, 2, tzinfo=UTC))
...     actor = OrderActor.create(order, broker=NullBroker(), journal=journal).start()
...     await actor.ask(PlaceOrder())
...     actor.tell(OrderAccepted("1", perm_id=77))
...     status = (await actor.ask(GetOrder())).status
...     await actor.stop()
...     journal.close()
...     return status
>>> asyncio.run(main())
<OrderStatus.SUBMITTED: 'SUBMITTED'>
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from ibkr_exec.actors.durable import Announcements
from ibkr_exec.actors.ledger import OrderLedger, Outcome
from ibkr_exec.actors.messages import STASHED_WHILE_PAUSED, GetOrder, PlaceOrder, RequestCancel
from ibkr_exec.actors.runtime import Actor, RestartPolicy
from ibkr_exec.audit import AuditLogger, encode
from ibkr_exec.broker.port import Broker, OrderRejected
from ibkr_exec.errors import JournalError
from ibkr_exec.models import Fill, Order
from ibkr_exec.statemachines.actor import RUNNING
from ibkr_exec.statemachines.order import ORDER_TERMINAL_STATES, PENDING_CANCEL

__all__ = ["OrderActor", "Subscriber"]

#: A subscriber receives every new Order snapshot and every new or updated Fill.
Subscriber = Callable[[Order | Fill], object]


class OrderActor(Actor):
    """The actor of one order. Its name is the order's client_order_id.

    Create it with :meth:`create` (a new order: journals its "submitted" entry) or :meth:`recover`
    (from the journal, e.g. at start-up), then :meth:`~Actor.start` it.
    """

    __slots__ = ("_announcements", "_broker", "_journal", "_ledger", "_subscribers")

    def __init__(
        self,
        ledger: OrderLedger,
        *,
        broker: Broker,
        journal: AuditLogger,
        parent: Actor | None = None,
        policy: RestartPolicy | None = None,
    ) -> None:
        """Wrap an existing ledger; prefer :meth:`create` or :meth:`recover`."""
        super().__init__(ledger.client_order_id, parent=parent, policy=policy)
        self._ledger = ledger
        self._broker = broker
        self._journal = journal
        self._announcements = Announcements.of(journal)
        self._subscribers: list[Subscriber] | None = None

    @classmethod
    def create(
        cls,
        order: Order,
        *,
        broker: Broker,
        journal: AuditLogger,
        parent: Actor | None = None,
        policy: RestartPolicy | None = None,
    ) -> OrderActor:
        """The actor of a new order (status PENDING); writes the entry replay starts from."""
        journal.order_created(order)
        return cls(
            OrderLedger.new(order), broker=broker, journal=journal, parent=parent, policy=policy
        )

    @classmethod
    def recover(
        cls,
        client_order_id: str,
        *,
        broker: Broker,
        journal: AuditLogger,
        entries: Iterable[dict[str, Any]] | None = None,
        parent: Actor | None = None,
        policy: RestartPolicy | None = None,
    ) -> OrderActor:
        """The actor of a journaled order, rebuilt by replaying its entries.

        ``entries`` default to ``journal.entries_for(client_order_id)``; pass them when one read of
        the journal recovers many orders. Raises ValueError when the journal has no such order.
        """
        own = journal.entries_for(client_order_id) if entries is None else entries
        ledger = OrderLedger.from_entries(
            e for e in own if e.get("client_order_id") == client_order_id
        )
        return cls(ledger, broker=broker, journal=journal, parent=parent, policy=policy)

    # -- accessors for the executor -------------------------------------------------------------

    @property
    def client_order_id(self) -> str:
        """The order's client_order_id."""
        return self._ledger.client_order_id

    @property
    def order(self) -> Order:
        """The current Order snapshot."""
        return self._ledger.order()

    @property
    def fills(self) -> list[Fill]:
        """The fills that count (corrections replace what they correct), in arrival order."""
        return self._ledger.fills()

    @property
    def exec_ids(self) -> frozenset[str]:
        """The execIds of :attr:`fills` (for deduplication across sessions)."""
        return self._ledger.exec_ids

    @property
    def pre_cancel_state(self) -> str | None:
        """While PENDING_CANCEL: the state a refused cancel returns to; otherwise None."""
        return self._ledger.pre_cancel

    @property
    def is_terminal(self) -> bool:
        """True once FILLED, CANCELLED or REJECTED."""
        return self._ledger.is_terminal

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber`` with every new Order and Fill snapshot; returns the unsubscriber.

        A subscriber that raises is journaled as an anomaly and keeps its subscription; it never
        breaks the actor.
        """
        subscribers = self._subscribers
        if subscribers is None:
            subscribers = self._subscribers = []
        subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in subscribers:
                subscribers.remove(subscriber)

        return unsubscribe

    # -- Actor hooks ----------------------------------------------------------------------------

    def stashable(self, message: Any) -> bool:
        """Outbound commands wait while paused; broker reports are applied (reconciliation)."""
        return type(message) in STASHED_WHILE_PAUSED

    def on_stashed(self, message: Any) -> None:
        """Journal a command put aside while the link is down: a process that exits before the
        reconnect still leaves a record that it was asked for."""
        self._journal_command("command_stashed", message)

    def receive(self, message: Any) -> Any:
        """Apply one report or command. Commands and GetOrder answer the Order snapshot."""
        kind = type(message)
        if kind is GetOrder:
            return self._ledger.order()
        if kind in STASHED_WHILE_PAUSED and not self._link_up():
            return self._defer(message)
        if kind is PlaceOrder:
            return self._place(message)
        now = datetime.now(UTC)
        outcome = self._ledger.handle(message, now)
        if outcome is not None:
            ended = self._journal_outcome(outcome, message, now)
            if kind is RequestCancel and outcome.dst == PENDING_CANCEL != outcome.src:
                self._command("cancel_order", message)
                self._broker.cancel_order(self._ledger.order())
            announcements = self._announcements
            if ended or announcements.waiting:
                # An order's end is on disk before anyone hears of it: announced after the
                # journal's next sync (one per loop turn), and everything after it waits too.
                # The snapshots are taken now; the subscribers are those of announcement time
                # (the executor subscribes right after placing: a placement refused by the
                # journal is heard by it).
                snapshots = self._snapshots(outcome)
                announcements.after_sync(lambda: self._announce(snapshots))
            elif self._subscribers:
                self._announce(self._snapshots(outcome))
        return self._ledger.order() if kind is RequestCancel else None

    def place_now(self) -> bool:
        """Place a new order from the caller's task, before the actor is started: the executor
        does this so that the bytes leave before its task yields, and starts and routes the
        actor right after (no report can arrive before the next loop turn). The write-ahead is
        that of a :class:`PlaceOrder` message. Returns False, having done nothing, when the link
        is down or the actor paused: tell it ``PlaceOrder()`` then."""
        if self.mode != RUNNING or not self._link_up():
            return False
        self._place(PlaceOrder())
        return True

    def _place(self, message: PlaceOrder) -> Order:
        self._command("place_order", message)
        # Write-ahead: the order is on disk before the broker has it, so a process that dies
        # right after placing can still recover it (by orderRef) from the journal.
        try:
            self._journal.write_ahead()
        except JournalError as error:
            return self._not_sent(error)
        self._broker.place_order(self._ledger.order())
        return self._ledger.order()

    def receive_unstashed(self, message: Any) -> Any:
        """Re-check a stashed command against the state reached meanwhile, then apply it."""
        if self._ledger.is_terminal:
            ledger = self._ledger
            self._journal_command(
                "command_dropped", message, note=f"order {ledger.state} meanwhile: not sent"
            )
            return ledger.order()
        return self.receive(message)

    def on_restart(self, error: BaseException) -> None:
        """Rebuild the ledger from the journal: memory may be half-mutated by the failure."""
        self._ledger = OrderLedger.from_entries(self._journal.entries_for(self.name))

    # -- internals ------------------------------------------------------------------------------

    def _link_up(self) -> bool:
        # A Broker may say whether its link is up (the ib_async adapter does). The connection
        # actor pauses order actors on a socket loss, but a command can arrive between the loss
        # and that pause: it must wait for the reconnect, not fail or half-apply (a cancel that
        # moved the ledger to PENDING_CANCEL but never left would stay pending forever).
        is_connected = getattr(self._broker, "is_connected", None)
        return is_connected is None or bool(is_connected())

    def _defer(self, message: Any) -> Order:
        self._journal_command(
            "command_deferred", message, note="broker link down: stashed until reconnected"
        )
        self.pause()
        self.tell(message)  # paused: it goes to the stash, replayed after the sync
        return self._ledger.order()

    def _journal_outcome(self, outcome: Outcome, message: Any, now: datetime) -> bool:
        """Journal ``outcome``; True when it ended the order (its entry must be synced before
        anyone hears of it)."""
        payload = encode(message)
        kind, trigger, src, dst, note = outcome[:5]
        if note is not None:
            payload["note"] = note
        ledger = self._ledger
        base = ledger.base
        journal = self._journal
        journal.record(
            kind,
            actor=self.name,
            order_id=base.order_id,
            client_order_id=base.client_order_id,
            src=src,
            dst=dst,
            trigger=trigger,
            payload=payload,
            ts=now,
        )
        return dst != src and dst in ORDER_TERMINAL_STATES

    def _not_sent(self, error: JournalError) -> Order:
        # Fail closed: the placement's write-ahead entry could not be stored, so IB must never
        # get the order. It ends REJECTED here (no code: the broker never saw it), which also keeps
        # every later reconnect from placing it.
        base = self._ledger.base
        reason = f"not sent: {error}"
        self.receive(OrderRejected(order_id=base.order_id or "", code=None, reason=reason))
        return self._ledger.order()

    def _command(self, command: str, message: Any) -> None:
        self._journal_command("command", message, trigger=command)

    def _journal_command(
        self, kind: str, message: Any, *, trigger: str | None = None, note: str | None = None
    ) -> None:
        """One entry about a command (sent, stashed, deferred or dropped): the state stays."""
        ledger = self._ledger
        payload = encode(message)
        if note is not None:
            payload["note"] = note
        self._journal.record(
            kind,
            actor=self.name,
            order_id=ledger.base.order_id,
            client_order_id=ledger.client_order_id,
            src=ledger.state,
            dst=ledger.state,
            trigger=trigger,
            payload=payload,
        )

    def _snapshots(self, outcome: Outcome) -> list[Order | Fill]:
        snapshots: list[Order | Fill] = []
        if outcome.fill_id is not None:
            snapshots.append(self._ledger.fill(outcome.fill_id))
        if outcome.order_changed:
            snapshots.append(self._ledger.order())
        return snapshots

    def _announce(self, snapshots: list[Order | Fill]) -> None:
        for snapshot in snapshots:
            for subscriber in list(self._subscribers or ()):
                try:
                    subscriber(snapshot)
                except Exception as error:
                    self._journal.log_anomaly(
                        f"subscriber {subscriber!r} raised {error!r}",
                        actor=self.name,
                        order_id=self._ledger.base.order_id,
                        client_order_id=self._ledger.client_order_id,
                    )
