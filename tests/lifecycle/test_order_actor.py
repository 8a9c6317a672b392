"""The order actor: commands to the broker, snapshots to subscribers, stash, crash recovery."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from support import FakeBroker, execution, new_order, until

from ibkr_exec.actors import GetOrder, OrderActor, PlaceOrder, RequestCancel, RestartPolicy
from ibkr_exec.audit import AuditLogger, read_journal, replay_orders
from ibkr_exec.broker.port import CancelConfirmed, CommissionReport, OrderAccepted
from ibkr_exec.models import Fill, Order

FAST = RestartPolicy(min_backoff=0.001, jitter=0.0)


def make_actor(journal: AuditLogger, broker: FakeBroker | None = None, **kw: Any) -> OrderActor:
    return OrderActor.create(new_order(), broker=broker or FakeBroker(), journal=journal, **kw)


async def test_place_order_sends_the_order_to_the_broker() -> None:
    broker = FakeBroker()
    with AuditLogger() as journal:
        actor = make_actor(journal, broker).start()
        await actor.ask(PlaceOrder())
        await actor.stop()
    assert broker.calls == [("place", "c-1")]


async def test_a_cancel_request_is_sent_once_however_often_it_is_asked() -> None:
    broker = FakeBroker()
    with AuditLogger() as journal:
        actor = make_actor(journal, broker).start()
        actor.tell(OrderAccepted("7"))
        actor.tell(RequestCancel())
        order = await actor.ask(RequestCancel())
        await actor.stop()
    assert order.status == "PENDING_CANCEL"
    assert broker.calls == [("cancel", "c-1")]


async def test_subscribers_receive_order_and_fill_snapshots() -> None:
    seen: list[Order | Fill] = []
    with AuditLogger() as journal:
        actor = make_actor(journal).start()
        actor.subscribe(seen.append)
        actor.tell(OrderAccepted("7"))
        actor.tell(execution("a.01", 40))
        actor.tell(CommissionReport("a.01", Decimal("1.5")))
        await actor.ask(GetOrder())
        await actor.stop()
    assert [type(s).__name__ for s in seen] == ["Order", "Fill", "Order", "Fill"]
    last_fill = seen[-1]
    assert isinstance(last_fill, Fill)
    assert last_fill.commission == Decimal("1.5")


async def test_a_failing_subscriber_is_journaled_and_never_breaks_the_actor() -> None:
    def broken(_: Order | Fill) -> None:
        raise ValueError("subscriber bug")

    with AuditLogger() as journal:
        actor = make_actor(journal).start()
        actor.subscribe(broken)
        actor.tell(OrderAccepted("7"))
        order = await actor.ask(GetOrder())
        await actor.stop()
        anomalies = [e for e in journal.entries() if e["kind"] == "anomaly"]
    assert order.status == "SUBMITTED"
    assert "subscriber bug" in anomalies[0]["payload"]["note"]


async def test_a_stashed_cancel_for_an_order_filled_meanwhile_is_dropped_and_journaled() -> None:
    broker = FakeBroker()
    with AuditLogger() as journal:
        actor = make_actor(journal, broker).start()
        actor.tell(OrderAccepted("7"))
        actor.pause()
        actor.tell(RequestCancel())
        actor.tell(execution("a.01", 100))  # reconciliation while paused: applied, not stashed
        await until(lambda: actor.is_terminal)
        actor.resume()
        order = await actor.ask(GetOrder())
        await actor.stop()
        kinds = [e["kind"] for e in journal.entries()]
    assert order.status == "FILLED"
    assert broker.calls == []
    assert "command_dropped" in kinds


async def test_a_stashed_cancel_for_a_working_order_is_sent_on_resume() -> None:
    broker = FakeBroker()
    with AuditLogger() as journal:
        actor = make_actor(journal, broker).start()
        actor.tell(OrderAccepted("7"))
        actor.pause()
        actor.tell(RequestCancel())
        assert broker.calls == []
        actor.resume()
        order = await actor.ask(GetOrder())
        await actor.stop()
    assert order.status == "PENDING_CANCEL"
    assert broker.calls == [("cancel", "c-1")]


class Faulty(OrderActor):
    """Test-only fault: "crash" half-mutates the ledger, then raises."""

    def receive(self, message: Any) -> Any:
        if message == "crash":
            self._ledger.state = "FILLED"
            self._ledger.filled = Decimal(99)
            raise RuntimeError("injected fault")
        return super().receive(message)


async def test_a_crashed_order_actor_is_restarted_and_recovers_its_order_from_the_journal() -> None:
    with AuditLogger() as journal:
        actor = Faulty.create(new_order(), broker=FakeBroker(), journal=journal, policy=FAST)
        actor.start()
        actor.tell(OrderAccepted("7", perm_id=3))
        actor.tell(execution("a.01", 40, "150.5"))
        before = await actor.ask(GetOrder())
        actor.tell("crash")
        after = await actor.ask(GetOrder())
        await actor.stop()
    assert after == before


async def test_recover_rebuilds_an_order_actor_from_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    with AuditLogger(path) as journal:
        actor = make_actor(journal).start()
        actor.tell(OrderAccepted("7"))
        actor.tell(execution("a.01", 40))
        before = await actor.ask(GetOrder())
        await actor.stop()
    with AuditLogger(path) as journal:
        recovered = OrderActor.recover("c-1", broker=FakeBroker(), journal=journal)
    assert recovered.order == before
    assert recovered.exec_ids == frozenset({"a.01"})


async def test_the_journal_of_a_run_replays_into_identical_orders(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    finals: dict[str, Order] = {}
    with AuditLogger(path) as journal:
        actors = [
            OrderActor.create(new_order(f"c-{i}", str(i)), broker=FakeBroker(), journal=journal)
            for i in range(3)
        ]
        for actor in actors:
            actor.start()
            actor.tell(OrderAccepted(actor.order.order_id or "", perm_id=10))
        actors[0].tell(execution("x.01", 100, "150.10"))
        actors[1].tell(execution("y.01", 30, "150.20"))
        actors[1].tell(RequestCancel())
        actors[1].tell(CancelConfirmed("1", "cancelled", 202))
        actors[2].tell(execution("z.01", 10, "151"))
        for actor in actors:
            finals[actor.client_order_id] = await actor.ask(GetOrder())
            await actor.stop()
    assert replay_orders(read_journal(path)) == finals
