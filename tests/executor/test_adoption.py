"""Restart recovery adopts the executor's own orders that the journal lacks, by orderRef prefix."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from ibkr_exec import OrderRequest, OrderStatus, OrderType, Side, read_journal
from ibkr_exec.sim import FakeTWS

from .conftest import make_executor
from .waiting import Recorder


async def _place_resting(tws: FakeTWS, journal_path: Path, request: OrderRequest) -> str:
    a = make_executor(tws, journal_path)
    async with a:
        order = await a.submit_order(request)
    a.journal.close()
    assert order.status is OrderStatus.SUBMITTED
    return order.client_order_id


def _lose(journal_path: Path, cid: str, loss: str) -> None:
    if loss == "deleted":
        journal_path.unlink()
    else:  # the process died before the order's entries reached the disk
        lines = journal_path.read_text().splitlines(keepends=True)
        journal_path.write_text("".join(line for line in lines if cid not in line))


def _resting(**kw: str) -> OrderRequest:
    return OrderRequest("AAPL", "10", OrderType.LIMIT, Side.BUY, limit_price="140", **kw)


@pytest.mark.parametrize("loss", ["deleted", "cut short"])
async def test_an_unjournaled_order_with_our_prefix_is_managed_again(
    tws: FakeTWS, journal_path: Path, loss: str
) -> None:
    tws.auto_match = False
    cid = await _place_resting(tws, journal_path, _resting())
    assert cid.startswith("ibx-")
    _lose(journal_path, cid, loss)

    rec = Recorder()
    b = make_executor(tws, journal_path)
    b.add_order_handler(rec)
    async with b:
        adopted = await b.get_order_status(cid)
        assert adopted is not None
        assert (adopted.symbol, adopted.quantity, adopted.limit_price, adopted.side) == (
            "AAPL",
            Decimal(10),
            Decimal(140),
            Side.BUY,
        )
        assert adopted.status is OrderStatus.SUBMITTED
        tws.fill(cid, Decimal("10"))
        filled = await rec.until(cid, lambda o: o.status is OrderStatus.FILLED)
        assert filled.filled_quantity == 10
        assert [c[0] for c in rec.calls if c[1] == cid][-2:] == ["fill", "status"]
        assert [f.quantity for f in await b.get_fills(cid)] == [Decimal(10)]
    b.journal.close()
    kinds = [e["kind"] for e in read_journal(journal_path) if e["client_order_id"] == cid]
    assert kinds[:2] == ["submitted", "adopted"]
    assert "unrouted" not in {e["kind"] for e in read_journal(journal_path)}


async def test_an_order_without_our_prefix_is_not_adopted(tws: FakeTWS, journal_path: Path) -> None:
    tws.auto_match = False
    cid = await _place_resting(tws, journal_path, _resting(client_order_id="someone-else-1"))
    _lose(journal_path, cid, "deleted")
    b = make_executor(tws, journal_path)
    async with b:
        assert await b.get_order_status(cid) is None
    b.journal.close()
    assert any(
        e["kind"] == "unrouted" and e["payload"].get("order_ref") == cid
        for e in read_journal(journal_path)
    )
