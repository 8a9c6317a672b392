"""The actor runtime: mailbox order, ask, supervision, pause and stash, clean stop."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from support import until

from ibkr_exec.actors import Actor, Restart, RestartPolicy
from ibkr_exec.errors import ActorStoppedError, AskTimeoutError, EscalationError, StashFullError

FAST = RestartPolicy(max_restarts=3, within_seconds=10.0, min_backoff=0.001, jitter=0.0)


class Recorder(Actor):
    """Records what it receives; "boom" raises, ("sleep", s) awaits, "hang" never answers."""

    def __init__(self, name: str, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.received: list[Any] = []
        self.failures: list[BaseException] = []
        self.restarts: list[float] = []
        self.stopped = False

    def receive(self, message: Any) -> Any:
        if message == "boom":
            raise RuntimeError("boom")
        if message == "hang":
            return asyncio.Event().wait()
        if isinstance(message, tuple) and message[0] == "sleep":
            return self._later(message)
        self.received.append(message)
        return message

    async def _later(self, message: tuple[str, float]) -> tuple[str, float]:
        await asyncio.sleep(message[1])
        self.received.append(message)
        return message

    def on_failure(self, error: BaseException, message: Any) -> None:
        self.failures.append(error)

    def on_restart(self, error: BaseException) -> None:
        self.restarts.append(time.monotonic())

    def on_stop(self) -> None:
        self.stopped = True


async def test_messages_are_processed_in_the_order_they_were_told() -> None:
    actor = Recorder("r").start()
    for i in range(300):
        actor.tell(i)
    await actor.ask("last")
    assert actor.received == [*range(300), "last"]
    await actor.stop()


async def test_an_async_handler_finishes_before_the_next_message_starts() -> None:
    actor = Recorder("r").start()
    actor.tell(("sleep", 0.01))
    actor.tell("after")
    await actor.ask("sync")
    assert actor.received == [("sleep", 0.01), "after", "sync"]
    await actor.stop()


async def test_ask_answers_what_receive_returns() -> None:
    actor = Recorder("r").start()
    assert await actor.ask(41) == 41
    await actor.stop()


async def test_ask_times_out_with_a_timeout_error_naming_the_actor() -> None:
    actor = Recorder("slowpoke").start()
    with pytest.raises(AskTimeoutError, match="slowpoke") as caught:
        await actor.ask("hang", timeout=0.01)
    assert isinstance(caught.value, TimeoutError)
    await actor.stop(grace=0.01)


async def test_ask_raises_what_receive_raised() -> None:
    actor = Recorder("r", policy=FAST).start()
    with pytest.raises(RuntimeError, match="boom"):
        await actor.ask("boom")
    await actor.stop()


async def test_messages_told_before_start_wait_for_on_start() -> None:
    actor = Recorder("r")
    actor.tell("early")
    actor.start()
    assert await actor.ask("late") == "late"
    assert actor.received == ["early", "late"]
    await actor.stop()


async def test_a_failed_actor_is_restarted_after_its_backoff_and_keeps_its_mailbox() -> None:
    policy = RestartPolicy(max_restarts=3, within_seconds=10.0, min_backoff=0.05, jitter=0.0)
    actor = Recorder("r", policy=policy).start()
    failed_at = time.monotonic()
    actor.tell("boom")
    assert await actor.ask("after") == "after"
    assert len(actor.restarts) == 1
    assert actor.restarts[0] - failed_at >= 0.05
    await actor.stop()


async def test_stop_cancels_a_message_still_in_progress_after_the_grace_period() -> None:
    actor = Recorder("r").start()
    actor.tell("hang")
    await actor.stop(grace=0.01)
    assert actor.stopped


def test_backoff_doubles_up_to_the_cap_and_jitter_only_stretches_it() -> None:
    policy = RestartPolicy(min_backoff=0.1, max_backoff=0.5, jitter=0.5)
    for attempt, base in [(0, 0.1), (1, 0.2), (2, 0.4), (3, 0.5), (9, 0.5)]:
        assert base <= policy.backoff(attempt) <= base * 1.5


async def test_more_restarts_than_the_intensity_escalates_to_the_parent() -> None:
    parent = Recorder("parent", policy=FAST).start()
    child = Recorder("child", parent=parent, policy=FAST).start()
    for _ in range(4):
        child.tell("boom")
    await until(lambda: bool(parent.failures))
    assert isinstance(parent.failures[0], EscalationError)
    assert parent.failures[0].child == "child"
    await until(lambda: child.mode == "STOPPED")
    assert len(child.restarts) == 3
    await parent.stop()


async def test_a_temporary_actor_is_not_restarted_after_a_failure() -> None:
    policy = RestartPolicy(restart=Restart.TEMPORARY)
    actor = Recorder("r", policy=policy).start()
    actor.tell("boom")
    await until(lambda: actor.stopped)
    assert actor.restarts == []
    await actor.stop()


async def test_a_child_that_stopped_normally_is_not_restarted() -> None:
    parent = Recorder("parent").start()
    child = Recorder("child", parent=parent).start()
    await child.stop()
    assert parent.children == {}
    assert child.restarts == []
    await parent.stop()


async def test_a_paused_actor_stashes_and_replays_the_stash_in_order_on_resume() -> None:
    actor = Recorder("r").start()
    actor.pause()
    actor.tell("a")
    actor.tell("b")
    assert actor.stash_size == 2
    assert actor.received == []
    actor.resume()
    await actor.ask("c")
    assert actor.received == ["a", "b", "c"]
    await actor.stop()


async def test_a_full_stash_refuses_with_an_error_naming_the_actor_and_the_limit() -> None:
    class Small(Recorder):
        stash_limit = 2

    actor = Small("tiny").start()
    actor.pause()
    actor.tell(1)
    actor.tell(2)
    with pytest.raises(StashFullError, match=r"'tiny'.*\b2 messages"):
        actor.tell(3)
    await actor.stop()


async def test_a_restart_while_paused_comes_back_paused() -> None:
    policy = RestartPolicy(min_backoff=0.05, jitter=0.0)
    actor = Recorder("r", policy=policy).start()
    actor.tell("boom")
    await until(lambda: actor.mode == "RESTARTING")
    actor.pause()
    await until(lambda: bool(actor.restarts))
    assert actor.mode == "PAUSED"
    await actor.stop()


async def test_telling_a_stopped_actor_raises() -> None:
    actor = Recorder("r").start()
    await actor.stop()
    with pytest.raises(ActorStoppedError):
        actor.tell("x")


async def test_stop_fails_pending_asks_with_actor_stopped() -> None:
    actor = Recorder("r").start()
    actor.pause()
    pending = asyncio.ensure_future(actor.ask("stashed"))
    await asyncio.sleep(0)
    await actor.stop()
    with pytest.raises(ActorStoppedError):
        await pending


async def test_stop_awaits_every_child_and_leaves_no_task_behind() -> None:
    before = asyncio.all_tasks()
    root = Recorder("root", policy=FAST).start()
    children = [Recorder(f"c{i}", parent=root, policy=FAST).start() for i in range(5)]
    children[0].tell(("sleep", 0.01))
    children[1].tell("boom")  # a restart in flight
    grandchild = Recorder("g", parent=children[2]).start()
    await root.stop()
    assert all(c.stopped for c in [*children, grandchild])
    assert root.stopped
    assert asyncio.all_tasks() == before
