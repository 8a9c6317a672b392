"""Server-to-client messages, field for field as TWS writes them at server versions 157..178.

Each encoder returns the message's fields as strings (the message id first);
``protocol.encode_frame`` turns them into bytes. Fields a client may ignore are still present with
the values TWS sends, so any TWS API client, not only ib_async, decodes them. Version gates follow
ib_async's decoder, which agrees with IBKR's at every version except 158 (refused by the simulator).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from ibkr_exec.sim.book import SimContract, SimExecution, SimOrder
from ibkr_exec.sim.exchange import SimPosition
from ibkr_exec.sim.protocol import fmt_bool, fmt_decimal
from ibkr_exec.sim.tz import handshake_time

__all__ = [
    "account_download_end",
    "account_summary_end",
    "account_time",
    "account_update_multi_end",
    "commission_report",
    "completed_order",
    "completed_orders_end",
    "current_time",
    "error",
    "exec_details",
    "exec_details_end",
    "handshake_reply",
    "managed_accounts",
    "next_valid_id",
    "open_order",
    "open_order_end",
    "order_status",
    "position",
    "position_end",
]

UNSET_DOUBLE = "1.7976931348623157E308"
UNSET_INTEGER = "2147483647"


def handshake_reply(version: int, now: datetime, zone: ZoneInfo) -> list[str]:
    """The two-field answer to the client's version announcement: the version, then TWS's local
    time and the zone's display name (``"20250415 19:38:30 British Summer Time"``)."""
    return [str(version), handshake_time(now, zone)]


def managed_accounts(accounts: list[str]) -> list[str]:
    """managedAccounts: exactly three fields, the accounts comma-separated."""
    return ["15", "1", ",".join(accounts)]


def next_valid_id(order_id: int) -> list[str]:
    """nextValidId: exactly three fields."""
    return ["9", "1", str(order_id)]


def error(version: int, req_id: int, code: int, message: str, reject_json: str = "") -> list[str]:
    """An error or notice; from 166 it carries advancedOrderRejectJson, before 194 no errorTime."""
    fields = ["4", "2", str(req_id), str(code), message]
    if version >= 166:
        fields.append(reject_json)
    return fields


def current_time(epoch_seconds: int) -> list[str]:
    """currentTime: seconds since the epoch."""
    return ["49", "1", str(epoch_seconds)]


def open_order_end() -> list[str]:
    """End of a reqOpenOrders / reqAllOpenOrders answer."""
    return ["53", "1"]


def position_end() -> list[str]:
    """End of the reqPositions snapshot."""
    return ["62", "1"]


def completed_orders_end() -> list[str]:
    """End of reqCompletedOrders (no version field)."""
    return ["102"]


def exec_details_end(req_id: int) -> list[str]:
    """End of a reqExecutions answer."""
    return ["55", "1", str(req_id)]


def account_download_end(account: str) -> list[str]:
    """End of a reqAccountUpdates snapshot; the account field is required."""
    return ["54", "1", account]


def account_time(now: datetime, zone: ZoneInfo) -> list[str]:
    """updateAccountTime, ``HH:MM`` in TWS's zone."""
    return ["8", "1", now.astimezone(zone).strftime("%H:%M")]


def account_update_multi_end(req_id: int) -> list[str]:
    """End of a reqAccountUpdatesMulti snapshot."""
    return ["74", "1", str(req_id)]


def account_summary_end(req_id: int) -> list[str]:
    """End of a reqAccountSummary answer."""
    return ["64", "1", str(req_id)]


def _contract11(c: SimContract) -> list[str]:
    # openOrder, completedOrder, execDetails and position omit primaryExchange.
    return [
        str(c.con_id),
        c.symbol,
        c.sec_type,
        c.last_trade_date,
        c.strike,
        c.right,
        c.multiplier,
        c.exchange,
        c.currency,
        c.local_symbol,
        c.trading_class,
    ]


