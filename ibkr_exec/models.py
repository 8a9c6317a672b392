# mypy's attrs plugin cannot read attrs.Converter (used so that errors name the field); it
# reports "Unsupported converter" [misc] and types those __init__ parameters as Any, which is what
# we want: they accept Decimal, int and str and check them at run time.
# mypy: disable-error-code="misc"
"""Value types of the public API: immutable attrs classes, Decimal money, UTC time.

Every class validates at construction and raises ValueError with a message naming the field and the
value, so bad input fails where it is written, not deep inside the broker link. Validation happens
once, at the boundary (what the user writes, what the broker or the journal says): the library's
own snapshots of values it already holds checked are built with ``Order._evolved`` and
``Fill._trusted``, which skip the converters and validators and are not public.

>>> from decimal import Decimal
>>> OrderRequest("AAPL", "100", OrderType.LIMIT, Side.BUY, limit_price="150.25").limit_price
Decimal('150.25')
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import attrs

from ibkr_exec._decimal import to_decimal


class OrderType(enum.StrEnum):
    """How an order is priced."""

    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP = "STOP"
    STOP_LIMIT = "STOP_LIMIT"


class Side(enum.StrEnum):
    """Buy or sell."""

    BUY = "BUY"
    SELL = "SELL"


class TimeInForce(enum.StrEnum):
    """How long an order stays working (IB's ``tif``)."""

    DAY = "DAY"
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"
    OPG = "OPG"


class OrderStatus(enum.StrEnum):
    """Where an order is in its lifecycle; FILLED, CANCELLED and REJECTED are terminal."""

    PENDING = "PENDING"
    SUBMITTED = "SUBMITTED"
    PARTIAL = "PARTIAL"
    PENDING_CANCEL = "PENDING_CANCEL"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"

    @property
    def is_terminal(self) -> bool:
        """True for FILLED, CANCELLED and REJECTED: no further transition is accepted."""
        return self in _TERMINAL

    @property
    def is_working(self) -> bool:
        """True while the order may still be filled (everything but the terminal states)."""
        return self not in _TERMINAL


_TERMINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED})


# -- field converters and validators --------------------------------------------------------------


def _decimal(value: Any, field: attrs.Attribute[Any]) -> Decimal:
    return to_decimal(value, field.name)


def _optional_decimal(value: Any, field: attrs.Attribute[Any]) -> Decimal | None:
    return None if value is None else to_decimal(value, field.name)


_DECIMAL = attrs.Converter(_decimal, takes_field=True)
_OPTIONAL_DECIMAL = attrs.Converter(_optional_decimal, takes_field=True)


def _utc(value: Any, field: attrs.Attribute[Any]) -> datetime:
    if not isinstance(value, datetime):
        raise ValueError(f"{field.name} must be a datetime, got {type(value).__name__} {value!r}")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(
            f"{field.name} must be timezone-aware, got naive {value!r}; "
            "use datetime.now(timezone.utc) or attach a tzinfo"
        )
    return value.astimezone(UTC)


def _optional_utc(value: Any, field: attrs.Attribute[Any]) -> datetime | None:
    return None if value is None else _utc(value, field)


_UTC = attrs.Converter(_utc, takes_field=True)
_OPTIONAL_UTC = attrs.Converter(_optional_utc, takes_field=True)


def _enum(cls: type[enum.StrEnum]) -> attrs.Converter[Any, Any]:
    def convert(value: Any, field: attrs.Attribute[Any]) -> Any:
        if isinstance(value, cls):
            return value
        try:
            return cls(value)
        except ValueError:
            choices = ", ".join(m.value for m in cls)
            raise ValueError(f"{field.name} must be one of {choices}; got {value!r}") from None

    return attrs.Converter(convert, takes_field=True)


def _positive(_: object, field: attrs.Attribute[Any], value: Decimal | None) -> None:
    if value is not None and value <= 0:
        raise ValueError(f"{field.name} must be greater than 0, got {value}")


def _non_negative(_: object, field: attrs.Attribute[Any], value: Decimal | None) -> None:
    if value is not None and value < 0:
        raise ValueError(f"{field.name} must not be negative, got {value}")


