"""TWS API socket framing and field encoding, shared by every simulator message.

Every message after the ``API\\0`` prefix is a big-endian ``uint32`` length followed by
NUL-terminated ASCII fields. Fields are kept as ``str`` from the moment they are decoded until they
are framed again, so encoding a message is one ``join`` and one ``encode``.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from decimal import Decimal

__all__ = [
    "API_PREFIX",
    "MAX_FRAME_LENGTH",
    "MAX_SERVER_VERSION",
    "MIN_SERVER_VERSION",
    "FrameError",
    "FrameReader",
    "encode_frame",
    "fmt_bool",
    "fmt_decimal",
    "negotiate_version",
    "parse_version_range",
    "split_fields",
]

API_PREFIX = b"API\0"
#: ibapi's own limit (``MAX_MSG_LEN``); a longer prefix can only be garbage or an attack.
MAX_FRAME_LENGTH = 0xFFFFFF
#: ib_async 2.1.0 announces ``v157..178``; these are the layouts the encoders know.
MIN_SERVER_VERSION = 157
MAX_SERVER_VERSION = 178
#: IBKR's own decoder reads openOrder.duration from 158 while ib_async reads it from 159, so the
#: two disagree on the openOrder layout at exactly this version.
BROKEN_SERVER_VERSION = 158

_LENGTH = struct.Struct(">I")


class FrameError(ValueError):
    """The peer sent bytes that cannot be a TWS API frame."""


def encode_frame(fields: Sequence[str]) -> bytes:
    """One length-prefixed message from already formatted fields.

    >>> encode_frame(["49", "1", "1700000000"])
    b'\\x00\\x00\\x00\\x0f49\\x001\\x001700000000\\x00'
    """
    payload = ("\0".join(fields) + "\0").encode()
    return _LENGTH.pack(len(payload)) + payload


def fmt_decimal(value: Decimal) -> str:
    """A Decimal as TWS writes numbers: positional notation, never an exponent."""
    return format(value, "f")


def fmt_bool(value: bool) -> str:
    """A boolean as TWS writes it: ``1`` or ``0``."""
    return "1" if value else "0"


def parse_version_range(text: str) -> tuple[int, int]:
    """The client's ``vMIN..MAX`` (optionally followed by ``" +OPTS"``) as two ints.

    A bare ``vN`` is accepted as ``N..N``, as TWS does.

    >>> parse_version_range("v157..178 +PACEAPI")
    (157, 178)
    """
    head = text.split(" ", 1)[0]
    if not head.startswith("v"):
        raise FrameError(f"not a version announcement: {text!r}")
    low, sep, high = head[1:].partition("..")
    try:
        return (int(low), int(high)) if sep else (int(low), int(low))
    except ValueError:
        raise FrameError(f"not a version announcement: {text!r}") from None


def negotiate_version(server_version: int, client_min: int, client_max: int) -> int | None:
    """The version to announce, or None when the client's range and ours do not meet.

    TWS answers the highest version both sides speak; the simulator also refuses the versions
    whose layouts it does not write (below 157, and 158).
    """
    version = min(server_version, client_max)
    if version < client_min or version < MIN_SERVER_VERSION or version == BROKEN_SERVER_VERSION:
        return None
    return version


class FrameReader:
    """Splits a byte stream into the handshake and then field lists.

    The first frame of a connection is the bare version announcement (not NUL-terminated); every
    later frame is a list of fields.
    """

    __slots__ = ("_buffer", "_prefix_seen")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._prefix_seen = False

    @property
    def pending(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Append received bytes and return the payloads of every frame now complete.

        Raises FrameError when the stream cannot be TWS API traffic.
        """
        buffer = self._buffer
        buffer += data
        if not self._prefix_seen:
            if len(buffer) < len(API_PREFIX):
                if not API_PREFIX.startswith(bytes(buffer)):
                    raise FrameError(f"missing API prefix: {bytes(buffer[:16])!r}")
                return []
            if buffer[: len(API_PREFIX)] != API_PREFIX:
                raise FrameError(f"missing API prefix: {bytes(buffer[:16])!r}")
            del buffer[: len(API_PREFIX)]
            self._prefix_seen = True
        payloads: list[bytes] = []
        start = 0
        end = len(buffer)
        while end - start >= 4:
            (length,) = _LENGTH.unpack_from(buffer, start)
            if length > MAX_FRAME_LENGTH:
                raise FrameError(f"length prefix {length} exceeds {MAX_FRAME_LENGTH}")
            if end - start - 4 < length:
                break
            payloads.append(bytes(buffer[start + 4 : start + 4 + length]))
            start += 4 + length
        if start:
            del buffer[:start]
        return payloads


def split_fields(payload: bytes) -> list[str]:
    """The fields of a frame payload, dropping the empty string after the final NUL."""
    fields = payload.decode(errors="replace").split("\0")
    if fields and fields[-1] == "":
        fields.pop()
    return fields
