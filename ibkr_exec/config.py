"""Settings from IBKR_* environment variables or a TOML file.

>>> Settings.from_env({"IBKR_PORT": "4002", "IBKR_CLIENT_ID": "7"}).port
4002

Every value is checked when read; a bad one raises ValueError naming the variable, so a typo in a
deployment fails at start-up rather than at the first order.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
from loguru import logger

from ibkr_exec.errors import LiveTradingNotAllowedError
from ibkr_exec.journal_file import FsyncPolicy

#: Ports on which TWS / IB Gateway trade a live (real money) account by default.
LIVE_PORTS = frozenset({7496, 4001})
#: Paper-trading ports of TWS / IB Gateway.
PAPER_PORTS = frozenset({7497, 4002})

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def _parse_bool(name: str, raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{name} must be a boolean (true/false, 1/0, yes/no), got {raw!r}")


def _parse_int(name: str, raw: object, *, minimum: int, maximum: int | None = None) -> int:
    if isinstance(raw, bool):
        raise ValueError(f"{name} must be an integer, got {raw!r}")
    try:
        value = int(str(raw).strip()) if not isinstance(raw, int) else raw
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return value


def _parse_seconds(name: str, raw: object) -> float:
    if isinstance(raw, bool):
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}")
    try:
        value = float(str(raw).strip()) if not isinstance(raw, int | float) else float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{name} must be a positive number of seconds, got {raw!r}")
    return value


def _parse_host(name: str, raw: object) -> str:
    text = str(raw).strip()
    if not text:
        raise ValueError(f"{name} must not be empty")
    return text


def _parse_journal_path(name: str, raw: object) -> Path | None:
    """The journal file, checked now so a bad path fails at start-up, not at connect: it must
    be a file (or not exist yet) in an existing folder, and readable and writable by us."""
    text = str(raw).strip()
    if not text:
        return None
    path = Path(text)
    if path.is_dir():
        raise ValueError(f"{name} must name a file, got the folder {text!r}")
    folder = path.parent
    if not folder.is_dir():
        raise ValueError(f"{name} must be in an existing folder; {str(folder)!r} does not exist")
    if path.exists():
        if not os.access(path, os.R_OK | os.W_OK):
            raise ValueError(f"{name}: no permission to read and append to {text!r}")
    elif not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{name}: no permission to create {text!r} in {str(folder)!r}")
    return path


def _parse_fsync(name: str, raw: object) -> str:
    """never / terminal / always (see :class:`~ibkr_exec.journal_file.FsyncPolicy`)."""
    try:
        return FsyncPolicy.parse(str(raw)).value
    except ValueError:
        choices = ", ".join(p.value for p in FsyncPolicy)
        raise ValueError(f"{name} must be one of {choices}, got {raw!r}") from None


def _parse_log_level(name: str, raw: object) -> str:
    """A loguru level name (TRACE, DEBUG, INFO, ... or one the application added), or OFF."""
    text = str(raw).strip().upper()
    if text == "OFF":
        return text
    try:
        logger.level(text)
    except ValueError:
        raise ValueError(
            f"{name} must be a loguru level name (TRACE, DEBUG, ...) or OFF, got {raw!r}"
        ) from None
    return text


def _parse_retention(name: str, raw: object) -> float | None:
    """Seconds (>= 0) a finished order's actor is kept before it is retired, or never."""
    if raw is None or (isinstance(raw, str) and raw.strip().lower() == "never"):
        return None
    if isinstance(raw, bool):
        raise ValueError(f"{name} must be a number of seconds or 'never', got {raw!r}")
    try:
        value = float(str(raw).strip()) if not isinstance(raw, int | float) else float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds or 'never', got {raw!r}") from None
    if not 0 <= value < float("inf"):
        raise ValueError(f"{name} must be >= 0 seconds (or 'never'), got {raw!r}")
    return value


