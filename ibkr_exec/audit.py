"""The audit journal: one JSON Lines entry per transition, command, fill and anomaly.

Schema of an entry: ``ts`` (UTC ISO-8601), ``seq`` (monotonic per journal), ``kind``
("submitted", "transition", "fill", "commission", "command", "anomaly", "warning",
"connection", "cancelled", ...), ``actor``, ``order_id``, ``client_order_id``, ``src``, ``dst``,
``trigger`` and ``payload`` (a JSON object: Decimal as a string so precision survives, datetimes
ISO-8601). Payloads of messages carry their type name under ``"type"`` so replay can rebuild them.

Entries go through loguru, as the design asks, but politely: each :class:`AuditLogger` adds its own
sink at TRACE level with a filter on a per-instance marker, never touches the application's sinks,
and emits at TRACE, below the default stderr sink's DEBUG, so the application's console stays quiet.
Loguru's per-record cost is larger than a transition's, so entries are serialised once with
``json.dumps`` and handed to loguru in batches: when the buffer fills, when an order reaches a
terminal state, on :meth:`AuditLogger.flush` and on :meth:`AuditLogger.close`.

>>> journal = AuditLogger()  # in memory
>>> journal.record("anomaly", actor="demo", payload={"note": "example"})
1
>>> [e["kind"] for e in journal.entries()]
['anomaly']
>>> journal.close()
"""

from __future__ import annotations

import enum
import itertools
import json
import os
import warnings
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

import attrs
from loguru import logger

from ibkr_exec.broker import port
from ibkr_exec.models import Fill, Order, OrderStatus, OrderType, Side, TimeInForce

__all__ = [
    "AuditLogger",
    "JournalWarning",
    "decode",
    "encode",
    "read_journal",
    "register_payload_type",
    "replay_orders",
]

_LEVEL = "TRACE"
_MARK = "ibkr_exec_journal"  # the ``extra`` key that tells our records from the application's
_instances = itertools.count(1)


class JournalWarning(UserWarning):
    """A journal line could not be read (torn by a crash, or corrupt) and was skipped."""


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


_dumps = _make_dumps()


# -- the journal ----------------------------------------------------------------------------------


