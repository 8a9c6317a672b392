"""Message layouts: every encoder decodes cleanly with ib_async's own Decoder, at 157 and 178."""

from __future__ import annotations

import struct
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal
from unittest.mock import MagicMock
from zoneinfo import ZoneInfo

import pytest
from ib_async.decoder import Decoder

from ibkr_exec.sim import encode
from ibkr_exec.sim.book import OrderTicket, SimContract, SimExecution, SimOrder
from ibkr_exec.sim.exchange import SimPosition
from ibkr_exec.sim.protocol import FrameError, FrameReader, encode_frame, parse_version_range
from ibkr_exec.sim.tz import exec_time

MOMENT = datetime(2025, 4, 25, 15, 23, 54, tzinfo=UTC)
NEW_YORK = ZoneInfo("America/New_York")


def _order() -> SimOrder:
    ticket = OrderTicket(
        order_id=7,
        contract=SimContract(con_id=265598, symbol="AAPL"),
        action="BUY",
        quantity=Decimal(100),
        order_type="LMT",
        limit_price=Decimal("150.3"),
        aux_price=None,
        account="DU1",
        order_ref="cid-7",
    )
    order = SimOrder(client_id=3, perm_id=1_000_000_001, ticket=ticket, status="Filled")
    order.filled = Decimal(100)
    order.completed_time = "20250425 15:23:54 UTC"
    order.completed_status = "Filled"
    return order


def _execution() -> SimExecution:
    return SimExecution(
        exec_id="0000e0d5.6554a1b2.01.01",
        client_id=3,
        order_id=7,
        perm_id=1_000_000_001,
        order_ref="cid-7",
        account="DU1",
        contract=SimContract(con_id=265598, symbol="AAPL"),
        side="BOT",
        shares=Decimal(30),
        price=Decimal("150.25"),
        cum_qty=Decimal(30),
        avg_price=Decimal("150.25"),
        time=MOMENT,
        commission=Decimal("1.00"),
    )


def _decode(version: int, fields: list[str], tws_zone: str | None = None) -> MagicMock:
    wrapper = MagicMock()
    wrapper.defaultTimezone = UTC
    wrapper.ib.TimezoneTWS = tws_zone
    decoder = Decoder(wrapper, version)
    decoder.logger = MagicMock()
    interpret: Callable[[list[str]], None] = decoder.interpret
    interpret(fields)
    decoder.logger.exception.assert_not_called()
    return wrapper


@pytest.mark.parametrize("version", [157, 178])
def test_open_order_decodes_with_every_field_in_place(version: int) -> None:
    wrapper = _decode(version, encode.open_order(version, _order()))
    order_id, contract, order, state = wrapper.openOrder.call_args.args
    assert (order_id, contract.symbol, order.orderRef) == (7, "AAPL", "cid-7")
    assert (order.clientId, order.permId, order.lmtPrice) == (3, 1_000_000_001, 150.3)
    assert state.status == "Filled"


@pytest.mark.parametrize("version", [157, 178])
def test_completed_order_decodes_with_perm_id_and_completion(version: int) -> None:
    wrapper = _decode(version, encode.completed_order(version, _order()))
    _contract, order, state = wrapper.completedOrder.call_args.args
    assert (order.permId, order.orderRef, order.filledQuantity) == (1_000_000_001, "cid-7", 100)
    assert (state.status, state.completedStatus) == ("Filled", "Filled")


@pytest.mark.parametrize(("version", "count"), [(157, 31), (178, 32)])
def test_exec_details_has_the_field_count_of_its_version(version: int, count: int) -> None:
    fields = encode.exec_details(version, -1, _execution(), exec_time(MOMENT, NEW_YORK))
    assert len(fields) == count
    assert fields[15] == "20250425  11:23:54"  # TWS-local (EDT), zone-less, two spaces
    wrapper = _decode(version, fields, tws_zone="America/New_York")
    req_id, _contract, execution = wrapper.execDetails.call_args.args
    assert (req_id, execution.shares, execution.price) == (-1, 30, 150.25)
    assert execution.time == MOMENT


@pytest.mark.parametrize("style", ["space", "dash"])
@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Tokyo", "Europe/London"])
def test_zone_less_execution_times_read_in_the_tws_zone_are_the_true_instant(
    style: Literal["space", "dash"], zone: str
) -> None:
    text = exec_time(MOMENT, ZoneInfo(zone), style)
    assert ("-" in text) is (style == "dash")
    wrapper = _decode(178, encode.exec_details(178, -1, _execution(), text), tws_zone=zone)
    assert wrapper.execDetails.call_args.args[2].time == MOMENT


@pytest.mark.parametrize(
    ("zone", "moment", "name"),
    [
        ("Europe/London", datetime(2025, 4, 15, 18, 38, 30, tzinfo=UTC), "British Summer Time"),
        ("Europe/London", datetime(2024, 3, 24, 21, 18, 59, tzinfo=UTC), "Greenwich Mean Time"),
        ("America/New_York", datetime(2025, 1, 2, 15, 0, tzinfo=UTC), "Eastern Standard Time"),
        ("America/New_York", datetime(2025, 7, 2, 15, 0, tzinfo=UTC), "Eastern Daylight Time"),
    ],
)
def test_handshake_names_the_zone_as_tws_does(zone: str, moment: datetime, name: str) -> None:
    # The two London names are those of captures 16/24/31 (rust-ibapi 2025, pyfutures 2024).
    version, text = encode.handshake_reply(176, moment, ZoneInfo(zone))
    local = moment.astimezone(ZoneInfo(zone))
    assert (version, text) == ("176", f"{local:%Y%m%d %H:%M:%S} {name}")


@pytest.mark.parametrize(("version", "count"), [(157, 5), (178, 6)])
def test_error_carries_advanced_reject_json_from_166(version: int, count: int) -> None:
    assert len(encode.error(version, 7, 201, "no")) == count


def test_fixed_size_messages_have_exactly_the_fields_clients_unpack() -> None:
    assert len(encode.commission_report(_execution())) == 8
    position = SimPosition("DU1", SimContract(con_id=1, symbol="AAPL"), Decimal(5), Decimal(10))
    assert len(encode.position(position)) == 16
    assert len(encode.order_status(_order())) == 12
    assert len(encode.managed_accounts(["DU1"])) == 3
    assert len(encode.next_valid_id(1)) == 3
    assert len(encode.handshake_reply(178, MOMENT, NEW_YORK)) == 2


def test_frame_reader_reassembles_frames_split_across_reads() -> None:
    reader = FrameReader()
    wire = b"API\0" + struct.pack(">I", 9) + b"v157..178" + encode_frame(["49", "1"])
    assert reader.feed(wire[:3]) == []
    assert reader.feed(wire[3:10]) == []
    assert reader.feed(wire[10:]) == [b"v157..178", b"49\x001\0"]


def test_frame_reader_refuses_a_stream_without_the_api_prefix() -> None:
    with pytest.raises(FrameError, match="API prefix"):
        FrameReader().feed(b"HELO")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("v157..178", (157, 178)), ("v157..178 +PACEAPI", (157, 178)), ("v176", (176, 176))],
)
def test_version_announcements_parse_with_or_without_options(
    text: str, expected: tuple[int, int]
) -> None:
    assert parse_version_range(text) == expected


def test_decimal_quantities_go_on_the_wire_without_exponents() -> None:
    order: Any = _order()
    order.ticket.quantity = Decimal("1E+2")
    assert encode.open_order(178, order)[14] == "100"
