"""The README's code examples run as written (against FakeTWS instead of a real TWS)."""

from __future__ import annotations

import asyncio
import re
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from ibkr_exec.sim import FakeTWS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _python_block(containing: str) -> str:
    blocks: list[str] = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)
    return next(b for b in blocks if containing in b)


async def test_the_fixture_example_passes(fake_tws: FakeTWS) -> None:
    namespace: dict[str, Any] = {}
    exec(_python_block("async def test_my_strategy"), namespace)
    await namespace["test_my_strategy_survives_a_disconnect"](fake_tws)
    assert [o.status for o in fake_tws.orders] == ["Filled"]


async def test_the_executor_example_runs_against_a_gateway(fake_tws: FakeTWS) -> None:
    fake_tws.set_price("AAPL", Decimal("150"))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _python_block("async def main() -> None:"),
        env={"IBKR_HOST": fake_tws.host, "IBKR_PORT": str(fake_tws.port), "PATH": ""},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    assert lines[0] == "my-strategy-42 100 @ 150"
    assert "status=<OrderStatus.FILLED: 'FILLED'>" in lines[-1]
