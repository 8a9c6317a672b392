"""``ibkr-exec demo`` run as a user would (a subprocess, not a terminal); then what it wrote."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import struct
import subprocess
import sys
import termios
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
    """The states visited, in order (a finished order re-reported by a reconnect's sync adds
    nothing: the trace does not count a repeat as a step)."""
    trace = load_trace(journal, cid)
    return [trace.path[0].src, *(e.dst for e in trace.path)]


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


# -- on a terminal: what a user sees -------------------------------------------------------------


def _run_on_a_terminal(out: Path, columns: int) -> str:
    """``ibkr-exec demo`` on a pseudo-terminal ``columns`` wide (the size a terminal reports,
    no COLUMNS variable); everything it wrote, as the terminal received it."""
    master, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 60, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in {"COLUMNS", "LINES"}}
    env["TERM"] = "xterm-256color"  # whatever the test runner's own terminal is
    process = subprocess.Popen(
        [sys.executable, "-m", "ibkr_exec.cli", "demo", "--out", str(out)],
        stdin=child,
        stdout=child,
        stderr=child,
        env=env,
    )
    os.close(child)
    received = bytearray()
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        received += data
    os.close(master)
    assert process.wait(timeout=60) == 0, received.decode(errors="replace")
    return received.decode()


@attrs.define
class Screen:
    """Just enough of a terminal for the demo: text, CR/LF, cursor up (ESC[nF) and clear to the
    end of the screen (ESC[J); a line that reaches the right edge wraps, as a terminal does."""

    columns: int
    lines: list[str] = attrs.Factory(lambda: [""])
    row: int = 0
    col: int = 0
    wrapped: list[str] = attrs.Factory(list)

    def feed(self, text: str) -> None:
        for token in re.findall(r"\x1b\[\d*[A-Za-z]|.", text, flags=re.DOTALL):
            if token.startswith("\x1b["):
                self._escape(token)
            elif token == "\r":
                self.col = 0
            elif token == "\n":
                self._down()
            else:
                if self.col >= self.columns:  # the terminal wraps: a line too long for it
                    self.wrapped.append(self.lines[self.row])
                    self._down()
                    self.col = 0
                line = self.lines[self.row].ljust(self.col)
                self.lines[self.row] = line[: self.col] + token + line[self.col + 1 :]
                self.col += 1

    def _down(self) -> None:
        self.row += 1
        if self.row == len(self.lines):
            self.lines.append("")

    def _escape(self, token: str) -> None:
        count, command = int(token[2:-1] or 1), token[-1]
        if command == "F":
            self.row, self.col = max(0, self.row - count), 0
        elif command == "J":
            self.lines[self.row] = self.lines[self.row][: self.col]
            del self.lines[self.row + 1 :]
        else:
            raise AssertionError(f"unexpected escape {token!r}")


def _header_lines(screen: Screen) -> list[str]:
    return [line for line in screen.lines if line.startswith("order ")]


def test_on_an_80_column_terminal_no_line_wraps_and_the_final_table_shows_once(
    tmp_path: Path,
) -> None:
    screen = Screen(80)
    screen.feed(_run_on_a_terminal(tmp_path, 80))
    # Only the closing command to copy may be longer (a soft wrap copies as one line).
    assert [line for line in screen.wrapped if not line.startswith("  ibkr-exec trace ")] == []
    assert len(_header_lines(screen)) == 1
    for cid in ORDERS:
        assert sum(line.startswith(f"{cid} ") for line in screen.lines) == 1, screen.lines
    assert any(line.startswith("OK in ") for line in screen.lines)


def test_on_a_wide_terminal_the_final_table_shows_once_with_every_column(tmp_path: Path) -> None:
    screen = Screen(200)
    screen.feed(_run_on_a_terminal(tmp_path, 200))
    assert screen.wrapped == []
    [header] = _header_lines(screen)
    assert header.split() == ["order", "scenario", "request", "status", "filled", "avg", "price"]
    assert sum(line.startswith("demo-drop ") for line in screen.lines) == 1


def test_a_narrow_table_drops_the_scenario_column_first_then_shortens_the_request() -> None:
    screen = io.StringIO()
    table = LiveTable(screen, tty=True, columns=50)
    table.order(_order(OrderStatus.PARTIAL, "30"), "a long scenario label")
    lines = screen.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 49
    assert lines[1].split() == ["order", "request", "status", "filled"]
    assert lines[3].startswith("c-1    BUY 100 AAPL LMT ~  PARTIAL")


def test_without_graphviz_the_demo_says_svg_traces_were_skipped_and_how_to_install_it(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ibkr_exec.cli", "demo", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PATH": str(tmp_path)},  # no dot on PATH
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SVG traces skipped: Graphviz's dot is not installed" in done.stdout
    assert "apt-get install graphviz" in done.stdout
    assert "brew install graphviz" in done.stdout
    assert not list((tmp_path / "traces").glob("*.svg"))
    assert (tmp_path / "traces" / "demo-market.md").exists()


def test_a_dumb_terminal_gets_plain_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    master, child = pty.openpty()
    with os.fdopen(child, "w") as terminal:
        monkeypatch.setenv("TERM", "xterm")
        assert LiveTable(terminal).is_tty
        monkeypatch.setenv("TERM", "dumb")
        assert not LiveTable(terminal).is_tty
    os.close(master)
