"""Drawing a per-order trace: Markdown (summary, Mermaid diagram, timeline, anomalies), Mermaid,
Graphviz DOT or SVG, with the path highlighted on the same diagram ``ibkr-exec diagrams`` draws
from the lifecycle table.

>>> trace = load_trace("demo-output/journal.jsonl", "demo-partial")  # doctest: +SKIP
>>> print(render_trace(trace, "md"))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import attrs

from ibkr_exec.diagrams import Lifecycle, lifecycle, render_svg, to_dot, to_mermaid
from ibkr_exec.trace import OrderTrace, TraceError

__all__ = ["TRACE_FORMATS", "render_trace"]

#: The formats :func:`render_trace` draws.
TRACE_FORMATS: tuple[str, ...] = ("md", "mermaid", "dot", "svg")

_HEADER = (
    "#",
    "time (UTC)",
    "event",
    "from",
    "to",
    "filled / qty",
    "fill qty@price",
    "broker / detail",
)

# -- rendering -------------------------------------------------------------------------------------


#: How a fill anomaly reads, by the state it arrived in (a fill is recorded, never dropped, in
#: CANCELLED and REJECTED; elsewhere it was an overfill or out of place).
_FILL_ANOMALY = {"CANCELLED": "late fill after cancel", "REJECTED": "fill after reject"}


def _machine(trace: OrderTrace) -> Lifecycle:
    order = trace.order
    return attrs.evolve(
        lifecycle("order"),
        title=f"Order {order.client_order_id} (id {order.order_id}): {order.status.value}",
    )


def render_trace(trace: OrderTrace, fmt: str = "md", *, svg_href: str | None = None) -> str:
    """Draw ``trace`` as ``fmt``: "md" (default), "mermaid", "dot" or "svg".

    Markdown has a heading, a summary, the Mermaid diagram with the visited states highlighted,
    the timeline and the anomalies; ``svg_href`` adds a link to the SVG drawing of the path.
    "svg" needs Graphviz's ``dot`` (TraceError otherwise).
    """
    if fmt == "mermaid":
        return to_mermaid(_machine(trace), visited=trace.visited)
    if fmt == "dot":
        return to_dot(_machine(trace), path=trace.path)
    if fmt == "svg":
        try:
            return render_svg(to_dot(_machine(trace), path=trace.path))
        except RuntimeError as error:
            raise TraceError(str(error)) from error
    if fmt == "md":
        return _markdown(trace, svg_href)
    raise TraceError(f"unknown trace format {fmt!r}; choose one of {', '.join(TRACE_FORMATS)}")


def _money(value: Decimal | None) -> str:
    if value is None:
        return "-"
    text = format(value.normalize(), "f") if value == value.to_integral() else str(value)
    return text if len(text) <= 12 else f"{value:.6f}".rstrip("0")


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _markdown(trace: OrderTrace, svg_href: str | None) -> str:
    o = trace.order
    price = f" @ {o.limit_price}" if o.limit_price is not None else ""
    lines = [
        f"# Order {o.client_order_id}",
        "",
        f"{o.side.value} {o.quantity} {o.symbol} {o.order_type.value}{price}, "
        f"IB order id {o.order_id}" + (f", perm id {o.perm_id}" if o.perm_id else "") + ".",
        "",
        f"- **Final status:** {o.status.value}"
        + (
            f" ({o.reason_code}: {o.reason})"
            if o.reason_code
            else f" ({o.reason})"
            if o.reason and o.reason.upper() != o.status.value
            else ""
        ),
        f"- **Filled:** {_money(o.filled_quantity)} / {_money(o.quantity)}",
        f"- **Average price:** {_money(o.average_fill_price)}",
        f"- **Commission:** {_money(trace.commission)}",
        f"- **Path:** {_path_text(trace)}",
        f"- **Journal:** `{trace.journal}`",
        "",
        "## Lifecycle",
        "",
        "Visited states are highlighted; the numbered edges are in the SVG/DOT rendering"
        + (f" ([{svg_href}]({svg_href}))." if svg_href else " (`--format svg`)."),
        "",
        "```mermaid",
        to_mermaid(_machine(trace), visited=trace.visited).rstrip("\n"),
        "```",
        "",
        "## Timeline",
        "",
        _row(_HEADER),
        _row(["---"] * len(_HEADER)),
    ]
    step_no = 0
    for step in trace.steps:
        marker = ""
        if step.on_path:
            step_no += 1
            marker = str(step_no)
        event = step.trigger + (" ⚠" if step in trace.anomalies else "")
        filled = "" if step.filled is None else f"{_money(step.filled)} / {_money(o.quantity)}"
        lines.append(
            _row(
                [
                    marker,
                    step.ts[11:23] if len(step.ts) >= 23 else step.ts,
                    event,
                    step.src,
                    step.dst,
                    filled,
                    step.fill,
                    (step.broker or step.note) if step.kind == "connection" else step.broker,
                ]
            )
        )
    lines += ["", "## Anomalies", ""]
    if trace.anomalies:
        for step in trace.anomalies:
            what = step.kind
            if step.kind == "anomaly" and step.trigger == "fill":
                what = _FILL_ANOMALY.get(step.src or "", "fill not applied")
            lines.append(
                f"- seq {step.seq} at {step.ts[11:23]}: **{what}** ({step.trigger} in {step.src}): "
                f"{step.note or '-'}"
            )
    else:
        lines.append("None.")
    if trace.journal_warnings:
        lines += ["", "## Journal warnings", ""]
        lines += [f"- {w}" for w in trace.journal_warnings]
    return "\n".join(lines) + "\n"


def _path_text(trace: OrderTrace) -> str:
    if not trace.path:
        return trace.visited[0]
    parts = [trace.path[0].src]
    for edge in trace.path:
        parts.append(f"{edge.dst}")
    return " → ".join(parts)
