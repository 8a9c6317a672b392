"""Numbers crossing the ib_async boundary stay exact (ib_async decodes every quantity as float)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ibkr_exec.broker.ib import _wire_number, wire_decimal


@pytest.mark.parametrize(
    ("wire", "expected"),
    [(100.0, "100"), (150.3, "150.3"), (0.1, "0.1"), (1e-05, "0.00001"), (30.25, "30.25")],
)
def test_floats_from_the_wire_become_the_decimal_they_were_written_as(
    wire: float, expected: str
) -> None:
    assert wire_decimal(wire) == Decimal(expected)
    assert str(wire_decimal(100.0)) == "100"


def test_decimal_sum_goes_out_exactly_not_as_float_noise() -> None:
    value = Decimal("0.1") + Decimal("0.2")
    assert str(_wire_number(value)) == "0.3"


def test_a_decimal_a_float_cannot_carry_goes_out_in_plain_form() -> None:
    value = Decimal("1234567.123456789012345")
    sent = _wire_number(value)
    assert isinstance(sent, Decimal)
    assert str(sent) == "1234567.123456789012345"
    assert str(_wire_number(Decimal("1E+2"))) == "100.0"
