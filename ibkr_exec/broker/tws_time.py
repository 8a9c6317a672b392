"""TWS's time zone, read from the handshake so that zone-less times become the right UTC instant.

TWS writes execution times in its own zone without naming it (``"20250415  19:38:31"``); the
handshake is the one message that names the zone (``"173|20250415 19:38:30 British Summer Time"``,
shared/reference/real-tws captures 16, 24, 31), and ib_async drops it. ib_async's decoder reads
zone-less times in ``IB.TimezoneTWS`` (the machine's zone when unset), so this module reads the
handshake on its way into ib_async and sets ``IB.TimezoneTWS`` from it.

It does not import ib_async: it works on the ``IB`` object it is given.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from loguru import logger

from ibkr_exec.broker.port import BrokerAnomaly, BrokerReport
from ibkr_exec.broker.translate import tws_zone

__all__ = ["TwsZoneReader", "zone_from_clock"]


class TwsZoneReader:
    """Sits in front of ib_async's socket reader until the handshake reply has been read."""

    __slots__ = ("_buffer", "_ib", "_on_report")

    def __init__(self, ib: Any, on_report: Callable[[BrokerReport], None]) -> None:
        """Put the reader in front of ``ib``'s client; an unknown zone is reported as an
        anomaly to ``on_report``."""
        self._ib = ib
        self._on_report = on_report
        self._buffer = b""
        client = ib.client
        client.conn.hasData -= client._onSocketHasData
        client.conn.hasData += self._data

    def reset(self) -> None:
        """Forget a half-read handshake (a new connection starts)."""
        self._buffer = b""

    def _data(self, data: bytes) -> None:
        client = self._ib.client
        if not client._serverVersion:  # the handshake reply has not been read yet
            self._buffer += data
            buffer = self._buffer
            if len(buffer) >= 4:
                (length,) = struct.unpack(">I", buffer[:4])
                if len(buffer) >= 4 + length:
                    fields = buffer[4 : 4 + length].decode(errors="replace").split("\0")
                    self._buffer = b""
                    if len(fields) >= 2:
                        self._set(fields[1])
        elif self._buffer:
            self._buffer = b""
        client._onSocketHasData(data)

    def _set(self, connection_time: str) -> None:
        zone = tws_zone(connection_time)
        if zone is None:
            zone = zone_from_clock(connection_time)
            self._on_report(
                BrokerAnomaly(
                    f"TWS time zone not recognised; execution times read as {zone}",
                    raw=connection_time,
                )
            )
            logger.warning(
                "TWS names an unknown time zone ({!r}); reading its times as {}",
                connection_time,
                zone,
            )
        self._ib.TimezoneTWS = zone


def zone_from_clock(connection_time: str, now: datetime | None = None) -> str:
    """A fixed-offset zone for TWS's local clock, from how far its handshake time is from ours
    (whole hours; UTC when that is not possible). Only for a zone name nobody maps.

    >>> zone_from_clock("20250102 13:00:00 Mars Time", datetime(2025, 1, 2, 10, tzinfo=UTC))
    'Etc/GMT-3'
    """
    try:
        # TWS's wall-clock reading, labelled UTC only to subtract it from ours.
        wall = datetime.strptime(connection_time.strip()[:17], "%Y%m%d %H:%M:%S").replace(
            tzinfo=UTC
        )
    except ValueError:
        return "UTC"
    offset = (wall - (now or datetime.now(UTC))).total_seconds() / 3600
    hours = round(offset)
    if abs(offset - hours) > 0.1 or not -12 <= hours <= 14:
        return "UTC"
    # Etc/GMT zones carry the POSIX sign: Etc/GMT+5 is five hours behind UTC.
    return "UTC" if hours == 0 else f"Etc/GMT{-hours:+d}"
