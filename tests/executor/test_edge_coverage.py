"""Every edge of ORDER_TRANSITIONS is reached against the simulator.

The expected edges are read from the table itself, so a new edge brings its own failing test
until a scenario (tests/executor/scenarios.py) drives an order through it over ib_async and
FakeTWS. The fault matrix and the edge scenarios below are what reach them.
"""

from __future__ import annotations

import asyncio

import pytest

from ibkr_exec.diagrams import lifecycle

from .scenarios import EDGE_SCENARIOS, EDGES, FAULTS, PATHS, Fault, run_path

TABLE_EDGES = sorted({(e.src, e.trigger, e.dst) for e in lifecycle("order").edges()})


@pytest.mark.parametrize("name", sorted(EDGE_SCENARIOS))
async def test_edge_scenario_runs_to_its_end_state(name: str) -> None:
    assert await run_path(EDGE_SCENARIOS[name], Fault(), None, check=False, timeout=0.5) == []


@pytest.fixture(scope="module")
def edges_reached() -> set[tuple[str, str, str]]:
    """Run the matrix and the edge scenarios (unless this process already did) and return the
    lifecycle edges the order machine took."""

    async def run_all() -> None:
        for drive, expected in PATHS.values():
            for make_fault in FAULTS.values():
                await run_path(drive, make_fault(), expected)
        for scenario in EDGE_SCENARIOS.values():
            await run_path(scenario, Fault(), None, check=False, timeout=0.5)

    if not set(TABLE_EDGES) <= EDGES:
        asyncio.run(run_all())
    return EDGES


@pytest.mark.parametrize(("src", "trigger", "dst"), TABLE_EDGES)
def test_every_table_edge_is_reached_against_the_simulator(
    edges_reached: set[tuple[str, str, str]], src: str, trigger: str, dst: str
) -> None:
    assert (src, trigger, dst) in edges_reached
