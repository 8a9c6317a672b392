"""Specification of the translation tables: what each IB status and error code means."""

from __future__ import annotations

import pytest

from ibkr_exec.broker.port import (
    BrokerNotice,
    BrokerReport,
    BrokerWarning,
    CancelConfirmed,
    CancelPending,
    CancelRefused,
    ConnectivityLost,
    ConnectivityRestored,
    OrderAccepted,
    OrderRejected,
)
from ibkr_exec.broker.translate import (
    translate_link_error,
    translate_order_error,
    translate_status,
)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("PendingSubmit", None),
        ("ApiPending", None),
        ("PreSubmitted", OrderAccepted("7", 70, "c-7", "PreSubmitted")),
        ("Submitted", OrderAccepted("7", 70, "c-7", "Submitted")),
        ("PendingCancel", CancelPending("7", 70, "c-7")),
        ("Cancelled", CancelConfirmed("7", "Cancelled", None, 70, "c-7")),
        ("ApiCancelled", CancelConfirmed("7", "ApiCancelled", None, 70, "c-7")),
        ("Filled", None),
        ("Inactive", OrderRejected("7", None, "order is Inactive", 70, "c-7")),
    ],
)
def test_every_ib_status_has_a_meaning(status: str, expected: BrokerReport | None) -> None:
    assert translate_status("7", status, perm_id=70, order_ref="c-7") == expected


def test_inactive_held_for_a_locate_is_still_live() -> None:
    report = translate_status("7", "Inactive", why_held="locate")
    assert isinstance(report, BrokerWarning)
    assert "locate" in report.message


def test_an_unknown_status_is_a_warning_not_a_transition() -> None:
    assert translate_status("7", "Bogus") == BrokerWarning(
        "7", None, "unknown order status 'Bogus'"
    )


def test_completed_status_text_becomes_the_cancel_reason() -> None:
    report = translate_status("0", "Cancelled", order_ref="c-1", reason="Cancelled by Trader")
    assert report == CancelConfirmed("0", "Cancelled by Trader", None, None, "c-1")


@pytest.mark.parametrize(
    ("code", "expected_type"),
    [
        (201, OrderRejected),
        (203, OrderRejected),
        (103, OrderRejected),
        (202, CancelConfirmed),
        (10147, CancelRefused),
        (10148, CancelRefused),
        (161, CancelRefused),
        (399, BrokerWarning),
        (2109, BrokerWarning),
        (10349, BrokerWarning),
        (9999, BrokerWarning),  # unknown codes never cancel or reject an order
    ],
)
def test_order_errors(code: int, expected_type: type) -> None:
    report = translate_order_error("7", code, "text", acknowledged=True)
    assert type(report) is expected_type
    assert report.order_id == "7"


def test_cancel_refusals_never_read_as_cancelled() -> None:
    for code in (10147, 10148, 161):
        report = translate_order_error("7", code, "cannot cancel", acknowledged=True)
        assert report == CancelRefused("7", code, "cannot cancel")


@pytest.mark.parametrize("code", [321, 110])
def test_321_and_110_reject_a_new_order_but_only_warn_about_a_live_one(code: int) -> None:
    new = translate_order_error("7", code, "refused", acknowledged=False)
    live = translate_order_error("7", code, "bad modify", acknowledged=True)
    assert new == OrderRejected("7", code, "refused")
    assert live == BrokerWarning("7", code, "bad modify")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (1100, ConnectivityLost("m")),
        (1101, ConnectivityRestored(data_kept=False, message="m")),
        (1102, ConnectivityRestored(data_kept=True, message="m")),
        (2104, BrokerNotice(2104, "m")),
        (2106, BrokerNotice(2106, "m")),
        (2158, BrokerNotice(2158, "m")),
        (2107, BrokerNotice(2107, "m")),
        (502, BrokerNotice(502, "m")),
    ],
)
def test_link_errors(code: int, expected: object) -> None:
    assert translate_link_error(code, "m") == expected


def test_a_completed_order_refused_by_tws_reads_as_rejected_with_its_reason() -> None:
    # TWS keeps a rejected order as Inactive; completedStatus carries the reason.
    report = translate_status("0", "Inactive", order_ref="c-1", reason="insufficient margin")
    assert report == OrderRejected("0", None, "insufficient margin", None, "c-1")


def test_a_completed_order_cancelled_by_the_trader_reads_as_cancelled() -> None:
    # completedStatus of capture 30 (rust-ibapi 2025).
    report = translate_status("0", "Cancelled", order_ref="c-1", reason="Cancelled by Trader")
    assert report == CancelConfirmed("0", "Cancelled by Trader", None, None, "c-1")
