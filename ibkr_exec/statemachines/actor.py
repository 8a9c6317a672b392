"""An actor's own mode as data: running, paused (stashing), restarting after a failure, stopped.

Pause is a mode, not a flag: the runtime fires these triggers on the actor itself (it is the
model, with the mode in its ``mode`` attribute). While RESTARTING the actor remembers whether it was
paused, so a restart never silently resumes a paused actor (the pre-restart mode is kept like an
order's pre-cancel state).
"""

from __future__ import annotations

from typing import Any, Final

from ibkr_exec.statemachines.shared import SharedMachine

RUNNING: Final = "RUNNING"
PAUSED: Final = "PAUSED"
RESTARTING: Final = "RESTARTING"
STOPPED: Final = "STOPPED"

#: Every mode; STOPPED is terminal.
ACTOR_STATES: Final[tuple[str, ...]] = (RUNNING, PAUSED, RESTARTING, STOPPED)
#: A started actor runs.
ACTOR_INITIAL: Final = RUNNING
#: The triggers the runtime fires.
ACTOR_TRIGGERS: Final[tuple[str, ...]] = ("pause", "resume", "fail", "restarted", "stop")
#: What each condition named in the table means (implemented by ``actors.runtime.Actor``).
ACTOR_CONDITIONS: Final[dict[str, str]] = {
    "was_paused": "the actor was paused when it failed",
}

#: Every legal edge of an actor's mode.
ACTOR_TRANSITIONS: Final[list[dict[str, Any]]] = [
    {"trigger": "pause", "source": RUNNING, "dest": PAUSED},
    {"trigger": "pause", "source": PAUSED, "dest": PAUSED},
    # Paused or resumed while restarting: remembered, applied when the restart completes.
    {"trigger": "pause", "source": RESTARTING, "dest": RESTARTING, "after": "remember_paused"},
    {"trigger": "resume", "source": PAUSED, "dest": RUNNING},
    {"trigger": "resume", "source": RUNNING, "dest": RUNNING},
    {"trigger": "resume", "source": RESTARTING, "dest": RESTARTING, "after": "remember_running"},
    {
        "trigger": "fail",
        "source": [RUNNING, PAUSED],
        "dest": RESTARTING,
        "before": "remember_pre_failure",
    },
    # A failure during the restart itself (on_restart raised) restarts again.
    {"trigger": "fail", "source": RESTARTING, "dest": RESTARTING},
    {"trigger": "restarted", "source": RESTARTING, "dest": PAUSED, "conditions": "was_paused"},
    {"trigger": "restarted", "source": RESTARTING, "dest": RUNNING, "unless": "was_paused"},
    {"trigger": "stop", "source": [RUNNING, PAUSED, RESTARTING], "dest": STOPPED},
    {"trigger": "stop", "source": STOPPED, "dest": STOPPED},
]

_MACHINE: list[SharedMachine] = []


def actor_machine() -> SharedMachine:
    """The one machine every actor's mode shares, built on first use."""
    if not _MACHINE:
        _MACHINE.append(
            SharedMachine(
                states=ACTOR_STATES,
                transitions=ACTOR_TRANSITIONS,
                initial=ACTOR_INITIAL,
                model_attribute="mode",
                name="actor",
            )
        )
    return _MACHINE[0]
