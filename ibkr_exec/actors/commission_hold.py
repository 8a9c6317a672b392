"""Hold a fill's notification until its commission is known, so a handler hears each fill once,
with its commission when IB sent it.

IB reports an execution (execDetails) and its commission (commissionReport) as two messages; real
TWS sends the commission right after the execution, in the same burst (captures 2-6 of
shared/reference/real-tws), but a handler that is told about the fill at once would see
``commission=None`` and never hear about it again. So the order's notifications are held from the
moment a fill without commission appears until that fill's commission arrives, or at most
:data:`COMMISSION_WAIT_SECONDS` (then the fill is announced without it; the Fill that
``get_fills`` returns and the journal still get the commission when it comes). Everything about
the order that arrives meanwhile waits behind the fill, so handlers still hear each order's events
in the order they happened. Nothing is ever dropped: :meth:`CommissionHold.release` hands on
whatever is held (the executor calls it on stop).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final

from ibkr_exec.models import Fill, Order

__all__ = ["COMMISSION_WAIT_SECONDS", "CommissionHold"]

#: The longest a fill's notification waits for its commission report.
COMMISSION_WAIT_SECONDS: Final = 0.25

Snapshot = Order | Fill


class CommissionHold:
    """Sits between one order actor's snapshots and the executor's notification of them."""

    __slots__ = ("_deliver", "_holding", "_queue", "_seen", "_timer", "_wait")

    def __init__(
        self,
        deliver: Callable[[Snapshot], None],
        holding: set[CommissionHold],
        wait: float = COMMISSION_WAIT_SECONDS,
    ) -> None:
        """Pass snapshots on to ``deliver``, holding them while a fill awaits its commission.

        The hold is in ``holding`` while it holds anything, so its owner can release every
        hold at once."""
        self._deliver = deliver
        self._holding = holding
        self._wait = wait
        self._queue: list[Snapshot] = []
        self._seen: set[str] = set()
        self._timer: asyncio.TimerHandle | None = None

    def __call__(self, snapshot: Snapshot) -> None:
        """Receive one snapshot from the order actor."""
        queue = self._queue
        if type(snapshot) is Fill:
            if snapshot.fill_id in self._seen:
                if snapshot.commission is not None and self._complete(snapshot):
                    self._release_ready()
                    return
            else:
                self._seen.add(snapshot.fill_id)
                if snapshot.commission is None or queue:
                    queue.append(snapshot)
                    self._arm()
                    self._release_ready()
                    return
        if queue:
            queue.append(snapshot)
        else:
            self._deliver(snapshot)

    def release(self) -> None:
        """Hand on everything held, commission or not (the wait ran out, or the executor stops)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._holding.discard(self)
        queue = self._queue
        while queue:
            self._deliver(queue.pop(0))

    @property
    def holding(self) -> int:
        """How many snapshots are held."""
        return len(self._queue)

    def _complete(self, snapshot: Fill) -> bool:
        """Put the commission on the held fill; False when that fill was already handed on."""
        for index, held in enumerate(self._queue):
            if type(held) is Fill and held.fill_id == snapshot.fill_id:
                self._queue[index] = snapshot
                return True
        return False

    def _release_ready(self) -> None:
        queue = self._queue
        while queue and not (type(queue[0]) is Fill and queue[0].commission is None):
            self._deliver(queue.pop(0))
        if not queue:
            self._holding.discard(self)
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def _arm(self) -> None:
        self._holding.add(self)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._wait, self.release)
