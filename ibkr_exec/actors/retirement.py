"""Retiring finished order actors: a compact record stays queryable, the actor goes.

A FILLED, CANCELLED or REJECTED order's actor is kept for ``retention`` seconds after it reached
that state (``IBKR_ORDER_RETENTION_SECONDS``, default 600): a late fill after a cancel, a
commission or an execution correction still reaches it and is applied. Then it is retired: its
final Order and fills are kept as a :class:`RetiredOrder` (one compact JSON string, what
``get_order_status``, ``get_orders`` and ``get_fills`` answer from), its routes are removed, it
stops, and an in-memory journal forgets its per-order entries
(:meth:`~ibkr_exec.audit.AuditLogger.release`). A report about a retired order rebuilds its actor
from a journal file (the connection actor's ``revive`` hook) and is applied; without a file it is
journaled as "unrouted" under the order's client_order_id, with a loguru WARNING: recorded, not
applied to the Order.

None as ``retention`` never retires (every finished actor kept, as before).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import Any

import attrs

from ibkr_exec.actors.order import OrderActor
from ibkr_exec.actors.routing import Routes
from ibkr_exec.audit import AuditLogger, decode, dumps, encode
from ibkr_exec.models import Fill, Order, OrderStatus

__all__ = ["RetiredOrder", "Retirement"]

_TERMINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED})


@attrs.frozen
class RetiredOrder:
    """What is kept of a retired order: its final snapshot and its fills, as one JSON string.

    A string of a few hundred bytes instead of the live objects (Decimals, datetimes, an attrs
    instance per fill): a finished order is rarely asked for again, and then decoding is cheap.
    """

    data: str

    @classmethod
    def of(cls, order: Order, fills: Iterable[Fill]) -> RetiredOrder:
        """The compact record of ``order`` and its ``fills``."""
        return cls(dumps({"order": encode(order), "fills": [encode(f) for f in fills]}))

    @property
    def order(self) -> Order:
        """The final Order."""
        result: Order = decode(json.loads(self.data)["order"])
        return result

    @property
    def fills(self) -> tuple[Fill, ...]:
        """The fills, in arrival order."""
        return tuple(decode(f) for f in json.loads(self.data)["fills"])


class Retirement:
    """Retires the terminal order actors of one connection after ``retention`` seconds."""

    __slots__ = (
        "_by_order_id",
        "_journal",
        "_records",
        "_retention",
        "_routes",
        "_tasks",
        "_timers",
    )

    def __init__(self, routes: Routes, journal: AuditLogger, retention: float | None) -> None:
        """Retire from ``routes``; release entries from ``journal``; None never retires."""
        if retention is not None and retention < 0:
            raise ValueError(f"order retention must be >= 0 seconds or None, got {retention}")
        self._routes = routes
        self._journal = journal
        self._retention = retention
        self._records: dict[str, RetiredOrder] = {}
        self._by_order_id: dict[str, str] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def retention(self) -> float | None:
        """Seconds a finished order's actor is kept (None: forever)."""
        return self._retention

    def watch(self, actor: OrderActor) -> None:
        """Retire ``actor`` ``retention`` seconds after its order ends (now, if it has ended)."""
        if self._retention is None:
            return
        if actor.is_terminal:
            self._schedule(actor)
            return

        def on_snapshot(snapshot: Any) -> None:
            if type(snapshot) is Order and snapshot.status in _TERMINAL:
                self._schedule(actor)

        actor.subscribe(on_snapshot)

    def _schedule(self, actor: OrderActor) -> None:
        cid = actor.client_order_id
        if cid in self._timers or self._retention is None:
            return
        loop = asyncio.get_running_loop()
        self._timers[cid] = loop.call_later(self._retention, self._retire, actor)

    def _retire(self, actor: OrderActor) -> None:
        cid = actor.client_order_id
        self._timers.pop(cid, None)
        if self._routes.get(cid) is not actor:
            return  # replaced or already gone
        order = actor.order
        self._records[cid] = RetiredOrder.of(order, actor.fills)
        if order.order_id is not None:
            self._by_order_id[order.order_id] = cid
        self._routes.remove(actor)
        self._journal.release(cid)
        task = asyncio.ensure_future(actor.stop())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def get(self, key: str) -> RetiredOrder | None:
        """The retired order of a client_order_id or an order_id, or None."""
        record = self._records.get(key)
        if record is None:
            cid = self._by_order_id.get(key)
            record = None if cid is None else self._records.get(cid)
        return record

    def owner(self, report: Any) -> str | None:
        """The client_order_id of the retired order ``report`` is about (by orderRef or
        orderId), or None."""
        ref = getattr(report, "order_ref", None)
        if ref and ref in self._records:
            return str(ref)
        order_id = getattr(report, "order_id", None)
        if order_id and order_id != "0":  # completed orders all carry orderId 0
            return self._by_order_id.get(order_id)
        return None

    def forget(self, client_order_id: str) -> None:
        """Drop the record of a retired order whose actor was rebuilt (it is live again)."""
        record = self._records.pop(client_order_id, None)
        if record is not None:
            order_id = record.order.order_id
            if order_id is not None and self._by_order_id.get(order_id) == client_order_id:
                del self._by_order_id[order_id]

    def orders(self) -> list[Order]:
        """The final Orders of every retired order, in retirement order."""
        return [r.order for r in self._records.values()]

    def __len__(self) -> int:
        """How many orders were retired."""
        return len(self._records)

    async def close(self) -> None:
        """Cancel pending retirements and wait for the retired actors to stop."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
