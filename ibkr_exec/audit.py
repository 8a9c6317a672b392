"""The audit journal: one JSON Lines entry per transition, command, fill and anomaly.

Schema of an entry: ``ts`` (UTC ISO-8601), ``seq`` (monotonic per journal), ``kind``
("submitted", "transition", "fill", "commission", "command", "anomaly", "warning",
"connection", "cancelled", ...), ``actor``, ``order_id``, ``client_order_id``, ``src``, ``dst``,
``trigger`` and ``payload`` (a JSON object: Decimal as a string so precision survives, datetimes
ISO-8601). Payloads of messages carry their type name under ``"type"`` so replay can rebuild them.

The journal is the library's own append-only writer (:mod:`ibkr_exec.journal_file`), not a loguru
sink. Entries are buffered and written once per event-loop turn; :meth:`AuditLogger.write_ahead`
(before a placement is sent) and :meth:`AuditLogger.flush` with ``terminal=True`` (before a
terminal state is announced) write at once. What is written is in the same order as recorded.

Every entry is also a structured loguru record (the entry under ``extra["journal"]``) at the level
the application chooses (``log_level``, default TRACE: below loguru's default stderr sink, so the
console stays quiet and the call returns at loguru's level check). The library never adds, removes
or reconfigures the application's sinks. See docs/journal.md for the guarantees.

>>> journal = AuditLogger()  # in memory
>>> journal.record("anomaly", actor="demo", payload={"note": "example"})
1
>>> [e["kind"] for e in journal.entries()]
['anomaly']
>>> journal.close()
"""

from __future__ import annotations

import asyncio
import os
import warnings
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import attrs
from loguru import logger

from ibkr_exec.errors import JournalError
from ibkr_exec.journal_codec import decodable, decode, dumps, encode, register_payload_type
from ibkr_exec.journal_file import (
    FsyncPolicy,
    JournalFile,
    JournalWarning,
    parse_lines,
    read_journal,
)
from ibkr_exec.models import Fill, Order, OrderRequest

__all__ = [
    "AuditLogger",
    "FsyncPolicy",
    "JournalWarning",
    "decodable",
    "decode",
    "dumps",
    "encode",
    "read_journal",
    "register_payload_type",
    "replay_orders",
]

#: The loguru level of the journal's records unless the application chooses another.
DEFAULT_LOG_LEVEL = "TRACE"
#: Entries an in-memory journal keeps besides those of orders not yet retired.
DEFAULT_MEMORY_ENTRIES = 10_000

FailureListener = Callable[[JournalError], object]

# loguru keeps the lowest level any sink listens at in its core. Reading it skips the ~0.5 us a
# refused logger.log call costs (bench/journal_fsync.py); without it (another loguru version),
# getattr's default 0 lets every record through to loguru's own check.
_LOGURU_CORE = getattr(logger, "_core", None)