def _price(value: Decimal | None) -> str:
    return "0" if value is None else fmt_decimal(value)


def order_status(order: SimOrder) -> list[str]:
    """orderStatus: 12 fields, no version field; clientId is the placing client's."""
    return [
        "3",
        str(order.ticket.order_id),
        order.status,
        fmt_decimal(order.filled),
        "0" if order.status in ("Cancelled", "ApiCancelled") else fmt_decimal(order.remaining),
        fmt_decimal(order.avg_fill_price),
        str(order.perm_id),
        str(order.ticket.parent_id),
        fmt_decimal(order.last_fill_price),
        str(order.client_id),
        "",
        "0",
    ]


def open_order(version: int, order: SimOrder) -> list[str]:
    """openOrder for a plain (non-combo, non-algo, unconditioned) order, as TWS writes it."""
    t = order.ticket
    fields = ["5", str(t.order_id), *_contract11(t.contract)]
    fields += [
        t.action, fmt_decimal(t.quantity), t.order_type, _price(t.limit_price), _price(t.aux_price),
        t.tif, t.oca_group, t.account, t.open_close, t.origin, t.order_ref,
        str(order.client_id), str(order.perm_id), fmt_bool(t.outside_rth), fmt_bool(t.hidden),
        "0", t.good_after_time, "",  # discretionaryAmt, goodAfterTime, sharesAllocation
        "", "", "",  # faGroup, faMethod, faPercentage
    ]  # fmt: skip
    if version < 177:
        fields.append("")  # faProfile
    fields += [
        t.model_code, t.good_till_date, t.rule80a, UNSET_DOUBLE, "", "0", "", "-1",
        "0", UNSET_DOUBLE, UNSET_DOUBLE, UNSET_DOUBLE, UNSET_DOUBLE, UNSET_DOUBLE,
        t.display_size or "0", fmt_bool(t.block_order), fmt_bool(t.sweep_to_fill),
        fmt_bool(t.all_or_none), t.min_qty or UNSET_INTEGER, t.oca_type or "0", "0", "0",
        UNSET_DOUBLE, str(t.parent_id), t.trigger_method or "0", UNSET_DOUBLE, "0",
        # deltaNeutralOrderType: TWS writes "None", which makes every decoder read 8 more fields.
        "None", UNSET_DOUBLE, "0", "", "", "", "", "0", "0", "",
        "0", "0", UNSET_DOUBLE, UNSET_DOUBLE, UNSET_DOUBLE, UNSET_INTEGER, "",
        "0", "0", "0",  # combo legs, order combo legs, smart combo routing params
        UNSET_INTEGER, UNSET_INTEGER, UNSET_DOUBLE,  # scale init/subs level size, price increment
        "",  # hedgeType
        "0", "", "", "0", "0",  # optOutSmartRouting, clearing account/intent, notHeld, dnc
        "",  # algoStrategy
        "0", fmt_bool(t.what_if), order.status,
        "", "", "", "", "", "", "", "", "",  # margin before/change/after
        UNSET_DOUBLE, UNSET_DOUBLE, UNSET_DOUBLE, "", "",  # commission, min, max, ccy, warning
        "0", "0",  # randomizeSize, randomizePrice
        "0",  # numConditions
        "", UNSET_DOUBLE, UNSET_DOUBLE, UNSET_DOUBLE, UNSET_DOUBLE, UNSET_DOUBLE, UNSET_DOUBLE,
        "0", "", "", "", t.cash_qty or UNSET_DOUBLE, "0", "0", "0", "0",
    ]  # fmt: skip
    if version >= 159:
        fields.append(UNSET_INTEGER)  # duration
    if version >= 160:
        fields.append(UNSET_INTEGER)  # postToAts
    if version >= 162:
        fields.append("0")  # autoCancelParent
    if version >= 170:
        fields += [UNSET_INTEGER, UNSET_INTEGER, UNSET_DOUBLE, UNSET_DOUBLE, UNSET_DOUBLE]
    return fields


