"""State diagrams drawn from the executable tables, and per-order traces drawn from a journal.

The tables in ``ibkr_exec.statemachines`` drive the actors; this module reads the very same
tables, so a diagram cannot drift from the code (and a test checks the committed ones).

>>> from ibkr_exec.statemachines.connection import CONNECTION_STATES
>>> "stateDiagram-v2" in to_mermaid(lifecycle("connection"))
True
"""

from __future__ import annotations

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


def to_dot(machine: Lifecycle, *, path: Sequence[Edge] = ()) -> str:
    """Graphviz DOT. Terminal states have a double border; ``path`` edges are drawn in order,
    numbered and highlighted, with the states they visit filled."""
    visited = {machine.initial} | {e.src for e in path} | {e.dst for e in path}
    lines = [
        f"digraph {_quote(machine.name)} {{",
        f"  label={_quote(machine.title)}; labelloc=t; fontname=Helvetica;",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded", fontname=Helvetica];',
        "  edge [fontname=Helvetica, fontsize=10];",
        '  __start [shape=point, width=0.15, label=""];',
    ]
    for state in machine.states:
        attrs_ = []
        if state in machine.terminal:
            attrs_.append("peripheries=2")
        if path and state in visited:
            attrs_.append('style="rounded,filled", fillcolor="#ffe08a", color="#d9480f"')
        suffix = f" [{', '.join(attrs_)}]" if attrs_ else ""
        lines.append(f"  {_quote(state)}{suffix};")
    lines.append(f"  __start -> {_quote(machine.initial)};")
    taken: dict[tuple[str, str, str], list[int]] = {}
    for step, edge in enumerate(path, start=1):
        taken.setdefault((edge.src, edge.dst, edge.trigger), []).append(step)
    for (src, dst), labels in _merged(machine.edges()).items():
        lines.append(f"  {_quote(src)} -> {_quote(dst)} [label={_quote(chr(10).join(labels))}];")
    for (src, dst, trigger), steps in taken.items():
        label = f"{','.join(map(str, steps))}. {trigger}"
        lines.append(
            f"  {_quote(src)} -> {_quote(dst)} "
            f'[label={_quote(label)}, color="#d9480f", fontcolor="#d9480f", penwidth=2.5];'
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
Edge labels are triggers, with guard conditions in brackets (`!` marks an `unless`).
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
