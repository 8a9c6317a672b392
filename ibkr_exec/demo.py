"""``ibkr-exec demo``: a narrated trading session through the real stack, checked at the end.

It starts the embedded TWS simulator (:class:`ibkr_exec.sim.FakeTWS`) on a free loopback port,
connects an :class:`~ibkr_exec.IBKROrderExecutor` to it through the unmodified ib_async client and
runs one order per scenario: a market order, a limit order filled in parts, a cancel, a risk-check
refusal, a broker reject, and a connection drop in the middle of partial fills (fills made while
away, a cancel stashed while paused, reconnect, reconciliation, replay). It then writes the journal
and one trace per order, and exits 0 only when every order ended where it should, both in the
executor and in the simulator's own books. Uses only the public API and ``ibkr_exec.sim``.

``--host/--port/--client-id`` run the scenarios a real TWS or Gateway can play (paper port 7497
by default; live ports need ``IBKR_ALLOW_LIVE=true``); the simulator-only ones are skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import shutil
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import attrs

from ibkr_exec import (
    AuditLogger,
    IBKRConnectionManager,
    IBKROrderExecutor,
    LiveTradingNotAllowedError,
    NotConnectedError,
    Order,
    OrderRejectedError,
    OrderRequest,
    OrderStatus,
    OrderType,
    RiskCheckError,
    Side,
    TraceError,
    load_trace,
    read_journal,
    render_trace,
    replay_orders,
)
from ibkr_exec.demo_view import DemoFailure, LiveTable, Tracker
from ibkr_exec.sim import FakeTWS
from ibkr_exec.sim.cli import port_number

__all__ = ["add_arguments", "run", "run_demo"]

RISK_LIMIT = Decimal(1000)  # the demo's risk check refuses orders above this quantity
_SIM_STATUS = {
    OrderStatus.FILLED: "Filled",
    OrderStatus.CANCELLED: "Cancelled",
    OrderStatus.SUBMITTED: "Submitted",
}


@attrs.define
class Expectation:
    """Where one order must end: in the executor, the journal replay and the simulator."""

    cid: str
    scenario: str
    status: OrderStatus
    filled: Decimal


@attrs.define
class Demo:
    """One demo session: the executor, the simulator (None against a real TWS), what to expect."""

    executor: IBKROrderExecutor
    tracker: Tracker
    tws: FakeTWS | None
    suffix: str = ""
    expected: list[Expectation] = attrs.Factory(list)
    failures: list[str] = attrs.Factory(list)

    def say(self, text: str) -> None:
        """Narrate."""
        self.tracker.view.say(text)

    def cid(self, name: str) -> str:
        """The client_order_id of the scenario ``name`` (unique per run against a real TWS)."""
        return f"demo-{name}{self.suffix}"

    async def submit(
        self, scenario: str, cid: str, quantity: str, limit: str | None = None
    ) -> Order:
        """Submit a BUY of ``quantity`` AAPL (at market, or at ``limit``) and show it."""
        self.tracker.labels[cid] = scenario
        order = await self.executor.submit_order(_buy(cid, quantity, limit))
        # The handler may already have seen later snapshots (a market order fills at once).
        latest = self.tracker.orders.setdefault(order.client_order_id, order)
        self.tracker.show(latest, scenario)
        return order

    def expect(self, cid: str, scenario: str, status: OrderStatus, filled: str) -> None:
        """Record where order ``cid`` must end."""
        self.expected.append(Expectation(cid, scenario, status, Decimal(filled)))

    # -- the scenarios --------------------------------------------------------------------------

    async def market_order(self, quantity: str = "100") -> None:
        """A market order that fills at once."""
        self.say(f"1. Market order: BUY {quantity} AAPL at market; it fills in one execution.")
        cid = self.cid("market")
        self.expect(cid, "market", OrderStatus.FILLED, quantity)
        await self.submit("market", cid, quantity)
        await self.tracker.reaches(cid, OrderStatus.FILLED, Decimal(quantity))

    async def partial_fills(self) -> None:
        """A limit order the exchange fills 25 shares at a time, one match at a time."""
        assert self.tws is not None
        self.say(
            "2. Limit order filled in parts: BUY 100 AAPL LMT 150.50;"
            " the exchange fills 25 at a time."
        )
        cid = self.cid("partial")
        self.expect(cid, "partial fills", OrderStatus.FILLED, "100")
        self.tws.auto_match, self.tws.max_fill_size = False, 25
        try:
            await self.submit("partial fills", cid, "100", "150.50")
            for done in (25, 50, 75, 100):
                self.tws.fill_next(cid)
                status = OrderStatus.FILLED if done == 100 else OrderStatus.PARTIAL
                await self.tracker.reaches(cid, status, Decimal(done))
        finally:
            self.tws.auto_match, self.tws.max_fill_size = True, None

    async def cancel(self, limit: str = "140", quantity: str = "50") -> None:
        """A resting limit order, cancelled."""
        self.say(
            f"3. Cancel: BUY {quantity} AAPL LMT {limit} rests below the market; we cancel it."
        )
        cid = self.cid("cancel")
        self.expect(cid, "cancel", OrderStatus.CANCELLED, "0")
        await self.submit("cancel", cid, quantity, limit)
        pending = await self.executor.cancel_order(cid)
        self.say(f"   cancel requested: {pending.status.value} until the broker confirms")
        await self.tracker.reaches(cid, OrderStatus.CANCELLED)

    async def risk_refusal(self) -> None:
        """The risk check refuses an order above the limit: RiskCheckError, nothing sent."""
        self.say(f"4. Risk check: BUY 5000 AAPL is over the demo's limit of {RISK_LIMIT} shares.")
        cid = self.cid("risk")
        sent_before = self.tws.placements_received if self.tws is not None else None
        try:
            await self.executor.submit_order(_buy(cid, "5000"))
        except RiskCheckError as error:
            self.say(f"   refused: RiskCheckError: {error}")
        else:
            raise DemoFailure("the risk check let an order of 5000 through")
        if await self.executor.get_order_status(cid) is not None:
            raise DemoFailure(f"{cid} was refused but the executor tracks it")
        if self.tws is not None and self.tws.placements_received != sent_before:
            raise DemoFailure(f"{cid} was refused but reached the broker")
        self.say("   nothing was sent to the broker and no order exists.")

    async def broker_reject(self) -> None:
        """TWS rejects an order with error 201."""
        assert self.tws is not None
        self.say("5. Broker reject: the simulator answers the next order with error 201.")
        cid = self.cid("reject")
        self.expect(cid, "broker reject", OrderStatus.REJECTED, "0")
        self.tws.inject_order_error(201, "insufficient margin (simulated)")
        try:
            await self.submit("broker reject", cid, "10")
        except OrderRejectedError as error:
            self.say(f"   OrderRejectedError: code {error.code}: {error.reason}")
        else:
            raise DemoFailure("the injected 201 did not reject the order")
        order = await self.executor.get_order_status(cid)
        if order is not None:
            self.tracker.show(order, "broker reject")

    async def connection_drop(self) -> None:
        """The link drops between partial fills; fills happen while away; cancels are stashed."""
        tws, tracker = self.tws, self.tracker
        assert tws is not None
        self.say(
            "6. Connection drop: BUY 100 AAPL LMT 149 and BUY 20 AAPL LMT 148 rest;"
            " 30 of the first fill."
        )
        cid, other = self.cid("drop"), self.cid("drop-filled")
        self.expect(cid, "drop: cancel", OrderStatus.CANCELLED, "70")
        self.expect(other, "drop: filled", OrderStatus.FILLED, "20")
        await self.submit("drop: cancel", cid, "100", "149")
        await self.submit("drop: filled", other, "20", "148")
        tws.fill(cid, 30)
        await tracker.reaches(cid, OrderStatus.PARTIAL, Decimal(30))
        self.say(
            "   the simulator drops the connection; while we are away 40 more of the first fill,"
            " and all 20 of the second."
        )
        tws.disconnect_clients()
        tws.fill(cid, 40)  # no await since the drop: the client cannot have reconnected yet
        tws.fill(other)
        await tracker.until(lambda: tracker.link == "DOWN", "the executor to notice the drop")
        for key in (cid, other):
            order = await self.executor.cancel_order(key)
            self.say(f"   cancel {key} while paused: stashed (order still {order.status.value})")
        await tracker.until(lambda: tracker.link == "READY", "reconnect and reconciliation")
        self.say(
            "   reconnected and reconciled: the fills made while away are applied; then the"
            " stash replays: the first cancel is sent, the second is dropped (order FILLED)."
        )
        await tracker.reaches(cid, OrderStatus.CANCELLED, Decimal(70))
        await tracker.reaches(other, OrderStatus.FILLED, Decimal(20))

    # -- checks ---------------------------------------------------------------------------------

    async def check(self, journal: Path) -> None:
        """Compare every order with its expectation, the journal's replay and the simulator."""
        replayed = replay_orders(read_journal(journal))
        for want in self.expected:
            got = await self.executor.get_order_status(want.cid)
            where = f"{want.cid} ({want.scenario})"
            if got is None:
                self.failures.append(f"{where}: unknown to the executor")
                continue
            if (got.status, got.filled_quantity) != (want.status, want.filled):
                self.failures.append(
                    f"{where}: ended {got.status.value} with {got.filled_quantity} filled, "
                    f"expected {want.status.value} with {want.filled}"
                )
            again = replayed.get(want.cid)
            if again is None or (again.status, again.filled_quantity) != (
                got.status,
                got.filled_quantity,
            ):
                self.failures.append(
                    f"{where}: the journal replays to {again and again.status.value}, "
                    f"not {got.status.value}"
                )
            if self.tws is not None and want.status in _SIM_STATUS:
                sim = self.tws.order(want.cid)
                if (sim.status, sim.filled) != (_SIM_STATUS[want.status], want.filled):
                    self.failures.append(
                        f"{where}: the simulator has it {sim.status} with {sim.filled} filled"
                    )
        if self.tws is not None:
            truth = {sym: qty for (_, sym), qty in self.tws.positions.items() if qty}
            ours = {p.symbol: p.quantity for p in await self.executor.get_positions() if p.quantity}
            if ours != truth:
                self.failures.append(f"positions {ours} differ from the simulator's {truth}")


