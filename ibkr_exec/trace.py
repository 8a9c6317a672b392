"""Per-order traces: one order's path through its lifecycle, read back from the audit journal.

:func:`load_trace` collects an order's journal entries (by client_order_id or IB order id) into an
:class:`OrderTrace`: the edges it took, in order, a timeline and the anomalies worth a reader's
eye. :func:`~ibkr_exec.trace_render.render_trace` draws it (Markdown, Mermaid, DOT or SVG).

>>> trace = load_trace("demo-output/journal.jsonl", "demo-partial")  # doctest: +SKIP
>>> print(render_trace(trace, "md"))  # doctest: +SKIP
"""

from __future__ import annotations

import os
import warnings
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from ibkr_exec.audit import JournalWarning, read_journal, replay_orders
from ibkr_exec.diagrams import Edge, lifecycle
from ibkr_exec.errors import IBKRExecError
from ibkr_exec.models import Order

__all__ = ["OrderTrace", "TraceError", "TraceStep", "load_trace"]

# Entry kinds that move an order along an edge of its lifecycle table.
_EDGE_KINDS = frozenset({"transition", "fill"})
# Entry kinds a reader should look at twice.
_ANOMALY_KINDS = frozenset({"anomaly", "command_dropped"})
# Entry kinds left out of the timeline (the commission is summed in the summary instead).
_QUIET_KINDS = frozenset({"commission", "fill_recorded"})


class TraceError(IBKRExecError):
    """The trace cannot be drawn: no such journal, no readable entries, or no such order."""


@attrs.frozen
class TraceStep:
    """One row of the timeline: an entry of the order's journal (or of the link, for context)."""

    ts: str
    seq: int
    kind: str
    trigger: str
    src: str
    dst: str
    filled: Decimal | None
    fill: str
    broker: str
    note: str
    on_path: bool


@attrs.frozen
class OrderTrace:
    """One order's story: its final snapshot, the edges it took and the timeline that shows how.

    ``path`` holds the lifecycle edges in the order they were taken (self-loops such as a second
    partial fill included, a repeated report that changed nothing not: it is a timeline row
    marked "(repeat)"); ``visited`` the states in order of first visit; ``anomalies`` the
    steps of kind "anomaly" / "command_dropped" and late fills; ``journal_warnings`` the corrupt
    journal lines skipped while reading.
    """

    journal: Path
    order: Order
    path: tuple[Edge, ...]
    visited: tuple[str, ...]
    steps: tuple[TraceStep, ...]
    anomalies: tuple[TraceStep, ...]
    commission: Decimal | None
    journal_warnings: tuple[str, ...] = ()


# -- loading ---------------------------------------------------------------------------------------