def _non_empty(_: object, field: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{field.name} must be a non-empty string, got {value!r}")


def _optional_non_empty(instance: object, field: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        _non_empty(instance, field, value)


def check_prices(
    order_type: OrderType, limit_price: Decimal | None, stop_price: Decimal | None
) -> None:
    """Raise ValueError when the prices given do not fit ``order_type``."""
    needs_limit = order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
    needs_stop = order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
    if needs_limit and limit_price is None:
        raise ValueError(f"limit_price is required for a {order_type} order")
    if not needs_limit and limit_price is not None:
        raise ValueError(f"limit_price={limit_price} is not allowed for a {order_type} order")
    if needs_stop and stop_price is None:
        raise ValueError(f"stop_price is required for a {order_type} order")
    if not needs_stop and stop_price is not None:
        raise ValueError(f"stop_price={stop_price} is not allowed for a {order_type} order")


# -- the value types ------------------------------------------------------------------------------


#: What a caller may pass for a quantity or a price: exact values only (a float is refused).
DecimalInput = Decimal | int | str


@attrs.frozen(init=False)
class OrderRequest:
    """What a caller asks for. ``client_order_id`` is generated at submission when omitted.

    Quantities and prices take a Decimal, an int or a decimal string (typed so, so that mypy
    refuses a float where it is written; at run time a float raises ValueError too). Enums also
    take their string values ("LIMIT", "BUY").

    >>> OrderRequest("MSFT", 10, OrderType.MARKET, Side.SELL).quantity
    Decimal('10')
    """

    symbol: str = attrs.field(validator=_non_empty)
    quantity: Decimal = attrs.field(converter=_DECIMAL, validator=_positive)
    order_type: OrderType = attrs.field(converter=_enum(OrderType))
    side: Side = attrs.field(converter=_enum(Side))
    limit_price: Decimal | None = attrs.field(
        default=None, converter=_OPTIONAL_DECIMAL, validator=_positive
    )
    stop_price: Decimal | None = attrs.field(
        default=None, converter=_OPTIONAL_DECIMAL, validator=_positive
    )
    time_in_force: TimeInForce = attrs.field(default=TimeInForce.DAY, converter=_enum(TimeInForce))
    account: str | None = attrs.field(default=None, validator=_optional_non_empty)
    client_order_id: str | None = attrs.field(default=None, validator=_optional_non_empty)

    def __init__(  # noqa: PLR0917  (the same positional order attrs generates)
        self,
        symbol: str,
        quantity: DecimalInput,
        order_type: OrderType | str,
        side: Side | str,
        limit_price: DecimalInput | None = None,
        stop_price: DecimalInput | None = None,
        time_in_force: TimeInForce | str = TimeInForce.DAY,
        account: str | None = None,
        client_order_id: str | None = None,
    ) -> None:
        """Validate and convert every field (ValueError naming the field otherwise)."""
        # Spelled out only for the types: attrs' generated __init__ converts and validates.
        self.__attrs_init__(
            symbol,
            quantity,
            order_type,
            side,
            limit_price,
            stop_price,
            time_in_force,
            account,
            client_order_id,
        )

    def __attrs_post_init__(self) -> None:
        check_prices(self.order_type, self.limit_price, self.stop_price)


@attrs.frozen
class Order:
    """A snapshot of one order as the library knows it. New snapshots replace old ones.

    ``order_id`` is IB's orderId as a string (None before one is assigned); ``perm_id`` is IB's
    permanent id once the broker has sent it. ``reason`` carries the reject or cancel reason and
    ``reason_code`` IB's error code for it.
    """

    order_id: str | None = attrs.field(validator=_optional_non_empty)
    client_order_id: str = attrs.field(validator=_non_empty)
    symbol: str = attrs.field(validator=_non_empty)
    quantity: Decimal = attrs.field(converter=_DECIMAL, validator=_positive)
    order_type: OrderType = attrs.field(converter=_enum(OrderType))
    side: Side = attrs.field(converter=_enum(Side))
    limit_price: Decimal | None = attrs.field(converter=_OPTIONAL_DECIMAL, validator=_positive)
    stop_price: Decimal | None = attrs.field(converter=_OPTIONAL_DECIMAL, validator=_positive)
    status: OrderStatus = attrs.field(converter=_enum(OrderStatus))
    submitted_at: datetime = attrs.field(converter=_UTC)
    filled_quantity: Decimal = attrs.field(
        default=Decimal("0"), converter=_DECIMAL, validator=_non_negative
    )
    average_fill_price: Decimal | None = attrs.field(
        default=None, converter=_OPTIONAL_DECIMAL, validator=_positive
    )
    perm_id: int | None = None
    time_in_force: TimeInForce = attrs.field(default=TimeInForce.DAY, converter=_enum(TimeInForce))
    account: str | None = None
    reason: str | None = None
    reason_code: int | None = None
    updated_at: datetime | None = attrs.field(default=None, converter=_OPTIONAL_UTC)

    def __attrs_post_init__(self) -> None:
        check_prices(self.order_type, self.limit_price, self.stop_price)
        if self.filled_quantity > self.quantity:
            raise ValueError(
                f"filled_quantity {self.filled_quantity} exceeds quantity {self.quantity}"
            )

    @property
    def remaining_quantity(self) -> Decimal:
        """What is still to be filled."""
        return self.quantity - self.filled_quantity

    @property
    def is_terminal(self) -> bool:
        """True once the order is FILLED, CANCELLED or REJECTED."""
        return self.status.is_terminal

    @classmethod
    def from_request(
        cls,
        request: OrderRequest,
        *,
        client_order_id: str,
        submitted_at: datetime,
        order_id: str | None = None,
    ) -> Order:
        """A PENDING order for ``request``."""
        return cls(
            order_id=order_id,
            client_order_id=client_order_id,
            symbol=request.symbol,
            quantity=request.quantity,
            order_type=request.order_type,
            side=request.side,
            limit_price=request.limit_price,
            stop_price=request.stop_price,
            status=OrderStatus.PENDING,
            submitted_at=submitted_at,
            time_in_force=request.time_in_force,
            account=request.account,
            updated_at=submitted_at,
        )

    @classmethod
    def _pending(
        cls, request: OrderRequest, client_order_id: str, submitted_at: datetime, order_id: str
    ) -> Order:
        # from_request for the executor: the request was validated when it was built, the id and
        # the UTC time are the library's own. Equal to from_request's result (tests/test_models).
        return _trusted(
            cls,
            {
                "order_id": order_id,
                "client_order_id": client_order_id,
                "symbol": request.symbol,
                "quantity": request.quantity,
                "order_type": request.order_type,
                "side": request.side,
                "limit_price": request.limit_price,
                "stop_price": request.stop_price,
                "status": OrderStatus.PENDING,
                "submitted_at": submitted_at,
                "time_in_force": request.time_in_force,
                "account": request.account,
                "updated_at": submitted_at,
            },
        )

    def _evolved(self, **changes: Any) -> Order:
        # attrs.evolve without the converters and validators: for the ledger's snapshots, whose
        # fields are already the right types (a Decimal quantity, a UTC time, an OrderStatus).
        return _trusted(Order, changes, self)


@attrs.frozen
class Fill:
    """One execution. ``fill_id`` is IB's execId (a correction shares its prefix)."""

    fill_id: str = attrs.field(validator=_non_empty)
    order_id: str | None = attrs.field(validator=_optional_non_empty)
    symbol: str = attrs.field(validator=_non_empty)
    quantity: Decimal = attrs.field(converter=_DECIMAL, validator=_positive)
    price: Decimal = attrs.field(converter=_DECIMAL, validator=_positive)
    side: Side = attrs.field(converter=_enum(Side))
    timestamp: datetime = attrs.field(converter=_UTC)
    commission: Decimal | None = attrs.field(default=None, converter=_OPTIONAL_DECIMAL)
    client_order_id: str | None = None

    @classmethod
    def _trusted(cls, **values: Any) -> Fill:
        # For the ledger: an execution the adapter (or the journal reader) already parsed.
        return _trusted(cls, values)


@attrs.frozen
class Position:
    """A holding in one symbol. ``quantity`` is negative for a short position.

    IB's position report carries no market value; ``market_value`` and ``unrealized_pnl`` are None
    until a portfolio update supplies them.
    """

    symbol: str = attrs.field(validator=_non_empty)
    quantity: Decimal = attrs.field(converter=_DECIMAL)
    average_cost: Decimal = attrs.field(converter=_DECIMAL, validator=_non_negative)
    market_value: Decimal | None = attrs.field(converter=_OPTIONAL_DECIMAL)
    unrealized_pnl: Decimal | None = attrs.field(converter=_OPTIONAL_DECIMAL)
    timestamp: datetime = attrs.field(converter=_UTC)
    account: str | None = None


def _field_defaults(cls: type) -> tuple[tuple[str, Any], ...]:
    return tuple(
        (a.name, None if a.default is attrs.NOTHING else a.default) for a in attrs.fields(cls)
    )


_FIELDS: dict[type, tuple[tuple[str, Any], ...]] = {
    Order: _field_defaults(Order),
    Fill: _field_defaults(Fill),
}
_T = TypeVar("_T")
_set = object.__setattr__  # frozen attrs classes refuse their own __setattr__


def _trusted(cls: type[_T], values: dict[str, Any], base: _T | None = None) -> _T:
    """An instance of ``cls`` from values that are already valid, without converters or
    validators; fields not in ``values`` come from ``base``, else their default."""
    instance = object.__new__(cls)
    for name, default in _FIELDS[cls]:
        if name in values:
            value = values[name]
        elif base is not None:
            value = getattr(base, name)
        else:
            value = default
        _set(instance, name, value)
    return instance
