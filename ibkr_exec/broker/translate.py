"""IB's status strings, whyHeld and error codes, as tables of what they mean for the lifecycle.

ib_async's own Trade status is not broker truth: it forces "Cancelled" on many error codes (10147,
10148, 103, 201...) even when TWS never cancelled the order. The adapter therefore translates IB's
raw callbacks here and nothing else. Codes: https://www.interactivebrokers.com/campus/ibkr-api-page/
twsapi-doc/#api-error-codes; the pitfalls behind each row are in shared/reference.
"""

from __future__ import annotations

import enum
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ibkr_exec.broker.port import (
    BrokerNotice,
    BrokerReport,
    BrokerWarning,
    CancelConfirmed,
    CancelPending,
    CancelRefused,
    ConnectivityLost,
    ConnectivityRestored,
    LinkEvent,
    OrderAccepted,
    OrderRejected,
)


class StatusMeaning(enum.Enum):
    """What an orderStatus / openOrder status string means for the lifecycle."""

    IN_FLIGHT = "in flight"  # sent, not yet acknowledged: no transition
    ACCEPTED = "accepted"
    CANCEL_PENDING = "cancel pending"
    CANCELLED = "cancelled"
    FILLED = "filled"  # informational: fills come from executions, never from a status
    INACTIVE = "inactive"  # rejected, unless whyHeld says it is held for a short-sale locate


STATUS_TABLE: Final[dict[str, StatusMeaning]] = {
    "PendingSubmit": StatusMeaning.IN_FLIGHT,
    "ApiPending": StatusMeaning.IN_FLIGHT,
    # PreSubmitted is working at IB (e.g. a held stop, or outside RTH): acknowledged.
    "PreSubmitted": StatusMeaning.ACCEPTED,
    "Submitted": StatusMeaning.ACCEPTED,
    # PendingCancel is still fillable (ib_insync #491): a request, not a cancellation.
    "PendingCancel": StatusMeaning.CANCEL_PENDING,
    "Cancelled": StatusMeaning.CANCELLED,
    # ApiCancelled: cancelled before TWS sent it on; ib_async emits no cancelledEvent for it.
    "ApiCancelled": StatusMeaning.CANCELLED,
    "Filled": StatusMeaning.FILLED,
    "Inactive": StatusMeaning.INACTIVE,
}

#: whyHeld values under which an Inactive order is still live (NautilusTrader PR #3723).
LIVE_WHY_HELD: Final = frozenset({"locate"})


class ErrorMeaning(enum.Enum):
    """What an IB error code means, for an order (reqId = orderId) or for the link (reqId = -1)."""

    REJECT = "reject"
    REJECT_IF_NEW = "reject if not yet acknowledged"
    CANCEL_CONFIRMED = "cancel confirmed"
    CANCEL_REFUSED = "cancel refused"
    WARNING = "warning"
    CONNECTIVITY_LOST = "connectivity lost"
    RESTORED_DATA_LOST = "restored, data lost"
    RESTORED_DATA_KEPT = "restored, data kept"
    INFO = "information"


ERROR_TABLE: Final[dict[int, ErrorMeaning]] = {
    201: ErrorMeaning.REJECT,  # "Order rejected - reason: ..."
    203: ErrorMeaning.REJECT,  # security not allowed for this account
    103: ErrorMeaning.REJECT,  # duplicate order id: TWS never accepted this one
    10289: ErrorMeaning.REJECT,
    10293: ErrorMeaning.REJECT,
    # 321 rejects a new order, but after a modify it leaves the live order alone (ib_insync #502).
    321: ErrorMeaning.REJECT_IF_NEW,
    202: ErrorMeaning.CANCEL_CONFIRMED,  # "Order cancelled - reason: ..."
    # Cancel refusals: the order is not cancelled, whatever ib_async's Trade says afterwards.
    10147: ErrorMeaning.CANCEL_REFUSED,  # order to cancel not found
    10148: ErrorMeaning.CANCEL_REFUSED,  # cannot cancel: already filled / cancelled
    161: ErrorMeaning.CANCEL_REFUSED,  # cancel attempted when order is not in a cancellable state
    # Warnings about a live order: ib_async marks some of these ValidationError or even Cancelled.
    399: ErrorMeaning.WARNING,
    # 110: price off the contract's minimum tick. TWS refuses a new order outright; a modify
    # with such a price leaves the live order as it was.
    110: ErrorMeaning.REJECT_IF_NEW,
    404: ErrorMeaning.WARNING,  # held for a short-sale locate
    2109: ErrorMeaning.WARNING,
    10349: ErrorMeaning.WARNING,  # "TIF set to DAY" (ib_async #191)
    1100: ErrorMeaning.CONNECTIVITY_LOST,
    1101: ErrorMeaning.RESTORED_DATA_LOST,
    1102: ErrorMeaning.RESTORED_DATA_KEPT,
    2104: ErrorMeaning.INFO,
    2106: ErrorMeaning.INFO,
    2158: ErrorMeaning.INFO,
}


