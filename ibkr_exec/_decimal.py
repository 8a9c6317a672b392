"""Strict conversion of money and quantities to Decimal.

Floats are refused outright: ``Decimal(0.1)`` is ``0.1000000000000000055511151231257827...``, and a
float that has already been rounded cannot be repaired here. Callers pass Decimal, int or str.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation


def to_decimal(value: object, name: str) -> Decimal:
    """Convert ``value`` to a finite Decimal, or raise ValueError naming ``name``.

    >>> to_decimal("100", "quantity")
    Decimal('100')
    """
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a Decimal, int or str, got bool {value!r}")
    if isinstance(value, float):
        raise ValueError(
            f"{name} must not be a float (got {value!r}): floats lose precision; "
            f"pass Decimal({str(value)!r}) or the string {str(value)!r}"
        )
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{name} is not a number: {value!r}") from None
    else:
        raise ValueError(
            f"{name} must be a Decimal, int or str, got {type(value).__name__} {value!r}"
        )
    if not result.is_finite():
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return result


def decimal_from_float(value: float) -> Decimal:
    """Convert a float that came from the wire (ib_async decodes numbers as float).

    Goes through ``str`` so that ``150.3`` becomes ``Decimal('150.3')``, never the binary expansion.
    """
    return Decimal(str(value))
