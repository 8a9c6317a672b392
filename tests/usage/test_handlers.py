"""Handlers written to the design's protocols, and what happens when one raises (issue 11: 4, 5)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from loguru import logger

from ibkr_exec import (
    AuditLogger,
    ConnectionEventHandler,
    Fill,
    IBKRConnectionManager,
    IBKROrderExecutor,
    Order,
    OrderEventHandler,
    OrderRejectedError,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    read_journal,
)
from ibkr_exec.sim import FakeTWS


class DesignHandler(OrderEventHandler, ConnectionEventHandler):
    """Exactly the design's signatures: the library must call them as written."""

    def __init__(self) -> None:
        self.seen: list[tuple[Any, ...]] = []
        self.changed = asyncio.Event()

    def _add(self, *event: Any) -> None:
        self.seen.append(event)
        self.changed.set()
        self.changed = asyncio.Event()

    async def until(self, name: str) -> tuple[Any, ...]:
        async with asyncio.timeout(5):
            while True:
                for event in self.seen:
                    if event[0] == name:
                        return event
                await self.changed.wait()

    def on_order_status(self, order: Order) -> None:
        self._add("status", order.client_order_id, order.status)

    def on_fill(self, fill: Fill) -> None:
        self._add("fill", fill.client_order_id, fill.order_id, fill.quantity)

    def on_order_rejected(self, order: Order, reason: str) -> None:
        self._add("rejected", order.client_order_id, order.reason_code, reason)

    def on_connected(self) -> None:
        self._add("connected")

    def on_disconnected(self) -> None:
        self._add("disconnected")


@pytest_asyncio.fixture
async def running(fake_tws: FakeTWS) -> AsyncIterator[tuple[IBKROrderExecutor, DesignHandler]]:
    fake_tws.set_price("AAPL", Decimal("150"))
    handler = DesignHandler()
    manager = IBKRConnectionManager(
        fake_tws.host, fake_tws.port, client_id=1, reconnect_backoff_seconds=0.02
    )
    executor = IBKROrderExecutor(manager, order_handlers=[handler], connection_handlers=[handler])
    async with executor:
        yield executor, handler


def _handler_failures(executor: IBKROrderExecutor) -> list[dict[str, Any]]:
    return [
        e
        for e in executor.journal.entries()
        if e.get("kind") == "anomaly" and "handler" in (e.get("payload") or {})
    ]


async def test_design_signature_order_handlers_are_called_as_written(
    running: tuple[IBKROrderExecutor, DesignHandler], fake_tws: FakeTWS
) -> None:
    executor, handler = running
    order = await executor.submit_order(
        OrderRequest("AAPL", "10", OrderType.MARKET, Side.BUY, client_order_id="f-1")
    )
    assert await handler.until("fill") == ("fill", "f-1", order.order_id, Decimal("10"))

    fake_tws.inject_order_error(201, "no margin")
    with pytest.raises(OrderRejectedError):
        await executor.submit_order(
            OrderRequest("AAPL", "10", OrderType.MARKET, Side.BUY, client_order_id="r-1")
        )
    assert await handler.until("rejected") == (
        "rejected",
        "r-1",
        201,
        "Order rejected - reason:no margin",
    )
    assert _handler_failures(executor) == []


async def test_design_signature_connection_handlers_are_called_as_written(
    running: tuple[IBKROrderExecutor, DesignHandler], fake_tws: FakeTWS
) -> None:
    executor, handler = running
    assert executor.connection.last_disconnect_reason == ""
    fake_tws.disconnect_clients()
    await handler.until("disconnected")
    assert executor.connection.last_disconnect_reason == "socket closed by peer"
    await executor.connection.wait_reconciled()
    assert [e[0] for e in handler.seen] == ["connected", "disconnected", "connected"]
    assert _handler_failures(executor) == []


class Raising(OrderEventHandler):
    """One plain and one coroutine handler method that raise."""

    def on_order_status(self, order: Order) -> None:
        raise ValueError(f"plain handler broke on {order.client_order_id}")

    async def on_fill(self, fill: Fill) -> None:
        raise RuntimeError(f"async handler broke on {fill.fill_id}")


@pytest.fixture
def error_records() -> Iterator[list[Any]]:
    """What an application's own loguru sink receives (the test plays the application)."""
    records: list[Any] = []
    sink = logger.add(records.append, level="ERROR", format="{message}")
    yield records
    logger.remove(sink)


async def test_a_raising_handler_is_logged_at_error_with_its_traceback_and_journaled(
    fake_tws: FakeTWS, error_records: list[Any], tmp_path: Path
) -> None:
    fake_tws.set_price("AAPL", Decimal("150"))
    journal = tmp_path / "journal.jsonl"
    manager = IBKRConnectionManager(
        fake_tws.host, fake_tws.port, client_id=1, audit_logger=AuditLogger(journal)
    )
    async with IBKROrderExecutor(manager, order_handlers=[Raising()]) as executor:
        await executor.submit_order(
            OrderRequest("AAPL", "10", OrderType.MARKET, Side.BUY, client_order_id="x-1")
        )
        await fake_tws.wait_for_status("x-1", "Filled")
        await manager.wait_reconciled()
        status = await executor.get_order_status("x-1")
        assert status is not None
        assert status.status is OrderStatus.FILLED
    # stop() awaited the coroutine handler: both failures are logged and journaled by now
    manager.journal.close()
    messages = [record.record["message"] for record in error_records]
    assert any("Raising.on_order_status raised ValueError" in m for m in messages), messages
    assert any("Raising.on_fill raised RuntimeError" in m for m in messages), messages
    for record in error_records:
        assert record.record["level"].name == "ERROR"
        exception = record.record["exception"]
        assert exception is not None
        assert exception.traceback is not None
        assert "broke on" in str(exception.value)
    failures = [
        e
        for e in read_journal(journal)
        if e.get("kind") == "anomaly" and "handler" in (e.get("payload") or {})
    ]
    tracebacks = [e["payload"]["traceback"] for e in failures]
    assert any("ValueError: plain handler broke on x-1" in t for t in tracebacks), tracebacks
    assert any(
        "RuntimeError: async handler broke on" in t and "in on_fill" in t for t in tracebacks
    ), tracebacks
