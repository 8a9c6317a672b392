"""The adapter's cheaper encoding sends exactly the bytes ib_async would send."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import ib_async
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ibkr_exec import OrderRequest, OrderType, Side, TimeInForce
from ibkr_exec.broker.ib import IBBroker
from ibkr_exec.models import Order

NOW = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)


def offline_client(client: Any, version: int) -> list[str]:
    """Make ``client`` encode for ``version`` without a socket; returns what it sends."""
    sent: list[str] = []
    client._serverVersion = version
    client.connState = ib_async.Client.CONNECTED  # no socket: sendMsg below is replaced
    client._apiReady = True
    client.sendMsg = sent.append
    return sent


def ib_async_placement(order: Order, version: int) -> str:
    """What a stock ib_async client sends for ``order`` (the adapter's fields, the rest default)."""
    client: Any = ib_async.IB().client
    sent = offline_client(client, version)
    ib_order = ib_async.Order(
        action=order.side.value,
        totalQuantity=float(order.quantity),
        orderType={"MARKET": "MKT", "LIMIT": "LMT", "STOP": "STP", "STOP_LIMIT": "STP LMT"}[
            order.order_type.value
        ],
        tif=order.time_in_force.value,
        account=order.account or "",
        orderRef=order.client_order_id,
    )
    if order.limit_price is not None:
        ib_order.lmtPrice = float(order.limit_price)
    if order.stop_price is not None:
        ib_order.auxPrice = float(order.stop_price)
    client.placeOrder(
        int(order.order_id or 0), ib_async.Stock(order.symbol, "SMART", "USD"), ib_order
    )
    [message] = sent
    return message


def adapter_placement(order: Order, version: int) -> str:
    broker = IBBroker(lambda _: None, lambda _: None)
    sent = offline_client(broker.ib.client, version)
    broker.place_order(order)
    [message] = sent
    return message


prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(5000), places=2)
orders = st.builds(
    lambda order_id, symbol, qty, kind, side, price, stop, tif, account, cid: Order._pending(
        OrderRequest(
            symbol,
            qty,
            kind,
            side,
            limit_price=price if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None,
            stop_price=stop if kind in (OrderType.STOP, OrderType.STOP_LIMIT) else None,
            time_in_force=tif,
            account=account,
        ),
        cid,
        NOW,
        str(order_id),
    ),
    st.integers(min_value=1, max_value=2**31 - 1),
    st.sampled_from(["AAPL", "MSFT", "BRK B", "X"]),
    st.integers(min_value=1, max_value=10**6),
    st.sampled_from(OrderType),
    st.sampled_from(Side),
    prices,
    prices,
    st.sampled_from(TimeInForce),
    st.none() | st.just("U1234567"),
    st.text(alphabet="abcdefghij-0123456789", min_size=1, max_size=30),
)


@pytest.mark.parametrize("version", [157, 163, 169, 176, 178, 187])
@settings(max_examples=40, deadline=None)
@given(order=orders)
def test_a_placement_is_ib_asyncs_message_byte_for_byte(order: Order, version: int) -> None:
    assert adapter_placement(order, version) == ib_async_placement(order, version)


def test_fractional_quantities_and_prices_are_written_as_ib_async_writes_them() -> None:
    order = Order._pending(
        OrderRequest("AAPL", "0.5", OrderType.LIMIT, Side.SELL, limit_price="150.0625"),
        "frac",
        NOW,
        "9",
    )
    assert adapter_placement(order, 178) == ib_async_placement(order, 178)


@pytest.mark.parametrize(
    "request_fields",
    [
        ("reqExecutions", (7, ib_async.ExecutionFilter(clientId=3, symbol="AAPL"))),
        ("cancelOrder", (12, "")),
        ("reqAccountUpdates", (True, "U1")),
        ("reqMktData", (5, ib_async.Stock("AAPL", "SMART", "USD"), "233,236", False, False, [])),
    ],
)
def test_other_messages_are_ib_asyncs_bytes_too(
    request_fields: tuple[str, tuple[Any, ...]],
) -> None:
    name, args = request_fields
    stock = ib_async.IB().client
    stock_sent = offline_client(stock, 178)
    broker = IBBroker(lambda _: None, lambda _: None)
    ours_sent = offline_client(broker.ib.client, 178)
    getattr(stock, name)(*args)
    getattr(broker.ib.client, name)(*args)
    assert ours_sent == stock_sent
    assert ours_sent


def test_without_a_template_the_adapter_places_through_ib_async() -> None:
    broker = IBBroker(lambda _: None, lambda _: None)
    sent = offline_client(broker.ib.client, 178)
    broker._place_templates._templates[178] = None  # as if the markers were not found
    order = Order._pending(OrderRequest("AAPL", "3", OrderType.MARKET, Side.BUY), "c", NOW, "4")
    broker.place_order(order)
    assert sent == [ib_async_placement(order, 178)]
