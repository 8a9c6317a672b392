"""``ibkr-exec trace``: one order's path, drawn from a journal written by a real session.

The journal comes from an IBKROrderExecutor trading through ib_async against FakeTWS (a market
order, a limit order filled in four parts, a cancel, a broker reject, and an order that lives
through a dropped connection), so the traces are checked against what the stack really writes.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ibkr_exec import (
    AuditLogger,
    ConnectionEventHandler,
    IBKRConnectionManager,
    IBKROrderExecutor,
    OrderRejectedError,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TraceError,
    load_trace,
    render_trace,
)
from ibkr_exec.cli import main
from ibkr_exec.diagrams import dot_available
from ibkr_exec.sim import FakeTWS


class _Link(ConnectionEventHandler):
    def __init__(self) -> None:
        self.down = asyncio.Event()
        self.up = asyncio.Event()

    def on_disconnected(self) -> None:
        self.down.set()

    def on_connected(self) -> None:
        self.up.set()


async def _until(executor: IBKROrderExecutor, cid: str, status: OrderStatus, filled: int) -> None:
    async def reached() -> None:
        while True:
            order = await executor.get_order_status(cid)
            if order and order.status is status and order.filled_quantity == filled:
                return
            await asyncio.sleep(0.005)

    await asyncio.wait_for(reached(), 5)


async def _session(journal: Path) -> None:
    """A real session through the executor, ib_async and FakeTWS; everything is journaled."""
    link = _Link()
    async with FakeTWS() as tws:
        tws.set_price("AAPL", Decimal("150"))
        manager = IBKRConnectionManager(
            tws.host,
            tws.port,
            5,
            timeout_seconds=3.0,
            reconnect_backoff_seconds=0.2,
            max_requests_per_second=0,
            audit_logger=AuditLogger(journal),
        )
        executor = IBKROrderExecutor(
            manager,
            risk_check_callback=lambda r: r.quantity <= 1000,
            connection_handlers=[link],
        )
        await executor.start()
        try:
            await executor.submit_order(
                OrderRequest("AAPL", "100", OrderType.MARKET, Side.BUY, client_order_id="mkt")
            )
            await _until(executor, "mkt", OrderStatus.FILLED, 100)

            tws.auto_match, tws.max_fill_size = False, 25
            await executor.submit_order(
                OrderRequest(
                    "AAPL",
                    "100",
                    OrderType.LIMIT,
                    Side.BUY,
                    limit_price="151",
                    client_order_id="lmt",
                )
            )
            for done in (25, 50, 75, 100):
                tws.fill_next("lmt")
                status = OrderStatus.FILLED if done == 100 else OrderStatus.PARTIAL
                await _until(executor, "lmt", status, done)
            tws.auto_match, tws.max_fill_size = True, None

            await executor.submit_order(
                OrderRequest(
                    "AAPL",
                    "50",
                    OrderType.LIMIT,
                    Side.BUY,
                    limit_price="140",
                    client_order_id="cxl",
                )
            )
            await executor.cancel_order("cxl")
            await _until(executor, "cxl", OrderStatus.CANCELLED, 0)

            with pytest.raises(Exception, match="risk"):
                await executor.submit_order(
                    OrderRequest("AAPL", "5000", OrderType.MARKET, Side.BUY, client_order_id="big")
                )

            tws.inject_order_error(201, "insufficient margin")
            with pytest.raises(OrderRejectedError):
                await executor.submit_order(
                    OrderRequest("AAPL", "10", OrderType.MARKET, Side.BUY, client_order_id="rej")
                )

            await executor.submit_order(
                OrderRequest(
                    "AAPL",
                    "100",
                    OrderType.LIMIT,
                    Side.BUY,
                    limit_price="149",
                    client_order_id="drop",
                )
            )
            await executor.submit_order(
                OrderRequest(
                    "AAPL",
                    "20",
                    OrderType.LIMIT,
                    Side.BUY,
                    limit_price="148",
                    client_order_id="gone",
                )
            )
            tws.fill("drop", 30)
            await _until(executor, "drop", OrderStatus.PARTIAL, 30)
            tws.disconnect_clients()
            tws.fill("drop", 40)  # made while the client is away
            tws.fill("gone")  # all of it, while away
            await asyncio.wait_for(link.down.wait(), 5)
            link.up.clear()
            await executor.cancel_order("drop")  # stashed while paused
            await executor.cancel_order("gone")  # stashed, then dropped: filled meanwhile
            await asyncio.wait_for(link.up.wait(), 5)
            await _until(executor, "drop", OrderStatus.CANCELLED, 70)
            await _until(executor, "gone", OrderStatus.FILLED, 20)
        finally:
            await executor.stop()
            executor.journal.close()


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The journal of one real session (written once for the whole module)."""
    path = tmp_path_factory.mktemp("trace") / "journal.jsonl"
    asyncio.run(_session(path))
    return path