def completed_order(version: int, order: SimOrder) -> list[str]:
    """completedOrder: no orderId and no clientId; the client keys it by permId."""
    t = order.ticket
    fields = ["101", *_contract11(t.contract)]
    fields += [
        t.action, fmt_decimal(t.quantity), t.order_type, _price(t.limit_price), _price(t.aux_price),
        t.tif, t.oca_group, t.account, t.open_close, t.origin, t.order_ref, str(order.perm_id),
        fmt_bool(t.outside_rth), fmt_bool(t.hidden), "0", t.good_after_time, "", "", "",
    ]  # fmt: skip
    if version < 177:
        fields.append("")  # faProfile
    fields += [
        t.model_code, t.good_till_date, t.rule80a, UNSET_DOUBLE, "", "0", "", "-1",
        UNSET_DOUBLE, UNSET_DOUBLE, UNSET_DOUBLE, UNSET_DOUBLE, UNSET_DOUBLE,
        t.display_size or "0", fmt_bool(t.sweep_to_fill), fmt_bool(t.all_or_none),
        t.min_qty or UNSET_INTEGER, t.oca_type or "0", t.trigger_method or "0",
        UNSET_DOUBLE, "0",
        "None", UNSET_DOUBLE, "0", "0", "0", "",  # deltaNeutral type, aux, conId, short sale...
        "0", "0", UNSET_DOUBLE, UNSET_DOUBLE, "",
        "0", "0", "0",
        UNSET_INTEGER, UNSET_INTEGER, UNSET_DOUBLE,
        "",  # hedgeType
        "", "", "0", "0",  # clearing account/intent, notHeld, dnc present
        "",  # algoStrategy
        "0", order.status, "0", "0",
        "0",  # numConditions
        UNSET_DOUBLE, UNSET_DOUBLE, t.cash_qty or UNSET_DOUBLE, "0", "0", "",
        fmt_decimal(order.filled), "0", "0", "", "0", "0", "0",
        order.completed_time, order.completed_status,
    ]  # fmt: skip
    if version >= 170:
        fields += [UNSET_INTEGER, UNSET_INTEGER, UNSET_DOUBLE, UNSET_DOUBLE, UNSET_DOUBLE]
    return fields


def exec_details(version: int, req_id: int, ex: SimExecution, time_text: str) -> list[str]:
    """execDetails: reqId -1 for a live fill, the reqExecutions id when replayed; ``time_text``
    is the execution time as TWS writes it (local, zone-less: see ``sim.tz.exec_time``)."""
    fields = [
        "11",
        str(req_id),
        str(ex.order_id),
        *_contract11(ex.contract),
        ex.exec_id,
        time_text,
        ex.account,
        ex.exchange,
        ex.side,
        fmt_decimal(ex.shares),
        fmt_decimal(ex.price),
        str(ex.perm_id),
        str(ex.client_id),
        "0",
        fmt_decimal(ex.cum_qty),
        fmt_decimal(ex.avg_price),
        ex.order_ref,
        "",
        "",
        "",
        "1",
    ]
    if version >= 178:
        fields.append("0")  # pendingPriceRevision
    return fields


def commission_report(ex: SimExecution) -> list[str]:
    """commissionReport: exactly eight fields; realized P&L and yield unset, as TWS sends them."""
    return [
        "59",
        "1",
        ex.exec_id,
        fmt_decimal(ex.commission),
        ex.commission_currency,
        UNSET_DOUBLE,
        UNSET_DOUBLE,
        "",
    ]


def position(pos: SimPosition) -> list[str]:
    """position: exactly sixteen fields."""
    return [
        "61",
        "3",
        pos.account,
        *_contract11(pos.contract),
        fmt_decimal(pos.quantity),
        fmt_decimal(pos.avg_cost),
    ]
