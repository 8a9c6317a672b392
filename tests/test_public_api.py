"""The public surface: what users import from ``ibkr_exec``."""

from __future__ import annotations

import subprocess
import sys

import pytest

import ibkr_exec
from ibkr_exec import (
    AckTimeoutError,
    DuplicateOrderError,
    IBKRExecError,
    LiveTradingNotAllowedError,
    NotConnectedError,
    OrderRejectedError,
    ReadOnlyError,
    RiskCheckError,
)


def test_every_name_in_all_is_importable() -> None:
    for name in ibkr_exec.__all__:
        assert getattr(ibkr_exec, name) is not None, name


@pytest.mark.parametrize(
    "error",
    [
        RiskCheckError,
        OrderRejectedError,
        NotConnectedError,
        AckTimeoutError,
        ReadOnlyError,
        DuplicateOrderError,
        LiveTradingNotAllowedError,
    ],
)
def test_every_error_derives_from_the_base(error: type[Exception]) -> None:
    assert issubclass(error, IBKRExecError)


def test_errors_also_derive_from_the_matching_builtin() -> None:
    assert issubclass(NotConnectedError, ConnectionError)
    assert issubclass(AckTimeoutError, TimeoutError)


def test_order_rejected_error_carries_code_and_reason() -> None:
    err = OrderRejectedError(201, "Order rejected - reason: no margin", client_order_id="c-1")
    assert (err.code, err.reason, err.client_order_id) == (
        201,
        "Order rejected - reason: no margin",
        "c-1",
    )
    assert "201" in str(err)
    assert "no margin" in str(err)


def test_importing_the_package_prints_nothing() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "import ibkr_exec"], capture_output=True, text=True, check=True
    )
    assert out.stdout == ""
    assert out.stderr == ""


def test_console_script_prints_version_and_commands() -> None:
    # Bare ``ibkr-exec`` is a usage error (exit 2, tests/test_cli.py); these two ask politely.
    out = subprocess.run(
        [sys.executable, "-m", "ibkr_exec.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"ibkr-exec {ibkr_exec.__version__}" in out.stdout
    out = subprocess.run(
        [sys.executable, "-m", "ibkr_exec.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "usage: ibkr-exec" in out.stdout