def _states(journal: Path, order: str) -> list[str]:
    trace = load_trace(journal, order)
    return [trace.path[0].src, *(e.dst for e in trace.path)]


def _raw(journal: Path, cid: str | None = None) -> list[dict[str, Any]]:
    """The journal's entries as written (of order ``cid``, or of the link when None)."""
    entries = [json.loads(line) for line in journal.read_text().splitlines()]
    if cid is None:
        return [e for e in entries if e["kind"] == "connection"]
    return [e for e in entries if e["client_order_id"] == cid]


# -- the path drawn for each kind of order ---------------------------------------------------


def test_filled_market_order_goes_pending_submitted_filled(journal: Path) -> None:
    trace = load_trace(journal, "mkt")
    assert [(e.src, e.dst, e.trigger) for e in trace.path] == [
        ("PENDING", "SUBMITTED", "acknowledge"),
        ("SUBMITTED", "FILLED", "fill"),
    ]
    assert trace.visited == ("PENDING", "SUBMITTED", "FILLED")
    assert trace.order.status is OrderStatus.FILLED


def test_partly_filled_limit_order_passes_through_partial_in_order(journal: Path) -> None:
    assert _states(journal, "lmt") == [
        "PENDING",
        "SUBMITTED",
        "PARTIAL",
        "PARTIAL",
        "PARTIAL",
        "FILLED",
    ]
    fills = [s for s in load_trace(journal, "lmt").steps if s.trigger == "fill"]
    assert [s.fill for s in fills] == ["25@150"] * 4
    assert [s.filled for s in fills] == [25, 50, 75, 100]


def test_cancelled_order_goes_through_pending_cancel(journal: Path) -> None:
    assert _states(journal, "cxl") == ["PENDING", "SUBMITTED", "PENDING_CANCEL", "CANCELLED"]


def test_rejected_order_ends_rejected_with_ibs_code(journal: Path) -> None:
    trace = load_trace(journal, "rej")
    assert (trace.path[0].src, trace.path[0].dst) == ("PENDING", "REJECTED")
    assert all(e.dst == "REJECTED" for e in trace.path)
    assert trace.order.status is OrderStatus.REJECTED
    reject = next(s for s in trace.steps if s.trigger == "reject")
    assert reject.broker.startswith("201: ")
    assert "insufficient margin" in reject.broker


def test_order_that_lived_through_a_disconnect_shows_the_drop_and_the_fill_made_away(
    journal: Path,
) -> None:
    trace = load_trace(journal, "drop")
    assert _states(journal, "drop") == [
        "PENDING",
        "SUBMITTED",
        "PARTIAL",
        "PARTIAL",
        "PENDING_CANCEL",
        "CANCELLED",
    ]
    events = [s.trigger for s in trace.steps]
    lost, synced = events.index("link: socket_lost"), events.index("link: synced")
    fills = [i for i, e in enumerate(events) if e == "fill"]
    assert fills[0] < lost < fills[1] < synced < events.index("request_cancel")
    assert trace.order.filled_quantity == 70
    md = render_trace(trace)
    assert "requested while paused: stashed, replayed after reconciliation" in md


def test_a_repeated_report_in_a_finished_state_does_not_extend_the_path(journal: Path) -> None:
    # The reconnect's sync re-reports the rejected order: journaled as REJECTED -> REJECTED.
    repeats = [e for e in _raw(journal, "rej") if e["src"] == e["dst"] == "REJECTED"]
    assert [e["trigger"] for e in repeats] == ["reject"]
    trace = load_trace(journal, "rej")
    assert [(e.src, e.dst) for e in trace.path] == [("PENDING", "REJECTED")]
    md = render_trace(trace)
    assert "- **Path:** PENDING → REJECTED\n" in md
    assert "|  | " in md.split("reject (repeat)")[0].rsplit("\n", 1)[1]  # a row, unnumbered
    dot = render_trace(trace, "dot")
    assert '"REJECTED" -> "REJECTED"' not in dot  # not drawn as a step taken


