"""The order lifecycle as data: states, triggers and every legal edge in one table.

The same table drives every order (through one shared machine, :func:`order_machine`) and the
generated diagrams, so it holds only strings: conditions and callbacks are *names* of methods of the
model (``ibkr_exec.actors.ledger.OrderLedger``); :data:`ORDER_CONDITIONS` says what each means.

Triggers are named after domain events. A trigger that has no edge from the current state is not an
error that escapes: the order actor writes an audit entry of kind "anomaly" and the state stays.
Comments mark the edges that exist because of a real-world race (after NautilusTrader's table).
"""

from __future__ import annotations

from typing import Any, Final

from ibkr_exec.models import OrderStatus
from ibkr_exec.statemachines.shared import SharedMachine

PENDING: Final = OrderStatus.PENDING.value
SUBMITTED: Final = OrderStatus.SUBMITTED.value
PARTIAL: Final = OrderStatus.PARTIAL.value
PENDING_CANCEL: Final = OrderStatus.PENDING_CANCEL.value
FILLED: Final = OrderStatus.FILLED.value
CANCELLED: Final = OrderStatus.CANCELLED.value
REJECTED: Final = OrderStatus.REJECTED.value

#: Every state, in lifecycle order. FILLED, CANCELLED and REJECTED are terminal.
ORDER_STATES: Final[tuple[str, ...]] = tuple(s.value for s in OrderStatus)
#: The states no edge leaves.
ORDER_TERMINAL_STATES: Final = frozenset({FILLED, CANCELLED, REJECTED})
#: Where every order starts: created, sent or being sent, not yet acknowledged.
ORDER_INITIAL: Final = PENDING

#: The triggers, each named after the domain event that fires it.
ORDER_TRIGGERS: Final[tuple[str, ...]] = (
    "acknowledge",  # the broker accepted the order (openOrder / orderStatus Submitted)
    "fill",  # an execution (execDetails), new or a correction of an earlier one
    "request_cancel",  # we asked the broker to cancel
    "cancel_pending",  # the broker reports PendingCancel, whoever asked
    "cancel_refused",  # the broker refused a cancel (10148, 161)
    "cancel_unknown",  # the broker does not know the order it was asked to cancel (10147)
    "cancelled",  # the broker confirmed the cancel (Cancelled / ApiCancelled / 202)
    "reject",  # the broker rejected the order, or withdrew a working one (201, 203, Inactive)
)

#: What each condition named in the table means (the model implements them; diagrams show them).
ORDER_CONDITIONS: Final[dict[str, str]] = {
    "within_quantity": "the fill keeps cumulative filled quantity <= order quantity",
    "completes_order": "cumulative filled quantity reaches the order quantity",
    "is_correction": "the execution replaces an earlier one (same execId prefix)",
    "was_partial": "the order was partly filled before the cancel was requested",
    "was_submitted": "the order was acknowledged and unfilled before the cancel",
    "was_pending": "the cancel was requested before the order was acknowledged",
}

#: A fill is never dropped: in these states it is recorded (quantity, average price) and the
#: entry is flagged as an anomaly, because the state no longer expects one.
ORDER_LATE_FILL_STATES: Final = frozenset({CANCELLED, REJECTED})

_WORKING: Final = [PENDING, SUBMITTED, PARTIAL]
_FILL: Final = {"conditions": ["within_quantity"], "before": "apply_fill"}
_DONE: Final = ["within_quantity", "completes_order"]

