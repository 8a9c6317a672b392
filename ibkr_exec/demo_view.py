"""What ``ibkr-exec demo`` shows and hears while it runs: narration, a live table of orders, and
the event handler that feeds the table and wakes the scenario waiting for a state.

On a terminal the table is redrawn in place with ANSI escapes, fitted to the width the terminal
reports (a line the terminal wraps would throw the redraw off); otherwise (a pipe, a CI log)
every change is appended as one plain line, so the output reads as a log.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import textwrap
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TextIO

import attrs

from ibkr_exec import (
    ConnectionEventHandler,
    IBKRConnectionManager,
    Order,
    OrderEventHandler,
    OrderStatus,
)

__all__ = ["DemoFailure", "LiveTable", "Tracker"]

_WAIT = 5.0  # seconds: generous for a simulator that answers in milliseconds

_COLUMNS = ("order", "scenario", "request", "status", "filled", "avg price")
# Dropped in this order while the table is wider than the terminal; then "request" is shortened.
_OPTIONAL = ("scenario", "avg price")
_MIN_REQUEST = 12
# The status column is as wide as the longest status, so the table keeps its shape as orders move.
_STATUS_WIDTH = max(len(status.value) for status in OrderStatus)


@attrs.define
class _Row:
    scenario: str
    request: str
    status: str = "-"
    filled: str = "-"
    average: str = "-"


def _number(value: Decimal | None) -> str:
    if value is None:
        return "-"
    text = format(value.normalize(), "f")
    return text if len(text) <= 10 else f"{value:.4f}"


def describe(order: Order) -> str:
    """``BUY 100 AAPL LMT 150.5`` for an order."""
    kind = {"MARKET": "MKT", "LIMIT": "LMT", "STOP": "STP", "STOP_LIMIT": "STP LMT"}
    price = f" {_number(order.limit_price)}" if order.limit_price is not None else ""
    name = kind.get(order.order_type.value, order.order_type.value)
    return f"{order.side.value} {_number(order.quantity)} {order.symbol} {name}{price}"


class LiveTable:
    """Narration plus a table of every order and the link's state.

    ``tty`` defaults to whether ``stream`` is a terminal that can move its cursor (not
    ``TERM=dumb``). ``columns`` fixes the width; by default
    it is read before every redraw (``COLUMNS``, else the terminal's size), so a resize is
    followed.
    """

    def __init__(
        self, stream: TextIO | None = None, *, tty: bool | None = None, columns: int | None = None
    ) -> None:
        """Write to ``stream`` (default: standard output)."""
        self._out = stream or sys.stdout
        if tty is None:
            isatty = getattr(self._out, "isatty", None)
            # A "dumb" terminal (Emacs shell buffers, some CI consoles) cannot move the cursor.
            tty = bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"
        self._tty = tty
        self._columns = columns
        self._rows: dict[str, _Row] = {}
        self._link = "DISCONNECTED"
        self._drawn = 0  # lines of the table currently on screen (TTY only)
        self._final = False  # the final table is on screen: draw it no more (TTY only)

    @property
    def is_tty(self) -> bool:
        """True when the table is redrawn in place."""
        return self._tty

    # -- what the demo reports ------------------------------------------------------------------

    @property
    def columns(self) -> int:
        """The width lines are fitted to on a terminal."""
        if self._columns is not None:
            return self._columns
        if "COLUMNS" not in os.environ and self._out is not sys.stdout:
            try:
                return os.get_terminal_size(self._out.fileno()).columns
            except (AttributeError, OSError, ValueError):
                pass
        return shutil.get_terminal_size().columns

    def say(self, text: str, *, wrap: bool = True) -> None:
        """A narration line (printed above the table on a terminal, wrapped to its width unless
        ``wrap`` is false: a command to copy stays whole)."""
        self._erase()
        self._out.write((self._wrap(text) if wrap else text) + "\n")
        self._draw()

    def _wrap(self, text: str) -> str:
        if not self._tty:
            return text
        width = max(20, self.columns - 1)
        lines = []
        for line in text.split("\n"):
            indent = " " * (len(line) - len(line.lstrip(" ")))
            wrapped = textwrap.wrap(
                line,
                width,
                subsequent_indent=indent + "  ",
                break_long_words=True,
                break_on_hyphens=False,
            )
            lines.extend(wrapped or [""])
        return "\n".join(lines)

    def order(self, order: Order, scenario: str | None = None) -> None:
        """The latest snapshot of ``order``; ``scenario`` labels a new row."""
        cid = order.client_order_id
        row = self._rows.get(cid)
        if row is None:
            row = self._rows[cid] = _Row(scenario or "", describe(order))
        elif scenario and not row.scenario:
            row.scenario = scenario
        before = (row.status, row.filled)
        row.status = order.status.value
        row.filled = f"{_number(order.filled_quantity)}/{_number(order.quantity)}"
        row.average = _number(order.average_fill_price)
        if (row.status, row.filled) == before:
            return
        if self._tty:
            self._redraw()
        else:
            avg = f" avg {row.average}" if row.average != "-" else ""
            self._out.write(f"    {cid:<16} {row.status:<15} filled {row.filled}{avg}\n")
            self._out.flush()

    def link(self, state: str, detail: str = "") -> None:
        """The broker link's state (READY, RECONNECTING, ...)."""
        if state == self._link:
            return
        self._link = state
        if self._tty:
            self._redraw()
        else:
            self._out.write(f"    link {state}" + (f": {detail}" if detail else "") + "\n")
            self._out.flush()

    def final_table(self) -> None:
        """Leave the table on screen (a terminal) or print it once (otherwise); later narration
        goes below it and the table is not drawn again."""
        if not self._tty:
            self._out.write("\n".join(self._table()) + "\n")
        elif not self._drawn:
            self._draw()
        self._drawn = 0
        self._final = True
        self._out.flush()

    # -- drawing --------------------------------------------------------------------------------

    def _table(self, width: int | None = None) -> list[str]:
        """The table's lines; with ``width``, fitted to it: optional columns dropped, then the
        request shortened, and as a last resort every line cut."""
        cells = [list(_COLUMNS)] + [
            [cid, r.scenario, r.request, r.status, r.filled, r.average]
            for cid, r in self._rows.items()
        ]
        keep = list(range(len(_COLUMNS)))
        widths = [max(len(row[i]) for row in cells) for i in keep]
        widths[_COLUMNS.index("status")] = max(widths[_COLUMNS.index("status")], _STATUS_WIDTH)

        def total() -> int:
            return sum(widths[i] for i in keep) + 2 * (len(keep) - 1)

        if width is not None:
            for name in _OPTIONAL:
                if total() <= width:
                    break
                keep.remove(_COLUMNS.index(name))
            request = _COLUMNS.index("request")
            excess = total() - width
            if excess > 0:
                widths[request] = max(_MIN_REQUEST, widths[request] - excess)
        lines = ["  ".join(_cell(row[i], widths[i]) for i in keep).rstrip() for row in cells]
        rule = "-" * total()
        lines = [rule, lines[0], rule, *lines[1:], rule, f"link: {self._link}"]
        if width is not None:
            lines = [line[:width] for line in lines]
        return lines

    def _erase(self) -> None:
        if self._tty and self._drawn:
            # Up to the table's first line, then clear to the end of the screen.
            self._out.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0

    def _draw(self) -> None:
        if self._tty and self._rows and not self._final:
            # One column short of the edge: a line that fills the last column leaves some
            # terminals with a pending wrap, which would throw the next erase off by a line.
            lines = self._table(max(20, self.columns - 1))
            self._out.write("\n".join(lines) + "\n")
            self._drawn = len(lines)
        self._out.flush()

    def _redraw(self) -> None:
        self._erase()
        self._draw()


def _cell(text: str, width: int) -> str:
    """``text`` padded to ``width``, or shortened to it with an ellipsis."""
    return text.ljust(width) if len(text) <= width else text[: width - 1] + "~"


class DemoFailure(Exception):
    """A scenario did not go as it should."""


class Tracker(OrderEventHandler, ConnectionEventHandler):
    """Hears every order and link event: feeds the live table and wakes the scenario waiting."""

    def __init__(self, view: LiveTable, manager: IBKRConnectionManager) -> None:
        """Report to ``view``; ``manager`` says why the link dropped."""
        self.view = view
        self.manager = manager
        self.orders: dict[str, Order] = {}
        self.labels: dict[str, str] = {}
        self.link = "DISCONNECTED"
        self.closing = False  # set before stopping: the link going down then is expected
        self._changed = asyncio.Event()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def on_order_status(self, order: Order) -> None:
        """Record the new snapshot."""
        self.orders[order.client_order_id] = order
        self.view.order(order, self.labels.get(order.client_order_id))
        self._wake()

    def on_connected(self) -> None:
        """The link is up and reconciled."""
        self.link = "READY"
        self.view.link("READY", "connected and reconciled")
        self._wake()

    def on_disconnected(self) -> None:
        """The link dropped; the order actors are paused."""
        self.link = "DOWN"
        if not self.closing:
            reason = self.manager.last_disconnect_reason
            self.view.link("DOWN", f"{reason}; order actors paused")
        self._wake()

    def show(self, order: Order, scenario: str) -> None:
        """Put ``order`` in the table under ``scenario``."""
        self.labels[order.client_order_id] = scenario
        self.view.order(order, scenario)

    async def until(self, ready: Callable[[], bool], what: str, timeout: float = _WAIT) -> None:
        """Return once ``ready()`` is true; DemoFailure naming ``what`` after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not ready():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DemoFailure(f"timed out after {timeout:g} s waiting for {what}")
            event = self._changed
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                continue

    async def reaches(self, cid: str, status: OrderStatus, filled: Decimal | None = None) -> None:
        """Wait for order ``cid`` to be in ``status`` (with ``filled`` filled, if given)."""

        def ready() -> bool:
            order = self.orders.get(cid)
            return (
                order is not None
                and order.status is status
                and (filled is None or order.filled_quantity == filled)
            )

        what = f"{cid} to reach {status.value}" + (f" with {filled} filled" if filled else "")
        await self.until(ready, what)
