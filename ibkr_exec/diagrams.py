"""State diagrams drawn from the executable tables, and per-order traces drawn from a journal.

The tables in ``ibkr_exec.statemachines`` drive the actors; this module reads the very same
tables, so a diagram cannot drift from the code (and a test checks the committed ones).

>>> from ibkr_exec.statemachines.connection import CONNECTION_STATES
>>> "stateDiagram-v2" in to_mermaid(lifecycle("connection"))
True
"""

from __future__ import annotations

import html
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs


@attrs.frozen
class Edge:
    """One drawn edge: ``trigger`` (with its guard conditions) from ``src`` to ``dst``."""

    src: str
    dst: str
    trigger: str
    conditions: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """The trigger, with its conditions in brackets (``unless`` ones negated with ``!``)."""
        if not self.conditions:
            return self.trigger
        return f"{self.trigger} [{' & '.join(self.conditions)}]"


@attrs.frozen
class Lifecycle:
    """A state machine as the diagrams see it: its table plus which states start and end it."""

    name: str
    title: str
    states: tuple[str, ...]
    transitions: tuple[Mapping[str, Any], ...]
    initial: str
    terminal: frozenset[str]

    def edges(self) -> list[Edge]:
        """Every (source, trigger, dest) of the table, with ``source`` lists and ``*`` expanded."""
        result: list[Edge] = []
        for spec in self.transitions:
            sources = spec["source"]
            if sources == "*":
                sources = list(self.states)
            elif isinstance(sources, str):
                sources = [sources]
            conditions = tuple(_names(spec.get("conditions"))) + tuple(
                f"!{name}" for name in _names(spec.get("unless"))
            )
            for src in sources:
                dst = spec.get("dest") or src  # dest None: an internal transition
                if dst == "=":
                    dst = src
                result.append(Edge(src, dst, spec["trigger"], conditions))
        return result


def _names(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable):
        return [v if isinstance(v, str) else getattr(v, "__name__", repr(v)) for v in value]
    return [getattr(value, "__name__", repr(value))]


def _merged(edges: Iterable[Edge]) -> dict[tuple[str, str], list[str]]:
    """Labels of all edges between the same two states, in table order (one arrow per pair)."""
    merged: dict[tuple[str, str], list[str]] = {}
    for edge in edges:
        labels = merged.setdefault((edge.src, edge.dst), [])
        if edge.label not in labels:
            labels.append(edge.label)
    return merged


# -- Mermaid ---------------------------------------------------------------------------------------


def to_mermaid(machine: Lifecycle, *, visited: Sequence[str] = ()) -> str:
    """A Mermaid ``stateDiagram-v2`` (renders on GitHub). ``visited`` states are highlighted."""
    lines = ["---", f"title: {machine.title}", "---", "stateDiagram-v2", "    direction LR"]
    lines.append(f"    [*] --> {machine.initial}")
    for (src, dst), labels in _merged(machine.edges()).items():
        lines.append(f"    {src} --> {dst}: {'<br/>'.join(labels)}")
    for state in machine.states:
        if state in machine.terminal:
            lines.append(f"    {state} --> [*]")
    lines.append("    classDef terminal font-weight:bold,stroke-width:3px")
    terminal = [s for s in machine.states if s in machine.terminal]
    if terminal:
        lines.append(f"    class {','.join(terminal)} terminal")
    if visited:
        lines.append("    classDef visited fill:#ffe08a,stroke:#d9480f,stroke-width:3px")
        lines.append(f"    class {','.join(dict.fromkeys(visited))} visited")
    return "\n".join(lines) + "\n"


# -- Graphviz --------------------------------------------------------------------------------------


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_HIGHLIGHT = "#d9480f"


def _html(text: str) -> str:
    return html.escape(text, quote=False)


def _numbered(steps: Sequence[int], label: str) -> str:
    return f"{','.join(map(str, steps))}. {label}"


def _state_label(state: str, loops: Sequence[str]) -> str:
    """The state's name and, under it, the triggers that leave it where it is (its self-loops):
    drawn as arrows, their labels pile up on each other and on the edges nearby."""
    rows = "".join(f'<br/><font point-size="9">&#8635; {_html(label)}</font>' for label in loops)
    return f"<<b>{_html(state)}</b>{rows}>"


