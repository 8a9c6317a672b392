"""Group commit of terminal entries: one fsync per loop turn, however many orders end in it.

An order's terminal entry must be on disk (fsynced under the journal's ``terminal`` policy) before
any subscriber hears that the order ended. Syncing once per terminal order costs an fsync per order
(~0.3 ms of system time on an ordinary disk, more than the rest of an order's cost together); a
burst of fills ends many orders in one loop turn. So an order actor hands the announcement of a
terminal outcome to its journal's :class:`Announcements`, which syncs the journal once, at the end
of the loop turn, and then makes the announcements it holds, in the order they were handed over.

While one is held, every other announcement (of any order of that journal) waits behind it, so
subscribers hear everything in exactly the order the actors produced it. The snapshots announced
are taken when the outcome happens, not when it is announced.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable

from ibkr_exec.audit import AuditLogger

__all__ = ["Announcements"]

_BY_JOURNAL: weakref.WeakKeyDictionary[AuditLogger, Announcements] = weakref.WeakKeyDictionary()


class Announcements:
    """The announcements waiting for one journal's next sync."""

    __slots__ = ("__weakref__", "_journal", "_queue", "_scheduled")

    def __init__(self, journal: AuditLogger) -> None:
        """Nothing waiting yet."""
        self._journal = journal
        self._queue: list[Callable[[], None]] = []
        self._scheduled = False

    @classmethod
    def of(cls, journal: AuditLogger) -> Announcements:
        """The one instance for ``journal`` (shared by every order actor writing to it)."""
        found = _BY_JOURNAL.get(journal)
        if found is None:
            found = _BY_JOURNAL[journal] = cls(journal)
        return found

    @property
    def waiting(self) -> bool:
        """True while announcements wait for the sync: a new one must queue behind them."""
        return bool(self._queue)

    def after_sync(self, announce: Callable[[], None]) -> None:
        """Call ``announce`` once the journal is synced (at the end of this loop turn; at once,
        after a sync, when no loop runs)."""
        self._queue.append(announce)
        if self._scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.commit()
            return
        self._scheduled = True
        loop.call_soon(self.commit)

    def commit(self) -> None:
        """Sync the journal (its terminal flush), then make every waiting announcement."""
        self._scheduled = False
        self._journal.flush(terminal=True)
        queue, self._queue = self._queue, []
        for announce in queue:
            announce()
