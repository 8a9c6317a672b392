"""The ib_async adapter: the one module of ibkr-exec that imports ib_async.

It does no lifecycle work inside ib_async's callbacks. It intercepts IB's *raw* callbacks on this
connection's ``Wrapper`` instance (before ib_async mutates its Trade objects and forces "Cancelled"
on error codes), turns each into a normalised report through ``translate``, and hands it to a sink.
The sink (the connection actor's mailbox) does the rest. Interception is per instance: ib_async
itself is not modified and keeps working as usual beside us.

Raw callbacks are used instead of ib_async's events because:
- ``orderStatusEvent`` fires with a forced "Cancelled" after 10147/10148/103/201;
- fills replayed by the reconnect sync arrive without ``execDetailsEvent``;
- completed orders from the sync arrive with no event at all.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import ib_async

from ibkr_exec._decimal import decimal_from_float
from ibkr_exec.broker.ib_log import route_ib_async_logging
from ibkr_exec.broker.ib_wire import PlaceOrderTemplates, install_encoder
from ibkr_exec.broker.port import (
    BrokerAnomaly,
    BrokerReport,
    CommissionReport,
    ExecutionReport,
    LinkEvent,
    LinkLost,
    OrderAccepted,
    OrderDiscovered,
)
from ibkr_exec.broker.translate import (
    translate_link_error,
    translate_order_error,
    translate_status,
)
from ibkr_exec.broker.tws_time import TwsZoneReader
from ibkr_exec.models import Order, OrderStatus, OrderType, Position, Side, TimeInForce

_IB_ORDER_TYPE = {
    OrderType.MARKET: "MKT",
    OrderType.LIMIT: "LMT",
    OrderType.STOP: "STP",
    OrderType.STOP_LIMIT: "STP LMT",
}
_ORDER_TYPE_OF_IB = {ib: ours for ours, ib in _IB_ORDER_TYPE.items()}
_UNSET_DOUBLE = 1.7976931348623157e308

ReportSink = Callable[[BrokerReport], None]
LinkSink = Callable[[LinkEvent], None]


def wire_decimal(value: float) -> Decimal:
    """A quantity or price decoded by ib_async (always a float) as an exact Decimal.

    Goes through ``str`` (``150.3`` -> ``Decimal('150.3')``) and drops a float's ``.0`` so that
    ``100.0`` shares compare and print as ``100``.
    """
    result = decimal_from_float(value)
    return result.quantize(Decimal(1)) if result == result.to_integral_value() else result


def _wire_number(value: Decimal) -> Any:
    """What to hand ib_async for a quantity or price (a float, or a Decimal where a float cannot
    carry it: ib_async annotates these fields as float but writes any number with ``str``).

    ib_async writes ``str(x)`` on the wire: a float whose shortest repr round-trips exactly is
    what TWS expects; a Decimal that a float cannot carry is sent in plain (non-exponent) form.
    """
    as_float = float(value)
    if Decimal(repr(as_float)) == value:
        return as_float
    return Decimal(format(value, "f"))


class IBBroker:
    """An ib_async connection that reports to sinks and carries out place/cancel.

    ``on_report`` receives every order report, ``on_link`` every link event. Both are called
    from ib_async's socket callback and must only enqueue.
    """

    def __init__(
        self,
        on_report: ReportSink,
        on_link: LinkSink,
        *,
        ib: ib_async.IB | None = None,
        max_requests_per_second: int | None = None,
    ) -> None:
        if ib is None:
            ib = ib_async.IB()
            route_ib_async_logging(ib)  # its records go to loguru, not the user's stderr
        self._ib = ib
        if max_requests_per_second is not None:
            # 0 disables ib_async's client-side throttle (default 45/s; IB's pacing is 50/s).
            self._ib.client.MaxRequests = max_requests_per_second
        formats = install_encoder(
            self._ib.client,
            contract_type=ib_async.Contract,
            unset_double=ib_async.util.UNSET_DOUBLE,
            unset_integer=ib_async.util.UNSET_INTEGER,
        )
        self._place_templates = PlaceOrderTemplates(formats, self._encode_with_ib_async)
        self._on_report = on_report
        self._on_link = on_link
        self._closing = False
        self._readonly = False
        self._round_trip_lock = asyncio.Lock()
        self._highest_order_id = 0
        # Ids placed or heard of on this link: an error with such a reqId is about an order.
        self._order_ids: set[int] = set()
        # The library's own orders (placed here, or adopted by an actor) and their perm ids:
        # ib_async's Trade bookkeeping is skipped for them (see _intercept).
        self._ours: set[int] = set()
        self._our_perm_ids: set[int] = set()
        self._acknowledged: set[int] = set()
        # The last acknowledgement forwarded per order id (perm_id, order_ref), until any other
        # report about that order: IB sends openOrder + orderStatus for PreSubmitted, then again
        # for Submitted, and the repeats carry nothing new. Forwarding them costs a trip through
        # both actors each (half the per-order work of a simple fill).
        self._last_accepted: dict[str, tuple[int | None, str | None]] = {}
        for name, handler in (
            ("openOrder", self._open_order),
            ("orderStatus", self._order_status),
            ("completedOrder", self._completed_order),
            ("execDetails", self._exec_details),
            ("commissionReport", self._commission_report),
            ("error", self._error),
        ):
            self._intercept(name, handler)
        for name in ("openOrderEnd", "completedOrdersEnd", "execDetailsEnd"):
            self._intercept(name, self._sync_end(name))
        # Which sync answers arrived since the last connect/resync began.
        self._sync_answers: set[str] = set()
        self._ib.disconnectedEvent += self._disconnected
        # TWS names its time zone only in the handshake, which ib_async drops: read it there.
        self._tws_zone = TwsZoneReader(self._ib, on_report)

    @property
    def ib(self) -> ib_async.IB:
        """The underlying ib_async ``IB`` object, for diagnostics. Do not place orders with it."""
        return self._ib

    @property
    def tws_time_zone(self) -> str:
        """The IANA zone TWS's zone-less times are read in ("" until the first handshake)."""
        return str(self._ib.TimezoneTWS or "")

    @property
    def max_requests_per_second(self) -> int:
        """ib_async's client-side throttle (messages per second; 0 means unthrottled)."""
        return int(self._ib.client.MaxRequests)

    # -- link ------------------------------------------------------------------------------------

    async def connect(
        self, host: str, port: int, client_id: int, *, timeout: float, readonly: bool
    ) -> None:
        """Connect and run ib_async's sync; every report the sync produces reaches the sinks
        before this returns. Raises ConnectionError or TimeoutError on failure."""
        self._closing = False
        self._readonly = readonly
        self._sync_answers.clear()
        self._last_accepted.clear()  # a new session re-reports everything: forward it once
        self._tws_zone.reset()
        await self._ib.connectAsync(
            host, port, clientId=client_id, timeout=timeout, readonly=readonly
        )
        await self._complete_sync(timeout)

    #: How many times a sync's missing answers are asked for again before the link is given up.
    SYNC_RETRIES = 2

    async def _complete_sync(self, timeout: float) -> None:
        # ib_async's connect only logs a sync request that timed out. An order the sync did not
        # mention may then be at IB all the same (and filled): treating it as unknown would
        # place it twice. Ask again, a bounded number of times, then fail the connect.
        for _ in range(self.SYNC_RETRIES):
            if self.sync_complete() or not self.is_connected():
                break
            await self.resync(timeout)
        if not self.sync_complete():
            missing = sorted(self._required_answers() - self._sync_answers)
            self._ib.disconnect()
            raise ConnectionError(f"the connect-time sync got no answer to {', '.join(missing)}")

    async def disconnect(self, timeout: float = 5.0) -> None:
        """Close the socket and wait until it is closed, so the client id can be reused."""
        self._closing = True
        conn = self._ib.client.conn
        if conn.transport is None:
            self._ib.disconnect()
            return
        closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_closed(_: str) -> None:
            if not closed.done():
                closed.set_result(None)

        conn.disconnected += on_closed
        try:
            self._ib.disconnect()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(closed, timeout)
        finally:
            conn.disconnected -= on_closed

    async def resync(self, timeout: float) -> None:
        """Ask again for open orders, completed orders, then executions (after IB error 1101).

        Run one at a time: ib_async keys these requests by a fixed name, so two concurrent ones
        overwrite each other's future. A request left unanswered is given up after ``timeout``.
        """
        ib = self._ib
        self._sync_answers.clear()
        requests = [ib.reqOpenOrdersAsync()]
        if not self._readonly:
            requests.append(ib.reqCompletedOrdersAsync(False))
        await asyncio.gather(
            *(asyncio.wait_for(r, timeout) for r in requests), return_exceptions=True
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ib.reqExecutionsAsync(), timeout)

    def _required_answers(self) -> set[str]:
        # A read-only connect asks for neither open nor completed orders (ib_async skips them).
        if self._readonly:
            return {"execDetailsEnd"}
        return {"openOrderEnd", "completedOrdersEnd", "execDetailsEnd"}

    async def round_trip(self, timeout: float) -> None:
        """reqCurrentTime on the live socket and wait for the answer (see BrokerLink).

        One at a time: ib_async keys the request by a fixed name, so a second concurrent one
        would orphan the first one's future; and a barrier needs a request sent after its call.
        """
        async with self._round_trip_lock:
            if not self._ib.isConnected():
                raise ConnectionError("not connected")
            # A socket closed by the peer fails the future (ib_async's connectionClosed).
            await asyncio.wait_for(self._ib.reqCurrentTimeAsync(), timeout)

    def sync_complete(self) -> bool:
        """True when the last sync got its full answer (open orders, completed orders and
        executions all ended): an order it did not mention is then certainly unknown to IB,
        and every fill made while the link was down has been reported."""
        return self._required_answers() <= self._sync_answers

    def is_connected(self) -> bool:
        """True while the API session is up (it stays up through IB's 1100)."""
        return bool(self._ib.isConnected())

    def accounts(self) -> list[str]:
        """The managed accounts TWS announced."""
        return list(self._ib.managedAccounts())

    # -- ids -------------------------------------------------------------------------------------

    def note_order_id(self, order_id: int) -> None:
        """Remember the id of one of the library's orders (placed, journaled or adopted): no new
        order gets it again, and ib_async keeps no Trade for it."""
        self._ours.add(order_id)
        self._seen_order_id(order_id)

    def _seen_order_id(self, order_id: int) -> None:
        # Any order's id, ours or not: an error about it is an order error, and it is never reused.
        self._order_ids.add(order_id)
        self._highest_order_id = max(self._highest_order_id, order_id)

    def next_order_id(self) -> int:
        """A fresh id: above IB's nextValidId and above every id seen, even after a gateway
        restart that rolled nextValidId back (LEAN #242)."""
        client = self._ib.client
        client.updateReqId(self._highest_order_id + 1)  # type: ignore[no-untyped-call]
        order_id = int(client.getReqId())
        self._seen_order_id(order_id)
        return order_id

    # -- commands (the Broker protocol) ----------------------------------------------------------

    def place_order(self, order: Order) -> None:
        """Send ``order`` with its assigned ``order_id``; its client_order_id goes in orderRef.

        The message is ib_async's own placeOrder message, byte for byte, made from a template
        (``ib_wire``) and handed to the client's ``sendMsg`` (its throttle included). Not
        ``IB.placeOrder``: ib_async's Trade (built, logged with its eager repr and kept) is
        bookkeeping the actors already do.
        """
        if order.order_id is None:
            raise ValueError(f"order {order.client_order_id!r} has no order_id to place it with")
        order_id = int(order.order_id)
        self.note_order_id(order_id)
        client: Any = self._ib.client
        if not client.isConnected():
            raise ConnectionError("Not connected")
        limit, stop = order.limit_price, order.stop_price
        values = (
            order_id,
            order.symbol,
            order.side.value,
            _wire_number(order.quantity),
            _IB_ORDER_TYPE[order.order_type],
            _UNSET_DOUBLE if limit is None else _wire_number(limit),
            _UNSET_DOUBLE if stop is None else _wire_number(stop),
            order.time_in_force.value,
            order.account or "",
            order.client_order_id,
        )
        message = self._place_templates.message(client.serverVersion(), values)
        if message is not None:
            client.sendMsg(message)
            return
        self._place_with_ib_async(*values)

    def _place_with_ib_async(self, order_id: Any, symbol: Any, *rest: Any) -> None:
        action, quantity, order_type, limit, stop, tif, account, order_ref = rest
        ib_order = ib_async.Order(
            action=action,
            totalQuantity=quantity,
            orderType=order_type,
            lmtPrice=limit,
            auxPrice=stop,
            tif=tif,
            account=account,
            orderRef=order_ref,
        )
        contract = ib_async.Stock(symbol, "SMART", "USD")
        self._ib.client.placeOrder(order_id, contract, ib_order)  # type: ignore[no-untyped-call]

    def _encode_with_ib_async(self, server_version: int, values: tuple[str, ...]) -> str:
        # What ib_async's client sends for ``values``: its sendMsg is borrowed for one call.
        client: Any = self._ib.client
        if client.serverVersion() != server_version:
            raise ValueError(f"client speaks {client.serverVersion()}, not {server_version}")
        captured: list[str] = []
        own = vars(client).get("sendMsg")
        client.sendMsg = captured.append
        try:
            self._place_with_ib_async(*values)
        finally:
            if own is None:
                del client.sendMsg
            else:
                client.sendMsg = own
        [message] = captured
        return message

    def cancel_order(self, order: Order) -> None:
        """Send a cancel for ``order``; the answer arrives as a report.

        Goes to the client directly: ``IB.cancelOrder`` would set ib_async's local Trade to
        PendingCancel, and after a reconnect it no longer knows the Trade at all.
        """
        if order.order_id is None:
            raise ValueError(f"order {order.client_order_id!r} has no order_id to cancel")
        self._ib.client.cancelOrder(int(order.order_id), "")  # type: ignore[no-untyped-call]

    def positions(self) -> list[Position]:
        """Positions as of the last report from TWS."""
        now = datetime.now(UTC)
        return [
            Position(
                symbol=p.contract.symbol,
                quantity=wire_decimal(p.position),
                average_cost=wire_decimal(p.avgCost),
                market_value=None,
                unrealized_pnl=None,
                timestamp=now,
                account=p.account or None,
            )
            for p in self._ib.positions()
        ]

    # -- raw callbacks -> reports ----------------------------------------------------------------

    def _intercept(self, name: str, handler: Callable[..., bool | None]) -> None:
        """Run ``handler`` on ib_async's raw callback ``name``, then ib_async's own handling,
        unless ``handler`` returns True: the message is about one of the library's orders, and
        ib_async's Trade bookkeeping for it (objects, eager reprs in its log lines, events) is
        work nobody reads. Its request futures (open orders, completed orders, executions)
        resolve on their *End messages, which always reach ib_async."""
        wrapper = self._ib.wrapper
        original: Callable[..., Any] = getattr(wrapper, name)

        def hook(*args: Any) -> Any:
            try:
                if handler(*args):
                    return None
            except Exception as exc:  # a malformed message must never take the link down
                self._on_report(
                    BrokerAnomaly(f"could not translate {name}: {exc!r}", raw=repr(args)[:2000])
                )
            return original(*args)

        setattr(wrapper, name, hook)

    def _sync_end(self, name: str) -> Callable[..., None]:
        def ended(*_: Any) -> None:
            self._sync_answers.add(name)

        return ended

    def _report(self, report: BrokerReport | None) -> None:
        if report is None:
            return
        order_id = getattr(report, "order_id", None)
        if type(report) is OrderAccepted:
            seen = self._last_accepted.get(report.order_id)
            if (
                seen is not None
                and report.perm_id in (None, seen[0])
                and report.order_ref in (None, seen[1])
            ):
                return  # a repeated acknowledgement with nothing new (the ledger ignores it too)
            self._acknowledged.add(int(report.order_id))
            if report.order_id != "0":  # completed orders all carry orderId 0
                ref = report.order_ref or (seen[1] if seen is not None else None)
                self._last_accepted[report.order_id] = (report.perm_id, ref)
        elif order_id is not None:
            self._last_accepted.pop(order_id, None)
        self._on_report(report)

    def _open_order(self, order_id: int, contract: Any, order: Any, state: Any) -> bool:
        if order.whatIf:
            return False
        if order_id > 0:
            self._seen_order_id(order_id)
        ours = order_id in self._ours
        if ours and order.permId:
            self._our_perm_ids.add(order.permId)
        elif not ours and order.orderRef and order_id > 0:
            self._discover(order_id, contract, order)
        self._report(
            translate_status(
                str(order_id),
                state.status,
                perm_id=order.permId or None,
                order_ref=order.orderRef or None,
            )
        )
        return ours

    def _discover(self, order_id: int, contract: Any, order: Any) -> None:
        """Describe an order the library was not told is its own (restart recovery may adopt it
        by its orderRef). Only the kinds of order the library places; a description that does
        not parse is an anomaly, and the status report still follows."""
        order_type = _ORDER_TYPE_OF_IB.get(order.orderType)
        if order_type is None or order.tif not in TimeInForce.__members__:
            return
        limit = order.lmtPrice if order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None
        stop = order.auxPrice if order_type in (OrderType.STOP, OrderType.STOP_LIMIT) else None
        now = datetime.now(UTC)
        try:
            described = Order(  # broker data: the validating constructor
                order_id=str(order_id),
                client_order_id=order.orderRef,
                symbol=contract.symbol,
                quantity=wire_decimal(order.totalQuantity),
                order_type=order_type,
                side=order.action,
                limit_price=None if limit is None else wire_decimal(limit),
                stop_price=None if stop is None else wire_decimal(stop),
                status=OrderStatus.PENDING,
                submitted_at=now,
                perm_id=order.permId or None,
                time_in_force=order.tif,
                account=order.account or None,
                updated_at=now,
            )
        except (ValueError, TypeError) as error:
            self._on_report(
                BrokerAnomaly(
                    f"open order {order_id} not understood: {error}", order_id=str(order_id)
                )
            )
            return
        self._on_report(OrderDiscovered(described))

    def _order_status(
        self,
        order_id: int,
        status: str,
        _filled: float,
        _remaining: float,
        _avg_fill_price: float,
        perm_id: int,
        _parent_id: int,
        _last_fill_price: float,
        _client_id: int,
        why_held: str,
        _mkt_cap_price: float = 0.0,
    ) -> bool:
        if order_id > 0:
            self._seen_order_id(order_id)
        self._report(
            translate_status(str(order_id), status, why_held=why_held, perm_id=perm_id or None)
        )
        if order_id in self._ours:
            if perm_id:
                self._our_perm_ids.add(perm_id)
            return True
        return False

    def _completed_order(self, _: Any, order: Any, state: Any) -> bool:
        # Completed orders carry no orderId (it is 0): they are routed by orderRef and permId.
        if state.status == "Filled":
            # IB had the order and it is done: an acknowledgement (it must never be placed
            # again); its fills come from the executions the same sync delivers.
            self._report(OrderAccepted("0", order.permId or None, order.orderRef or None, "Filled"))
            return bool(order.permId) and order.permId in self._our_perm_ids
        self._report(
            translate_status(
                str(order.orderId),
                state.status,
                perm_id=order.permId or None,
                order_ref=order.orderRef or None,
                reason=state.completedStatus or "",
            )
        )
        return bool(order.permId) and order.permId in self._our_perm_ids

    def _exec_details(self, _req_id: int, contract: Any, execution: Any) -> bool:
        time = execution.time
        if not isinstance(time, datetime) or time.tzinfo is None:
            time = datetime.now(UTC)
        # The one check of an execution: the ledger builds its Fill from it without validators.
        quantity = wire_decimal(execution.shares)
        price = wire_decimal(execution.price)
        if not execution.execId or not contract.symbol or quantity <= 0 or price <= 0:
            raise ValueError(
                f"execution {execution.execId!r} of {contract.symbol!r}: "
                f"{quantity} @ {price} (needs an id, a symbol, a positive quantity and price)"
            )
        self._report(
            ExecutionReport(
                exec_id=execution.execId,
                order_id=str(execution.orderId),
                symbol=contract.symbol,
                side=Side.BUY if execution.side == "BOT" else Side.SELL,
                quantity=quantity,
                price=price,
                time=time.astimezone(UTC),
                perm_id=execution.permId or None,
                order_ref=execution.orderRef or None,
            )
        )
        return execution.orderId in self._ours or execution.permId in self._our_perm_ids

    def _commission_report(self, report: Any) -> bool:
        if report.commission < _UNSET_DOUBLE:
            self._report(
                CommissionReport(report.execId, wire_decimal(report.commission), report.currency)
            )
        # ib_async only uses it to update a Fill it kept; it kept none for our executions.
        return report.execId not in self._ib.wrapper.fills

    def _error(self, req_id: int, code: int, message: str, advanced: str = "") -> None:
        text = f"{message} {advanced}".strip() if advanced else message
        if req_id in self._order_ids:
            self._report(
                translate_order_error(
                    str(req_id), code, text, acknowledged=req_id in self._acknowledged
                )
            )
        else:
            self._on_link(translate_link_error(code, text))

    def _disconnected(self) -> None:
        self._last_accepted.clear()
        if not self._closing:
            self._on_link(LinkLost("socket closed by peer"))
