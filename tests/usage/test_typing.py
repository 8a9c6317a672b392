"""mypy refuses a float where the library wants an exact number (issue 11 item 17)."""

from __future__ import annotations

from pathlib import Path

from . import mypy_errors

SNIPPET = """\
from decimal import Decimal
from ibkr_exec import OrderRequest, OrderType, Side

OrderRequest("AAPL", Decimal("1"), OrderType.MARKET, Side.BUY)
OrderRequest("AAPL", 100, "MARKET", "BUY")
OrderRequest("AAPL", "1.5", OrderType.LIMIT, Side.BUY, limit_price="150.25")
OrderRequest("AAPL", 1.5, OrderType.MARKET, Side.BUY)
OrderRequest("AAPL", 1, OrderType.LIMIT, Side.BUY, limit_price=150.25)
OrderRequest("AAPL", 1, OrderType.STOP, Side.SELL, stop_price=99.5)
"""


def test_mypy_refuses_float_quantities_and_prices(tmp_path: Path) -> None:
    errors, output = mypy_errors(tmp_path, SNIPPET)
    assert [line.split(":")[1] for line in errors] == ["7", "8", "9"], output
    assert all('"float"' in line and "[arg-type]" in line for line in errors), output
    assert "Argument 2 " in errors[0]
    assert '"limit_price"' in errors[1]
    assert '"stop_price"' in errors[2]
