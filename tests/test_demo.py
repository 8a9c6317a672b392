"""``ibkr-exec demo`` run as a user would (a subprocess, not a terminal); then what it wrote."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import attrs
import pytest

from ibkr_exec import Order, OrderStatus, OrderType, Side, load_trace
from ibkr_exec.cli import main
from ibkr_exec.demo_view import LiveTable
from ibkr_exec.diagrams import dot_available

ORDERS = (
    "demo-market",
    "demo-partial",
    "demo-cancel",
    "demo-reject",
    "demo-drop",
    "demo-drop-filled",
)


@attrs.frozen
class Run:
    out: Path
    returncode: int
    stdout: str
    stderr: str
    seconds: float


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """One run of ``ibkr-exec demo --out DIR`` with stdout a pipe."""
    out = tmp_path_factory.mktemp("demo") / "out"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "ibkr_exec.cli", "demo", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return Run(out, done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def test_demo_exits_0_and_says_every_order_ended_where_it_should(demo: Run) -> None:
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "OK in " in demo.stdout
    assert "every order ended where it should" in demo.stdout


def test_demo_writes_nothing_on_stderr(demo: Run) -> None:
    # ib_async's records ("Error 202 ... Order Canceled", "Peer closed connection") go to
    # loguru at TRACE now, without the demo silencing ib_async's loggers itself.
    assert demo.stderr == ""


def test_demo_finishes_well_under_a_minute(demo: Run) -> None:
    assert demo.seconds < 20


def test_demo_writes_the_journal_and_a_trace_per_order(demo: Run) -> None:
    assert (demo.out / "journal.jsonl").stat().st_size > 0
    for cid in ORDERS:
        assert (demo.out / "traces" / f"{cid}.md").read_text().startswith(f"# Order {cid}")
        if dot_available():
            assert "</svg>" in (demo.out / "traces" / f"{cid}.svg").read_text()


@pytest.mark.parametrize(
    "narration",
    [
        "1. Market order",
        "2. Limit order filled in parts",
        "3. Cancel",
        "4. Risk check",
        "refused: RiskCheckError",
        "nothing was sent to the broker",
        "5. Broker reject",
        "OrderRejectedError: code 201",
        "6. Connection drop",
        "link DOWN",
        "while paused: stashed",
        "link READY",
    ],
)
def test_demo_narrates_each_scenario(demo: Run, narration: str) -> None:
    assert narration in demo.stdout


def test_demo_output_is_plain_lines_when_not_a_terminal(demo: Run) -> None:
    assert "\x1b[" not in demo.stdout
    assert "    demo-partial     PARTIAL         filled 50/100 avg 150" in demo.stdout


def _states(journal: Path, cid: str) -> list[str]:
    """The states visited, in order, with repeats of a terminal state dropped (a reconnect's
    sync may report a finished order again: an idempotent self-loop the journal records)."""
    trace = load_trace(journal, cid)
    states = [trace.path[0].src, *(e.dst for e in trace.path)]
    while len(states) > 2 and states[-1] == states[-2] in {"FILLED", "CANCELLED", "REJECTED"}:
        states.pop()
    return states


@pytest.mark.parametrize(
    ("cid", "states"),
    [
        ("demo-market", ["PENDING", "SUBMITTED", "FILLED"]),
        ("demo-partial", ["PENDING", "SUBMITTED", "PARTIAL", "PARTIAL", "PARTIAL", "FILLED"]),
        ("demo-cancel", ["PENDING", "SUBMITTED", "PENDING_CANCEL", "CANCELLED"]),
        ("demo-reject", ["PENDING", "REJECTED"]),
        (
            "demo-drop",
            ["PENDING", "SUBMITTED", "PARTIAL", "PARTIAL", "PENDING_CANCEL", "CANCELLED"],
        ),
        ("demo-drop-filled", ["PENDING", "SUBMITTED", "FILLED"]),
    ],
)
def test_trace_of_each_demo_order_draws_the_path_it_took(
    demo: Run, cid: str, states: list[str]
) -> None:
    assert _states(demo.out / "journal.jsonl", cid) == states


def test_stashed_cancel_of_an_order_filled_while_away_is_dropped_and_called_out(
    demo: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["trace", str(demo.out / "journal.jsonl"), "--order", "demo-drop-filled"]) == 0
    md = capsys.readouterr().out
    assert "- **Final status:** FILLED" in md
    assert "**command_dropped**" in md
    assert "order FILLED meanwhile: not sent" in md


def test_trace_command_on_the_demo_journal_prints_the_partial_path(demo: Run) -> None:
    journal = str(demo.out / "journal.jsonl")
    done = subprocess.run(
        [sys.executable, "-m", "ibkr_exec.cli", "trace", journal, "--order", "demo-partial"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "**Path:** PENDING → SUBMITTED → PARTIAL → PARTIAL → PARTIAL → FILLED" in done.stdout


def test_live_ports_are_refused_without_ibkr_allow_live(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ibkr_exec.cli", "demo", "--out", str(tmp_path), "--port", "7496"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={"PATH": "/usr/bin:/bin", "IBKR_ALLOW_LIVE": "false"},
    )
    assert done.returncode == 2
    assert "IBKR_ALLOW_LIVE=true" in done.stdout


# -- the live table ------------------------------------------------------------------------------


def _order(status: OrderStatus, filled: str) -> Order:
    return Order(
        "1", "c-1", "AAPL", Decimal(100), OrderType.LIMIT, Side.BUY, Decimal(150), None,
        status, datetime(2024, 1, 2, tzinfo=UTC), filled_quantity=Decimal(filled),
    )  # fmt: skip


def test_live_table_redraws_in_place_on_a_terminal() -> None:
    screen = io.StringIO()
    table = LiveTable(screen, tty=True)
    table.order(_order(OrderStatus.SUBMITTED, "0"), "limit")
    table.order(_order(OrderStatus.PARTIAL, "30"), "limit")
    text = screen.getvalue()
    assert "\x1b[6F\x1b[J" in text  # up to the table's top, clear, redraw
    assert text.rsplit("\x1b[J", 1)[1].count("PARTIAL") == 1


def test_live_table_appends_a_line_per_change_otherwise() -> None:
    log = io.StringIO()
    table = LiveTable(log, tty=False)
    table.order(_order(OrderStatus.SUBMITTED, "0"), "limit")
    table.order(_order(OrderStatus.SUBMITTED, "0"), "limit")  # no change, no line
    table.link("READY")
    assert log.getvalue().splitlines() == [
        "    c-1              SUBMITTED       filled 0/100",
        "    link READY",
    ]
