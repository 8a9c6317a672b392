"""The simulator's message sequences against real TWS's: message ids in order and field counts
per message, compared with the captures in shared/reference/real-tws/captures.json (numbers are
positions in that list) at the captures' own versions (165, 173, 176) and, through IBKR's
version gates, at 176 and 178."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from ib_async import IB, LimitOrder, MarketOrder

from ibkr_exec.sim import FakeTWS

from .helpers import AAPL, barrier, until

Recorded = list[list[str]]
# shared/ stands beside the repository (here, and in CI's fresh clone).
CAPTURES = Path(__file__).resolve().parents[3] / "shared/reference/real-tws/captures.json"


def _captures() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(CAPTURES.read_text(encoding="utf-8"))
    return entries


def message(index: int) -> list[str]:
    """Capture ``index``'s fields, without the trailing empty field the rust-ibapi 2023 strings
    carry (a copying artefact, says the captures' README)."""
    entry = _captures()[index]
    fields = list(entry["fields"])
    if (
        entry["scenario"].startswith("rust2023-")
        and entry["direction"] == "in"
        and fields[-1] == ""
    ):
        fields.pop()
    return fields


def incoming(scenario: str) -> Recorded:
    """The TWS-to-client messages of one captured scenario, in order."""
    return [
        message(i)
        for i, e in enumerate(_captures())
        if e["scenario"] == scenario and e["direction"] == "in"
    ]


def _recording() -> tuple[IB, Recorded]:
    """An unconnected client that records every message it decodes (all fields)."""
    ib = IB()
    seen: Recorded = []
    decoder = ib.client.decoder
    interpret: Callable[[list[str]], None] = decoder.interpret

    def recording(fields: list[str]) -> None:
        seen.append(list(fields))
        interpret(fields)

    setattr(decoder, "interpret", recording)  # noqa: B010
    return ib, seen


def _shape(
    messages: Recorded, ids: frozenset[str] = frozenset({"3", "4", "5", "11", "59"})
) -> list[tuple[str, int]]:
    """(message id, field count) of the order messages, in order."""
    return [(m[0], len(m)) for m in messages if m[0] in ids]


def _open_order_fields(version: int) -> int:
    # 131 at 165 (capture 0), 136 at 173 (capture 19: five fields more from 170); IBKR's decoder
    # drops faProfile from 177 (FA_PROFILE_DESUPPORT).
    if version < 170:
        return 131
    return 136 - (version >= 177)


def _exec_details_fields(version: int) -> int:
    # 31 at 173 (capture 21); pendingPriceRevision is added at 178 (PENDING_PRICE_REVISION).
    return 31 + (version >= 178)


def _error_fields(version: int) -> int:
    # 5 at 165 (capture 9), 6 from 166 with advancedOrderRejectJson (capture 27 at 173).
    return 5 + (version >= 166)


async def _connected(version: int, **options: object) -> tuple[FakeTWS, IB, Recorded]:
    tws = FakeTWS(server_version=version, **options)  # type: ignore[arg-type]
    await tws.start()
    ib, seen = _recording()
    await ib.connectAsync("127.0.0.1", tws.port, clientId=100, timeout=3)
    return tws, ib, seen


async def _market_fill(version: int, **options: object) -> Recorded:
    tws, ib, seen = await _connected(version, **options)
    try:
        tws.set_price("AAPL", Decimal("196.52"))
        start = len(seen)
        trade = ib.placeOrder(AAPL, MarketOrder("BUY", 100))
        await asyncio.wait_for(trade.filledEvent, 2)
        await barrier(ib)
        return seen[start:]
    finally:
        ib.disconnect()
        await tws.stop()


@pytest.mark.parametrize(("version", "capture"), [(165, "rust2023-mkt"), (173, "rust2025-mkt")])
async def test_a_market_fill_is_the_captured_sequence_at_the_captures_version(
    version: int, capture: str
) -> None:
    real = _shape(incoming(capture))
    sim = _shape(await _market_fill(version, repeat_filled_status=False))
    # The 2025 capture stops after orderStatus Filled; the 2023 one goes on to the second
    # openOrder with the commission and the commissionReport.
    assert sim[: len(real)] == real
    assert [m for m, _ in sim] == ["5", "3", "11", "5", "3", "5", "59"]


@pytest.mark.parametrize("version", [176, 178])
async def test_a_market_fill_at_176_and_178(version: int) -> None:
    sim = _shape(await _market_fill(version))
    oo, ed = _open_order_fields(version), _exec_details_fields(version)
    assert sim == [
        ("5", oo), ("3", 12), ("11", ed), ("5", oo), ("3", 12), ("5", oo),
        ("3", 12),  # orderStatus Filled again (repeat_filled_status, on by default)
        ("59", 8),
    ]  # fmt: skip


async def test_the_second_open_order_carries_the_commission_as_in_capture_5() -> None:
    sim = await _market_fill(165, repeat_filled_status=False)
    first, second = [m for m in sim if m[0] == "5"][1:]
    real = message(5)
    changed = [i for i, (a, b) in enumerate(zip(first, second, strict=True)) if a != b]
    real_changed = [i for i, (a, b) in enumerate(zip(message(3), real, strict=True)) if a != b]
    assert changed == real_changed  # the commission and its currency, nothing else
    assert [second[i] for i in changed] == ["1.0", "USD"]
    assert [real[i] for i in real_changed] == ["1.0", "USD"]


@pytest.mark.parametrize("version", [165, 173, 176, 178])
async def test_resting_limit_then_cancel(version: int) -> None:
    tws, ib, seen = await _connected(version)
    try:
        tws.set_price("AAPL", Decimal("200"))
        start = len(seen)
        trade = ib.placeOrder(AAPL, LimitOrder("BUY", 100, 150))
        await until(ib, lambda: trade.orderStatus.status == "Submitted")
        await barrier(ib)
        resting = seen[start:]
        start = len(seen)
        ib.cancelOrder(trade.order)
        await until(ib, lambda: trade.orderStatus.status == "Cancelled")
        await barrier(ib)
        cancel = seen[start:]
    finally:
        ib.disconnect()
        await tws.stop()
    # One acknowledgement, Submitted: never PreSubmitted then Submitted.
    assert _shape(resting) == [("5", _open_order_fields(version)), ("3", 12)]
    assert [m[2] for m in resting if m[0] == "3"] == ["Submitted"]
    # Capture 8-9: orderStatus Cancelled with remaining = the unfilled 100, then error 202.
    real = [message(8), message(9)]
    assert _shape(cancel) == [("3", 12), ("4", _error_fields(version))]
    assert cancel[0][2:5] == real[0][2:5] == ["Cancelled", "0", "100"]
    assert cancel[1][3:5] == real[1][3:5] == ["202", "Order Canceled - reason:"]


@pytest.mark.parametrize("version", [173, 176, 178])
async def test_a_reject_is_error_201_then_inactive(version: int) -> None:
    # ib_insync issue 554: "4,2,15,201,Order rejected..." then openOrder and orderStatus Inactive.
    tws, ib, seen = await _connected(version)
    try:
        start = len(seen)
        trade = ib.placeOrder(AAPL, LimitOrder("BUY", 100, 150, account="U999"))
        await until(ib, lambda: trade.orderStatus.status == "Inactive")
        await barrier(ib)
        reject = seen[start:]
    finally:
        ib.disconnect()
        await tws.stop()
    assert _shape(reject) == [("4", 6), ("5", _open_order_fields(version)), ("3", 12)]
    assert reject[0][3] == "201"
    assert reject[0][4].startswith("Order rejected - reason:")


async def test_the_connect_sequence_is_the_captured_reconnect_at_176() -> None:
    # pyfutures 2024 reconnect (captures 63-69): handshake, managedAccounts, nextValidId, then
    # the farm notices 2104, 2106, 2158.
    tws, ib, seen = await _connected(176)
    try:
        real = incoming("pyf2024-test_reconnect")[1:6]
        sim = seen[:5]
    finally:
        ib.disconnect()
        await tws.stop()
    assert [(m[0], len(m)) for m in sim] == [(m[0], len(m)) for m in real]
    assert [m[3] for m in sim if m[0] == "4"] == [m[3] for m in real if m[0] == "4"]


@pytest.mark.parametrize(("version", "capture"), [(165, 13), (173, 30)])
async def test_completed_orders_have_the_captured_field_counts(version: int, capture: int) -> None:
    tws, ib, seen = await _connected(version)
    try:
        tws.set_price("AAPL", Decimal("100"))
        trade = ib.placeOrder(AAPL, MarketOrder("BUY", 100))
        await asyncio.wait_for(trade.filledEvent, 2)
        start = len(seen)
        await asyncio.wait_for(ib.reqCompletedOrdersAsync(False), 2)
        completed = [m for m in seen[start:] if m[0] == "101"]
    finally:
        ib.disconnect()
        await tws.stop()
    real = message(capture)
    assert [len(m) for m in completed] == [len(real)]
    status_at = len(real) - (1 if version < 170 else 6)
    assert completed[0][status_at] == "Filled Size: 100"
    assert completed[0][status_at - 2] == real[status_at - 2] == "9223372036854775807"