def error_meaning(code: int, *, for_order: bool) -> ErrorMeaning:
    """The meaning of ``code``. An unknown code about an order is a warning (journaled, no
    transition): treating it as final is the ib_async behaviour that loses live orders."""
    meaning = ERROR_TABLE.get(code)
    if meaning is not None:
        return meaning
    if 2100 <= code <= 2199:
        return ErrorMeaning.INFO
    return ErrorMeaning.WARNING if for_order else ErrorMeaning.INFO


def translate_status(
    order_id: str,
    status: str,
    *,
    why_held: str = "",
    perm_id: int | None = None,
    order_ref: str | None = None,
    reason: str = "",
) -> BrokerReport | None:
    """The report for an orderStatus/openOrder/completedOrder status, or None when it moves nothing.

    >>> translate_status("7", "Submitted", perm_id=99)
    OrderAccepted(order_id='7', perm_id=99, order_ref=None, broker_status='Submitted')
    """
    meaning = STATUS_TABLE.get(status)
    if meaning is None:
        return BrokerWarning(order_id, None, f"unknown order status {status!r}")
    if meaning is StatusMeaning.ACCEPTED:
        return OrderAccepted(order_id, perm_id, order_ref, status)
    if meaning is StatusMeaning.CANCEL_PENDING:
        return CancelPending(order_id, perm_id, order_ref)
    if meaning is StatusMeaning.CANCELLED:
        # completedOrder's completedStatus says who cancelled ("Cancelled by Trader", capture 30).
        return CancelConfirmed(order_id, reason or status, None, perm_id, order_ref)
    if meaning is StatusMeaning.INACTIVE:
        # A rejected order is Inactive (ib_insync #554); after a reconnect its completedOrder
        # is the only sign of the reject, with TWS's reason as completedStatus.
        if why_held.strip().lower() in LIVE_WHY_HELD:
            return BrokerWarning(order_id, None, f"Inactive, held: {why_held}")
        return OrderRejected(order_id, None, reason or "order is Inactive", perm_id, order_ref)
    return None  # IN_FLIGHT and FILLED move nothing: fills come from executions


def translate_order_error(
    order_id: str, code: int, message: str, *, acknowledged: bool
) -> OrderRejected | CancelConfirmed | CancelRefused | BrokerWarning:
    """The report for an error whose reqId is one of our order ids.

    ``acknowledged`` says whether the broker already accepted the order: it decides 321.
    """
    meaning = error_meaning(code, for_order=True)
    if meaning is ErrorMeaning.REJECT_IF_NEW:
        meaning = ErrorMeaning.WARNING if acknowledged else ErrorMeaning.REJECT
    if meaning is ErrorMeaning.REJECT:
        return OrderRejected(order_id, code, message)
    if meaning is ErrorMeaning.CANCEL_CONFIRMED:
        return CancelConfirmed(order_id, message, code)
    if meaning is ErrorMeaning.CANCEL_REFUSED:
        return CancelRefused(order_id, code, message)
    return BrokerWarning(order_id, code, message)


