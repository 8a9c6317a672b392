"""The order lifecycle, state by trigger: the expected outcome of every pair, written out by hand.

Each state is reached through real messages, then one trigger's message is applied to the ledger.
Outcome: the state after, and the journal entry kind (None: nothing changed, nothing written).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from support import T0, execution, new_order

from ibkr_exec.actors import OrderLedger, RequestCancel
from ibkr_exec.broker.port import (
    CancelConfirmed,
    CancelPending,
    CancelRefused,
    OrderAccepted,
    OrderRejected,
)
from ibkr_exec.statemachines import ORDER_STATES, ORDER_TRIGGERS

ACK = OrderAccepted("7")
SETUP: dict[str, list[Any]] = {
    "PENDING": [],
    "SUBMITTED": [ACK],
    "PARTIAL": [ACK, execution("e1.01", 40)],
    "PENDING_CANCEL": [ACK, RequestCancel()],
    "FILLED": [ACK, execution("e1.01", 100)],
    "CANCELLED": [ACK, CancelConfirmed("7", "cancelled", 202)],
    "REJECTED": [OrderRejected("7", 201, "no margin")],
}


def remaining(ledger: OrderLedger) -> Decimal:
    return ledger.base.quantity - ledger.filled or Decimal(10)


# fill_partial: 10 shares of a new execution; fill_complete: exactly what remains (10 if nothing).
MESSAGES: dict[str, Callable[[OrderLedger], Any]] = {
    "acknowledge": lambda _: ACK,
    "fill_partial": lambda _: execution("e9.01", 10),
    "fill_complete": lambda ledger: execution("e9.01", remaining(ledger)),
    "request_cancel": lambda _: RequestCancel(),
    "cancel_pending": lambda _: CancelPending("7"),
    "cancel_refused": lambda _: CancelRefused("7", 161, "cannot cancel"),
    "cancel_unknown": lambda _: CancelRefused("7", 10147, "order not found"),
    "cancelled": lambda _: CancelConfirmed("7", "cancelled", 202),
    "reject": lambda _: OrderRejected("7", 201, "rejected"),
}

A = "anomaly"
EXPECTED: dict[str, dict[str, tuple[str, str | None]]] = {
    "PENDING": {
        "acknowledge": ("SUBMITTED", "transition"),
        "fill_partial": ("PARTIAL", "fill"),
        "fill_complete": ("FILLED", "fill"),
        "request_cancel": ("PENDING_CANCEL", "transition"),
        "cancel_pending": ("PENDING_CANCEL", "transition"),
        "cancel_refused": ("PENDING", None),
        "cancel_unknown": ("PENDING", A),
        "cancelled": ("CANCELLED", "transition"),
        "reject": ("REJECTED", "transition"),
    },
    "SUBMITTED": {
        "acknowledge": ("SUBMITTED", None),
        "fill_partial": ("PARTIAL", "fill"),
        "fill_complete": ("FILLED", "fill"),
        "request_cancel": ("PENDING_CANCEL", "transition"),
        "cancel_pending": ("PENDING_CANCEL", "transition"),
        "cancel_refused": ("SUBMITTED", None),
        "cancel_unknown": ("SUBMITTED", None),
        "cancelled": ("CANCELLED", "transition"),
        "reject": ("REJECTED", "transition"),
    },
    "PARTIAL": {
        "acknowledge": ("PARTIAL", None),
        "fill_partial": ("PARTIAL", "fill"),
        "fill_complete": ("FILLED", "fill"),
        "request_cancel": ("PENDING_CANCEL", "transition"),
        "cancel_pending": ("PENDING_CANCEL", "transition"),
        "cancel_refused": ("PARTIAL", None),
        "cancel_unknown": ("PARTIAL", None),
        "cancelled": ("CANCELLED", "transition"),
        "reject": ("REJECTED", "transition"),
    },
    "PENDING_CANCEL": {
        "acknowledge": ("PENDING_CANCEL", None),
        "fill_partial": ("PENDING_CANCEL", "fill"),
        "fill_complete": ("FILLED", "fill"),
        "request_cancel": ("PENDING_CANCEL", None),
        "cancel_pending": ("PENDING_CANCEL", None),
        "cancel_refused": ("SUBMITTED", "transition"),
        "cancel_unknown": ("SUBMITTED", "transition"),
        "cancelled": ("CANCELLED", "transition"),
        "reject": ("REJECTED", "transition"),
    },
    "FILLED": {
        "acknowledge": ("FILLED", None),
        "fill_partial": ("FILLED", A),
        "fill_complete": ("FILLED", A),
        "request_cancel": ("FILLED", A),
        "cancel_pending": ("FILLED", A),
        "cancel_refused": ("FILLED", A),
        "cancel_unknown": ("FILLED", A),
        "cancelled": ("FILLED", A),
        "reject": ("FILLED", A),
    },
    "CANCELLED": {
        "acknowledge": ("CANCELLED", A),
        "fill_partial": ("CANCELLED", A),
        "fill_complete": ("CANCELLED", A),
        "request_cancel": ("CANCELLED", A),
        "cancel_pending": ("CANCELLED", A),
        "cancel_refused": ("CANCELLED", A),
        "cancel_unknown": ("CANCELLED", None),
        "cancelled": ("CANCELLED", None),
        "reject": ("CANCELLED", A),
    },
    "REJECTED": {
        "acknowledge": ("REJECTED", A),
        "fill_partial": ("REJECTED", A),
        "fill_complete": ("REJECTED", A),
        "request_cancel": ("REJECTED", A),
        "cancel_pending": ("REJECTED", A),
        "cancel_refused": ("REJECTED", A),
        "cancel_unknown": ("REJECTED", A),
        "cancelled": ("REJECTED", A),
        "reject": ("REJECTED", None),
    },
}

PAIRS = [(state, trigger) for state in EXPECTED for trigger in EXPECTED[state]]


def ledger_in(state: str) -> OrderLedger:
    ledger = OrderLedger.new(new_order())
    for message in SETUP[state]:
        ledger.handle(message, T0)
    assert ledger.state == state
    return ledger


def test_the_expected_table_covers_every_state_and_trigger() -> None:
    assert set(EXPECTED) == set(ORDER_STATES)
    triggers = {t.replace("_partial", "").replace("_complete", "") for t in MESSAGES}
    assert triggers == set(ORDER_TRIGGERS)
    assert all(set(row) == set(MESSAGES) for row in EXPECTED.values())


@pytest.mark.parametrize(("state", "trigger"), PAIRS)
def test_state_and_trigger_lead_to_the_expected_outcome(state: str, trigger: str) -> None:
    ledger = ledger_in(state)
    outcome = ledger.handle(MESSAGES[trigger](ledger), T0)
    expected_state, expected_kind = EXPECTED[state][trigger]
    assert ledger.state == expected_state
    assert (outcome.kind if outcome else None) == expected_kind