#: field name -> (environment variable, parser)
_FIELDS: dict[str, tuple[str, Callable[[str, object], Any]]] = {
    "host": ("IBKR_HOST", _parse_host),
    "port": ("IBKR_PORT", lambda n, r: _parse_int(n, r, minimum=1, maximum=65535)),
    "client_id": ("IBKR_CLIENT_ID", lambda n, r: _parse_int(n, r, minimum=0)),
    "readonly": ("IBKR_READONLY", _parse_bool),
    "timeout_seconds": ("IBKR_TIMEOUT_SECONDS", _parse_seconds),
    "reconnect_max_attempts": (
        "IBKR_RECONNECT_MAX_ATTEMPTS",
        lambda n, r: _parse_int(n, r, minimum=0),
    ),
    "reconnect_backoff_seconds": ("IBKR_RECONNECT_BACKOFF_SECONDS", _parse_seconds),
    "allow_live": ("IBKR_ALLOW_LIVE", _parse_bool),
    "journal_path": ("IBKR_JOURNAL_PATH", _parse_journal_path),
    "journal_fsync": ("IBKR_JOURNAL_FSYNC", _parse_fsync),
    "journal_log_level": ("IBKR_JOURNAL_LOG_LEVEL", _parse_log_level),
    "order_retention_seconds": ("IBKR_ORDER_RETENTION_SECONDS", _parse_retention),
}
_BY_ENV = {env: field for field, (env, _) in _FIELDS.items()}


def _checked(field: str) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    env, parse = _FIELDS[field]

    def validate(_: Any, __: attrs.Attribute[Any], value: Any) -> None:
        if value is not None:
            parse(env, value)

    return validate


@attrs.frozen
class Settings:
    """Connection and behaviour settings. Defaults target a local paper-trading TWS."""

    host: str = attrs.field(default="127.0.0.1", validator=_checked("host"))
    port: int = attrs.field(default=7497, validator=_checked("port"))
    client_id: int = attrs.field(default=1, validator=_checked("client_id"))
    readonly: bool = False
    timeout_seconds: float = attrs.field(default=10.0, validator=_checked("timeout_seconds"))
    reconnect_max_attempts: int = attrs.field(
        default=10, validator=_checked("reconnect_max_attempts")
    )
    reconnect_backoff_seconds: float = attrs.field(
        default=1.0, validator=_checked("reconnect_backoff_seconds")
    )
    allow_live: bool = False
    journal_path: Path | None = attrs.field(default=None, validator=_checked("journal_path"))
    journal_fsync: str = attrs.field(default="terminal", validator=_checked("journal_fsync"))
    journal_log_level: str = attrs.field(default="TRACE", validator=_checked("journal_log_level"))
    order_retention_seconds: float | None = attrs.field(
        default=600.0, validator=_checked("order_retention_seconds")
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read IBKR_* variables from ``environ`` (default: ``os.environ``); unset ones default.

        A variable set to the empty string (``IBKR_PORT=``, as compose files and CI templates
        write it) counts as unset.
        """
        env = os.environ if environ is None else environ
        values = {
            field: parse(name, env[name])
            for field, (name, parse) in _FIELDS.items()
            if env.get(name, "") != ""
        }
        return cls(**values)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Settings:
        """Read a TOML file whose keys are the IBKR_* names (or the field names, lower case).

        Unknown keys raise ValueError, so a misspelt key is not silently ignored.
        """
        file = Path(path)
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValueError(f"settings file not found: {file}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"settings file {file} is not valid TOML: {exc}") from None
        values: dict[str, Any] = {}
        for key, raw in data.items():
            field = _BY_ENV.get(key, key if key in _FIELDS else None)
            if field is None:
                known = ", ".join(sorted(_BY_ENV))
                raise ValueError(f"unknown setting {key!r} in {file}; known settings: {known}")
            env, parse = _FIELDS[field]
            values[field] = parse(env, raw)
        return cls(**values)

    @property
    def is_live_port(self) -> bool:
        """True when ``port`` is one of TWS's or Gateway's default live-trading ports."""
        return self.port in LIVE_PORTS

    def check_live_allowed(self) -> None:
        """Raise LiveTradingNotAllowedError for a live port unless ``allow_live`` is set."""
        check_live_allowed(self.port, allow_live=self.allow_live)


def check_live_allowed(port: int, *, allow_live: bool) -> None:
    """Refuse the live-trading ports 7496 and 4001 unless live trading was allowed explicitly."""
    if port in LIVE_PORTS and not allow_live:
        raise LiveTradingNotAllowedError(
            f"port {port} is a live-trading port; set IBKR_ALLOW_LIVE=true "
            "(or allow_live=True) to trade real money"
        )
