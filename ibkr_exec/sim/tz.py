"""The simulated TWS's time zone: how TWS names it in the handshake and writes local times.

Real TWS writes times in its own zone (the one chosen on its login screen), mostly without naming
it: the handshake carries ``"20250415 19:38:30 British Summer Time"`` (Java's long display name of
the zone, standard or daylight), execDetails carries ``"20250415  19:38:31"`` (two spaces, no
zone) or ``"20231116-12:15:35"``, completedOrder carries ``"20230306 12:28:30 America/Los_Angeles"``
(the IANA name). Evidence: shared/reference/real-tws/captures.json (rust-ibapi 2023/2025,
pyfutures 2024).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "DEFAULT_TWS_ZONE",
    "ExecTimeStyle",
    "completed_time",
    "exec_time",
    "handshake_time",
    "load_zone",
    "zone_display_name",
]

DEFAULT_TWS_ZONE: Final = "America/New_York"

ExecTimeStyle = Literal["space", "dash"]

#: Java's long display names (standard, daylight) for the zones a TWS login offers most. Only the
#: two London names are seen in the captures; the others are Java's names for those zones.
_DISPLAY_NAMES: Final[dict[str, tuple[str, str]]] = {
    "America/New_York": ("Eastern Standard Time", "Eastern Daylight Time"),
    "America/Chicago": ("Central Standard Time", "Central Daylight Time"),
    "America/Denver": ("Mountain Standard Time", "Mountain Daylight Time"),
    "America/Los_Angeles": ("Pacific Standard Time", "Pacific Daylight Time"),
    "Europe/London": ("Greenwich Mean Time", "British Summer Time"),
    "Europe/Berlin": ("Central European Standard Time", "Central European Summer Time"),
    "Europe/Paris": ("Central European Standard Time", "Central European Summer Time"),
    "Europe/Zurich": ("Central European Standard Time", "Central European Summer Time"),
    "Asia/Tokyo": ("Japan Standard Time", "Japan Daylight Time"),
    "Asia/Hong_Kong": ("Hong Kong Standard Time", "Hong Kong Summer Time"),
    "Asia/Shanghai": ("China Standard Time", "China Daylight Time"),
    "Asia/Kolkata": ("India Standard Time", "India Standard Time"),
    "Australia/Sydney": (
        "Australian Eastern Standard Time",
        "Australian Eastern Daylight Time",
    ),
    "Pacific/Auckland": ("New Zealand Standard Time", "New Zealand Daylight Time"),
    "UTC": ("Coordinated Universal Time", "Coordinated Universal Time"),
}


def load_zone(name: str) -> ZoneInfo:
    """The zone named ``name`` (an IANA key); ValueError naming it when there is no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"timezone must be an IANA zone name such as 'America/New_York', got {name!r}"
        ) from None


def zone_display_name(zone: ZoneInfo, moment: datetime) -> str:
    """How TWS names ``zone`` at ``moment`` in the handshake (standard or daylight name).

    A zone without a known Java name is given by its IANA key (an assumption: no capture shows
    what TWS writes for it).
    """
    names = _DISPLAY_NAMES.get(zone.key)
    if names is None:
        return zone.key
    daylight = moment.astimezone(zone).dst() not in (None, timedelta(0))
    return names[1] if daylight else names[0]


def handshake_time(moment: datetime, zone: ZoneInfo) -> str:
    """The handshake's connection time: ``"20250415 19:38:30 British Summer Time"``."""
    local = moment.astimezone(zone)
    return f"{local:%Y%m%d %H:%M:%S} {zone_display_name(zone, moment)}"


def exec_time(moment: datetime, zone: ZoneInfo, style: ExecTimeStyle = "space") -> str:
    """An execution time, TWS-local and zone-less: ``"20250415  19:38:31"`` (style ``space``)
    or ``"20231116-12:15:35"`` (style ``dash``)."""
    local = moment.astimezone(zone)
    return local.strftime("%Y%m%d  %H:%M:%S" if style == "space" else "%Y%m%d-%H:%M:%S")


def completed_time(moment: datetime, zone: ZoneInfo) -> str:
    """completedOrder's completedTime: TWS-local with the IANA name,
    ``"20250708 02:34:46 America/New_York"``."""
    return f"{moment.astimezone(zone):%Y%m%d %H:%M:%S} {zone.key}"
