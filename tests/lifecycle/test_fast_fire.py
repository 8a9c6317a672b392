"""SharedMachine.fire takes the table's edges without the transitions engine, with the engine's
result: the same state, the same answer, the same conditions and callbacks called in the same
order, the same MachineError."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ibkr_exec.statemachines import ORDER_STATES, ORDER_TRANSITIONS
from ibkr_exec.statemachines.order import ORDER_TRIGGERS
from ibkr_exec.statemachines.shared import MachineError, SharedMachine

NAMES = sorted(
    {
        name
        for edge in ORDER_TRANSITIONS
        for key in ("conditions", "unless", "prepare", "before", "after")
        for name in ([edge[key]] if isinstance(edge.get(key), str) else list(edge.get(key) or []))
    }
)


class Scripted:
    """A model whose conditions answer from a script and whose calls are all recorded."""

    def __init__(self, answers: list[bool]) -> None:
        self.state = ""
        self.answers = answers
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        if name not in NAMES:
            raise AttributeError(name)

        def call() -> bool:
            self.calls.append(name)
            return self.answers.pop(0) if self.answers else True

        return call


def machines() -> tuple[SharedMachine, SharedMachine]:
    fast = SharedMachine(states=ORDER_STATES, transitions=ORDER_TRANSITIONS, initial="PENDING")
    engine = SharedMachine(states=ORDER_STATES, transitions=ORDER_TRANSITIONS, initial="PENDING")
    engine._edges = {}  # every fire through the transitions engine
    return fast, engine


def test_the_order_table_is_taken_without_the_engine() -> None:
    fast, _ = machines()
    assert len(fast._edges) == sum(len(event.transitions) for event in fast.events.values())


@given(
    st.lists(st.sampled_from(ORDER_TRIGGERS), max_size=12),
    st.lists(st.booleans(), max_size=40),
    st.sampled_from(ORDER_STATES),
)
def test_fire_without_the_engine_is_the_engine(
    triggers: list[str], answers: list[bool], start: str
) -> None:
    fast, engine = machines()
    a, b = Scripted(list(answers)), Scripted(list(answers))
    fast.add_model(a, start)
    engine.add_model(b, start)
    for trigger in triggers:
        outcomes: list[bool | str] = []
        for machine, model in ((fast, a), (engine, b)):
            try:
                outcomes.append(machine.fire(model, trigger))
            except MachineError:
                outcomes.append("MachineError")
        assert outcomes[0] == outcomes[1], trigger
        assert (a.state, a.calls) == (b.state, b.calls)
