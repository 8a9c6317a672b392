"""The lifecycles as data: states, triggers and transition tables (also the diagrams' source)."""

from ibkr_exec.statemachines.actor import (
    ACTOR_CONDITIONS,
    ACTOR_INITIAL,
    ACTOR_STATES,
    ACTOR_TRANSITIONS,
    ACTOR_TRIGGERS,
    actor_machine,
)
from ibkr_exec.statemachines.order import (
    ORDER_CONDITIONS,
    ORDER_INITIAL,
    ORDER_STATES,
    ORDER_TERMINAL_STATES,
    ORDER_TRANSITIONS,
    ORDER_TRIGGERS,
    order_machine,
)
from ibkr_exec.statemachines.shared import MachineError, SharedMachine

__all__ = [
    "ACTOR_CONDITIONS",
    "ACTOR_INITIAL",
    "ACTOR_STATES",
    "ACTOR_TRANSITIONS",
    "ACTOR_TRIGGERS",
    "ORDER_CONDITIONS",
    "ORDER_INITIAL",
    "ORDER_STATES",
    "ORDER_TERMINAL_STATES",
    "ORDER_TRANSITIONS",
    "ORDER_TRIGGERS",
    "MachineError",
    "SharedMachine",
    "actor_machine",
    "order_machine",
]
