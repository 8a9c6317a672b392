"""The order lifecycle's rules, one behaviour per test (ledger level, no actor, no I/O)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from support import T0, execution, new_order

from ibkr_exec.actors import OrderLedger, RequestCancel
from ibkr_exec.broker.port import (
    CancelConfirmed,
    CancelPending,
    CancelRefused,
    CommissionReport,
    OrderAccepted,
)

ACK = OrderAccepted("7", perm_id=900)
REFUSED = CancelRefused("7", 10148, "already filled")


def ledger_after(*messages: Any) -> OrderLedger:
    ledger = OrderLedger.new(new_order())
    for message in messages:
        ledger.handle(message, T0)
    return ledger


def test_a_fill_before_the_acknowledgement_makes_the_order_partial() -> None:
    assert ledger_after(execution("e1.01", 30)).state == "PARTIAL"


def test_partial_versus_filled_is_decided_by_cumulative_quantity() -> None:
    ledger = ledger_after(ACK, execution("e1.01", 60), execution("e2.01", 40))
    assert (ledger.state, ledger.filled) == ("FILLED", Decimal(100))


def test_a_repeated_acknowledgement_never_regresses_partial_to_submitted() -> None:
    assert ledger_after(ACK, execution("e1.01", 30), ACK).state == "PARTIAL"


def test_the_same_exec_id_twice_counts_once() -> None:
    ledger = ledger_after(ACK, execution("e1.01", 30), execution("e1.01", 30))
    assert ledger.filled == Decimal(30)
    assert len(ledger.fills()) == 1


def test_a_correction_replaces_the_fill_it_corrects() -> None:
    ledger = ledger_after(
        ACK, execution("0001f4e8.65.01.01", 30, "150"), execution("0001f4e8.65.01.02", 20, "149")
    )
    assert ledger.filled == Decimal(20)
    assert [(f.fill_id, f.price) for f in ledger.fills()] == [("0001f4e8.65.01.02", Decimal(149))]


def test_the_original_arriving_after_its_correction_is_ignored() -> None:
    ledger = ledger_after(ACK, execution("x.01.02", 20), execution("x.01.01", 30))
    assert ledger.exec_ids == frozenset({"x.01.02"})
    assert ledger.filled == Decimal(20)


def test_a_price_correction_after_the_order_filled_is_applied() -> None:
    ledger = ledger_after(ACK, execution("x.01.01", 100, "150"), execution("x.01.02", 100, "151"))
    assert (ledger.state, ledger.average_fill_price()) == ("FILLED", Decimal(151))


def test_average_fill_price_is_the_quantity_weighted_average() -> None:
    ledger = ledger_after(ACK, execution("a.01", 30, "150"), execution("b.01", 10, "154"))
    assert ledger.order().average_fill_price == Decimal(151)


def test_an_overfill_is_an_anomaly_and_changes_nothing() -> None:
    ledger = ledger_after(ACK, execution("a.01", 90))
    outcome = ledger.handle(execution("b.01", 20), T0)
    assert outcome is not None
    assert outcome.kind == "anomaly"
    assert "overfill" in (outcome.note or "")
    assert (ledger.state, ledger.filled) == ("PARTIAL", Decimal(90))


def test_a_refused_cancel_returns_to_submitted() -> None:
    assert ledger_after(ACK, RequestCancel(), REFUSED).state == "SUBMITTED"


def test_a_refused_cancel_returns_to_partial() -> None:
    assert ledger_after(ACK, execution("a.01", 10), RequestCancel(), REFUSED).state == "PARTIAL"


def test_a_refused_cancel_before_the_acknowledgement_returns_to_pending() -> None:
    assert ledger_after(RequestCancel(), REFUSED).state == "PENDING"


def test_a_repeated_cancel_request_keeps_the_remembered_state() -> None:
    ledger = ledger_after(ACK, execution("a.01", 10), RequestCancel(), CancelPending("7"))
    assert ledger.pre_cancel == "PARTIAL"


def test_an_acknowledgement_while_cancel_pending_makes_a_refusal_return_to_submitted() -> None:
    assert ledger_after(RequestCancel(), ACK, REFUSED).state == "SUBMITTED"


def test_a_partial_fill_while_cancel_pending_makes_a_refusal_return_to_partial() -> None:
    ledger = ledger_after(ACK, RequestCancel(), execution("a.01", 10))
    assert ledger.state == "PENDING_CANCEL"
    ledger.handle(REFUSED, T0)
    assert ledger.state == "PARTIAL"


def test_a_refused_cancel_never_marks_the_order_cancelled() -> None:
    for code in (10147, 10148, 161):
        ledger = ledger_after(ACK, RequestCancel(), CancelRefused("7", code, "refused"))
        assert ledger.state != "CANCELLED"


def test_a_late_fill_after_cancel_is_recorded_as_an_anomaly_and_the_state_stays() -> None:
    ledger = ledger_after(ACK, CancelConfirmed("7", "cancelled", 202))
    outcome = ledger.handle(execution("late.01", 25, "150"), T0)
    assert outcome is not None
    assert outcome.kind == "anomaly"
    assert (ledger.state, ledger.filled) == ("CANCELLED", Decimal(25))
    assert ledger.order().average_fill_price == Decimal(150)


def test_commission_arriving_before_its_execution_joins_the_fill() -> None:
    ledger = ledger_after(ACK, CommissionReport("a.01", Decimal("1.25")), execution("a.01", 10))
    assert ledger.fill("a.01").commission == Decimal("1.25")


def test_commission_arriving_after_its_execution_updates_the_fill() -> None:
    ledger = ledger_after(ACK, execution("a.01", 10), CommissionReport("a.01", Decimal("1.25")))
    assert ledger.fill("a.01").commission == Decimal("1.25")


def test_the_acknowledgement_records_the_perm_id() -> None:
    assert ledger_after(ACK).order().perm_id == 900


def test_a_rejection_records_its_reason_and_code() -> None:
    from ibkr_exec.broker.port import OrderRejected

    order = ledger_after(OrderRejected("7", 201, "no margin")).order()
    assert (order.status, order.reason, order.reason_code) == ("REJECTED", "no margin", 201)
