"""Client-to-server requests the simulator reads field by field: placeOrder, cancelOrder and the
reqExecutions filter.

placeOrder is walked in the exact order ib_async's ``Client.placeOrder`` (and IBKR's EClient) write
it, including every conditional block, so a malformed or truncated message is detected instead of
silently misread. Numbers are parsed with ``Decimal(text)``; clients send ``str(float)``,
``str(Decimal)`` (``"1E+2"``) or ints, and all of them parse exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from ibkr_exec.sim.book import OrderTicket, SimContract

__all__ = ["DecodeError", "ExecutionFilter", "parse_cancel_order", "parse_place_order"]

_UNSET_DOUBLE = 1.7976931348623157e308


class DecodeError(ValueError):
    """A request whose fields do not follow the layout; TWS answers error 320."""

    def __init__(self, req_id: int, message: str) -> None:
        super().__init__(message)
        self.req_id = req_id


class _Cursor:
    __slots__ = ("fields", "pos", "req_id")

    def __init__(self, fields: list[str], pos: int, req_id: int) -> None:
        self.fields = fields
        self.pos = pos
        self.req_id = req_id

    def text(self) -> str:
        try:
            value = self.fields[self.pos]
        except IndexError:
            raise DecodeError(self.req_id, f"truncated at field {self.pos}") from None
        self.pos += 1
        return value

    def skip(self, count: int) -> None:
        if self.pos + count > len(self.fields):
            raise DecodeError(self.req_id, f"truncated at field {len(self.fields)}")
        self.pos += count

    def integer(self) -> int:
        value = self.text()
        try:
            return int(value) if value else 0
        except ValueError:
            raise DecodeError(self.req_id, f"field {self.pos - 1}: not an int: {value!r}") from None

    def flag(self) -> bool:
        return self.integer() != 0

    def number(self) -> float:
        value = self.text()
        try:
            return float(value) if value else 0.0
        except ValueError:
            raise DecodeError(
                self.req_id, f"field {self.pos - 1}: not a number: {value!r}"
            ) from None

    def decimal(self) -> Decimal | None:
        """A price or quantity; empty and the unset double mean "not given"."""
        value = self.text()
        if not value:
            return None
        try:
            parsed = Decimal(value)
        except InvalidOperation:
            raise DecodeError(
                self.req_id, f"field {self.pos - 1}: not a number: {value!r}"
            ) from None
        if not parsed.is_finite() or float(parsed) >= _UNSET_DOUBLE:
            return None
        return parsed


def parse_place_order(version: int, fields: list[str]) -> OrderTicket:
    """Decode a placeOrder (message 3, no version field) sent at server ``version``."""
    try:
        order_id = int(fields[1])
    except (IndexError, ValueError):
        raise DecodeError(-1, "placeOrder without an order id") from None
    c = _Cursor(fields, 2, order_id)
    contract = SimContract(
        con_id=c.integer(),
        symbol=c.text(),
        sec_type=c.text(),
        last_trade_date=c.text(),
        strike=c.text(),
        right=c.text(),
        multiplier=c.text(),
        exchange=c.text(),
        primary_exchange=c.text(),
        currency=c.text(),
        local_symbol=c.text(),
        trading_class=c.text(),
    )
    c.skip(2)  # secIdType, secId
    action = c.text()
    quantity = c.decimal()
    order_type = c.text()
    limit_price = c.decimal()
    aux_price = c.decimal()
    ticket = OrderTicket(
        order_id=order_id,
        contract=contract,
        action=action,
        quantity=quantity if quantity is not None else Decimal(0),
        order_type=order_type,
        limit_price=limit_price,
        aux_price=aux_price,
        tif=c.text(),
        oca_group=c.text(),
        account=c.text(),
        open_close=c.text(),
        origin=c.text(),
        order_ref=c.text(),
        transmit=c.flag(),
        parent_id=c.integer(),
        block_order=c.flag(),
        sweep_to_fill=c.flag(),
        display_size=c.text(),
        trigger_method=c.text(),
        outside_rth=c.flag(),
        hidden=c.flag(),
    )
    if contract.sec_type == "BAG":
        legs = c.integer()
        c.skip(8 * legs)
        c.skip(c.integer())  # order combo leg prices
        c.skip(2 * c.integer())  # smart combo routing params
    c.skip(2)  # sharesAllocation, discretionaryAmt
    ticket.good_after_time = c.text()
    ticket.good_till_date = c.text()
    c.skip(3 if version >= 177 else 4)  # faGroup, faMethod, faPercentage[, faProfile]
    ticket.model_code = c.text()
    c.skip(3)  # shortSaleSlot, designatedLocation, exemptCode
    ticket.oca_type = c.text()
    ticket.rule80a = c.text()
    c.skip(1)  # settlingFirm
    ticket.all_or_none = c.flag()
    ticket.min_qty = c.text()
    c.skip(13)  # percentOffset .. volatilityType
    if c.text():  # deltaNeutralOrderType
        c.skip(9)
    else:
        c.skip(1)  # deltaNeutralAuxPrice
    c.skip(6)  # continuousUpdate .. scaleSubsLevelSize
    increment = c.number()
    if 0 < increment < _UNSET_DOUBLE:
        c.skip(7)
    c.skip(3)  # scaleTable, activeStartTime, activeStopTime
    if c.text():  # hedgeType
        c.skip(1)
    c.skip(4)  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld
    if c.flag():  # deltaNeutralContract
        c.skip(3)
    ticket.algo_strategy = c.text()
    if ticket.algo_strategy:
        c.skip(2 * c.integer())
    c.skip(1)  # algoId
    ticket.what_if = c.flag()
    c.skip(4)  # orderMiscOptions, solicited, randomizeSize, randomizePrice
    if order_type in ("PEG BENCH", "PEGBENCH"):
        c.skip(5)
    ticket.num_conditions = c.integer()
    if ticket.num_conditions:
        # Condition layouts vary by type; such orders are refused, so stop reading here.
        return ticket
    c.skip(10)  # adjustedOrderType .. softDollarTier.val
    ticket.cash_qty = c.text()
    c.skip(8)  # mifid2 x4, dontUseAutoPriceForHedge, isOmsContainer, discretionaryUpTo, priceMgmt
    for gate in (158, 160, 162, 166, 169):  # duration, postToAts, autoCancelParent, ...
        if version >= gate:
            c.skip(1)
    return ticket


def parse_cancel_order(fields: list[str]) -> int:
    """The order id of a cancelOrder ``[4, 1, orderId, (manualCancelOrderTime)]``."""
    try:
        return int(fields[2])
    except (IndexError, ValueError):
        raise DecodeError(-1, "cancelOrder without an order id") from None


@dataclass(frozen=True, slots=True)
class ExecutionFilter:
    """reqExecutions' filter; empty fields match everything."""

    req_id: int
    client_id: int = 0
    account: str = ""
    symbol: str = ""
    sec_type: str = ""
    side: str = ""

    @classmethod
    def parse(cls, fields: list[str]) -> ExecutionFilter:
        """From ``[7, 3, reqId, clientId, acctCode, time, symbol, secType, exchange, side]``."""
        padded = fields + [""] * (10 - len(fields))
        try:
            req_id = int(padded[2])
            client_id = int(padded[3] or 0)
        except ValueError:
            raise DecodeError(-1, "reqExecutions with a malformed filter") from None
        return cls(req_id, client_id, padded[4], padded[6], padded[7], padded[9])
