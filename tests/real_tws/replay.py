"""A server that speaks recorded real-TWS messages, byte for byte, to an unmodified TWS API client.

The messages come from shared/reference/real-tws/captures.json (real sessions recorded from paper
accounts by rust-ibapi and pyfutures). A capture holds only some of a session's messages, so the
server adds the glue a client needs to get through its connect-time sync: the *end markers* of
the requests ib_async makes while connecting (positionEnd, openOrderEnd, completedOrdersEnd,
execDetailsEnd, accountDownloadEnd...), empty unless the scenario supplies the answers. Everything
about an order (openOrder, orderStatus, execDetails, commissionReport, error, completedOrder,
position) is the captured message itself, with one field adapted: the order id, set to the id the
client placed the order with (ib_async spends ids from nextValidId on its own sync requests, so
its first order id is not the one the recorded client used).
"""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# shared/ stands beside the repository (here, and in CI's fresh clone).
CAPTURES = Path(__file__).resolve().parents[3] / "shared/reference/real-tws/captures.json"

#: Scenarios whose strings carry one extra trailing empty field (a copying artefact of the
#: rust-ibapi 2023 test strings, as the captures' README says): it is dropped.
_TRAILING_ARTEFACT = ("rust2023-mkt", "rust2023-cancel")


def captures() -> list[dict[str, Any]]:
    """Every captured message, in file order."""
    entries: list[dict[str, Any]] = json.loads(CAPTURES.read_text(encoding="utf-8"))
    return entries


def message(index: int) -> list[str]:
    """The fields of capture ``index`` as TWS sent them (artefact removed)."""
    entry = captures()[index]
    fields = list(entry["fields"])
    if entry["scenario"] in _TRAILING_ARTEFACT and fields and fields[-1] == "":
        fields.pop()
    return fields


def incoming(scenario: str) -> list[list[str]]:
    """The TWS-to-client messages of one scenario, in order."""
    return [
        message(i)
        for i, entry in enumerate(captures())
        if entry["scenario"] == scenario and entry["direction"] == "in"
    ]


def frame(fields: Sequence[str]) -> bytes:
    """One length-prefixed TWS API message."""
    payload = ("\0".join(fields) + "\0").encode()
    return struct.pack(">I", len(payload)) + payload


@dataclass
class Session:
    """What the replaying server sends, and when."""

    handshake: list[str]
    #: After startApi (managedAccounts, nextValidId, farm notices...).
    on_start: list[list[str]]
    #: Answered on placeOrder / cancelOrder.
    on_place: list[list[str]] = field(default_factory=list)
    on_cancel: list[list[str]] = field(default_factory=list)
    #: Answers to the connect-time sync, before their end markers.
    positions: list[list[str]] = field(default_factory=list)
    completed: list[list[str]] = field(default_factory=list)
    #: Sent once the client's sync is over (account values...).
    after_sync: list[list[str]] = field(default_factory=list)
    #: The order id the captured messages carry; replaced by the id the client uses.
    order_id: str = ""
    received: list[list[str]] = field(default_factory=list)


#: Where each order message carries the order id (openOrder, orderStatus, error, execDetails).
_ORDER_ID_FIELD = {"5": 1, "3": 1, "4": 2, "11": 2}


def renumber(messages: list[list[str]], old: str, new: str) -> list[list[str]]:
    """``messages`` with the order id ``old`` replaced by ``new`` where a message carries it."""
    out = []
    for fields in messages:
        index = _ORDER_ID_FIELD.get(fields[0])
        if old and index is not None and fields[index] == old:
            out.append([*fields[:index], new, *fields[index + 1 :]])
        else:
            out.append(fields)
    return out


class _Replay(asyncio.Protocol):
    def __init__(self, session: Session) -> None:
        self.session = session
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.greeted = False
        self.account = ""
        self.placed = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def send(self, messages: Sequence[Sequence[str]]) -> None:
        assert self.transport is not None
        self.transport.write(b"".join(frame(m) for m in messages))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.greeted:
            if len(self.buffer) < 8:
                return
            (length,) = struct.unpack(">I", self.buffer[4:8])
            if len(self.buffer) < 8 + length:
                return
            self.buffer = self.buffer[8 + length :]
            self.greeted = True
            self.send([self.session.handshake])
        while len(self.buffer) >= 4:
            (length,) = struct.unpack(">I", self.buffer[:4])
            if len(self.buffer) < 4 + length:
                return
            fields = self.buffer[4 : 4 + length].decode().split("\0")[:-1]
            self.buffer = self.buffer[4 + length :]
            self.session.received.append(fields)
            self.answer(fields)

    def answer(self, fields: list[str]) -> None:
        session = self.session
        msg_id = int(fields[0])
        if msg_id == 71:  # startApi
            self.send(session.on_start)
            self.account = next((m[2] for m in session.on_start if m[0] == "15"), "")
        elif msg_id == 61:  # reqPositions
            self.send([*session.positions, ["62", "1"]])
        elif msg_id in (5, 16):  # reqOpenOrders, reqAllOpenOrders
            self.send([["53", "1"]])
        elif msg_id == 99:  # reqCompletedOrders
            self.send([*session.completed, ["102"]])
        elif msg_id == 7:  # reqExecutions
            self.send([["55", "1", fields[2]]])
            self.send(session.after_sync)
        elif msg_id == 6:  # reqAccountUpdates
            self.send([["54", "1", self.account]])
        elif msg_id == 76:  # reqAccountUpdatesMulti
            self.send([["74", "1", fields[2]]])
        elif msg_id == 62:  # reqAccountSummary
            self.send([["64", "1", fields[2]]])
        elif msg_id == 3:  # placeOrder
            self.placed = fields[1]
            self.send(renumber(session.on_place, session.order_id, self.placed))
        elif msg_id == 4:  # cancelOrder
            self.send(renumber(session.on_cancel, session.order_id, fields[2]))


@asynccontextmanager
async def replaying(session: Session) -> AsyncIterator[int]:
    """Serve ``session`` on a free loopback port; yields the port."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Replay(session), "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()