class AuditLogger:
    """Writes journal entries to ``path`` (appending), or to memory when ``path`` is None.

    ``buffer_entries`` entries are batched before they are handed to loguru; 1 writes each at once.
    Several instances in one process each write only their own entries. Use :meth:`close` (or
    ``with``) to flush and remove the sink.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, buffer_entries: int = 256):
        """Open the journal; the sequence number continues from an existing file's last entry."""
        self._id = next(_instances)
        self._path = None if path is None else Path(path)
        self._seq = 0
        if self._path is not None and self._path.exists():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", JournalWarning)
                self._seq = max((e.get("seq", 0) for e in read_journal(self._path)), default=0)
        self._file: TextIO | None = (
            None if self._path is None else self._path.open("a", encoding="utf-8")
        )
        self._memory: list[str] = []
        self._buffer: list[str] = []
        self._limit = max(1, buffer_entries)
        self._delivered = False
        self._bound = logger.bind(**{_MARK: self._id})
        self._sink_id: int | None = logger.add(
            self._sink, level=_LEVEL, format="{message}", filter=self._ours, colorize=False
        )

    @property
    def path(self) -> Path | None:
        """The journal file, or None for an in-memory journal."""
        return self._path

    def _ours(self, record: Any) -> bool:
        return bool(record["extra"].get(_MARK) == self._id)

    def _sink(self, message: Any) -> None:
        self._delivered = True
        self._write(str(message))

    def _write(self, text: str) -> None:
        if self._file is None:
            self._memory.append(text)
        else:
            self._file.write(text)
            self._file.flush()

    # -- writing --------------------------------------------------------------------------------

    def record(
        self,
        kind: str,
        *,
        actor: str | None = None,
        order_id: str | None = None,
        client_order_id: str | None = None,
        src: str | None = None,
        dst: str | None = None,
        trigger: str | None = None,
        payload: dict[str, Any] | None = None,
        ts: datetime | None = None,
    ) -> int:
        """Append one entry and return its sequence number (the generic form of every log_*)."""
        self._seq = seq = self._seq + 1
        buffer = self._buffer
        buffer.append(
            _dumps(
                {
                    "ts": (ts or datetime.now(UTC)).isoformat(),
                    "seq": seq,
                    "kind": kind,
                    "actor": actor,
                    "order_id": order_id,
                    "client_order_id": client_order_id,
                    "src": src,
                    "dst": dst,
                    "trigger": trigger,
                    "payload": payload if payload is not None else {},
                }
            )
        )
        if len(buffer) >= self._limit:
            self.flush()
        return seq

    def flush(self) -> None:
        """Hand buffered entries to loguru now (the sink writes and flushes the file)."""
        if not self._buffer:
            return
        text = "\n".join(self._buffer)
        self._buffer.clear()
        self._delivered = False
        if self._sink_id is not None:
            self._bound.log(_LEVEL, text)
        if not self._delivered:
            # loguru dropped the record (an application's logger.disable("ibkr_exec"), say):
            # the audit trail must not depend on log configuration, so write it directly.
            self._write(text + "\n")

    def close(self) -> None:
        """Flush, remove this journal's sink (only its own) and close the file. Idempotent."""
        self.flush()
        if self._sink_id is not None:
            logger.remove(self._sink_id)
            self._sink_id = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> AuditLogger:
        """Use as a context manager: closed on exit."""
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Close the journal."""
        self.close()

    def log_transition(
        self, trigger: str, src: str, dst: str, *, payload: dict[str, Any] | None = None, **ids: Any
    ) -> int:
        """A transition of any machine; ``ids`` are actor, order_id, client_order_id."""
        return self.record("transition", trigger=trigger, src=src, dst=dst, payload=payload, **ids)

    def log_anomaly(self, note: str, *, payload: dict[str, Any] | None = None, **ids: Any) -> int:
        """Something that should not happen and was absorbed (the state stayed)."""
        return self.record("anomaly", payload={**(payload or {}), "note": note}, **ids)

    def log_order_submitted(self, order: Order, *, actor: str | None = None) -> int:
        """An order was created; its payload is the full Order that replay starts from."""
        return self.record(
            "submitted",
            actor=actor,
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            dst=order.status.value,
            payload={"order": encode(order)},
        )

    def log_order_status_change(
        self, order: Order, src: str, trigger: str | None = None, *, actor: str | None = None
    ) -> int:
        """``order`` (the new snapshot) moved from ``src`` to its status."""
        return self.record(
            "transition",
            actor=actor,
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            src=str(src),
            dst=order.status.value,
            trigger=trigger,
        )

    def log_fill(self, fill: Fill, *, actor: str | None = None) -> int:
        """A fill, as a record for readers (replay uses the fill trigger's entries)."""
        return self.record(
            "fill_recorded",
            actor=actor,
            order_id=fill.order_id,
            client_order_id=fill.client_order_id,
            payload={"fill": encode(fill)},
        )

    def log_order_cancelled(
        self, order: Order, reason: str = "", *, actor: str | None = None
    ) -> int:
        """The caller asked for ``order`` to be cancelled (the request, not the confirmation)."""
        return self.record(
            "cancelled",
            actor=actor,
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            src=order.status.value,
            payload={"reason": reason},
        )

    def log_connection_event(
        self,
        event: str,
        *,
        src: str | None = None,
        dst: str | None = None,
        payload: dict[str, Any] | None = None,
        actor: str = "connection",
    ) -> int:
        """A connection event (connect, 1100, reconnect, ...), with its state change if any."""
        return self.record(
            "connection", actor=actor, src=src, dst=dst, trigger=event, payload=payload
        )

    # -- reading back ---------------------------------------------------------------------------

    def entries(self) -> list[dict[str, Any]]:
        """Every entry written so far (flushes first)."""
        self.flush()
        if self._path is None:
            return list(_parse_lines("".join(self._memory).splitlines(), "<memory>"))
        return list(read_journal(self._path))

    def entries_for(self, client_order_id: str) -> list[dict[str, Any]]:
        """The entries of one order, in order: what a restarted order actor replays."""
        return [e for e in self.entries() if e.get("client_order_id") == client_order_id]


def read_journal(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Yield the entries of a journal file.

    A torn last line (a crash in the middle of a write) is skipped with a :class:`JournalWarning`;
    so is a corrupt line in the middle, naming its line number. Reading never raises on content.
    """
    with open(path, encoding="utf-8", errors="replace") as f:
        yield from _parse_lines(f, str(path))


def _parse_lines(lines: Iterable[str], where: str) -> Iterator[dict[str, Any]]:
    bad: tuple[int, str] | None = None
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text:
            continue
        if bad is not None:
            warnings.warn(
                f"{where}:{bad[0]}: corrupt journal line skipped: {bad[1][:80]!r}",
                JournalWarning,
                stacklevel=3,
            )
            bad = None
        try:
            entry = json.loads(text)
        except ValueError:
            bad = (number, text)
            continue
        if isinstance(entry, dict):
            yield entry
        else:
            bad = (number, text)
    if bad is not None:
        warnings.warn(
            f"{where}:{bad[0]}: torn last journal line ignored (interrupted write?): "
            f"{bad[1][:80]!r}",
            JournalWarning,
            stacklevel=3,
        )


def replay_orders(entries: Iterable[dict[str, Any]]) -> dict[str, Order]:
    """Rebuild every order found in ``entries``, keyed by client_order_id.

    >>> replay_orders([])
    {}
    """
    from ibkr_exec.actors.ledger import replay_orders as replay  # actors import audit, not back

    return replay(entries)
