"""Specification of Settings: environment, TOML file, validation, the live-port guard."""

from __future__ import annotations

from pathlib import Path

import pytest

from ibkr_exec import LiveTradingNotAllowedError, Settings
from ibkr_exec.config import check_live_allowed


def test_defaults_target_local_paper_tws() -> None:
    s = Settings.from_env({})
    assert (s.host, s.port, s.client_id, s.readonly, s.allow_live) == (
        "127.0.0.1",
        7497,
        1,
        False,
        False,
    )
    assert s.journal_path is None


def test_every_variable_is_read_from_the_environment(tmp_path: Path) -> None:
    s = Settings.from_env(
        {
            "IBKR_HOST": "gw.local",
            "IBKR_PORT": "4002",
            "IBKR_CLIENT_ID": "17",
            "IBKR_READONLY": "yes",
            "IBKR_TIMEOUT_SECONDS": "2.5",
            "IBKR_RECONNECT_MAX_ATTEMPTS": "3",
            "IBKR_RECONNECT_BACKOFF_SECONDS": "0.5",
            "IBKR_ALLOW_LIVE": "true",
            "IBKR_JOURNAL_PATH": str(tmp_path / "j.jsonl"),
            "UNRELATED": "ignored",
        }
    )
    assert s == Settings(
        host="gw.local",
        port=4002,
        client_id=17,
        readonly=True,
        timeout_seconds=2.5,
        reconnect_max_attempts=3,
        reconnect_backoff_seconds=0.5,
        allow_live=True,
        journal_path=tmp_path / "j.jsonl",
    )


def test_os_environ_is_the_default_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IBKR_CLIENT_ID", "42")
    assert Settings.from_env().client_id == 42


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("IBKR_PORT", "abc", "IBKR_PORT must be an integer, got 'abc'"),
        ("IBKR_PORT", "70000", "IBKR_PORT must be between 1 and 65535, got 70000"),
        ("IBKR_CLIENT_ID", "-1", "IBKR_CLIENT_ID must be >= 0, got -1"),
        ("IBKR_TIMEOUT_SECONDS", "-3", "IBKR_TIMEOUT_SECONDS must be a positive number of seconds"),
        ("IBKR_TIMEOUT_SECONDS", "soon", "IBKR_TIMEOUT_SECONDS must be a number of seconds"),
        ("IBKR_READONLY", "maybe", "IBKR_READONLY must be a boolean"),
        ("IBKR_ALLOW_LIVE", "perhaps", "IBKR_ALLOW_LIVE must be a boolean"),
        ("IBKR_RECONNECT_MAX_ATTEMPTS", "x", "IBKR_RECONNECT_MAX_ATTEMPTS must be an integer"),
        (
            "IBKR_RECONNECT_BACKOFF_SECONDS",
            "0",
            "IBKR_RECONNECT_BACKOFF_SECONDS must be a positive",
        ),
        ("IBKR_HOST", "  ", "IBKR_HOST must not be empty"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings.from_env({name: value})


def test_direct_construction_is_validated_too() -> None:
    with pytest.raises(ValueError, match="IBKR_PORT must be between 1 and 65535, got 0"):
        Settings(port=0)


def test_toml_file_with_env_names_or_field_names(tmp_path: Path) -> None:
    path = tmp_path / "ibkr.toml"
    path.write_text('IBKR_PORT = 4002\nclient_id = 9\nIBKR_READONLY = true\nhost = "10.0.0.5"\n')
    s = Settings.from_file(path)
    assert (s.port, s.client_id, s.readonly, s.host) == (4002, 9, True, "10.0.0.5")


def test_toml_file_bad_value_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "ibkr.toml"
    path.write_text('IBKR_PORT = "abc"\n')
    with pytest.raises(ValueError, match="IBKR_PORT must be an integer, got 'abc'"):
        Settings.from_file(path)


def test_toml_file_unknown_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ibkr.toml"
    path.write_text("IBKR_PROT = 4002\n")
    with pytest.raises(ValueError, match="unknown setting 'IBKR_PROT'"):
        Settings.from_file(path)


def test_toml_file_missing_or_invalid(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="settings file not found"):
        Settings.from_file(tmp_path / "absent.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("IBKR_PORT = = 1\n")
    with pytest.raises(ValueError, match="is not valid TOML"):
        Settings.from_file(broken)


@pytest.mark.parametrize("port", [7496, 4001])
def test_live_ports_are_refused_without_allow_live(port: int) -> None:
    settings = Settings(port=port)
    assert settings.is_live_port
    with pytest.raises(LiveTradingNotAllowedError, match=f"port {port} is a live-trading port"):
        settings.check_live_allowed()
    Settings(port=port, allow_live=True).check_live_allowed()


@pytest.mark.parametrize("port", [7497, 4002, 5555])
def test_paper_and_other_ports_are_allowed(port: int) -> None:
    check_live_allowed(port, allow_live=False)