def test_fills_reconciled_after_a_reconnect_come_after_link_connected(journal: Path) -> None:
    # As journaled, the sync's fills precede "connected" (ib_async syncs before connect returns).
    connected = next(e["seq"] for e in _raw(journal) if e["trigger"] == "connected" and
                     e["src"] == "RECONNECTING")  # fmt: skip
    away = [e for e in _raw(journal, "gone") if e["trigger"] == "fill"]
    assert [e["seq"] < connected for e in away] == [True]
    for cid in ("gone", "drop"):
        events = [s.trigger for s in load_trace(journal, cid).steps]
        last_fill = len(events) - 1 - events[::-1].index("fill")
        assert events.index("link: socket_lost") < events.index("link: connected") < last_fill
        assert last_fill < events.index("link: synced")


def test_pause_and_resume_rows_show_only_while_the_order_is_live(journal: Path) -> None:
    # Every order actor was paused at the drop and resumed after it, finished or not.
    assert {e["trigger"] for e in _raw(journal, "rej") if e["kind"] == "mode"} == {
        "pause",
        "resume",
    }
    modes = {
        cid: [s.trigger for s in load_trace(journal, cid).steps if s.kind == "mode"]
        for cid in ("rej", "mkt", "gone", "drop")
    }
    assert modes == {
        "rej": [],  # rejected before the drop
        "mkt": [],  # filled before the drop
        "gone": ["pause"],  # live at the drop, filled while away: resumed as FILLED
        "drop": ["pause", "resume"],  # live throughout
    }


def test_a_finished_order_shows_no_link_rows_after_it_ended(journal: Path) -> None:
    # Their actors were paused and resumed at the drop (journaled), after they had ended.
    for cid in ("mkt", "cxl", "rej"):
        assert {e["trigger"] for e in _raw(journal, cid) if e["kind"] == "mode"} == {
            "pause",
            "resume",
        }
        steps = load_trace(journal, cid).steps
        assert [s.trigger for s in steps if s.kind in {"connection", "mode"}] == [], cid


def test_a_command_stashed_while_paused_is_a_row_before_the_reconnect(journal: Path) -> None:
    events = [(s.trigger, s.broker) for s in load_trace(journal, "drop").steps]
    stashed = events.index(
        ("stashed RequestCancel", "requested while paused: held until reconciliation")
    )
    names = [name for name, _ in events]
    assert names.index("link: socket_lost") < stashed < names.index("link: connected")


def test_order_can_be_named_by_its_ib_order_id(journal: Path) -> None:
    by_cid = load_trace(journal, "lmt")
    assert load_trace(journal, str(by_cid.order.order_id)).order == by_cid.order


# -- renderings -----------------------------------------------------------------------------


def test_markdown_has_summary_mermaid_timeline_and_anomalies(journal: Path) -> None:
    md = render_trace(load_trace(journal, "lmt"), "md")
    assert md.startswith("# Order lmt\n")
    assert "- **Final status:** FILLED" in md
    assert "- **Filled:** 100 / 100" in md
    assert "- **Average price:** 150" in md
    assert "- **Path:** PENDING → SUBMITTED → PARTIAL → PARTIAL → PARTIAL → FILLED" in md
    assert "```mermaid\n---\ntitle: Order lmt" in md
    assert "class PENDING,SUBMITTED,PARTIAL,FILLED visited" in md
    assert "| fill | SUBMITTED | PARTIAL | 25 / 100 | 25@150 |" in md
    assert "## Anomalies\n\nNone." in md


def test_dot_numbers_and_highlights_the_edges_taken(journal: Path) -> None:
    dot = render_trace(load_trace(journal, "lmt"), "dot")
    taken = '<font color="#d9480f"><b>{}</b></font>'
    assert (
        '"PENDING" -> "SUBMITTED" [label=<' + taken.format("1. acknowledge") + '>, color="#d9480f"'
    ) in dot
    assert '"PARTIAL" -> "PARTIAL" [label="3,4. fill"' in dot
    assert (
        '"PARTIAL" -> "FILLED" [label=<'
        + taken.format("5. fill [within_quantity &amp; completes_order]")
        + ">"
    ) in dot


@pytest.mark.skipif(not dot_available(), reason="Graphviz dot not installed")
def test_svg_renders_the_path(journal: Path) -> None:
    svg = render_trace(load_trace(journal, "cxl"), "svg")
    assert "</svg>" in svg
    assert "1. acknowledge" in svg


Box = tuple[str, float, float, float, float]  # text, x0, y0, x1, y1


