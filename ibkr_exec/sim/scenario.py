"""Scenario files: a FakeTWS set-up (server options, prices, faults) in TOML.

Example::

    [server]
    accounts = ["DU111111"]
    max_fill_size = 30

    [prices]
    AAPL = "150.25"

    [[fault]]
    kind = "order_error"
    code = 201
    message = "insufficient margin"

    [[fault]]
    kind = "reorder"
    message = "openOrder"
    after = "orderStatus"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from ibkr_exec.sim.server import FakeTWS

__all__ = ["FAULT_KINDS", "Scenario", "ScenarioError", "load_scenario"]

#: Fault kind -> (FakeTWS method, the keys it accepts).
FAULT_KINDS: Final[dict[str, tuple[str, frozenset[str]]]] = {
    "order_error": ("inject_order_error", frozenset({"code", "message", "count"})),
    "cancel_error": ("inject_cancel_error", frozenset({"code", "message", "count"})),
    "delay": ("delay_messages", frozenset({"message", "seconds", "count", "out_of_spec"})),
    "drop": ("drop_messages", frozenset({"message", "count"})),
    "duplicate": ("duplicate_messages", frozenset({"message", "count"})),
    "reorder": ("reorder_messages", frozenset({"message", "after", "count", "out_of_spec"})),
    "unanswered": ("leave_unanswered", frozenset({"request", "count"})),
    "swallow": ("swallow_placements", frozenset({"count"})),
    "drop_connections": ("drop_connections", frozenset({"after_messages"})),
}
_SERVER_KEYS: Final = frozenset(
    {
        "host",
        "port",
        "accounts",
        "server_version",
        "max_fill_size",
        "auto_match",
        "commission_per_share",
        "min_commission",
        "timezone",
        "exec_time_style",
        "repeat_filled_status",
        "pending_cancel",
        "acknowledge_twice",
        "min_ticks",
    }
)
_DECIMAL_KEYS: Final = frozenset({"max_fill_size", "commission_per_share", "min_commission"})


class ScenarioError(ValueError):
    """A scenario file that does not describe a valid set-up; the message names the culprit."""


@dataclass(frozen=True)
class Scenario:
    """A parsed scenario: FakeTWS keyword arguments, prices and faults to arm."""

    server: dict[str, Any] = field(default_factory=dict)
    prices: dict[str, Decimal] = field(default_factory=dict)
    faults: list[dict[str, Any]] = field(default_factory=list)

    def apply(self, tws: FakeTWS) -> None:
        """Set the prices, then arm the faults in file order."""
        for symbol, price in self.prices.items():
            tws.set_price(symbol, price)
        for fault in self.faults:
            method, _ = FAULT_KINDS[fault["kind"]]
            kwargs = {k: v for k, v in fault.items() if k != "kind"}
            getattr(tws, method)(**kwargs)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: {exc}") from exc
    unknown = set(data) - {"server", "prices", "fault"}
    if unknown:
        raise ScenarioError(f"{path}: unknown tables {sorted(unknown)}")
    server = dict(data.get("server", {}))
    bad = set(server) - _SERVER_KEYS
    if bad:
        raise ScenarioError(f"{path}: unknown [server] keys {sorted(bad)}")
    for key in _DECIMAL_KEYS & set(server):
        server[key] = Decimal(str(server[key]))
    if "min_ticks" in server:
        server["min_ticks"] = {str(k): Decimal(str(v)) for k, v in server["min_ticks"].items()}
    prices = {str(k): Decimal(str(v)) for k, v in data.get("prices", {}).items()}
    faults: list[dict[str, Any]] = []
    for index, fault in enumerate(data.get("fault", [])):
        kind = fault.get("kind")
        if kind not in FAULT_KINDS:
            raise ScenarioError(f"{path}: fault #{index + 1}: unknown kind {kind!r}")
        extra = set(fault) - {"kind"} - FAULT_KINDS[kind][1]
        if extra:
            raise ScenarioError(
                f"{path}: fault #{index + 1} ({kind}): unknown keys {sorted(extra)}"
            )
        faults.append(dict(fault))
    return Scenario(server, prices, faults)
