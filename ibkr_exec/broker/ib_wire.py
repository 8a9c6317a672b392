"""Cheaper encoding of the adapter's outgoing messages, with exactly ib_async's bytes.

ib_async's ``Client.send`` builds a table of seven formatting lambdas on every call before it
formats a single field, and then writes each field and its separator to a ``StringIO``: for a
placeOrder (about a hundred fields) that is most of the client's cost of placing. The encoder here
is the same table built once and a ``str.join``; it produces exactly the bytes ``Client.send``
produces (the same conversions, field by field: a test compares both over many messages), and it
is installed per client instance: other ``ib_async.IB`` objects in the process are untouched.

The placement itself goes further (:class:`PlaceOrderTemplates`): the library places only plain
stock orders whose every field but ten is ib_async's default, so the placeOrder message for a
server version is ib_async's own message for those defaults with ten holes. The holes are found
once per server version by letting ib_async encode an order whose ten fields are unique markers;
each placement then formats its ten values with the same conversions and joins them into the
pieces. If the markers cannot be found exactly once each, the adapter keeps using ib_async.

This module does not import ib_async (only ``broker/ib.py`` does): the adapter hands it the
``Contract`` class, the two "unset" sentinels and the function that lets ib_async encode.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

__all__ = ["PLACE_ORDER_FIELDS", "PlaceOrderTemplates", "install_encoder"]

#: The fields of a placement that vary between the library's orders, in the order the adapter
#: passes their values.
PLACE_ORDER_FIELDS = (
    "order_id",
    "symbol",
    "action",
    "quantity",
    "order_type",
    "limit_price",
    "stop_price",
    "tif",
    "account",
    "order_ref",
)
Formats = dict[Any, Callable[[Any], str]]


def _formats(
    contract_type: type, unset_double: float, unset_integer: int, make_empty: bool
) -> Formats:
    # The conversions of ib_async's Client.send (ib_async 2.x), one for one.
    def contract(c: Any) -> str:
        return "\0".join(
            [
                str(f)
                for f in (
                    c.conId,
                    c.symbol,
                    c.secType,
                    c.lastTradeDateOrContractMonth,
                    c.strike,
                    c.right,
                    c.multiplier,
                    c.exchange,
                    c.primaryExchange,
                    c.currency,
                    c.localSymbol,
                    c.tradingClass,
                )
            ]
        )

    def double(f: float) -> str:
        if make_empty and f == unset_double:
            return ""
        return "Infinite" if f == math.inf else str(f)

    def integer(i: int) -> str:
        return "" if make_empty and i == unset_integer else str(i)

    def tags(items: list[Any]) -> str:
        return "".join([f"{v.tag}={v.value};" for v in items])

    return {
        contract_type: contract,
        float: double,
        int: integer,
        type(None): lambda _: "",
        str: lambda s: s,
        bool: lambda b: "1" if b else "0",
        list: tags,
    }


def install_encoder(
    client: Any, *, contract_type: type, unset_double: float, unset_integer: int
) -> Formats:
    """Replace ``client.send`` (this instance only) by the equivalent encoder above; returns
    its conversions (by type, for makeEmpty=True)."""
    by_make_empty = {
        flag: _formats(contract_type, unset_double, unset_integer, flag) for flag in (True, False)
    }

    def send(*fields: Any, makeEmpty: bool = True) -> None:
        if not client.isConnected():
            raise ConnectionError("Not connected")
        formats = by_make_empty[makeEmpty]
        get = formats.get
        parts = [
            get(contract_type if isinstance(field, contract_type) else type(field), str)(field)
            for field in fields
        ]
        parts.append("")  # every field, the last one included, ends with a NUL
        client.sendMsg("\0".join(parts))

    client.send = send
    return by_make_empty[True]


class PlaceOrderTemplates:
    """placeOrder messages from per-server-version templates (see the module's docstring).

    ``encode_with_ib_async(server_version, values)`` must return the message ib_async's
    ``Client.placeOrder`` sends for an order whose :data:`PLACE_ORDER_FIELDS` are ``values``
    (strings here: the markers) and whose other fields are ib_async's defaults.
    """

    def __init__(
        self, formats: Formats, encode_with_ib_async: Callable[[int, tuple[str, ...]], str]
    ) -> None:
        """No template yet: the first message for a server version builds its template."""
        self._formats = formats
        self._encode = encode_with_ib_async
        self._templates: dict[int, tuple[list[str], tuple[int, ...]] | None] = {}

    def message(self, server_version: int, values: tuple[Any, ...]) -> str | None:
        """The placeOrder message for ``values`` (in :data:`PLACE_ORDER_FIELDS` order), or None
        when no template could be made for this server version (then ask ib_async)."""
        if server_version not in self._templates:
            self._templates[server_version] = self._build(server_version)
        template = self._templates[server_version]
        if template is None:
            return None
        pieces, slots = template
        get = self._formats.get
        out = [pieces[0]]
        for slot, piece in zip(slots, pieces[1:], strict=True):
            value = values[slot]
            out.append(get(type(value), str)(value))
            out.append(piece)
        return "".join(out)

    def _build(self, server_version: int) -> tuple[list[str], tuple[int, ...]] | None:
        markers = tuple(f"\x02{i}\x03" for i in range(len(PLACE_ORDER_FIELDS)))
        try:
            message = self._encode(server_version, markers)
        except Exception:
            return None
        if any(message.count(marker) != 1 for marker in markers):
            return None
        slots = tuple(sorted(range(len(markers)), key=lambda i: message.index(markers[i])))
        pieces = []
        rest = message
        for slot in slots:
            head, rest = rest.split(markers[slot])
            pieces.append(head)
        pieces.append(rest)
        return pieces, slots
