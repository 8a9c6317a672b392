"""Specification of the value types: conversion, validation and its messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs
import pytest

from ibkr_exec import Fill, Order, OrderRequest, OrderStatus, OrderType, Position, Side, TimeInForce

NOW = datetime(2026, 1, 2, 15, 30, tzinfo=UTC)


def request(**overrides: Any) -> OrderRequest:
    fields: dict[str, Any] = {
        "symbol": "AAPL",
        "quantity": "100",
        "order_type": OrderType.LIMIT,
        "side": Side.BUY,
        "limit_price": "150.25",
    }
    fields.update(overrides)
    return OrderRequest(**fields)


def order(**overrides: Any) -> Order:
    fields: dict[str, Any] = {
        "order_id": "7",
        "client_order_id": "c-1",
        "symbol": "AAPL",
        "quantity": "100",
        "order_type": OrderType.MARKET,
        "side": Side.BUY,
        "limit_price": None,
        "stop_price": None,
        "status": OrderStatus.SUBMITTED,
        "submitted_at": NOW,
    }
    fields.update(overrides)
    return Order(**fields)


def test_int_and_str_quantities_become_exact_decimals() -> None:
    assert request(quantity=100).quantity == Decimal("100")
    assert request(quantity="100").quantity == Decimal("100")
    assert isinstance(request(quantity="100").quantity, Decimal)


def test_decimal_precision_survives_the_round_trip() -> None:
    r = request(quantity=Decimal("0.1") + Decimal("0.2"), limit_price="0.30000001")
    assert r.quantity == Decimal("0.3")
    assert str(r.limit_price) == "0.30000001"


@pytest.mark.parametrize("field", ["quantity", "limit_price"])
def test_float_is_refused_with_a_hint_to_pass_decimal_or_str(field: str) -> None:
    with pytest.raises(
        ValueError, match=rf"{field} must not be a float \(got 1\.5\).*Decimal\('1\.5'\)"
    ):
        request(**{field: 1.5})


@pytest.mark.parametrize(
    "bad", ["nan", "NaN", "inf", "-Infinity", Decimal("NaN"), Decimal("Infinity")]
)
def test_nan_and_infinity_are_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="quantity must be a finite number"):
        request(quantity=bad)


def test_non_numeric_string_is_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match="limit_price is not a number: 'abc'"):
        request(limit_price="abc")


def test_bool_is_not_a_quantity() -> None:
    with pytest.raises(ValueError, match="quantity must be a Decimal, int or str, got bool"):
        request(quantity=True)


@pytest.mark.parametrize("bad", ["0", "-5"])
def test_quantity_must_be_positive(bad: str) -> None:
    with pytest.raises(ValueError, match=f"quantity must be greater than 0, got {bad}"):
        request(quantity=bad)


@pytest.mark.parametrize(("field", "bad"), [("limit_price", "0"), ("stop_price", "-1")])
def test_prices_must_be_positive(field: str, bad: str) -> None:
    overrides = {"order_type": OrderType.STOP_LIMIT, "limit_price": "1", "stop_price": "1"}
    overrides[field] = bad
    with pytest.raises(ValueError, match=f"{field} must be greater than 0, got {bad}"):
        request(**overrides)


def test_limit_order_needs_limit_price() -> None:
    with pytest.raises(ValueError, match="limit_price is required for a LIMIT order"):
        request(limit_price=None)


def test_stop_order_needs_stop_price() -> None:
    with pytest.raises(ValueError, match="stop_price is required for a STOP order"):
        request(order_type=OrderType.STOP, limit_price=None)


def test_stop_limit_needs_both_prices() -> None:
    with pytest.raises(ValueError, match="stop_price is required for a STOP_LIMIT order"):
        request(order_type=OrderType.STOP_LIMIT)
    with pytest.raises(ValueError, match="limit_price is required for a STOP_LIMIT order"):
        request(order_type=OrderType.STOP_LIMIT, limit_price=None, stop_price="140")
    r = request(order_type=OrderType.STOP_LIMIT, stop_price="140")
    assert (r.limit_price, r.stop_price) == (Decimal("150.25"), Decimal("140"))


def test_market_order_takes_no_prices() -> None:
    with pytest.raises(ValueError, match="limit_price=150.25 is not allowed for a MARKET order"):
        request(order_type=OrderType.MARKET)
    with pytest.raises(ValueError, match="stop_price=1 is not allowed for a MARKET order"):
        request(order_type=OrderType.MARKET, limit_price=None, stop_price="1")
    assert request(order_type=OrderType.MARKET, limit_price=None).limit_price is None


def test_limit_order_refuses_a_stop_price() -> None:
    with pytest.raises(ValueError, match="stop_price=1 is not allowed for a LIMIT order"):
        request(stop_price="1")


@pytest.mark.parametrize("bad", ["", "   ", None, 5])
def test_symbol_must_be_non_empty(bad: object) -> None:
    with pytest.raises(ValueError, match="symbol must be a non-empty string"):
        request(symbol=bad)


def test_enums_accept_their_values_and_name_the_field_otherwise() -> None:
    assert request(side="SELL", order_type="LIMIT").side is Side.SELL
    with pytest.raises(ValueError, match="side must be one of BUY, SELL; got 'HOLD'"):
        request(side="HOLD")
    with pytest.raises(ValueError, match="time_in_force must be one of DAY, GTC"):
        request(time_in_force="FOREVER")


def test_defaults_of_an_order_request() -> None:
    r = request()
    assert r.time_in_force is TimeInForce.DAY
    assert r.account is None
    assert r.client_order_id is None


def test_value_types_are_immutable() -> None:
    r = request()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(r, "quantity", Decimal("1"))  # noqa: B010


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValueError, match="submitted_at must be timezone-aware, got naive"):
        order(submitted_at=datetime(2026, 1, 2, 15, 30))  # noqa: DTZ001


def test_aware_timestamps_are_stored_in_utc() -> None:
    new_york = timezone(timedelta(hours=-5))
    o = order(submitted_at=datetime(2026, 1, 2, 10, 30, tzinfo=new_york))
    assert o.submitted_at == NOW
    assert o.submitted_at.tzinfo is UTC


def test_timestamp_must_be_a_datetime() -> None:
    with pytest.raises(ValueError, match="timestamp must be a datetime, got str"):
        Fill("e1", "7", "AAPL", "1", "1", Side.BUY, "2026-01-01")


def test_order_defaults_and_remaining_quantity() -> None:
    o = order(filled_quantity="40", average_fill_price="150.1")
    assert o.remaining_quantity == Decimal("60")
    assert order().filled_quantity == Decimal("0")
    assert order().average_fill_price is None
    assert not o.is_terminal
    assert order(status=OrderStatus.FILLED, filled_quantity="100").is_terminal


def test_order_filled_quantity_cannot_exceed_quantity() -> None:
    with pytest.raises(ValueError, match="filled_quantity 101 exceeds quantity 100"):
        order(filled_quantity="101")


def test_order_filled_quantity_cannot_be_negative() -> None:
    with pytest.raises(ValueError, match="filled_quantity must not be negative, got -1"):
        order(filled_quantity="-1")


def test_order_from_request_is_pending_and_copies_the_request() -> None:
    r = request(account="DU123", time_in_force=TimeInForce.GTC)
    o = Order.from_request(r, client_order_id="c-9", submitted_at=NOW)
    assert o.status is OrderStatus.PENDING
    assert (o.symbol, o.quantity, o.limit_price, o.account) == (
        "AAPL",
        Decimal("100"),
        Decimal("150.25"),
        "DU123",
    )
    assert o.time_in_force is TimeInForce.GTC
    assert o.order_id is None


def test_fill_and_position() -> None:
    f = Fill("0001.01", "7", "AAPL", "10", "150.5", Side.BUY, NOW, commission="1.25")
    assert f.commission == Decimal("1.25")
    with pytest.raises(ValueError, match="price must be greater than 0, got 0"):
        Fill("0001.01", "7", "AAPL", "10", "0", Side.BUY, NOW)
    p = Position("AAPL", "-10", "150.5", None, None, NOW)
    assert p.quantity == Decimal("-10")
    with pytest.raises(ValueError, match="average_cost must not be negative"):
        Position("AAPL", "10", "-1", None, None, NOW)


def test_terminal_states() -> None:
    assert {s for s in OrderStatus if s.is_terminal} == {
        OrderStatus.FILLED,
        OrderStatus.CANCELLED,
        OrderStatus.REJECTED,
    }
