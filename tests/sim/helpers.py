"""Helpers for the simulator tests: connecting ib_async, and awaiting what it receives."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ib_async import IB, Stock

from ibkr_exec.sim import FakeTWS

AAPL = Stock("AAPL", "SMART", "USD")
MSFT = Stock("MSFT", "SMART", "USD")


async def connect(tws: FakeTWS, client_id: int = 1, timeout: float = 2.0) -> IB:
    """An ib_async client connected (and synced) to ``tws``."""
    ib = IB()
    await ib.connectAsync("127.0.0.1", tws.port, clientId=client_id, timeout=timeout)
    return ib


async def until(ib: IB, condition: Callable[[], Any], timeout: float = 2.0) -> None:
    """Wait for a client-side condition, re-checked each time ib_async has processed a packet."""

    async def watch() -> None:
        while not condition():
            await ib.updateEvent

    await asyncio.wait_for(watch(), timeout)


def errors_of(ib: IB) -> list[tuple[int, int, str]]:
    """A live list of (reqId, code, message) for every error/notice the client receives."""
    received: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda req_id, code, msg, _contract: received.append((req_id, code, msg))
    return received


def record_messages(ib: IB) -> list[str]:
    """A live list of the ids of every message ib_async decodes, in arrival order."""
    seen: list[str] = []
    decoder = ib.client.decoder
    interpret: Callable[[list[str]], None] = decoder.interpret

    def recording(fields: list[str]) -> None:
        seen.append(fields[0])
        interpret(fields)

    setattr(decoder, "interpret", recording)  # noqa: B010  (mypy forbids assigning a method)
    return seen


async def barrier(ib: IB) -> None:
    """Return once everything the simulator sent before this call has been processed: TCP keeps
    order, so the answer to a fresh request comes after it."""
    await asyncio.wait_for(ib.reqCurrentTimeAsync(), 2)
