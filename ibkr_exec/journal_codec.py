"""The journal's payload codec: attrs instances in, JSON-ready dicts out, and back.

A payload written by :func:`encode` carries its type name under ``"type"`` so replay can rebuild
the instance with :func:`decode`. Decimal values are written as strings (precision survives),
datetimes as ISO-8601, enums as their value.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs

from ibkr_exec.broker import port
from ibkr_exec.models import Fill, Order, OrderStatus, OrderType, Side, TimeInForce

__all__ = ["decodable", "decode", "dumps", "encode", "register_payload_type"]

# -- payload codec --------------------------------------------------------------------------------

_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "Decimal": Decimal,
    "datetime": datetime.fromisoformat,
    "Side": Side,
    "OrderType": OrderType,
    "OrderStatus": OrderStatus,
    "TimeInForce": TimeInForce,
}
_FIELDS: dict[type, tuple[str, ...]] = {}
_DECODERS: dict[str, tuple[type, tuple[tuple[str, Callable[[Any], Any] | None], ...]]] = {}


def register_payload_type(cls: type) -> type:
    """Make attrs class ``cls`` encodable into and decodable from journal payloads."""
    fields = attrs.fields(cls)
    _FIELDS[cls] = tuple(f.name for f in fields)
    # Annotations are strings (``from __future__ import annotations``); "X | None" converts as X.
    converters = tuple(
        (f.name, _CONVERTERS.get(str(f.type).replace(" | None", "").strip())) for f in fields
    )
    _DECODERS[cls.__name__] = (cls, converters)
    return cls


for _cls in (
    Order,
    Fill,
    *(c for c in vars(port).values() if isinstance(c, type) and attrs.has(c)),
):
    register_payload_type(_cls)


def encode(obj: Any) -> dict[str, Any]:
    """The payload for a registered attrs instance: ``{"type": name, **fields}``.

    Values are left as they are (Decimal, datetime): the journal's JSON encoder turns them into
    strings, once, when the entry is written.
    """
    payload: dict[str, Any] = {"type": type(obj).__name__}
    for name in _FIELDS[type(obj)]:
        payload[name] = getattr(obj, name)
    return payload


def decodable(payload: dict[str, Any]) -> bool:
    """True when ``payload`` was written by :func:`encode` for a registered type."""
    return payload.get("type") in _DECODERS


def decode(payload: dict[str, Any]) -> Any:
    """Rebuild the instance :func:`encode` wrote, from its JSON-decoded payload."""
    cls, fields = _DECODERS[payload["type"]]
    kwargs: dict[str, Any] = {}
    for name, convert in fields:
        if name in payload:
            value = payload[name]
            kwargs[name] = value if value is None or convert is None else convert(value)
    return cls(**kwargs)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, enum.Enum):
        return obj.value
    if type(obj) in _FIELDS:
        return encode(obj)
    # The journal must never break the actor that writes it: keep a readable trace instead.
    return repr(obj)


def _make_dumps() -> Callable[[Any], str]:
    encoder = json.JSONEncoder(separators=(",", ":"), default=_json_default)
    c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
    if c_make_encoder is None:
        return encoder.encode
    # JSONEncoder.encode builds this C encoder anew for every call; the journal writes one entry
    # per transition, so build it once (same arguments as json.encoder.JSONEncoder.iterencode).
    iterencode = c_make_encoder(
        None,
        _json_default,
        json.encoder.encode_basestring_ascii,
        None,
        ":",
        ",",
        False,
        False,
        True,
    )

    def dumps(obj: Any) -> str:
        return "".join(iterencode(obj, 0))

    return dumps


dumps = _make_dumps()
"""One compact JSON line for a journal entry (no newline)."""
