"""Through the executor: journal entries and handler notifications keep one order, and an
order's terminal entry is on disk (synced once per loop turn) before any handler hears of it."""

from __future__ import annotations

import asyncio
import functools
import json
from pathlib import Path

from ibkr_exec import AuditLogger, Order, OrderRequest, OrderStatus, OrderType, Side
from ibkr_exec.actors.durable import Announcements
from ibkr_exec.sim import FakeTWS

from .conftest import make_executor
from .waiting import Recorder

N = 30


def _on_disk(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _seq_of(entries: list[dict[str, object]], cid: str, status: str) -> int | None:
    for e in entries:
        if (
            e["client_order_id"] == cid
            and e["dst"] == status
            and e["kind"] in ("transition", "fill")
        ):
            return e["seq"]  # type: ignore[return-value]
    return None


class ReadsTheDisk(Recorder):
    """Notes every status it hears and, for an order's end, whether its entry is on disk."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.heard: list[tuple[str, str]] = []
        self.end_on_disk: list[bool] = []

    def on_order_status(self, order: Order) -> None:
        cid, status = order.client_order_id, order.status.value
        self.heard.append((cid, status))
        if order.status.is_terminal:
            self.end_on_disk.append(_seq_of(_on_disk(self.path), cid, status) is not None)
        super().on_order_status(order)


async def test_a_burst_of_fills_is_heard_in_journal_order_each_after_its_entry_is_on_disk(
    tws: FakeTWS, journal_path: Path
) -> None:
    ex = make_executor(tws, journal_path)
    rec = ReadsTheDisk(journal_path)
    ex.add_order_handler(rec)
    async with ex:
        await asyncio.gather(
            *(
                ex.submit_order(
                    OrderRequest("AAPL", "5", OrderType.MARKET, Side.BUY, client_order_id=f"b{i}")
                )
                for i in range(N)
            )
        )
        for i in range(N):
            await rec.until(f"b{i}", lambda o: o.status is OrderStatus.FILLED)
    # Every order's end was on disk before a handler heard of it...
    assert rec.end_on_disk == [True] * N
    # ...and the statuses were heard in the order their entries were written.
    entries = _on_disk(journal_path)
    seqs = [_seq_of(entries, cid, status) for cid, status in rec.heard]
    assert None not in seqs
    assert seqs == sorted(seqs)  # type: ignore[type-var]
    for i in range(N):
        assert [st for cid, st in rec.heard if cid == f"b{i}"] == ["SUBMITTED", "FILLED"]


class CountsSyncs(AuditLogger):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.syncs = 0

    def flush(self, *, terminal: bool = False) -> None:
        self.syncs += terminal
        super().flush(terminal=terminal)


async def test_announcements_in_one_loop_turn_share_one_sync_and_keep_their_order(
    tmp_path: Path,
) -> None:
    journal = CountsSyncs(tmp_path / "j.jsonl")
    announcements = Announcements.of(journal)
    heard: list[tuple[int, int]] = []

    def hear(i: int) -> None:
        heard.append((i, journal.syncs))

    for i in range(3):
        journal.record("transition", client_order_id=f"o{i}", dst="FILLED")
        announcements.after_sync(functools.partial(hear, i))
    assert heard == []
    assert announcements.waiting
    await asyncio.sleep(0)  # the end of this loop turn
    assert heard == [(0, 1), (1, 1), (2, 1)]
    assert len(_on_disk(tmp_path / "j.jsonl")) == 3
    journal.close()
