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

from ibkr_exec.sim.book import OrderTicket, SimContract, SimExecution, SimOrder
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
#: Long.MAX_VALUE: completedOrder's parentPermId of an order without a parent (captures 13, 30).
_NO_PARENT_PERM_ID = "9223372036854775807"
_ZERO = Decimal(0)


def fmt_double(value: Decimal) -> str:
    """A price as TWS (Java) writes a double: ``196.52``, ``5800.0``, ``0.0``."""
    text = format(value.normalize(), "f")
    return text if "." in text else f"{text}.0"


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


def _contract11(c: SimContract, exchange: str | None = None) -> list[str]:
    """The contract as execDetails and position carry it: strike as a double, no right, and the
    exchange where it happened (the venue, or the primary exchange for a position)."""
    return [
        str(c.con_id),
        c.symbol,
        c.sec_type,
        c.last_trade_date,
        fmt_double(Decimal(c.strike or "0")),
        c.right,
        c.multiplier,
        c.exchange if exchange is None else exchange,
        c.currency,
        c.local_symbol,
        c.trading_class,
    ]


def _order_contract11(c: SimContract) -> list[str]:
    """The contract as openOrder and completedOrder carry it: strike ``0`` and right ``?`` when
    there is none (captures 0, 13, 19, 30)."""
    return [
        str(c.con_id),
        c.symbol,
        c.sec_type,
        c.last_trade_date,
        c.strike or "0",
        c.right or "?",
        c.multiplier,
        c.exchange,
        c.currency,
        c.local_symbol,
        c.trading_class,
    ]


def _price(value: Decimal | None) -> str:
    return fmt_double(_ZERO if value is None else value)


def _display_size(t: OrderTicket) -> str:
    # TWS shows "no display size" as Integer.MAX_VALUE (captures 0, 13, 19).
    return t.display_size if t.display_size not in ("", "0") else UNSET_INTEGER


def order_status(order: SimOrder) -> list[str]:
    """orderStatus: 12 fields, no version field; clientId is the placing client's."""
    return [
        "3",
        str(order.ticket.order_id),
        order.status,
        fmt_decimal(order.filled),
        fmt_decimal(order.remaining),  # a cancel keeps the unfilled quantity (capture 8)
        fmt_decimal(order.avg_fill_price),
        str(order.perm_id),
        str(order.ticket.parent_id),
        fmt_decimal(order.last_fill_price),
        str(order.client_id),
        "",
        "0",
    ]


def open_order(version: int, order: SimOrder, commission: Decimal | None = None) -> list[str]:
    """openOrder for a plain (non-combo, non-algo, unconditioned) order, as TWS writes it: the
    values TWS fills in (tif DAY, displaySize 2147483647, ocaType 3, clearingIntent IB, the
    sharesAllocation note...) are those of captures 0 and 19. ``commission`` is set on the second
    openOrder TWS sends after the final fill (capture 5)."""
    t = order.ticket
    fields = ["5", str(t.order_id), *_order_contract11(t.contract)]
    fields += [
        t.action, fmt_decimal(t.quantity), t.order_type, _price(t.limit_price), _price(t.aux_price),
        t.tif or "DAY", t.oca_group, t.account, t.open_close, t.origin, t.order_ref,
        str(order.client_id), str(order.perm_id), fmt_bool(t.outside_rth), fmt_bool(t.hidden),
        "0", t.good_after_time,  # discretionaryAmt, goodAfterTime
        f"{order.perm_id}.0/{t.account}/{fmt_decimal(t.quantity)}",  # sharesAllocation
        "", "", "",  # faGroup, faMethod, faPercentage
    ]  # fmt: skip
    if version < 177:
        fields.append("")  # faProfile
    fields += [
        t.model_code, t.good_till_date, t.rule80a, "", "", "0", "", "-1",
        "0", "", "", "", "", "",
        _display_size(t), fmt_bool(t.block_order), fmt_bool(t.sweep_to_fill),
        fmt_bool(t.all_or_none), t.min_qty, t.oca_type if t.oca_type not in ("", "0") else "3",
        "0", "0", "", str(t.parent_id), t.trigger_method or "0", "", "0",
        # deltaNeutralOrderType: TWS writes "None", which makes every decoder read 8 more fields.
        "None", "", "0", "", "", "", "?", "0", "0", "",
        "0", "0", "", "", "", "", "",
        "0", "0", "0",  # combo legs, order combo legs, smart combo routing params
        UNSET_INTEGER, UNSET_INTEGER, "",  # scale init/subs level size, price increment
        "",  # hedgeType
        "0", "", "IB", "0", "0",  # optOutSmartRouting, clearing account/intent, notHeld, dnc
        "",  # algoStrategy
        "0", fmt_bool(t.what_if), order.status,
        *[UNSET_DOUBLE] * 9,  # margin before/change/after
        # commission, min, max, currency, warning
        "" if commission is None else fmt_double(commission), "", "",
        "" if commission is None else "USD", "",
        "0", "0",  # randomizeSize, randomizePrice
        "0",  # numConditions
        "None", UNSET_DOUBLE, UNSET_DOUBLE, UNSET_DOUBLE, UNSET_DOUBLE, UNSET_DOUBLE, UNSET_DOUBLE,
        "0", "", "", "", t.cash_qty or "0", "1", "0", "0", "0",
    ]  # fmt: skip
    if version >= 159:
        fields.append("")  # duration
    if version >= 160:
        fields.append("")  # postToAts
    if version >= 162:
        fields.append("0")  # autoCancelParent
    if version >= 170:
        # minTradeQty, minCompeteSize, competeAgainstBestOffset, midOffsetAtWhole, ...AtHalf
        fields += ["", "100", "0.02", "", ""]
    return fields


