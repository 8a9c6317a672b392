"""One client connection: handshake, start API, the requests a TWS API client makes, and the
outgoing message pipeline (faults, then batching into one socket write per event-loop turn).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from loguru import logger

from ibkr_exec.sim import encode
from ibkr_exec.sim.decode import DecodeError, ExecutionFilter, parse_cancel_order
from ibkr_exec.sim.faults import ERROR_TEXT
from ibkr_exec.sim.protocol import (
    FrameError,
    FrameReader,
    encode_frame,
    negotiate_version,
    parse_version_range,
    split_fields,
)

if TYPE_CHECKING:
    from ibkr_exec.sim.book import SimOrder
    from ibkr_exec.sim.server import FakeTWS

__all__ = ["ClientSession"]

#: Highest request id a TWS API client sends; anything above is not TWS API traffic.
_MAX_REQUEST_ID = 200


class ClientSession(asyncio.Protocol):
    """The server side of one TWS API socket."""

    def __init__(self, tws: FakeTWS) -> None:
        self.tws = tws
        self.version = 0
        self.client_id: int | None = None
        self.positions_subscribed = False
        self.peer = "?"
        self._reader = FrameReader()
        self._transport: asyncio.Transport | None = None
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._held: list[tuple[str, list[str]]] = []
        self._closed = False

    # -- asyncio.Protocol -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Start tracking the connection; nothing is sent until the client announces versions."""
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self.peer = str(transport.get_extra_info("peername"))
        self.tws._session_opened(self)

    def data_received(self, data: bytes) -> None:
        """Split frames and handle each; bad input closes this connection only."""
        try:
            payloads = self._reader.feed(data)
        except FrameError as exc:
            logger.warning("sim: closing {}: {}", self.peer, exc)
            self.close()
            return
        for payload in payloads:
            if self._closed:
                return
            if not self.version:
                self._handshake(payload)
            else:
                self._dispatch(split_fields(payload))

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the connection; orders and executions stay with the exchange."""
        if self._reader.pending:
            logger.warning(
                "sim: {} closed with a truncated frame ({} bytes)", self.peer, self._reader.pending
            )
        self._closed = True
        self._transport = None
        self.tws._session_closed(self)

    # -- outgoing ---------------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """True until the connection is closed by either side."""
        return not self._closed

    def send(self, fields: list[str]) -> None:
        """Queue a message, applying any armed message fault first."""
        plan = self.tws.plan
        if not plan.shapes_messages and not self._held:
            self._enqueue(fields)
            return
        msg_id = fields[0]
        rule = plan.take_rule(msg_id)
        if rule is None:
            self._enqueue(fields)
        elif rule.action == "duplicate":
            self._enqueue(fields)
            self._enqueue(fields)
        elif rule.action == "delay":
            asyncio.get_running_loop().call_later(rule.seconds, self._enqueue, fields)
        elif rule.action == "hold":
            self._held.append((rule.until, fields))
        else:
            logger.trace("sim: dropped message {} to client {}", msg_id, self.client_id)
        if self._held and rule is None:
            released = [held for until, held in self._held if until == msg_id]
            if released:
                self._held = [(u, h) for u, h in self._held if u != msg_id]
                for held in released:
                    self._enqueue(held)
        if plan.count_sent():
            # Now, not on the next loop turn: the rest of this burst must not reach the client.
            self.tws.disconnect_clients()

    def send_error(self, req_id: int, code: int, text: str | None = None, **values: object) -> None:
        """An error or notice with TWS's wording for ``code`` unless ``text`` is given."""
        message = text if text is not None else ERROR_TEXT.get(code, "").format(**values)
        self.send(encode.error(self.version, req_id, code, message))

    def _enqueue(self, fields: list[str]) -> None:
        if self._closed:
            return
        self._out.append(encode_frame(fields))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._out and self._transport is not None:
            self._transport.write(b"".join(self._out))
        self._out.clear()

    def close(self) -> None:
        """Write what is queued, then close the socket."""
        if self._closed:
            return
        self._flush()
        self._closed = True
        if self._transport is not None:
            self._transport.close()
        self.tws._session_closed(self)

    # -- handshake and dispatch -------------------------------------------------------------------

    def _handshake(self, payload: bytes) -> None:
        text = payload.decode(errors="replace")
        try:
            low, high = parse_version_range(text)
        except FrameError as exc:
            logger.warning("sim: closing {}: {}", self.peer, exc)
            self.close()
            return
        version = negotiate_version(self.tws.server_version, low, high)
        if version is None and low > self.tws.server_version:
            # Real TWS answers with its own version and leaves the refusal to the client (ib_async
            # then disconnects: "TWS/gateway version must be >= ..."); it does not hang up.
            logger.warning(
                "sim: client {} needs v{}..{}, server speaks {}: announcing {}",
                self.peer,
                low,
                high,
                self.tws.server_version,
                self.tws.server_version,
            )
            self.version = self.tws.server_version
            self._enqueue(encode.handshake_reply(self.version, self.tws.clock(), self.tws.zone))
            return
        if version is None:
            logger.warning(
                "sim: refusing {}: client speaks v{}..{}, server {}",
                self.peer,
                low,
                high,
                self.tws.server_version,
            )
            self.close()
            return
        self.version = version
        self._enqueue(encode.handshake_reply(version, self.tws.clock(), self.tws.zone))

    def _dispatch(self, fields: list[str]) -> None:
        try:
            msg_id = int(fields[0])
        except (IndexError, ValueError):
            logger.warning("sim: closing {}: not a TWS API message: {!r}", self.peer, fields[:4])
            self.close()
            return
        handler = _HANDLERS.get(msg_id)
        if self.client_id is None and msg_id != 71:
            logger.warning("sim: {} sent message {} before startApi", self.peer, msg_id)
            return
        if handler is None:
            if 0 < msg_id <= _MAX_REQUEST_ID:
                logger.trace("sim: ignoring request {} from client {}", msg_id, self.client_id)
            else:
                logger.warning("sim: unknown message id {} from {}", msg_id, self.peer)
                self.send_error(-1, 320, reason=f"Unknown message id {msg_id}.")
            return
        try:
            handler(self, fields)
        except DecodeError as exc:
            logger.warning("sim: bad request {} from {}: {}", msg_id, self.peer, exc)
            self.send_error(exc.req_id, 320, reason=str(exc))
        except Exception:
            logger.exception("sim: request {} from {} failed", msg_id, self.peer)

    # -- requests ---------------------------------------------------------------------------------

    def _start_api(self, fields: list[str]) -> None:
        if self.client_id is not None:
            return
        try:
            client_id = int(fields[2])
        except (IndexError, ValueError):
            raise DecodeError(-1, "startApi without a client id") from None
        if not self.tws._register(self, client_id):
            logger.warning("sim: client id {} already connected; refusing {}", client_id, self.peer)
            self.send_error(-1, 326)
            self.close()
            return
        tws = self.tws
        self.send(encode.managed_accounts(tws.accounts))
        self.send(encode.next_valid_id(tws.exchange.next_valid_id(client_id)))
        for code in (2104, 2106, 2158):
            self.send_error(-1, code)

    def _req_ids(self, fields: list[str]) -> None:
        if self.client_id is not None and not self.tws.plan.take_unanswered("ids"):
            self.send(encode.next_valid_id(self.tws.exchange.next_valid_id(self.client_id)))

    def _req_current_time(self, fields: list[str]) -> None:
        if not self.tws.plan.take_unanswered("currentTime"):
            self.send(encode.current_time(int(self.tws.clock().timestamp())))

    def _req_managed_accounts(self, fields: list[str]) -> None:
        self.send(encode.managed_accounts(self.tws.accounts))

    def _req_positions(self, fields: list[str]) -> None:
        self.positions_subscribed = True
        if self.tws.plan.take_unanswered("positions"):
            return
        for pos in self.tws.exchange.positions.values():
            self.send(encode.position(pos))
        self.send(encode.position_end())

    def _cancel_positions(self, fields: list[str]) -> None:
        self.positions_subscribed = False

    def _send_open_orders(self, orders: list[SimOrder]) -> None:
        version = self.version
        for order in orders:
            self.send(encode.open_order(version, order))
            self.send(encode.order_status(order))
        self.send(encode.open_order_end())

    def _req_open_orders(self, fields: list[str]) -> None:
        if not self.tws.plan.take_unanswered("openOrders"):
            own = self.client_id
            self._send_open_orders(
                [o for o in self.tws.exchange.working_orders() if o.client_id == own]
            )

    def _req_all_open_orders(self, fields: list[str]) -> None:
        if not self.tws.plan.take_unanswered("allOpenOrders"):
            self._send_open_orders(list(self.tws.exchange.working_orders()))

    def _req_completed_orders(self, fields: list[str]) -> None:
        if self.tws.plan.take_unanswered("completedOrders"):
            return
        version = self.version
        for order in self.tws.exchange.orders.values():
            if order.is_done:
                self.send(encode.completed_order(version, order))
        self.send(encode.completed_orders_end())

    def _req_account_updates(self, fields: list[str]) -> None:
        subscribe = len(fields) > 2 and fields[2] not in ("", "0")
        if not subscribe or self.tws.plan.take_unanswered("accountUpdates"):
            return
        account = fields[3] if len(fields) > 3 and fields[3] else self.tws.accounts[0]
        self.send(encode.account_time(self.tws.clock(), self.tws.zone))
        self.send(encode.account_download_end(account))

    def _req_account_updates_multi(self, fields: list[str]) -> None:
        if not self.tws.plan.take_unanswered("accountUpdatesMulti"):
            self.send(encode.account_update_multi_end(_req_id(fields)))

    def _req_account_summary(self, fields: list[str]) -> None:
        if not self.tws.plan.take_unanswered("accountSummary"):
            self.send(encode.account_summary_end(_req_id(fields)))

    def _req_contract_details(self, fields: list[str]) -> None:
        # Contract lookup is not simulated: answer as TWS does for an unknown contract.
        self.send_error(
            _req_id(fields), 200, "No security definition has been found for the request"
        )

    def _req_executions(self, fields: list[str]) -> None:
        wanted = ExecutionFilter.parse(fields)
        if self.tws.plan.take_unanswered("executions"):
            return
        own = self.client_id
        matching = [
            ex
            for ex in self.tws.exchange.executions
            if ex.client_id == own
            and (not wanted.client_id or ex.client_id == wanted.client_id)
            and (not wanted.account or ex.account == wanted.account)
            and (not wanted.symbol or ex.contract.symbol == wanted.symbol)
            and (not wanted.sec_type or ex.contract.sec_type == wanted.sec_type)
            and (not wanted.side or ex.side.startswith(wanted.side[:1]))
        ]
        version = self.version
        for ex in matching:
            self.send(encode.exec_details(version, wanted.req_id, ex, self.tws.exec_time(ex)))
        self.send(encode.exec_details_end(wanted.req_id))
        for ex in matching:
            self.send(encode.commission_report(ex))

    def _place_order(self, fields: list[str]) -> None:
        assert self.client_id is not None
        self.tws._place(self, self.client_id, fields)

    def _cancel_order(self, fields: list[str]) -> None:
        assert self.client_id is not None
        self.tws._cancel(self, self.client_id, parse_cancel_order(fields))

    def _global_cancel(self, fields: list[str]) -> None:
        self.tws.cancel_all()


def _req_id(fields: list[str]) -> int:
    try:
        return int(fields[2])
    except (IndexError, ValueError):
        raise DecodeError(-1, "request without a request id") from None


_Handler = Callable[[ClientSession, list[str]], None]
_HANDLERS: dict[int, _Handler] = {
    3: ClientSession._place_order,
    4: ClientSession._cancel_order,
    5: ClientSession._req_open_orders,
    6: ClientSession._req_account_updates,
    7: ClientSession._req_executions,
    8: ClientSession._req_ids,
    9: ClientSession._req_contract_details,
    16: ClientSession._req_all_open_orders,
    17: ClientSession._req_managed_accounts,
    49: ClientSession._req_current_time,
    58: ClientSession._global_cancel,
    61: ClientSession._req_positions,
    62: ClientSession._req_account_summary,
    64: ClientSession._cancel_positions,
    71: ClientSession._start_api,
    76: ClientSession._req_account_updates_multi,
    99: ClientSession._req_completed_orders,
}