def translate_link_error(code: int, message: str) -> LinkEvent:
    """The link event for an error that is not about an order (reqId -1)."""
    meaning = error_meaning(code, for_order=False)
    if meaning is ErrorMeaning.CONNECTIVITY_LOST:
        return ConnectivityLost(message)
    if meaning is ErrorMeaning.RESTORED_DATA_LOST:
        return ConnectivityRestored(data_kept=False, message=message)
    if meaning is ErrorMeaning.RESTORED_DATA_KEPT:
        return ConnectivityRestored(data_kept=True, message=message)
    return BrokerNotice(code, message)


#: The zone names TWS puts in its handshake (Java's long display names, standard and daylight;
#: a few Windows and short names seen from TWS on Windows), as IANA zones. Evidence:
#: "Greenwich Mean Time" / "British Summer Time" in real captures (rust-ibapi 2025, pyfutures
#: 2024); "GMT Standard Time" (rust-ibapi PR #402); "Central Standard Time" (Jib.jl issue #6).
#: The rest are Java's names for the zones TWS's login screen offers. An ambiguous short name
#: (CST) is read as the US zone, TWS's home market.
TWS_ZONE_NAMES: Final[dict[str, str]] = {
    **dict.fromkeys(
        ("Eastern Standard Time", "Eastern Daylight Time", "EST", "EDT", "US/Eastern"),
        "America/New_York",
    ),
    **dict.fromkeys(
        ("Central Standard Time", "Central Daylight Time", "CST", "CDT", "US/Central"),
        "America/Chicago",
    ),
    **dict.fromkeys(
        ("Mountain Standard Time", "Mountain Daylight Time", "MST", "MDT"), "America/Denver"
    ),
    **dict.fromkeys(
        ("Pacific Standard Time", "Pacific Daylight Time", "PST", "PDT", "US/Pacific"),
        "America/Los_Angeles",
    ),
    **dict.fromkeys(
        ("Greenwich Mean Time", "British Summer Time", "GMT Standard Time", "BST"),
        "Europe/London",
    ),
    **dict.fromkeys(
        (
            "Central European Standard Time",
            "Central European Summer Time",
            "Central European Time",
            "W. Europe Standard Time",
            "Romance Standard Time",
            "CET",
            "CEST",
            "MET",
            "MEST",
        ),
        "Europe/Berlin",
    ),
    **dict.fromkeys(
        ("Eastern European Standard Time", "Eastern European Summer Time", "EET", "EEST"),
        "Europe/Helsinki",
    ),
    **dict.fromkeys(("Japan Standard Time", "Tokyo Standard Time", "JST"), "Asia/Tokyo"),
    **dict.fromkeys(("Hong Kong Standard Time", "Hong Kong Time", "HKT"), "Asia/Hong_Kong"),
    "China Standard Time": "Asia/Shanghai",
    **dict.fromkeys(("Singapore Standard Time", "Singapore Time", "SGT"), "Asia/Singapore"),
    **dict.fromkeys(("India Standard Time", "IST"), "Asia/Kolkata"),
    **dict.fromkeys(
        ("Australian Eastern Standard Time", "Australian Eastern Daylight Time", "AEST", "AEDT"),
        "Australia/Sydney",
    ),
    **dict.fromkeys(
        ("New Zealand Standard Time", "New Zealand Daylight Time", "NZST", "NZDT"),
        "Pacific/Auckland",
    ),
    **dict.fromkeys(("Coordinated Universal Time", "UTC", "GMT", "Z"), "UTC"),
}


def tws_zone(connection_time: str) -> str | None:
    """The IANA zone of the handshake's connection time (``"20250415 19:38:30 British Summer
    Time"`` -> ``"Europe/London"``), or None when the name is not one TWS is known to send.

    An IANA name (``"America/New_York"``, as completedOrder writes) is taken as it is.

    >>> tws_zone("20240324 21:18:59 Greenwich Mean Time")
    'Europe/London'
    """
    parts = connection_time.strip().split(" ", 2)
    name = parts[2].strip() if len(parts) == 3 else ""
    if not name:
        return None
    known = TWS_ZONE_NAMES.get(name)
    if known is not None:
        return known
    if "/" in name:
        try:
            return ZoneInfo(name).key
        except (ZoneInfoNotFoundError, ValueError):
            return None
    return None
