"""Waiting for order states through the public handler API (no sleeps)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ibkr_exec import ConnectionEventHandler, Fill, Order, OrderEventHandler


class Recorder(OrderEventHandler):
    """Records every handler call, in order, and lets a test await a condition on an order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, object]] = []
        self.latest: dict[str, Order] = {}
        self._changed = asyncio.Event()

    def _bump(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def on_order_status(self, order: Order) -> None:
        self.calls.append(("status", order.client_order_id, (order.status, order.filled_quantity)))
        self.latest[order.client_order_id] = order
        self._bump()

    def on_fill(self, fill: Fill) -> None:
        assert fill.client_order_id is not None
        self.calls.append(("fill", fill.client_order_id, (fill.fill_id, fill.quantity)))
        self._bump()

    def on_order_rejected(self, order: Order, reason: str) -> None:
        self.calls.append(("rejected", order.client_order_id, (order.reason_code, reason)))
        self._bump()

    async def until(
        self, cid: str, predicate: Callable[[Order], bool], timeout: float = 5.0
    ) -> Order:
        """The first snapshot of ``cid`` satisfying ``predicate`` (TimeoutError otherwise)."""
        async with asyncio.timeout(timeout):
            while True:
                order = self.latest.get(cid)
                if order is not None and predicate(order):
                    return order
                await self._changed.wait()


class Events(ConnectionEventHandler):
    """Records connection events in order and lets a test await the n-th one."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.changed = asyncio.Event()

    def _add(self, what: str) -> None:
        self.seen.append(what)
        self.changed.set()
        self.changed = asyncio.Event()

    def on_connected(self) -> None:
        self._add("connected")

    def on_disconnected(self) -> None:
        self._add("disconnected")

    def on_connection_failed(self, reason: str) -> None:
        self._add(f"failed: {reason}")

    async def until(self, count: int) -> None:
        async with asyncio.timeout(5):
            while len(self.seen) < count:
                await self.changed.wait()