def _text_boxes(svg: str) -> list[Box]:
    """Every text of an SVG drawn by dot, with an estimate of its box."""
    boxes = []
    for attributes, text in re.findall(r"<text([^>]*)>([^<]*)</text>", svg):
        values = dict(re.findall(r'([\w-]+)="([^"]*)"', attributes))
        x, y, size = float(values["x"]), float(values["y"]), float(values["font-size"])
        width = 0.5 * size * len(html.unescape(text))  # Helvetica averages about half an em
        x0 = {"start": x, "middle": x - width / 2, "end": x - width}[values["text-anchor"]]
        boxes.append((html.unescape(text), x0, y - 0.75 * size, x0 + width, y))
    return boxes


def _self_loops(svg: str) -> list[tuple[list[tuple[float, float]], set[str]]]:
    """Each self-loop arrow of an SVG drawn by dot: points along its curve, and its own texts."""
    loops = []
    for group in re.findall(r'<g id="edge\d+" class="edge">(.*?)</g>', svg, flags=re.S):
        src, _, dst = html.unescape(re.findall(r"<title>(.*?)</title>", group)[0]).partition("->")
        if src != dst:
            continue
        numbers = [
            float(n) for n in re.findall(r"-?\d+\.?\d*", re.findall(r' d="([^"]*)"', group)[0])
        ]
        points = list(zip(numbers[0::2], numbers[1::2], strict=True))
        curve = []
        for i in range(0, len(points) - 3, 3):  # cubic Bezier segments: M p0 C p1 p2 p3 ...
            (ax, ay), (bx, by), (cx, cy), (dx, dy) = points[i : i + 4]
            for k in range(21):
                t, u = k / 20, 1 - k / 20
                curve.append((
                    u**3 * ax + 3 * u * u * t * bx + 3 * u * t * t * cx + t**3 * dx,
                    u**3 * ay + 3 * u * u * t * by + 3 * u * t * t * cy + t**3 * dy,
                ))  # fmt: skip
        own = {html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", group)}
        loops.append((curve, own))
    return loops


@pytest.mark.skipif(not dot_available(), reason="Graphviz dot not installed")
@pytest.mark.parametrize("cid", ["lmt", "drop", "cxl", "rej", "gone"])
def test_svg_labels_overlap_neither_each_other_nor_a_self_loop(journal: Path, cid: str) -> None:
    svg = render_trace(load_trace(journal, cid), "svg")
    boxes = _text_boxes(svg)
    assert len(boxes) > 20
    overlapping = [
        (a[0], b[0])
        for i, a in enumerate(boxes)
        for b in boxes[i + 1 :]
        if a[1] < b[3] and b[1] < a[3] and a[2] < b[4] and b[2] < a[4]
    ]
    assert overlapping == []
    crossed = [
        text
        for curve, own in _self_loops(svg)
        for text, x0, y0, x1, y1 in boxes
        if text not in own and any(x0 < x < x1 and y0 < y < y1 for x, y in curve)
    ]
    assert crossed == []


def test_svg_has_one_arrow_per_pair_of_states_and_loops_only_for_steps_taken(
    journal: Path,
) -> None:
    dot = render_trace(load_trace(journal, "lmt"), "dot")
    arrows = re.findall(r'^  ("\w+") -> ("\w+")', dot, flags=re.M)
    assert len(arrows) == len(set(arrows))
    assert [a for a in arrows if a[0] == a[1]] == [('"PARTIAL"', '"PARTIAL"')]  # 3,4. fill
    assert "&#8635; cancel_refused" in dot  # the table's self-loops, listed in the state's box


def test_unknown_format_is_a_trace_error(journal: Path) -> None:
    with pytest.raises(TraceError, match="unknown trace format 'png'"):
        render_trace(load_trace(journal, "mkt"), "png")


def test_a_stashed_command_dropped_after_reconciliation_is_called_out(journal: Path) -> None:
    trace = load_trace(journal, "gone")
    assert trace.order.status is OrderStatus.FILLED
    assert [a.kind for a in trace.anomalies] == ["command_dropped"]
    md = render_trace(trace)
    assert "stashed RequestCancel dropped ⚠" in md
    assert "**command_dropped** (stashed RequestCancel dropped in FILLED)" in md


def test_late_fill_after_cancel_is_on_the_path_and_called_out(tmp_path: Path) -> None:
    base = {"actor": "c", "order_id": "1", "client_order_id": "c"}
    order = {
        "type": "Order",
        "order_id": "1",
        "client_order_id": "c",
        "symbol": "AAPL",
        "quantity": "10",
        "order_type": "LIMIT",
        "side": "BUY",
        "limit_price": "5",
        "stop_price": None,
        "status": "PENDING",
        "submitted_at": "2024-01-02T00:00:00+00:00",
    }
    fill = {
        "type": "ExecutionReport",
        "exec_id": "e.01",
        "order_id": "1",
        "symbol": "AAPL",
        "side": "BUY",
        "quantity": "4",
        "price": "5",
        "time": "2024-01-02T00:00:03+00:00",
    }
    accepted = {"type": "OrderAccepted", "order_id": "1"}
    confirmed = {"type": "CancelConfirmed", "order_id": "1"}
    late = {**fill, "note": "late fill after cancel: recorded, order stays CANCELLED"}
    rows = [
        ("submitted", None, "PENDING", None, {"order": order}),
        ("transition", "PENDING", "SUBMITTED", "acknowledge", accepted),
        ("transition", "SUBMITTED", "PENDING_CANCEL", "request_cancel", {"type": "RequestCancel"}),
        ("transition", "PENDING_CANCEL", "CANCELLED", "cancelled", confirmed),
        ("anomaly", "CANCELLED", "CANCELLED", "fill", late),
    ]
    path = tmp_path / "j.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {"ts": f"2024-01-02T00:00:0{i}+00:00", "seq": i + 1, "kind": kind, **base,
                 "src": src, "dst": dst, "trigger": trig, "payload": payload}
            ) + "\n"
            for i, (kind, src, dst, trig, payload) in enumerate(rows)
        )
    )  # fmt: skip
    trace = load_trace(path, "c")
    assert (trace.path[-1].src, trace.path[-1].dst, trace.path[-1].trigger) == (
        "CANCELLED",
        "CANCELLED",
        "fill",
    )
    assert trace.order.filled_quantity == 4
    assert "**late fill after cancel**" in render_trace(trace)


