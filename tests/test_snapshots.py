"""Validation happens once, at the boundary; the library's own snapshots skip it and are equal to
validated ones."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import attrs
import ib_async
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ibkr_exec import Fill, Order, OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from ibkr_exec.actors.ledger import OrderLedger
from ibkr_exec.broker.ib import IBBroker
from ibkr_exec.broker.port import (
    BrokerAnomaly,
    CommissionReport,
    ExecutionReport,
    OrderAccepted,
)

NOW = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)


def validated(value: Any) -> Any:
    """The same value rebuilt through its public, validating constructor."""
    return type(value)(**attrs.asdict(value, recurse=False))


requests = st.builds(
    lambda qty, kind, side, price, tif, account: OrderRequest(
        "AAPL",
        qty,
        kind,
        side,
        limit_price=price if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None,
        stop_price=price if kind in (OrderType.STOP, OrderType.STOP_LIMIT) else None,
        time_in_force=tif,
        account=account,
    ),
    st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(10**6), places=4),
    st.sampled_from(OrderType),
    st.sampled_from(Side),
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10**5), places=2),
    st.sampled_from(TimeInForce),
    st.none() | st.just("U1234"),
)


@given(requests)
def test_the_executors_pending_order_equals_from_request(request: OrderRequest) -> None:
    trusted = Order._pending(request, "c-1", NOW, "7")
    public = Order.from_request(request, client_order_id="c-1", submitted_at=NOW, order_id="7")
    assert trusted == public == validated(trusted)
    assert hash(trusted) == hash(public)


def test_ledger_snapshots_equal_validated_orders_and_fills() -> None:
    base = Order._pending(
        OrderRequest("AAPL", "10", OrderType.LIMIT, Side.BUY, limit_price="150.5"), "c-1", NOW, "7"
    )
    ledger = OrderLedger.new(base)
    seen: list[Order | Fill] = [ledger.order()]
    for message in (
        OrderAccepted("7", perm_id=99),
        ExecutionReport("e.01", "7", "AAPL", Side.BUY, Decimal("4"), Decimal("150.25"), NOW),
        CommissionReport("e.01", Decimal("1.05")),
        ExecutionReport("e2.01", "7", "AAPL", Side.BUY, Decimal("6"), Decimal("150.5"), NOW),
    ):
        ledger.handle(message, NOW)
        seen.append(ledger.order())
        seen.extend(ledger.fills())
    assert ledger.order().status is OrderStatus.FILLED
    assert ledger.order().average_fill_price == Decimal("150.4")
    assert ledger.fills()[0].commission == Decimal("1.05")
    for snapshot in seen:
        assert snapshot == validated(snapshot)
        assert hash(snapshot) == hash(validated(snapshot))


def test_user_input_is_still_validated() -> None:
    with pytest.raises(ValueError, match="quantity"):
        OrderRequest("AAPL", "-1", OrderType.MARKET, Side.BUY)
    order = Order.from_request(
        OrderRequest("AAPL", "1", OrderType.MARKET, Side.BUY),
        client_order_id="c",
        submitted_at=NOW,
    )
    with pytest.raises(ValueError, match="filled_quantity"):
        attrs.evolve(order, filled_quantity="2")
    with pytest.raises(ValueError, match="price"):
        Fill("e", "1", "AAPL", "1", "0", Side.BUY, NOW)


def _execution(shares: float, price: float) -> tuple[ib_async.Contract, ib_async.Execution]:
    contract = ib_async.Stock("AAPL", "SMART", "USD")
    execution = ib_async.Execution(
        execId="e.01", orderId=5, shares=shares, price=price, side="BOT", time=NOW, permId=9
    )
    return contract, execution


@pytest.mark.parametrize(("shares", "price"), [(0.0, 150.0), (10.0, 0.0), (-1.0, 150.0)])
def test_the_adapter_refuses_an_impossible_execution_as_an_anomaly(
    shares: float, price: float
) -> None:
    reports: list[Any] = []
    broker = IBBroker(reports.append, lambda _: None)
    broker.ib.wrapper.execDetails(-1, *_execution(shares, price))
    [anomaly] = reports
    assert type(anomaly) is BrokerAnomaly
    assert "positive quantity and price" in anomaly.description


def test_the_adapter_passes_a_sound_execution_exactly() -> None:
    reports: list[Any] = []
    broker = IBBroker(reports.append, lambda _: None)
    broker.ib.wrapper.execDetails(-1, *_execution(10.0, 150.3))
    [report] = reports
    assert type(report) is ExecutionReport
    assert (report.quantity, report.price) == (Decimal(10), Decimal("150.3"))