def _read(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    if not path.exists():
        raise TraceError(f"journal not found: {path}")
    if not path.is_file():
        raise TraceError(f"journal is not a file: {path}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", JournalWarning)
        try:
            entries = list(read_journal(path))
        except OSError as error:
            raise TraceError(f"cannot read journal {path}: {error}") from error
    notes = [str(w.message) for w in caught if issubclass(w.category, JournalWarning)]
    if not entries:
        detail = f" ({len(notes)} corrupt line(s) skipped)" if notes else ""
        raise TraceError(f"journal {path} has no readable entries{detail}")
    return entries, notes


def _find(entries: list[dict[str, Any]], key: str, path: Path) -> str:
    """The client_order_id that ``key`` names (itself, or the order id of a submitted order)."""
    submitted = [e for e in entries if e.get("kind") == "submitted"]
    cids = list(dict.fromkeys(str(e["client_order_id"]) for e in submitted))
    if key in cids:
        return key
    by_id = list(
        dict.fromkeys(str(e["client_order_id"]) for e in submitted if e.get("order_id") == key)
    )
    if len(by_id) == 1:
        return by_id[0]
    if len(by_id) > 1:
        raise TraceError(
            f"order id {key!r} names several orders in {path}: {', '.join(by_id)}; "
            "pass the client_order_id instead"
        )
    refused = [
        e for e in entries if e.get("kind") == "risk_rejected" and e.get("client_order_id") == key
    ]
    if refused:
        reason = (refused[-1].get("payload") or {}).get("reason", "")
        raise TraceError(
            f"order {key!r} was refused by the risk check before it was sent ({reason}): "
            "it has no lifecycle to trace"
        )
    known = ", ".join(cids[:10]) + (f", ... ({len(cids)} in all)" if len(cids) > 10 else "")
    raise TraceError(
        f"no order {key!r} in {path} (neither a client_order_id nor an order id); "
        f"orders in it: {known or 'none'}"
    )


def load_trace(journal: str | os.PathLike[str], order: str) -> OrderTrace:
    """Read ``journal`` and collect the trace of ``order`` (a client_order_id or an order id).

    Corrupt journal lines are skipped and listed in ``journal_warnings``. Raises
    :class:`TraceError` for a missing or unreadable journal, one with no readable entries, and
    an order that is not in it.
    """
    path = Path(journal)
    entries, notes = _read(path)
    cid = _find(entries, order, path)
    start = max(
        i
        for i, e in enumerate(entries)
        if e.get("kind") == "submitted" and e.get("client_order_id") == cid
    )
    own = [e for e in entries[start:] if e.get("client_order_id") == cid]
    end_seq = own[-1].get("seq", 0)
    start_seq = own[0].get("seq", 0)
    # The link's state changes during the order's life explain gaps (a disconnect, a resync).
    link = [
        e
        for e in entries[start:]
        if e.get("kind") == "connection"
        and e.get("src") != e.get("dst")
        and start_seq <= e.get("seq", 0) <= end_seq
    ]
    timeline = _connected_first(sorted(own + link, key=lambda e: e.get("seq", 0)))
    try:
        return _build(path, cid, own, timeline, notes)
    except (KeyError, TypeError, ValueError, ArithmeticError) as error:
        raise TraceError(
            f"cannot rebuild order {cid!r} from {path}: its entries are malformed ({error!r})"
        ) from error


# Order entries that a broker report caused (what a reconnect's sync delivers).
_REPORT_KINDS = frozenset({"transition", "fill", "anomaly", "fill_recorded", "commission"})


def _from_broker(entry: dict[str, Any]) -> bool:
    return entry.get("kind") in _REPORT_KINDS and not str(entry.get("trigger") or "").startswith(
        "request_"
    )


def _connected_first(timeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Move each link "connected" entry above the broker reports its connection delivered.

    The connection actor journals "connected" when ib_async's connect returns, and that is after
    ib_async's start-up sync, whose reports (fills made while away, orders finished meanwhile)
    were journaled on arrival. Read in journal order, those reports would come before the link
    was up. A report journaled after the link went down can only have come over the new one.
    """
    result: list[dict[str, Any]] = []
    for entry in timeline:
        if entry.get("kind") == "connection" and entry.get("trigger") == "connected":
            at = len(result)
            while at > 0 and _from_broker(result[at - 1]):
                at -= 1
            result.insert(at, {**entry, "_hoisted": True} if at < len(result) else entry)
        else:
            result.append(entry)
    return result


def _build(
    path: Path,
    cid: str,
    own: list[dict[str, Any]],
    timeline: list[dict[str, Any]],
    notes: list[str],
) -> OrderTrace:
    machine = lifecycle("order")
    table = {(e.src, e.dst, e.trigger) for e in machine.edges()}
    final = replay_orders(own)[cid]
    edges: list[Edge] = []
    visited: list[str] = [machine.initial]
    steps: list[TraceStep] = []
    anomalies: list[TraceStep] = []
    commission: Decimal | None = None
    replayed: list[dict[str, Any]] = []
    before: Order | None = None  # the order as rebuilt from the entries up to the previous one
    for entry in timeline:
        kind = str(entry.get("kind"))
        payload = entry.get("payload") or {}
        is_link = kind == "connection"
        now = before
        if not is_link:
            replayed.append(entry)
            now = replay_orders(replayed)[cid]
        previous, before = before, now
        if kind == "commission":
            commission = (commission or Decimal(0)) + Decimal(str(payload.get("commission", "0")))
        if kind in _QUIET_KINDS:
            continue
        if kind == "mode" and previous is not None and previous.is_terminal:
            continue  # pausing or resuming a finished order changes nothing a reader needs
        src, dst, trigger = (
            str(entry.get("src") or ""),
            str(entry.get("dst") or ""),
            str(entry.get("trigger") or ""),
        )
        note = str(payload.get("note", ""))
        late_fill = kind == "anomaly" and trigger == "fill" and not note.endswith("ignored")
        on_path = (kind in _EDGE_KINDS or late_fill) and (src, dst, trigger) in table
        repeat = on_path and src == dst and _same(previous, now)
        if repeat:
            on_path = False  # a report repeated (a reconnect's sync re-reports finished orders)
        if on_path:
            edges.append(Edge(src, dst, trigger))
            if dst not in visited:
                visited.append(dst)
        filled = None if is_link or now is None else now.filled_quantity
        if repeat:
            trigger = f"{trigger} (repeat)"
        if kind == "submitted":
            trigger = "submit"
        elif kind == "command":
            trigger = f"command: {trigger}"
        elif kind == "risk_rejected":
            trigger = "risk check refused"
        elif is_link:
            trigger = f"link: {trigger}"
        elif kind == "command_dropped":
            trigger = f"stashed {payload.get('type', 'command')} dropped"
        elif kind == "command_stashed":
            trigger = f"stashed {payload.get('type', 'command')}"
        step = TraceStep(
            ts=str(entry.get("ts", "")),
            seq=int(entry.get("seq", 0)),
            kind=kind,
            trigger=trigger or kind,
            src=src,
            dst=dst,
            filled=filled,
            fill=_fill_text(payload) if trigger == "fill" else "",
            broker=(
                note
                if kind == "command_dropped"
                else _stash_text(payload)
                if kind == "command_stashed"
                else _broker_text(payload)
            ),
            note=(note or _link_note(entry, payload)) if is_link else note,
            on_path=on_path,
        )
        steps.append(step)
        if kind in _ANOMALY_KINDS or late_fill:
            anomalies.append(step)
    if final.is_terminal:
        # The link's later life is no context for a finished order (its actor was still paused
        # and resumed with the others, rows left out above).
        while steps and steps[-1].kind == "connection":
            steps.pop()
    return OrderTrace(
        journal=path,
        order=final,
        path=tuple(edges),
        visited=tuple(visited),
        steps=tuple(steps),
        anomalies=tuple(anomalies),
        commission=commission,
        journal_warnings=tuple(notes),
    )


def _fill_text(payload: dict[str, Any]) -> str:
    qty, price = payload.get("quantity"), payload.get("price")
    return f"{qty}@{price}" if qty is not None else ""


def _stash_text(payload: dict[str, Any]) -> str:
    reason = str(payload.get("reason") or "")
    return f"{reason}: held until reconciliation" if reason else "held until reconciliation"


def _broker_text(payload: dict[str, Any]) -> str:
    """IB's code and reason (a reject, a refused cancel, a warning), or the status it reported."""
    code = payload.get("code")
    reason = str(payload.get("reason") or payload.get("message") or "")
    if code is not None:
        return f"{code}: {reason}" if reason else str(code)
    if payload.get("type") == "RequestCancel" and reason == "requested while paused":
        return "requested while paused: stashed, replayed after reconciliation"
    return reason or str(payload.get("broker_status") or "")


def _same(before: Order | None, after: Order | None) -> bool:
    """True when an entry left the order as it was (status, quantities and prices)."""
    if before is None or after is None:
        return False
    return (before.status, before.filled_quantity, before.average_fill_price) == (
        after.status,
        after.filled_quantity,
        after.average_fill_price,
    )


def _link_note(entry: dict[str, Any], payload: dict[str, Any]) -> str:
    if entry.get("_hoisted"):
        return "the reports below came over this connection (journaled just before it)"
    return str(payload.get("reason", "")) if payload.get("reason") else ""
