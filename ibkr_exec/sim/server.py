"""FakeTWS: the simulated gateway a TWS API client connects to, and the handle tests drive it by."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Self

from loguru import logger

from ibkr_exec.sim import encode
from ibkr_exec.sim.book import SimExecution, SimOrder
from ibkr_exec.sim.exchange import Exchange, SimPosition, utc_now
from ibkr_exec.sim.faults import FaultPlan
from ibkr_exec.sim.faults_api import FaultMethods
from ibkr_exec.sim.intake import OrderIntake
from ibkr_exec.sim.protocol import BROKEN_SERVER_VERSION, MAX_SERVER_VERSION, MIN_SERVER_VERSION
from ibkr_exec.sim.session import ClientSession
from ibkr_exec.sim.tz import DEFAULT_TWS_ZONE, ExecTimeStyle, exec_time, load_zone

__all__ = ["FakeTWS"]

Predicate = Callable[[], bool]


class FakeTWS(OrderIntake, FaultMethods):
    """A wire-level TWS stand-in with a deterministic exchange and fault injection.

    Use it as an async context manager; it listens on ``host:port`` (``port=0`` picks a free one)::

        async with FakeTWS(accounts=["DU123"]) as tws:
            tws.set_price("AAPL", Decimal("150"))
            await ib.connectAsync("127.0.0.1", tws.port, clientId=1)

    Orders, executions and positions belong to the simulator, not to a connection: they survive
    client disconnects and are replayed to a client that reconnects with the same client id.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        accounts: Iterable[str] = ("DU1234567",),
        server_version: int = MAX_SERVER_VERSION,
        clock: Callable[[], datetime] = utc_now,
        max_fill_size: Decimal | int | None = None,
        auto_match: bool = True,
        commission_per_share: Decimal = Decimal("0.005"),
        min_commission: Decimal = Decimal("1.00"),
        timezone: str = DEFAULT_TWS_ZONE,
        exec_time_style: ExecTimeStyle = "space",
        repeat_filled_status: bool = True,
        pending_cancel: bool = False,
        acknowledge_twice: bool = False,
        min_ticks: Mapping[str, Decimal | int | str] | None = None,
    ) -> None:
        if not MIN_SERVER_VERSION <= server_version <= MAX_SERVER_VERSION:
            raise ValueError(
                f"server_version must be {MIN_SERVER_VERSION}..{MAX_SERVER_VERSION}, "
                f"got {server_version}"
            )
        if server_version == BROKEN_SERVER_VERSION:
            raise ValueError("server_version 158 misaligns openOrder between client libraries")
        self.host = host
        self.port = port
        self.accounts = list(accounts)
        if not self.accounts:
            raise ValueError("at least one account is required: clients never become ready")
        self.server_version = server_version
        self.clock = clock
        #: TWS's time zone (its login setting): the handshake names it, and execution and
        #: completion times are written in it without a zone, as real TWS does.
        self.zone = load_zone(timezone)
        if exec_time_style not in ("space", "dash"):
            raise ValueError(f"exec_time_style must be 'space' or 'dash', got {exec_time_style!r}")
        self.exec_time_style: ExecTimeStyle = exec_time_style
        self.plan = FaultPlan()
        self.exchange = Exchange(
            self,
            clock=clock,
            max_fill_size=None if max_fill_size is None else Decimal(max_fill_size),
            auto_match=auto_match,
            commission_per_share=commission_per_share,
            min_commission=min_commission,
            zone=self.zone,
        )
        #: Send orderStatus Filled a second time after the final fill, as real TWS often does.
        self.repeat_filled_status = repeat_filled_status
        self.exchange.pending_cancel = pending_cancel
        self.exchange.acknowledge_twice = acknowledge_twice
        self._min_ticks: dict[str, Decimal] = {}
        for symbol, tick in (min_ticks or {}).items():
            self.set_min_tick(symbol, tick)
        self.placements_received = 0
        self._server: asyncio.Server | None = None
        self._sessions: set[ClientSession] = set()
        self._clients: dict[int, ClientSession] = {}
        self._waiters: list[tuple[Predicate, asyncio.Future[None]]] = []
        self._pending_scenario: Path | None = None

    @classmethod
    def from_scenario(cls, path: str | Path, **overrides: object) -> FakeTWS:
        """A FakeTWS configured by a scenario file's ``[server]`` table; its prices and faults
        are applied on start. Keyword arguments override the file."""
        from ibkr_exec.sim.scenario import load_scenario

        scenario = load_scenario(path)
        tws = cls(**{**scenario.server, **overrides})
        tws._pending_scenario = Path(path)
        return tws

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start listening; ``port`` is the bound port afterwards."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: ClientSession(self), self.host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        if self._pending_scenario is not None:
            from ibkr_exec.sim.scenario import load_scenario

            load_scenario(self._pending_scenario).apply(self)
        logger.trace("sim: listening on {}:{}", self.host, self.port)

    async def stop(self) -> None:
        """Drop every client and stop listening."""
        self.disconnect_clients()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for _, future in self._waiters:
            future.cancel()
        self._waiters.clear()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- the market -------------------------------------------------------------------------------

    def set_price(self, symbol: str, price: Decimal | int | str) -> list[SimExecution]:
        """Set a symbol's price; with ``auto_match`` it fills what the price makes eligible, even
        while the owning client is disconnected. Returns the executions it caused."""
        return self.exchange.set_price(symbol, Decimal(price))

    @property
    def max_fill_size(self) -> Decimal | None:
        """The most one match fills (None: no limit); a smaller value yields partial fills."""
        return self.exchange.max_fill_size

    @max_fill_size.setter
    def max_fill_size(self, value: Decimal | int | None) -> None:
        self.exchange.max_fill_size = None if value is None else Decimal(value)

    @property
    def pending_cancel(self) -> bool:
        """Send PendingCancel before Cancelled (no real capture shows it; off by default)."""
        return self.exchange.pending_cancel

    @pending_cancel.setter
    def pending_cancel(self, value: bool) -> None:
        self.exchange.pending_cancel = value

    @property
    def acknowledge_twice(self) -> bool:
        """Acknowledge PreSubmitted then Submitted (the old simulator; off by default)."""
        return self.exchange.acknowledge_twice

    @acknowledge_twice.setter
    def acknowledge_twice(self, value: bool) -> None:
        self.exchange.acknowledge_twice = value

    @property
    def auto_match(self) -> bool:
        """Whether placements and price changes fill eligible orders at once."""
        return self.exchange.auto_match

    @auto_match.setter
    def auto_match(self, value: bool) -> None:
        self.exchange.auto_match = value

    def match(self, symbol: str | None = None) -> list[SimExecution]:
        """Fill every eligible order (of ``symbol``, or all) completely, in max_fill_size chunks."""
        return self.exchange.match(symbol)

    def fill_next(self, key: int | str | None = None) -> SimExecution | None:
        """Fill one chunk of the order ``key`` (order id or orderRef), or of the oldest eligible
        order; None when nothing is eligible at the current prices."""
        return self.exchange.fill_next(None if key is None else self.order(key))

    def fill(
        self, key: int | str, quantity: Decimal | int | None = None, price: Decimal | None = None
    ) -> SimExecution:
        """Fill order ``key`` now regardless of the market (default: all of it at its limit, or
        the symbol's price)."""
        qty = None if quantity is None else Decimal(quantity)
        return self.exchange.force_fill(self.order(key), qty, price)

    # -- introspection ----------------------------------------------------------------------------

    @property
    def orders(self) -> list[SimOrder]:
        """Every order received, in placement order (read-only by convention)."""
        return list(self.exchange.orders.values())

    def order(self, key: int | str, client_id: int | None = None) -> SimOrder:
        """The order with this orderRef (str) or order id (int, of ``client_id`` if given)."""
        if isinstance(key, str):
            found = self.exchange.find_ref(key)
        elif client_id is not None:
            found = self.exchange.find(client_id, key)
        else:
            found = next((o for o in self.exchange.orders.values() if o.order_id == key), None)
        if found is None:
            raise KeyError(key)
        return found

    @property
    def executions(self) -> list[SimExecution]:
        """Every execution (corrections included), oldest first."""
        return list(self.exchange.executions)

    @property
    def positions(self) -> dict[tuple[str, str], Decimal]:
        """Signed position per ``(account, symbol)``."""
        return {key: pos.quantity for key, pos in self.exchange.positions.items()}

    @property
    def timezone(self) -> str:
        """TWS's time zone (IANA name); the handshake gives its display name."""
        return self.zone.key

    def exec_time(self, execution: SimExecution) -> str:
        """``execution``'s time as TWS writes it in execDetails: local, without a zone."""
        return exec_time(execution.time, self.zone, self.exec_time_style)

    @property
    def connected_client_ids(self) -> frozenset[int]:
        """Client ids with a live, started API connection."""
        return frozenset(self._clients)

    async def wait_for(self, predicate: Predicate, timeout: float = 5.0) -> None:
        """Return once ``predicate()`` is true; it is re-checked after every simulator event.

        Raises TimeoutError after ``timeout`` seconds.
        """
        if predicate():
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (predicate, future)
        self._waiters.append(entry)
        try:
            await asyncio.wait_for(future, timeout)
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)

    async def wait_for_placements(self, count: int, timeout: float = 5.0) -> None:
        """Return once ``count`` placeOrder messages (modifications included) have arrived."""
        await self.wait_for(lambda: self.placements_received >= count, timeout)

    async def wait_for_status(self, key: int | str, status: str, timeout: float = 5.0) -> SimOrder:
        """Return the order ``key`` (order id or orderRef) once it has reached ``status``."""

        def reached() -> bool:
            try:
                return self.order(key).status == status
            except KeyError:
                return False

        await self.wait_for(reached, timeout)
        return self.order(key)

    async def wait_for_client(self, client_id: int, *, connected: bool = True) -> None:
        """Return once ``client_id`` is connected (or, with ``connected=False``, gone)."""
        await self.wait_for(lambda: (client_id in self._clients) is connected)

    def _changed(self) -> None:
        if not self._waiters:
            return
        for predicate, future in list(self._waiters):
            if not future.done() and predicate():
                future.set_result(None)

    # -- connections ------------------------------------------------------------------------------

    def disconnect_clients(self) -> None:
        """Close every client socket now; orders and executions are kept."""
        for session in list(self._sessions):
            session.close()

    def _session_opened(self, session: ClientSession) -> None:
        self._sessions.add(session)

    def _session_closed(self, session: ClientSession) -> None:
        self._sessions.discard(session)
        if session.client_id is not None and self._clients.get(session.client_id) is session:
            del self._clients[session.client_id]
            logger.trace("sim: client {} disconnected", session.client_id)
        self._changed()

    def _register(self, session: ClientSession, client_id: int) -> bool:
        current = self._clients.get(client_id)
        if current is not None and current.is_open:
            return False
        session.client_id = client_id
        self._clients[client_id] = session
        self._changed()
        return True

    def _broadcast_error(self, code: int) -> None:
        for session in list(self._clients.values()):
            session.send_error(-1, code)

    # -- ExchangeListener: exchange events to the owning client -----------------------------------

    def order_changed(self, order: SimOrder, *, with_open_order: bool) -> None:
        """Send openOrder (when TWS would) and orderStatus to the client that placed the order."""
        session = self._clients.get(order.client_id)
        if session is not None:
            if with_open_order:
                session.send(encode.open_order(session.version, order))
            session.send(encode.order_status(order))
        self._changed()

    def order_filled(self, order: SimOrder, execution: SimExecution) -> None:
        """What real TWS sends for an execution (captures 2-6, 21-23).

        The final fill: execDetails, openOrder Filled, orderStatus Filled, a second openOrder
        Filled carrying the order's commission, orderStatus Filled again (with
        ``repeat_filled_status``), then commissionReport. A partial fill: execDetails,
        orderStatus Submitted with the quantity so far, commissionReport.
        """
        session = self._clients.get(order.client_id)
        if session is not None:
            version = session.version
            session.send(encode.exec_details(version, -1, execution, self.exec_time(execution)))
            if order.is_done:
                session.send(encode.open_order(version, order))
                session.send(encode.order_status(order))
                commission = self.exchange.order_commission(order)
                session.send(encode.open_order(version, order, commission=commission))
                if self.repeat_filled_status:
                    session.send(encode.order_status(order))
            else:
                session.send(encode.order_status(order))
            session.send(encode.commission_report(execution))
        self._changed()

    def execution_corrected(self, order: SimOrder, correction: SimExecution) -> None:
        """The correcting execDetails and its commissionReport."""
        session = self._clients.get(order.client_id)
        if session is not None:
            session.send(
                encode.exec_details(session.version, -1, correction, self.exec_time(correction))
            )
            session.send(encode.commission_report(correction))
        self._changed()

    def position_changed(self, position: SimPosition) -> None:
        """A position message to every client subscribed with reqPositions."""
        message: list[str] | None = None
        for session in list(self._clients.values()):
            if session.positions_subscribed:
                message = message or encode.position(position)
                session.send(message)
