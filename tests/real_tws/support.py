"""Waiting for order states through the public API (on_order_status keeps its signature)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ibkr_exec import (
    AuditLogger,
    IBKRConnectionManager,
    IBKROrderExecutor,
    Order,
    OrderEventHandler,
)
from ibkr_exec.sim import FakeTWS


class Statuses(OrderEventHandler):
    """Keeps every snapshot per order and lets a test await one that satisfies a predicate."""

    def __init__(self) -> None:
        self.seen: dict[str, list[Order]] = {}
        self._changed = asyncio.Event()

    def on_order_status(self, order: Order) -> None:
        self.seen.setdefault(order.client_order_id, []).append(order)
        self._changed.set()
        self._changed = asyncio.Event()

    async def until(
        self, cid: str, predicate: Callable[[Order], bool], timeout: float = 5.0
    ) -> Order:
        """The first snapshot of ``cid`` that satisfies ``predicate`` (TimeoutError otherwise)."""
        async with asyncio.timeout(timeout):
            while True:
                for order in self.seen.get(cid, []):
                    if predicate(order):
                        return order
                await self._changed.wait()


def executor_for(
    tws: FakeTWS | Any, journal: Path, *, client_id: int = 1, **options: object
) -> IBKROrderExecutor:
    """An executor (not started) on ``tws`` (anything with ``host`` and ``port``), journaling
    to ``journal``."""
    settings: dict[str, object] = {
        "timeout_seconds": 3.0,
        "reconnect_backoff_seconds": 0.02,
        "reconnect_max_attempts": 50,
        "max_requests_per_second": 0,
    }
    settings.update(options)
    manager = IBKRConnectionManager(
        tws.host,
        tws.port,
        1,
        audit_logger=AuditLogger(journal),
        **settings,  # type: ignore[arg-type]
    )
    return IBKROrderExecutor(manager)
