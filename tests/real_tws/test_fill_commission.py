"""A handler hears each fill once, carrying its commission when IB sends it promptly (issue 11
item 18); a commission that comes later still reaches get_fills and the journal."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from ibkr_exec import Fill, Order, OrderRequest, OrderStatus, OrderType, Side, read_journal
from ibkr_exec.actors.commission_hold import COMMISSION_WAIT_SECONDS, CommissionHold
from ibkr_exec.sim import FakeTWS

from .support import Statuses, executor_for


class Heard(Statuses):
    """Statuses plus every fill announced; works with on_fill(fill) and on_fill(order, fill)."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, object]] = []

    def on_order_status(self, order: Order) -> None:
        self.events.append(("status", order.status))
        super().on_order_status(order)

    def on_fill(self, *args: object) -> None:
        fill = next(a for a in args if isinstance(a, Fill))
        self.events.append(("fill", fill))

    @property
    def fills(self) -> list[Fill]:
        return [f for kind, f in self.events if kind == "fill"]  # type: ignore[misc]


def _market(qty: str, cid: str) -> OrderRequest:
    return OrderRequest("AAPL", qty, OrderType.MARKET, Side.BUY, client_order_id=cid)


async def test_each_fill_is_heard_once_with_its_commission(tmp_path: Path) -> None:
    async with FakeTWS(max_fill_size=30) as tws:
        tws.set_price("AAPL", Decimal("150"))
        heard = Heard()
        async with executor_for(tws, tmp_path / "j.jsonl") as executor:
            executor.add_order_handler(heard)
            await executor.submit_order(_market("100", "m"))
            await heard.until("m", lambda o: o.status is OrderStatus.FILLED)
            fills = await executor.get_fills("m")
    assert [f.quantity for f in heard.fills] == [30, 30, 30, 10]
    assert [f.fill_id for f in heard.fills] == [f.fill_id for f in fills]
    assert [f.commission for f in heard.fills] == [Decimal("1")] * 4
    # The fill that completes the order is heard before the order is FILLED.
    kinds = [kind for kind, _ in heard.events]
    last_fill = max(i for i, kind in enumerate(kinds) if kind == "fill")
    assert heard.events.index(("status", OrderStatus.FILLED)) > last_fill


async def test_a_late_commission_reaches_get_fills_and_the_journal(tmp_path: Path) -> None:
    journal = tmp_path / "j.jsonl"
    async with FakeTWS() as tws:
        tws.set_price("AAPL", Decimal("150"))
        # Far later than the notification waits for it.
        tws.delay_messages("commissionReport", COMMISSION_WAIT_SECONDS * 4)
        heard = Heard()
        async with executor_for(tws, journal) as executor:
            executor.add_order_handler(heard)
            await executor.submit_order(_market("10", "late"))
            await heard.until("late", lambda o: o.status is OrderStatus.FILLED)
            (fill,) = heard.fills
            assert fill.commission is None  # announced without it, once
            # The commission arrives later; no handler hears of it, the actor's Fill gets it.
            actor = executor.connection.actor().order_actor("late")
            assert actor is not None
            got = asyncio.Event()
            unsubscribe = actor.subscribe(
                lambda s: got.set() if isinstance(s, Fill) and s.commission else None
            )
            try:
                await asyncio.wait_for(got.wait(), 5)
            finally:
                unsubscribe()
            assert (await executor.get_fills("late"))[0].commission == Decimal("1")
            assert len(heard.fills) == 1
    kinds = [e["kind"] for e in read_journal(journal) if e.get("client_order_id") == "late"]
    assert "commission" in kinds


def test_the_hold_passes_snapshots_on_in_order_once_the_commission_is_known() -> None:
    async def run() -> list[object]:
        out: list[object] = []
        holding: set[CommissionHold] = set()
        hold = CommissionHold(out.append, holding, wait=60)
        bare = _fill("e1", None)
        hold(bare)
        hold("status after the fill")  # type: ignore[arg-type]
        assert out == []
        assert holding == {hold}
        hold(_fill("e1", Decimal("1.5")))
        assert holding == set()
        hold(_fill("e2", Decimal("1")))  # commission known at once: straight through
        return out

    out = asyncio.run(run())
    assert [getattr(o, "commission", o) for o in out] == [
        Decimal("1.5"),
        "status after the fill",
        Decimal("1"),
    ]


def test_the_hold_gives_up_waiting_and_never_loses_a_snapshot() -> None:
    async def run() -> list[object]:
        out: list[object] = []
        holding: set[CommissionHold] = set()
        hold = CommissionHold(out.append, holding, wait=0.01)
        hold(_fill("e1", None))
        async with asyncio.timeout(5):
            while holding:  # noqa: ASYNC110  # the wait running out has no event of its own
                await asyncio.sleep(0.005)
        hold(_fill("e1", Decimal("2")))  # too late for the notification
        return out

    out = asyncio.run(run())
    assert [getattr(o, "commission", o) for o in out] == [None, Decimal("2")]


def _fill(exec_id: str, commission: Decimal | None) -> Fill:
    from datetime import UTC, datetime

    return Fill(
        fill_id=exec_id,
        order_id="1",
        symbol="AAPL",
        quantity=Decimal(1),
        price=Decimal(1),
        side=Side.BUY,
        timestamp=datetime(2025, 1, 1, tzinfo=UTC),
        commission=commission,
    )
