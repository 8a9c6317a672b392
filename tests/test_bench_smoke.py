"""Every benchmark runs, with tiny sizes, so none of them rots. Figures are never asserted;
smoke runs pass --no-record, so RESULTS.md holds real runs only."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # bench/ is not installed; it lives beside the package
    sys.path.insert(0, str(ROOT))

from bench import e2e, memory, reconnect, scale, tick_to_wire, transition  # noqa: E402


def test_end_to_end_runs() -> None:
    lines = e2e.main(["--no-record", "--n", "6", "--pairs", "1", "--in-process"])
    assert any("ratio" in line for line in lines)


def test_per_transition_runs() -> None:
    lines = transition.main(["--no-record", "--n", "2000", "--repeat", "1"])
    assert any("ratio" in line for line in lines)


def test_memory_runs() -> None:
    lines = memory.main(["--no-record", "--n", "50"])
    assert any("per actor" in line for line in lines)


def test_scale_runs() -> None:
    lines = scale.main(["--no-record", "--small", "10", "--large", "100", "--repeat", "1"])
    assert any("ratio" in line for line in lines)


def test_reconnect_runs() -> None:
    lines = reconnect.main(["--no-record", "--n", "5", "--pairs", "1"])
    assert any("ratio" in line for line in lines)


def test_tick_to_wire_runs_against_a_child_process_simulator() -> None:
    lines = tick_to_wire.main(["--no-record", "--n", "3"])
    assert any("p99" in line for line in lines)
