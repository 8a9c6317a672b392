"""Specification of Settings: environment, TOML file, validation, the live-port guard."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ibkr_exec import IBKRConnectionManager, LiveTradingNotAllowedError, Settings
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


# -- IBKR_JOURNAL_PATH is checked when read, not at connect ---------------------------------------


def test_empty_variables_count_as_unset() -> None:
    s = Settings.from_env({"IBKR_PORT": "", "IBKR_CLIENT_ID": "", "IBKR_JOURNAL_PATH": ""})
    assert (s.port, s.client_id, s.journal_path) == (7497, 1, None)


def test_journal_path_in_a_missing_folder_names_the_variable(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder" / "journal.jsonl"
    with pytest.raises(ValueError, match="IBKR_JOURNAL_PATH must be in an existing folder"):
        Settings.from_env({"IBKR_JOURNAL_PATH": str(missing)})


def test_journal_path_that_is_a_folder_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="IBKR_JOURNAL_PATH must name a file, got the folder"):
        Settings.from_env({"IBKR_JOURNAL_PATH": str(tmp_path)})


def test_journal_path_is_checked_on_direct_construction_and_by_the_manager(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="IBKR_JOURNAL_PATH must name a file"):
        Settings(journal_path=tmp_path)
    with pytest.raises(ValueError, match="IBKR_JOURNAL_PATH must be in an existing folder"):
        IBKRConnectionManager(journal_path=tmp_path / "absent" / "j.jsonl")
    with pytest.raises(ValueError, match="IBKR_JOURNAL_PATH must name a file"):
        IBKRConnectionManager.from_settings(Settings(), journal_path=tmp_path)


def test_journal_path_in_a_toml_file_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "ibkr.toml"
    path.write_text(f'IBKR_JOURNAL_PATH = "{tmp_path}"\n')
    with pytest.raises(ValueError, match="IBKR_JOURNAL_PATH must name a file"):
        Settings.from_file(path)


def test_a_good_journal_path_new_or_existing_is_accepted(tmp_path: Path) -> None:
    new = tmp_path / "new.jsonl"
    assert Settings.from_env({"IBKR_JOURNAL_PATH": str(new)}).journal_path == new
    new.write_text("")
    assert Settings.from_env({"IBKR_JOURNAL_PATH": str(new)}).journal_path == new


_AS_NOBODY = """
import json, os, sys
from ibkr_exec import Settings
os.setgid(65534)
os.setuid(65534)
try:
    Settings.from_env({"IBKR_JOURNAL_PATH": sys.argv[1]})
except ValueError as error:
    print(error)
else:
    print("accepted")
"""


@pytest.fixture
def read_only_folder() -> Iterator[Path]:
    """A folder others may enter but not write to (its parents are open to everyone)."""
    folder = Path(tempfile.mkdtemp())
    folder.chmod(0o755)
    locked = folder / "locked"
    locked.mkdir(mode=0o555)
    (locked / "existing.jsonl").write_text("")
    (locked / "existing.jsonl").chmod(0o444)
    yield locked
    locked.chmod(0o755)
    shutil.rmtree(folder)


def _settings_result(path: Path) -> str:
    """What Settings says about ``path``: checked by an unprivileged user, because root ignores
    file permissions (the tests run as root here). The child imports as root, then drops to
    the ``nobody`` uid before reading the variable, so ``os.access`` answers for nobody."""
    if os.geteuid() != 0:
        try:
            Settings.from_env({"IBKR_JOURNAL_PATH": str(path)})
        except ValueError as error:
            return str(error)
        return "accepted"
    done = subprocess.run(
        [sys.executable, "-c", _AS_NOBODY, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def test_journal_path_without_permission_to_create_it_names_the_variable(
    read_only_folder: Path,
) -> None:
    assert _settings_result(read_only_folder / "new.jsonl") == (
        f"IBKR_JOURNAL_PATH: no permission to create {str(read_only_folder / 'new.jsonl')!r}"
        f" in {str(read_only_folder)!r}"
    )


def test_journal_path_without_permission_to_append_names_the_variable(
    read_only_folder: Path,
) -> None:
    existing = read_only_folder / "existing.jsonl"
    assert _settings_result(existing) == (
        f"IBKR_JOURNAL_PATH: no permission to read and append to {str(existing)!r}"
    )