# -- the command line and its errors --------------------------------------------------------


def test_cli_prints_markdown_and_writes_out_files(
    journal: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["trace", str(journal), "--order", "cxl"]) == 0
    assert capsys.readouterr().out.startswith("# Order cxl")
    out = tmp_path / "cxl.dot"
    assert (
        main(["trace", str(journal), "--order", "cxl", "--format", "dot", "--out", str(out)]) == 0
    )
    assert out.read_text().startswith('digraph "order"')
    assert main(["trace", str(journal), "--order", "cxl", "--format", "mermaid"]) == 0
    assert "stateDiagram-v2" in capsys.readouterr().out


def test_unknown_order_is_exit_2_naming_the_orders_there(
    journal: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["trace", str(journal), "--order", "nope"]) == 2
    err = capsys.readouterr().err
    assert "no order 'nope'" in err
    assert "orders in it: mkt, lmt, cxl, rej, drop, gone" in err
    assert "Traceback" not in err


def test_risk_refused_order_says_it_was_never_sent(
    journal: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["trace", str(journal), "--order", "big"]) == 2
    assert "refused by the risk check before it was sent" in capsys.readouterr().err


def test_missing_journal_is_exit_2_without_traceback(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ibkr_exec.cli",
            "trace",
            str(tmp_path / "no.jsonl"),
            "--order",
            "x",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "journal not found" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_directory_is_not_a_journal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", str(tmp_path), "--order", "x"]) == 2
    assert "not a file" in capsys.readouterr().err


def test_empty_journal_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["trace", str(empty), "--order", "x"]) == 2
    assert "no readable entries" in capsys.readouterr().err


def test_all_corrupt_journal_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("garbage\n{not json\n")
    assert main(["trace", str(bad), "--order", "x"]) == 2
    assert "no readable entries (2 corrupt line(s) skipped)" in capsys.readouterr().err


def test_corrupt_lines_warn_but_the_trace_is_drawn(
    journal: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = journal.read_text().splitlines(keepends=True)
    damaged = tmp_path / "damaged.jsonl"
    damaged.write_text("".join([*lines[:5], "{torn in the middle\n", *lines[5:], '{"ts": "2024']))
    assert main(["trace", str(damaged), "--order", "lmt"]) == 0
    captured = capsys.readouterr()
    assert "PENDING → SUBMITTED → PARTIAL → PARTIAL → PARTIAL → FILLED" in captured.out
    assert captured.err.count("warning:") == 2
    assert "## Journal warnings" in captured.out


def test_an_order_the_journal_cannot_rebuild_is_a_trace_error(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    entry = {"ts": "2024-01-02T00:00:00+00:00", "seq": 1, "kind": "submitted", "actor": "c",
             "order_id": "1", "client_order_id": "c", "src": None, "dst": "PENDING",
             "trigger": None, "payload": {"order": {"type": "Order", "order_id": "1"}}}  # fmt: skip
    path.write_text(json.dumps(entry) + "\n")
    with pytest.raises(TraceError, match="cannot rebuild order 'c'"):
        load_trace(path, "c")
