"""The connection lifecycle as data: the table the connection actor runs and the diagrams draw.

"Connected" is not "reconciled": every (re)connect and every 1101 passes through SYNCING, where
open orders, completed orders and executions are reconciled before order actors resume.
"""

from __future__ import annotations

from typing import Final

from ibkr_exec.statemachines.shared import SharedMachine

DISCONNECTED: Final = "DISCONNECTED"
CONNECTING: Final = "CONNECTING"
SYNCING: Final = "SYNCING"
READY: Final = "READY"
DEGRADED: Final = "DEGRADED"
RECONNECTING: Final = "RECONNECTING"
FAILED: Final = "FAILED"
CLOSED: Final = "CLOSED"

CONNECTION_STATES: Final[list[str]] = [
    DISCONNECTED,
    CONNECTING,
    SYNCING,
    READY,
    DEGRADED,
    RECONNECTING,
    FAILED,
    CLOSED,
]

#: States from which the connection never moves on its own.
CONNECTION_FINAL_STATES: Final = frozenset({FAILED, CLOSED})

_LINKED = [SYNCING, READY, DEGRADED]

CONNECTION_TRANSITIONS: Final[list[dict[str, str | list[str]]]] = [
    {"trigger": "connect", "source": [DISCONNECTED, FAILED], "dest": CONNECTING},
    # The first connect reports failure to the caller instead of retrying behind its back.
    {"trigger": "connect_failed", "source": CONNECTING, "dest": DISCONNECTED},
    {"trigger": "connected", "source": [CONNECTING, RECONNECTING], "dest": SYNCING},
    {"trigger": "synced", "source": SYNCING, "dest": READY},
    # 1100: TWS lost IB but our socket is up. Children pause; nothing is sent until restored.
    # During SYNCING it is only journaled: the sync finishes, and the 1101/1102 that follows
    # decides whether to sync again.
    {"trigger": "connectivity_lost", "source": READY, "dest": DEGRADED},
    # 1102: restored with data kept. Nothing was missed, so no sync is needed.
    {"trigger": "restored_data_kept", "source": DEGRADED, "dest": READY},
    # 1101: restored with data lost; IB may have filled or cancelled orders meanwhile.
    {"trigger": "restored_data_lost", "source": [DEGRADED, READY], "dest": SYNCING},
    {"trigger": "socket_lost", "source": _LINKED, "dest": RECONNECTING},
    {"trigger": "retry", "source": RECONNECTING, "dest": RECONNECTING},
    {"trigger": "give_up", "source": RECONNECTING, "dest": FAILED},
    {"trigger": "close", "source": [*CONNECTION_STATES[:-1]], "dest": CLOSED},
]

_MACHINE: list[SharedMachine] = []


def connection_machine() -> SharedMachine:
    """The machine the connection actor runs, built on first use from the table above."""
    if not _MACHINE:
        _MACHINE.append(
            SharedMachine(
                states=CONNECTION_STATES,
                transitions=CONNECTION_TRANSITIONS,
                initial=DISCONNECTED,
                name="connection",
            )
        )
    return _MACHINE[0]
