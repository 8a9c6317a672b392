"""Scenario files, the ``ibkr-exec simulate`` command and the ``fake_tws`` pytest fixture."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from ib_async import IB, LimitOrder, MarketOrder

from ibkr_exec.sim import FakeTWS, ScenarioError, load_scenario

from .helpers import AAPL, errors_of

SCENARIO = """
[server]
accounts = ["DU111111", "DU222222"]
max_fill_size = 30

[prices]
AAPL = "150.25"

[[fault]]
kind = "order_error"
code = 201
message = "scenario says no"

[[fault]]
kind = "reorder"
message = "openOrder"
after = "orderStatus"
"""


async def test_scenario_file_configures_the_server_prices_and_faults(tmp_path: Path) -> None:
    path = tmp_path / "scenario.toml"
    path.write_text(SCENARIO)
    async with FakeTWS.from_scenario(path) as tws:
        assert tws.accounts == ["DU111111", "DU222222"]
        assert tws.exchange.prices["AAPL"] == 150.25
        ib = IB()
        received = errors_of(ib)
        await ib.connectAsync("127.0.0.1", tws.port, clientId=1, timeout=2)
        rejected = ib.placeOrder(AAPL, LimitOrder("BUY", 1, 1, account="DU111111"))
        await asyncio.wait_for(rejected.cancelledEvent, 2)
        assert received[-1][1:] == (201, "Order rejected - reason:scenario says no")
        filled = ib.placeOrder(AAPL, MarketOrder("BUY", 100, account="DU222222"))
        await asyncio.wait_for(filled.filledEvent, 2)
        assert [f.execution.shares for f in filled.fills] == [30, 30, 30, 10]
        ib.disconnect()


def test_scenario_with_an_unknown_fault_kind_is_refused_with_its_position(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[fault]]\nkind = "explode"\n')
    with pytest.raises(ScenarioError, match=r"fault #1: unknown kind 'explode'"):
        load_scenario(path)


def test_scenario_with_an_unknown_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[fault]]\nkind = "drop"\nmessage = "openOrder"\nwhen = 3\n')
    with pytest.raises(ScenarioError, match="unknown keys"):
        load_scenario(path)


async def test_simulate_command_serves_ib_async_until_sigint_then_exits_0(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ibkr_exec.cli",
        "simulate",
        "--port",
        "0",
        "--price",
        "AAPL=101.5",
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    try:
        banner = (await asyncio.wait_for(process.stdout.readline(), 10)).decode()
        assert banner.startswith("FakeTWS listening on 127.0.0.1:")
        port = int(banner.split(":")[1].split()[0])
        ib = IB()
        await ib.connectAsync("127.0.0.1", port, clientId=3, timeout=2)
        trade = ib.placeOrder(AAPL, MarketOrder("BUY", 2))
        await asyncio.wait_for(trade.filledEvent, 2)
        assert trade.orderStatus.avgFillPrice == 101.5
        ib.disconnect()
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def test_simulate_command_is_registered_in_the_cli() -> None:
    from ibkr_exec.cli import build_parser

    args = build_parser().parse_args(["simulate", "--port", "7000", "--price", "MSFT=1"])
    assert args.port == 7000
    assert args.price[0][0] == "MSFT"


def test_fake_tws_fixture_is_available_to_other_projects_through_the_plugin(
    tmp_path: Path,
) -> None:
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    (tmp_path / "test_user.py").write_text(
        """
import asyncio
from ib_async import IB, MarketOrder, Stock

async def test_trades(fake_tws):
    fake_tws.set_price("AAPL", 10)
    ib = IB()
    await ib.connectAsync("127.0.0.1", fake_tws.port, clientId=1, timeout=2)
    trade = ib.placeOrder(Stock("AAPL", "SMART", "USD"), MarketOrder("BUY", 1))
    await asyncio.wait_for(trade.filledEvent, 2)
    ib.disconnect()
"""
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


async def test_scenario_sets_the_real_tws_options(tmp_path: Path) -> None:
    path = tmp_path / "real.toml"
    path.write_text(
        '[server]\ntimezone = "Asia/Tokyo"\nexec_time_style = "dash"\n'
        "pending_cancel = true\nacknowledge_twice = true\nrepeat_filled_status = false\n"
        '[server.min_ticks]\nES = "0.25"\n',
        encoding="utf-8",
    )
    tws = FakeTWS.from_scenario(path)
    assert (tws.timezone, tws.exec_time_style) == ("Asia/Tokyo", "dash")
    assert (tws.pending_cancel, tws.acknowledge_twice, tws.repeat_filled_status) == (
        True,
        True,
        False,
    )
    assert tws.min_tick("ES") == Decimal("0.25")
    assert tws.min_tick("AAPL") == Decimal("0.01")