class AuditLogger:
    """Writes journal entries to ``path`` (appending), or to memory when ``path`` is None.

    ``fsync`` is the :class:`FsyncPolicy` (or its name). ``log_level`` is the loguru level of each
    entry's record (None: no loguru record). ``buffer_entries`` caps the entries buffered within
    one loop turn. An in-memory journal keeps the entries of every order until :meth:`release`
    (called when a finished order is retired) plus the last ``memory_entries`` entries.

    A failed write (no space, file-size limit, permissions) is reported once to the listeners of
    :meth:`add_failure_listener` and to loguru at ERROR; from then on :meth:`write_ahead` raises
    :class:`~ibkr_exec.errors.JournalError` (fail closed) and nothing more is written.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        fsync: FsyncPolicy | str = FsyncPolicy.TERMINAL,
        log_level: str | None = DEFAULT_LOG_LEVEL,
        buffer_entries: int = 4096,
        memory_entries: int = DEFAULT_MEMORY_ENTRIES,
    ):
        """Open the journal; the sequence number continues from an existing file's last entry.

        Raises JournalError when ``path`` cannot be read as a journal or opened for appending.
        """
        self._path = None if path is None else Path(path)
        self._policy = FsyncPolicy.parse(fsync)
        self._level = None if log_level is None or log_level.upper() == "OFF" else log_level
        # An unknown level fails here, not at the first entry.
        self._levelno = 0 if self._level is None else logger.level(self._level).no
        self._seq = 0
        self._file: JournalFile | None = None
        self._closed = False
        if self._path is not None:
            self._seq = _last_seq(self._path)
            try:
                self._file = JournalFile(self._path, self._policy)
            except OSError as error:
                raise JournalError(f"cannot open journal {self._path}: {error}") from error
        self._buffer: list[str] = []
        self._limit = max(1, buffer_entries)
        self._scheduled = False
        self._recent: deque[str] = deque(maxlen=max(0, memory_entries))
        self._by_order: dict[str, list[str]] = {}
        self._failure: JournalError | None = None
        self._listeners: list[FailureListener] = []

    @property
    def path(self) -> Path | None:
        """The journal file, or None for an in-memory journal."""
        return self._path

    @property
    def fsync_policy(self) -> FsyncPolicy:
        """When this journal calls fsync."""
        return self._policy

    @property
    def failure(self) -> JournalError | None:
        """The error that made the journal unwritable, or None while it is healthy."""
        return self._failure

    def add_failure_listener(self, listener: FailureListener) -> Callable[[], None]:
        """Call ``listener(error)`` once if a write fails; returns the function that removes it."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

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
        entry = {
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
        line = dumps(entry)
        if self._level is not None and self._levelno >= getattr(_LOGURU_CORE, "min_level", 0):
            logger.log(self._level, "journal {journal[kind]} #{journal[seq]}", journal=entry)
        if self._path is None:
            self._recent.append(line)
            if client_order_id is not None:
                own = self._by_order.get(client_order_id)
                if own is None:
                    self._by_order[client_order_id] = [line]
                else:
                    own.append(line)
            return seq
        if self._failure is not None:
            return seq  # failed closed: nothing more reaches the file
        buffer = self._buffer
        buffer.append(line)
        if len(buffer) >= self._limit:
            self.flush()
        elif not self._scheduled:
            self._schedule()
        return seq

    def _schedule(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a script, a doctest): write at once
            self.flush()
            return
        self._scheduled = True
        loop.call_soon(self._flush_turn)

    def _flush_turn(self) -> None:
        self._scheduled = False
        self.flush()

    def flush(self, *, terminal: bool = False) -> None:
        """Write the buffered entries now (``terminal``: an order just ended; fsync per policy).

        Never raises: a failed write is reported to the failure listeners and loguru.
        """
        buffer = self._buffer
        file = self._file
        if file is None or self._failure is not None:
            buffer.clear()
            return
        try:
            if buffer:
                data = ("\n".join(buffer) + "\n").encode()
                buffer.clear()
                file.append(data, terminal=terminal)
            elif terminal and self._policy is FsyncPolicy.TERMINAL:
                file.sync()
        except OSError as error:
            self._fail(error)

    def write_ahead(self) -> None:
        """Flush before a placement is sent; JournalError when the journal cannot be written."""
        self.flush()
        failure = self._failure
        if failure is not None:  # a fresh exception each time: tracebacks do not pile up
            raise JournalError(str(failure)) from failure.__cause__
        if self._closed and self._path is not None:
            raise JournalError(f"journal {self._path} is closed: nothing can be placed")

    def _fail(self, error: OSError) -> None:
        failure = JournalError(
            f"journal {self._path} cannot be written ({error.strerror or error}): "
            "no order is placed until the executor is restarted on a writable journal"
        )
        failure.__cause__ = error
        self._failure = failure
        self._buffer.clear()
        logger.opt(exception=error).error("ibkr-exec audit journal failed: {}", failure)
        for listener in list(self._listeners):
            try:
                listener(failure)
            except Exception:
                logger.exception("a journal failure listener raised")

    def release(self, client_order_id: str) -> None:
        """Forget one order's entries in memory (it was retired); its file entries stay."""
        self._by_order.pop(client_order_id, None)

    def close(self) -> None:
        """Flush and close the file (fsync unless the policy is never). Idempotent, never raises."""
        self.flush()
        self._closed = True
        file, self._file = self._file, None
        if file is not None:
            file.close()

    def __enter__(self) -> AuditLogger:
        """Use as a context manager: closed on exit."""
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Close the journal."""
        self.close()

    # -- the original design's methods ------------------------------------------------------------

    def log_order_submitted(self, request: OrderRequest, order: Order) -> int:
        """``order`` was created from ``request``; the entry replay starts that order from."""
        return self.record(
            "submitted",
            actor=order.client_order_id,
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            dst=order.status.value,
            payload={"order": encode(order), "request": attrs.asdict(request, recurse=False)},
        )

    def log_order_status_change(self, order: Order, old_status: object) -> int:
        """``order`` (the new snapshot) moved from ``old_status`` to its status."""
        return self.record(
            "transition",
            actor=order.client_order_id,
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            src=str(getattr(old_status, "value", old_status)),
            dst=order.status.value,
        )

    def log_fill(self, fill: Fill) -> int:
        """A fill, as a record for readers (replay uses the fill trigger's entries)."""
        return self.record(
            "fill_recorded",
            actor=fill.client_order_id,
            order_id=fill.order_id,
            client_order_id=fill.client_order_id,
            payload={"fill": encode(fill)},
        )

    def log_order_cancelled(self, order_id: str, reason: str = "") -> int:
        """Order ``order_id`` was cancelled (or its cancel requested) for ``reason``."""
        return self.record("cancelled", order_id=str(order_id), payload={"reason": reason})

    def log_connection_event(self, event: str, details: dict[str, Any] | None = None) -> int:
        """A connection event (connect, 1100, reconnect, ...) with its ``details``."""
        return self.record("connection", actor="connection", trigger=event, payload=details)

    # -- the library's own forms ------------------------------------------------------------------

    def log_transition(
        self, trigger: str, src: str, dst: str, *, payload: dict[str, Any] | None = None, **ids: Any
    ) -> int:
        """A transition of any machine; ``ids`` are actor, order_id, client_order_id."""
        return self.record("transition", trigger=trigger, src=src, dst=dst, payload=payload, **ids)

    def log_anomaly(self, note: str, *, payload: dict[str, Any] | None = None, **ids: Any) -> int:
        """Something that should not happen and was absorbed (the state stayed)."""
        return self.record("anomaly", payload={**(payload or {}), "note": note}, **ids)

    def order_created(self, order: Order) -> int:
        """The "submitted" entry of a new order actor (replay starts from its payload)."""
        return self.record(
            "submitted",
            actor=order.client_order_id,
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            dst=order.status.value,
            payload={"order": encode(order)},
        )

    def connection_changed(
        self,
        event: str,
        *,
        src: str | None = None,
        dst: str | None = None,
        payload: dict[str, Any] | None = None,
        actor: str = "connection",
    ) -> int:
        """A connection event with the link machine's state change (``src`` -> ``dst``)."""
        return self.record(
            "connection", actor=actor, src=src, dst=dst, trigger=event, payload=payload
        )

    # -- reading back ---------------------------------------------------------------------------

    def entries(self) -> list[dict[str, Any]]:
        """Every entry of the file (flushed first), or the entries an in-memory journal kept."""
        if self._path is None:
            return list(parse_lines(self._recent, "<memory>"))
        self.flush()
        return list(read_journal(self._path))

    def entries_for(self, client_order_id: str) -> list[dict[str, Any]]:
        """The entries of one order, in order: what a restarted order actor replays."""
        if self._path is None:
            own = self._by_order.get(client_order_id)
            if own is not None:
                return list(parse_lines(own, "<memory>"))
        return [e for e in self.entries() if e.get("client_order_id") == client_order_id]


def _last_seq(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", JournalWarning)
            return max((e.get("seq", 0) for e in read_journal(path)), default=0)
    except OSError as error:
        raise JournalError(f"cannot read journal {path}: {error}") from error


def replay_orders(entries: Iterable[dict[str, Any]]) -> dict[str, Order]:
    """Rebuild every order found in ``entries``, keyed by client_order_id.

    >>> replay_orders([])
    {}
    """
    from ibkr_exec.actors.ledger import replay_orders as replay  # actors import audit, not back

    return replay(entries)
