"""The committed diagrams/ folder is exactly what the lifecycle tables generate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ibkr_exec.diagrams import LIFECYCLE_NAMES, dot_available, generate, lifecycle

COMMITTED = Path(__file__).resolve().parent.parent / "diagrams"


@pytest.mark.parametrize("filename", sorted(generate(svg=False)))
def test_committed_text_diagrams_match_the_tables(filename: str) -> None:
    expected = generate(svg=False)[filename]
    path = COMMITTED / filename
    assert path.exists(), f"{path} missing: run `ibkr-exec diagrams`"
    assert path.read_text(encoding="utf-8") == expected, (
        f"{path} differs from the tables: run `ibkr-exec diagrams` and commit the result"
    )


@pytest.mark.parametrize("name", LIFECYCLE_NAMES)
def test_committed_svg_draws_every_state_of_the_table(name: str) -> None:
    svg = (COMMITTED / f"{name}.svg").read_text(encoding="utf-8")
    assert "<svg" in svg
    for state in lifecycle(name).states:
        assert f">{state}</text>" in svg, f"{name}.svg lacks state {state}: regenerate"


def test_every_order_edge_is_drawn() -> None:
    mermaid = (COMMITTED / "order.mmd").read_text(encoding="utf-8")
    for edge in lifecycle("order").edges():
        assert f"{edge.src} --> {edge.dst}: " in mermaid
        assert edge.label in mermaid


@pytest.mark.skipif(not dot_available(), reason="Graphviz dot not installed")
def test_the_diagrams_command_writes_every_format(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ibkr_exec.cli", "diagrams", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    names = {p.name for p in tmp_path.iterdir()}
    for name in LIFECYCLE_NAMES:
        assert {f"{name}.mmd", f"{name}.dot", f"{name}.svg"} <= names
        assert f"wrote {tmp_path / (name + '.svg')}" in done.stdout
    assert "README.md" in names