#: Every legal edge. ``source`` is a state or a list of states; ``dest`` equal to ``source`` is a
#: self-loop that records the event without changing state. Order matters where edges share a
#: trigger and source: the first whose conditions hold is taken.
ORDER_TRANSITIONS: Final[list[dict[str, Any]]] = [
    # -- acknowledge ------------------------------------------------------------------------------
    {"trigger": "acknowledge", "source": PENDING, "dest": SUBMITTED},
    # IB repeats orderStatus and re-sends openOrder after partial fills: a repeated acknowledgement
    # changes nothing and never regresses PARTIAL to SUBMITTED (NautilusTrader PR #3471).
    {"trigger": "acknowledge", "source": SUBMITTED, "dest": SUBMITTED},
    {"trigger": "acknowledge", "source": PARTIAL, "dest": PARTIAL},
    # A filled order reported again (its completedOrder after a reconnect): nothing new.
    {"trigger": "acknowledge", "source": FILLED, "dest": FILLED},
    # Race: the acknowledgement of an order cancelled before it was acknowledged. A refusal of
    # that cancel must now return to SUBMITTED, not PENDING.
    {
        "trigger": "acknowledge",
        "source": PENDING_CANCEL,
        "dest": PENDING_CANCEL,
        "after": "note_acknowledged",
    },
    # -- fill: PARTIAL versus FILLED is decided by cumulative quantity, not by the message --------
    # Race: IB gives no ordering between openOrder, orderStatus and execDetails, so a fill may
    # arrive before any acknowledgement (PENDING -> PARTIAL / FILLED; NautilusTrader #3949).
    {"trigger": "fill", "source": _WORKING, "dest": FILLED, **_FILL, "conditions": _DONE},
    {"trigger": "fill", "source": _WORKING, "dest": PARTIAL, **_FILL, "unless": "completes_order"},
    # Race: fills keep arriving while a cancel is pending. A partial one stays pending; a refusal
    # of the cancel then returns to PARTIAL.
    {"trigger": "fill", "source": PENDING_CANCEL, "dest": FILLED, **_FILL, "conditions": _DONE},
    {
        "trigger": "fill",
        "source": PENDING_CANCEL,
        "dest": PENDING_CANCEL,
        **_FILL,
        "unless": "completes_order",
        "after": "note_partial",
    },
    # Race: IB corrects an execution after the order completed (usually its price). Applied only
    # while the order stays complete; any other fill in FILLED is an overfill anomaly.
    {
        "trigger": "fill",
        "source": FILLED,
        "dest": FILLED,
        **_FILL,
        "conditions": ["is_correction", *_DONE],
    },
    # Race: a fill that raced the cancel. A fill is never dropped: it is recorded (quantity,
    # average price), the state stays CANCELLED, and the actor flags the entry as an anomaly.
    {"trigger": "fill", "source": CANCELLED, "dest": CANCELLED, **_FILL},
    # Race: the fill that IB's withdrawal (Inactive) of a working order overtook; or a fill
    # of an order whose rejection was wrong. Recorded and flagged, as after a cancel.
    {"trigger": "fill", "source": REJECTED, "dest": REJECTED, **_FILL},
    # -- cancel ------------------------------------------------------------------------------------
    {
        "trigger": "request_cancel",
        "source": _WORKING,
        "dest": PENDING_CANCEL,
        "before": "remember_pre_cancel",
    },
    # A repeated request keeps the state remembered by the first one.
    {"trigger": "request_cancel", "source": PENDING_CANCEL, "dest": PENDING_CANCEL},
    # The broker reports PendingCancel: ours, or a cancel from TWS or IB itself.
    {
        "trigger": "cancel_pending",
        "source": _WORKING,
        "dest": PENDING_CANCEL,
        "before": "remember_pre_cancel",
    },
    {"trigger": "cancel_pending", "source": PENDING_CANCEL, "dest": PENDING_CANCEL},
    # A refused cancel returns to where the order came from; it never marks it cancelled.
    {
        "trigger": "cancel_refused",
        "source": PENDING_CANCEL,
        "dest": PARTIAL,
        "conditions": "was_partial",
        "after": "forget_pre_cancel",
    },
    {
        "trigger": "cancel_refused",
        "source": PENDING_CANCEL,
        "dest": SUBMITTED,
        "conditions": "was_submitted",
        "after": "forget_pre_cancel",
    },
    {
        "trigger": "cancel_refused",
        "source": PENDING_CANCEL,
        "dest": PENDING,
        "conditions": "was_pending",
        "after": "forget_pre_cancel",
    },
    # Race: two cancels in flight; the second refusal arrives after the first returned the order.
    {"trigger": "cancel_refused", "source": PENDING, "dest": PENDING},
    {"trigger": "cancel_refused", "source": SUBMITTED, "dest": SUBMITTED},
    {"trigger": "cancel_refused", "source": PARTIAL, "dest": PARTIAL},
    # 10147: IB does not know the order. One never acknowledged that the user cancelled was
    # never at IB (a placement lost on the way): it ends CANCELLED and is never placed again.
    # An acknowledged one is known to IB, so it is refused like any other cancel.
    {
        "trigger": "cancel_unknown",
        "source": PENDING_CANCEL,
        "dest": CANCELLED,
        "conditions": "was_pending",
    },
    {
        "trigger": "cancel_unknown",
        "source": PENDING_CANCEL,
        "dest": PARTIAL,
        "conditions": "was_partial",
        "after": "forget_pre_cancel",
    },
    {
        "trigger": "cancel_unknown",
        "source": PENDING_CANCEL,
        "dest": SUBMITTED,
        "conditions": "was_submitted",
        "after": "forget_pre_cancel",
    },
    # Race: two cancels in flight, the second answer arrives after the first settled it.
    {"trigger": "cancel_unknown", "source": SUBMITTED, "dest": SUBMITTED},
    {"trigger": "cancel_unknown", "source": PARTIAL, "dest": PARTIAL},
    {"trigger": "cancel_unknown", "source": CANCELLED, "dest": CANCELLED},
    {"trigger": "cancelled", "source": PENDING_CANCEL, "dest": CANCELLED},
    # Unsolicited cancel of a working order: DAY expiry, a TWS user, IB risk (202 without asking).
    {"trigger": "cancelled", "source": _WORKING, "dest": CANCELLED},
    # IB repeats orderStatus: a repeated Cancelled changes nothing.
    {"trigger": "cancelled", "source": CANCELLED, "dest": CANCELLED},
    # -- reject ------------------------------------------------------------------------------------
    {"trigger": "reject", "source": [PENDING, SUBMITTED], "dest": REJECTED},
    # IB withdraws a working order after partial fills (Inactive): the order is over, its fills
    # stay (REJECTED with filled_quantity > 0), and a fill the withdrawal overtook still counts.
    {"trigger": "reject", "source": PARTIAL, "dest": REJECTED},
    # Race: the rejection of a new order overtakes our cancel request.
    {"trigger": "reject", "source": PENDING_CANCEL, "dest": REJECTED},
    # IB repeats orderStatus Inactive: a repeated rejection changes nothing.
    {"trigger": "reject", "source": REJECTED, "dest": REJECTED},
]

_MACHINE: list[SharedMachine] = []


def order_machine() -> SharedMachine:
    """The one machine every order shares, built on first use (see ``statemachines.shared``)."""
    if not _MACHINE:
        _MACHINE.append(
            SharedMachine(
                states=ORDER_STATES,
                transitions=ORDER_TRANSITIONS,
                initial=ORDER_INITIAL,
                name="order",
            )
        )
    return _MACHINE[0]