def _buy(cid: str, quantity: str, limit: str | None = None) -> OrderRequest:
    kind = OrderType.MARKET if limit is None else OrderType.LIMIT
    return OrderRequest("AAPL", quantity, kind, Side.BUY, limit_price=limit, client_order_id=cid)


# -- running --------------------------------------------------------------------------------------


def _fresh_journal(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    journal = out / "journal.jsonl"
    journal.unlink(
        missing_ok=True
    )  # a fresh journal: the executor would otherwise adopt old orders
    return journal


def _write_traces(out: Path, journal: Path, demo: Demo) -> list[Path]:
    traces = out / "traces"
    traces.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    draw_svg = shutil.which("dot") is not None  # what render_trace(..., "svg") runs
    if not draw_svg:
        demo.say(
            "SVG traces skipped: Graphviz's dot is not installed (apt-get install graphviz, "
            "or brew install graphviz); the Markdown traces carry a Mermaid diagram."
        )
    for want in demo.expected:
        try:
            trace = load_trace(journal, want.cid)
            svg = render_trace(trace, "svg") if draw_svg else None
            md = traces / f"{want.cid}.md"
            md.write_text(
                render_trace(trace, "md", svg_href=f"{want.cid}.svg" if svg else None),
                encoding="utf-8",
            )
            written.append(md)
            if svg is not None:
                (traces / f"{want.cid}.svg").write_text(svg, encoding="utf-8")
                written.append(traces / f"{want.cid}.svg")
        except TraceError as error:
            demo.failures.append(f"trace of {want.cid}: {error}")
    return written


async def run_demo(
    out: Path,
    *,
    host: str | None = None,
    port: int | None = None,
    client_id: int | None = None,
    view: LiveTable | None = None,
) -> int:
    """Run the session, write ``out``/journal.jsonl and ``out``/traces/, return the exit code."""
    view = view or LiveTable()
    real = host is not None or port is not None or client_id is not None
    journal = _fresh_journal(out)
    tws: FakeTWS | None = None
    if not real:
        tws = FakeTWS()
        await tws.start()
        tws.set_price("AAPL", Decimal("150"))
        host, port = tws.host, tws.port
        view.say(f"Embedded TWS simulator (FakeTWS) listening on {host}:{port}; AAPL at 150.")
    host, port = host or "127.0.0.1", port or 7497
    manager = IBKRConnectionManager(
        host,
        port,
        client_id or 1,
        timeout_seconds=5.0 if tws else 15.0,
        reconnect_backoff_seconds=0.2 if tws else 1.0,
        reconnect_max_attempts=20,
        allow_live=os.environ.get("IBKR_ALLOW_LIVE", "").strip().lower() == "true",
        audit_logger=AuditLogger(journal, buffer_entries=1),
    )
    tracker = Tracker(view, manager)
    executor = IBKROrderExecutor(
        manager,
        risk_check_callback=lambda request: request.quantity <= RISK_LIMIT,
        order_handlers=[tracker],
        connection_handlers=[tracker],
    )
    demo = Demo(executor, tracker, tws, suffix="" if tws else datetime.now(UTC).strftime("-%H%M%S"))
    started = time.monotonic()
    try:
        try:
            await executor.start()
        except LiveTradingNotAllowedError as error:
            view.say(f"refused: {error}\n(set IBKR_ALLOW_LIVE=true to trade on a live port)")
            return 2
        except (NotConnectedError, OSError, TimeoutError) as error:
            view.say(f"could not connect to TWS / IB Gateway at {host}:{port}: {error}")
            return 2
        view.say(f"Executor connected to {host}:{port} through ib_async; journal: {journal}")
        steps = [
            demo.market_order,
            demo.partial_fills,
            demo.cancel,
            demo.risk_refusal,
            demo.broker_reject,
            demo.connection_drop,
        ]
        if tws is None:
            view.say(
                "Real TWS / Gateway: skipping the simulator-only scenarios (partial fills,"
                " broker reject, connection drop); the cancel uses a limit far from the market."
            )
            steps = [
                lambda: demo.market_order("1"),
                lambda: demo.cancel("1.00", "1"),
                demo.risk_refusal,
            ]
        for step in steps:
            if view.is_tty:
                await asyncio.sleep(0.4)  # pacing for a human watching the table, not a wait
            try:
                await step()
            except Exception as error:  # reported, and the next scenario still runs
                message = f"{type(error).__name__}: {error}"
                demo.failures.append(message)
                view.say(f"   FAILED: {message}")
        await demo.check(journal)
    finally:
        tracker.closing = True
        await executor.stop()
        executor.journal.close()
        if tws is not None:
            await tws.stop()
    view.final_table()
    written = _write_traces(out, journal, demo)
    view.say(f"\nJournal: {journal}")
    view.say(f"Traces ({len(written)} files) in {out / 'traces'}; draw one again with:")
    view.say(  # a command to copy: the terminal may wrap it, we do not break it
        f"  ibkr-exec trace {journal} --order {demo.expected[-1].cid if demo.expected else 'ID'}",
        wrap=False,
    )
    elapsed = time.monotonic() - started
    if demo.failures:
        view.say(f"\nFAILED in {elapsed:.1f} s: {len(demo.failures)} problem(s):")
        for failure in demo.failures:
            view.say(f"  - {failure}")
        return 1
    view.say(
        f"\nOK in {elapsed:.1f} s: every order ended where it should "
        + (
            "(executor, journal replay and simulator agree)."
            if tws
            else "(executor and journal replay agree)."
        )
    )
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``demo`` sub-command's options."""
    parser.add_argument("--out", default="demo-output", help="output folder (default: demo-output)")
    parser.add_argument("--host", help="run against this TWS / Gateway instead of the simulator")
    parser.add_argument(
        "--port",
        type=functools.partial(port_number, minimum=1),
        help="TWS / Gateway port (default 7497, paper)",
    )
    parser.add_argument("--client-id", type=_client_id, help="API client id (default 1)")


def _client_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"a client id is an integer >= 0, got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    """Entry point of ``ibkr-exec demo``."""
    try:
        return asyncio.run(
            run_demo(Path(args.out), host=args.host, port=args.port, client_id=args.client_id)
        )
    except KeyboardInterrupt:
        return 130
