"""The ``ibkr-exec`` command line as a user runs it: usage errors, ``--version``, ``simulate``'s
start-up errors. Each runs in a fresh interpreter, as the console script does."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest


def ibkr_exec(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ibkr_exec.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_bare_command_prints_help_on_stderr_and_exits_2() -> None:
    done = ibkr_exec()
    assert done.returncode == 2
    assert done.stderr.startswith("usage: ibkr-exec")
    for command in ("demo", "simulate", "diagrams", "trace"):
        assert command in done.stderr
    assert done.stdout == ""


_VERSION_THEN_MODULES = """
import sys
from ibkr_exec.cli import main
try:
    main(["--version"])
finally:
    print(" ".join(sorted(m for m in sys.modules if m.split(".")[0] in {"ib_async", "numpy"})))
"""


def test_version_prints_the_version_without_importing_ib_async() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _VERSION_THEN_MODULES],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    version, imported = done.stdout.splitlines()
    assert done.returncode == 0, done.stderr
    assert version.startswith("ibkr-exec ")
    assert imported == ""  # neither ib_async nor numpy (ib_async's heaviest import)


def _one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    return done.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("port", ["70000", "-1", "http"])
def test_simulate_refuses_a_port_out_of_range_as_a_usage_error(port: str) -> None:
    done = ibkr_exec("simulate", "--port", port)
    assert _one_line_error(done).startswith("ibkr-exec simulate: error: argument --port: ")


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--port", "70000", "argument --port: a port is between 1 and 65535, got 70000"),
        ("--port", "0", "argument --port: a port is between 1 and 65535, got 0"),
        ("--client-id", "-3", "argument --client-id: a client id is an integer >= 0, got '-3'"),
    ],
)
def test_demo_refuses_a_bad_port_or_client_id_as_a_usage_error(
    option: str, value: str, message: str
) -> None:
    done = ibkr_exec("demo", option, value)
    assert _one_line_error(done) == f"ibkr-exec demo: error: {message}"


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port another program is listening on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_simulate_on_a_port_in_use_says_so_in_one_line_and_exits_2(busy_port: int) -> None:
    done = ibkr_exec("simulate", "--port", str(busy_port))
    assert _one_line_error(done) == (
        f"ibkr-exec simulate: error: cannot listen on 127.0.0.1:{busy_port}: address already in use"
    )


def test_simulate_with_a_missing_scenario_file_says_so_in_one_line() -> None:
    done = ibkr_exec("simulate", "--port", "0", "--scenario", "/no/such/scenario.toml")
    assert _one_line_error(done).startswith(
        "ibkr-exec simulate: error: cannot read scenario /no/such/scenario.toml: "
    )