def to_dot(machine: Lifecycle, *, path: Sequence[Edge] = ()) -> str:
    """Graphviz DOT. Terminal states have a double border; a state's self-loops are listed in
    its box (``↻ trigger``). ``path`` edges are numbered in the order taken and highlighted, with
    the states they visit filled; a self-loop taken is drawn as a loop with its numbers only."""
    visited = {machine.initial} | {e.src for e in path} | {e.dst for e in path}
    merged = _merged(machine.edges())
    loops = {src: labels for (src, dst), labels in merged.items() if src == dst}
    lines = [
        f"digraph {_quote(machine.name)} {{",
        f"  label={_quote(machine.title)}; labelloc=t; fontname=Helvetica;",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded", fontname=Helvetica];',
        "  edge [fontname=Helvetica, fontsize=10];",
        '  __start [shape=point, width=0.15, label=""];',
    ]
    for state in machine.states:
        attrs_ = [f"label={_state_label(state, loops.get(state, []))}"]
        if state in machine.terminal:
            attrs_.append("peripheries=2")
        if path and state in visited:
            attrs_.append(f'style="rounded,filled", fillcolor="#ffe08a", color="{_HIGHLIGHT}"')
        lines.append(f"  {_quote(state)} [{', '.join(attrs_)}];")
    lines.append(f"  __start -> {_quote(machine.initial)};")
    # (src, dst) -> trigger -> the step numbers at which the path took it
    taken: dict[tuple[str, str], dict[str, list[int]]] = {}
    for step, edge in enumerate(path, start=1):
        taken.setdefault((edge.src, edge.dst), {}).setdefault(edge.trigger, []).append(step)
    highlight = f'color="{_HIGHLIGHT}", penwidth=2.5'
    for (src, dst), labels in merged.items():
        if src == dst:
            continue
        arrow = f"  {_quote(src)} -> {_quote(dst)}"
        steps = taken.pop((src, dst), None)
        if steps is None:
            lines.append(f"{arrow} [label={_quote(chr(10).join(labels))}];")
            continue
        # One arrow per pair: the taken triggers numbered and highlighted in the table's label.
        rows = []
        for label in labels:
            numbers = steps.pop(label.partition(" [")[0], None)
            if numbers is None:
                rows.append(_html(label))
            else:
                text = _html(_numbered(numbers, label))
                rows.append(f'<font color="{_HIGHLIGHT}"><b>{text}</b></font>')
        rows += [
            f'<font color="{_HIGHLIGHT}"><b>{_html(_numbered(n, t))}</b></font>'
            for t, n in steps.items()
        ]
        lines.append(f"{arrow} [label=<{'<br/>'.join(rows)}>, {highlight}];")
    for (src, dst), steps in taken.items():  # self-loops taken (and edges not in the table)
        label = chr(10).join(_numbered(n, trigger) for trigger, n in steps.items())
        lines.append(
            f"  {_quote(src)} -> {_quote(dst)} "
            f'[label={_quote(label)}, fontcolor="{_HIGHLIGHT}", {highlight}];'
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def dot_available() -> bool:
    """True when Graphviz's ``dot`` is on PATH (Debian: ``apt-get install graphviz``)."""
    return shutil.which("dot") is not None


def render_svg(dot_source: str) -> str:
    """Render DOT to SVG with Graphviz's ``dot``; RuntimeError when it is missing or fails."""
    exe = shutil.which("dot")
    if exe is None:
        raise RuntimeError("Graphviz 'dot' is not installed (Debian: apt-get install graphviz)")
    done = subprocess.run(
        [exe, "-Tsvg"], input=dot_source, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"dot failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


# -- the registry of lifecycles and the diagrams/ folder -------------------------------------------


def lifecycle(name: str) -> Lifecycle:
    """The lifecycle called ``name`` ("order", "actor" or "connection"), read from its table."""
    if name == "order":
        from ibkr_exec.statemachines import order

        return Lifecycle(
            "order",
            "Order lifecycle (ibkr_exec.statemachines.order)",
            tuple(order.ORDER_STATES),
            tuple(order.ORDER_TRANSITIONS),
            order.ORDER_INITIAL,
            frozenset(order.ORDER_TERMINAL_STATES),
        )
    if name == "actor":
        from ibkr_exec.statemachines import actor

        return Lifecycle(
            "actor",
            "Actor mode (ibkr_exec.statemachines.actor)",
            tuple(actor.ACTOR_STATES),
            tuple(actor.ACTOR_TRANSITIONS),
            actor.ACTOR_INITIAL,
            frozenset({actor.STOPPED}),
        )
    if name == "connection":
        from ibkr_exec.statemachines import connection

        return Lifecycle(
            "connection",
            "Connection lifecycle (ibkr_exec.statemachines.connection)",
            tuple(connection.CONNECTION_STATES),
            tuple(connection.CONNECTION_TRANSITIONS),
            connection.DISCONNECTED,
            frozenset(connection.CONNECTION_FINAL_STATES),
        )
    raise ValueError(f"unknown lifecycle {name!r}; known: {', '.join(LIFECYCLE_NAMES)}")


LIFECYCLE_NAMES: tuple[str, ...] = ("order", "actor", "connection")

_README_HEAD = """\
# State diagrams

Generated by `ibkr-exec diagrams` from the tables in `ibkr_exec/statemachines/`, the same tables
the actors run. Do not edit: change the table and regenerate (a test fails when these files
differ from the code). Terminal states are drawn bold (Mermaid) or with a double border (Graphviz).
Edge labels are triggers, with guard conditions in brackets (`!` marks an `unless`). In the Graphviz
drawings a state's self-loops (triggers that leave it where it is) are listed in its box (`↻`).
"""


def generate(*, svg: bool | None = None) -> dict[str, str]:
    """Every diagram file's name and text. ``svg`` defaults to "when ``dot`` is installed"."""
    with_svg = dot_available() if svg is None else svg
    files: dict[str, str] = {}
    readme = [_README_HEAD]
    for name in LIFECYCLE_NAMES:
        machine = lifecycle(name)
        mermaid = to_mermaid(machine)
        dot = to_dot(machine)
        files[f"{name}.mmd"] = mermaid
        files[f"{name}.dot"] = dot
        if with_svg:
            files[f"{name}.svg"] = render_svg(dot)
        readme.append(f"\n## {machine.title}\n\n```mermaid\n{mermaid}```\n")
        readme.append(f"\nGraphviz: [{name}.dot]({name}.dot), [{name}.svg]({name}.svg)\n")
    files["README.md"] = "".join(readme)
    return files


def write_diagrams(out_dir: str | Path, *, svg: bool | None = None) -> list[Path]:
    """Write every diagram into ``out_dir`` (created if needed) and return the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, text in generate(svg=svg).items():
        path = out / filename
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