def completed_order(version: int, order: SimOrder) -> list[str]:
    """completedOrder: no orderId and no clientId; the client keys it by permId. Values as in
    captures 13 and 30: parentPermId 9223372036854775807 when unset, the shareholder note,
    completedTime in TWS's zone, completedStatus in TWS's words."""
    t = order.ticket
    fields = ["101", *_order_contract11(t.contract)]
    fields += [
        t.action, fmt_decimal(t.quantity), t.order_type, _price(t.limit_price), _price(t.aux_price),
        t.tif or "DAY", t.oca_group, t.account, t.open_close, t.origin, t.order_ref,
        str(order.perm_id), fmt_bool(t.outside_rth), fmt_bool(t.hidden), "0", t.good_after_time,
        "", "", "",
    ]  # fmt: skip
    if version < 177:
        fields.append("")  # faProfile
    fields += [
        t.model_code, t.good_till_date, t.rule80a, "", "", "0", "", "-1",
        "", "", "", "", "",
        _display_size(t), fmt_bool(t.sweep_to_fill), fmt_bool(t.all_or_none),
        t.min_qty, t.oca_type if t.oca_type not in ("", "0") else "3", t.trigger_method or "0",
        "", "0",
        "None", "", "0", "0", "0", "",  # deltaNeutral type, aux, conId, short sale...
        "0", "0", "", "", "",
        "0", "0", "0",
        UNSET_INTEGER, UNSET_INTEGER, "",
        "",  # hedgeType
        "", "IB", "0", "0",  # clearing account/intent, notHeld, dnc present
        "",  # algoStrategy
        "0", order.status, "0", "0",
        "0",  # numConditions
        UNSET_DOUBLE, UNSET_DOUBLE, t.cash_qty or "0", "1", "0", "",
        fmt_decimal(order.filled), UNSET_INTEGER, "0",
        "Not an insider or substantial shareholder", "0", "0", _NO_PARENT_PERM_ID,
        order.completed_time, order.completed_status,
    ]  # fmt: skip
    if version >= 170:
        fields += ["", "", "", "", ""]
    return fields


def exec_details(version: int, req_id: int, ex: SimExecution, time_text: str) -> list[str]:
    """execDetails: reqId -1 for a live fill, the reqExecutions id when replayed; ``time_text``
    is the execution time as TWS writes it (local, zone-less: see ``sim.tz.exec_time``)."""
    fields = [
        "11",
        str(req_id),
        str(ex.order_id),
        *_contract11(ex.contract, ex.exchange),
        ex.exec_id,
        time_text,
        ex.account,
        ex.exchange,
        ex.side,
        fmt_decimal(ex.shares),
        fmt_double(ex.price),
        str(ex.perm_id),
        str(ex.client_id),
        "0",
        fmt_decimal(ex.cum_qty),
        fmt_double(ex.avg_price),
        ex.order_ref,
        "",  # evRule
        "",  # evMultiplier
        "",  # modelCode
        str(ex.last_liquidity),
    ]
    if version >= 178:
        fields.append("0")  # pendingPriceRevision
    return fields


def commission_report(ex: SimExecution) -> list[str]:
    """commissionReport: exactly eight fields (capture 6); realized P&L only on a fill that
    closes a position, yield unset."""
    return [
        "59",
        "1",
        ex.exec_id,
        fmt_double(ex.commission),
        ex.commission_currency,
        UNSET_DOUBLE if ex.realized_pnl is None else fmt_double(ex.realized_pnl),
        UNSET_DOUBLE,
        "",
    ]


def position(pos: SimPosition) -> list[str]:
    """position: exactly sixteen fields."""
    return [
        "61",
        "3",
        pos.account,
        *_contract11(pos.contract, pos.contract.primary_exchange or pos.contract.exchange),
        fmt_decimal(pos.quantity),
        fmt_double(pos.avg_cost),
    ]
