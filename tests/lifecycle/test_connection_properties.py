"""Property test: whatever the link does, the connection actor ends READY or FAILED.

A unit test of one class: ConnectionActor drives a scripted BrokerLink double (no socket). Random
link events (socket drops, IB's 1100/1101/1102, connect attempts that fail, sync answers missing
or late) are fed to it; then the link turns benign (IB restores its own link, connects succeed)
and the actor must settle in READY with the link up, or in FAILED, within a bound: never stuck
in SYNCING or RECONNECTING, and no background task dies with an exception nobody retrieved.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from ibkr_exec.actors.connection import ConnectionActor, LinkSettings
from ibkr_exec.audit import AuditLogger
from ibkr_exec.broker.port import (
    ConnectivityLost,
    ConnectivityRestored,
    LinkLost,
    Sink,
)
from ibkr_exec.errors import NotConnectedError
from ibkr_exec.models import Order, Position
from ibkr_exec.statemachines.connection import DEGRADED, FAILED, READY

SETTINGS = LinkSettings(
    host="127.0.0.1",
    port=4002,
    client_id=1,
    timeout=0.05,
    reconnect_max_attempts=3,
    reconnect_backoff=0.001,
    reconnect_backoff_cap=0.004,
)


class ScriptedLink:
    """A BrokerLink whose connects and syncs do what the test scripted."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.up = False
        self.failing_connects = 0
        #: "complete", "missing" (an answer never comes) or "late" (it comes, after a while)
        self.sync = "complete"
        self._complete = False
        self._next_id = 1

    async def connect(
        self, host: str, port: int, client_id: int, *, timeout: float, readonly: bool
    ) -> None:
        await asyncio.sleep(0)
        if self.failing_connects:
            self.failing_connects -= 1
            raise ConnectionRefusedError("scripted: refused")
        self.up = True
        await self._answer(timeout)
        if not self._complete:  # as the ib_async adapter does after asking again
            self.up = False
            raise ConnectionError("scripted: the connect-time sync got no answer")

    async def _answer(self, timeout: float) -> None:
        self._complete = False
        if self.sync == "late":
            await asyncio.sleep(timeout / 2)
        elif self.sync == "missing":
            await asyncio.sleep(timeout)
            return
        self._complete = self.up

    async def disconnect(self) -> None:
        self.up = False
        await asyncio.sleep(0)

    async def resync(self, timeout: float) -> None:
        if not self.up:
            raise ConnectionError("scripted: not connected")
        await self._answer(timeout)

    def is_connected(self) -> bool:
        return self.up

    async def round_trip(self, timeout: float) -> None:
        if not self.up:
            raise ConnectionError("scripted: not connected")

    def sync_complete(self) -> bool:
        return self._complete

    def note_order_id(self, order_id: int) -> None:
        self._next_id = max(self._next_id, order_id + 1)

    def next_order_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def positions(self) -> list[Position]:
        return []

    def place_order(self, order: Order) -> None:
        """Nothing to place: this test has no orders."""

    def cancel_order(self, order: Order) -> None:
        """Nothing to cancel: this test has no orders."""


class LinkEvents(RuleBasedStateMachine):
    """Random link events against one ConnectionActor."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.unretrieved: list[dict[str, Any]] = []
        self.loop.set_exception_handler(lambda _, context: self.unretrieved.append(context))
        self.journal = AuditLogger()
        self.link: ScriptedLink | None = None

        def make_link(sink: Sink) -> ScriptedLink:
            self.link = ScriptedLink(sink)
            return self.link

        self.actor = ConnectionActor(SETTINGS, link_factory=make_link, journal=self.journal)

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def hear(self, event: Any) -> None:
        """Deliver ``event`` as the link's socket callback would, inside the loop."""

        async def deliver() -> None:
            self.scripted.sink(event)
            await asyncio.sleep(0)

        self.run(deliver())

    @property
    def scripted(self) -> ScriptedLink:
        assert self.link is not None
        return self.link

    @initialize()
    def connect(self) -> None:
        async def start() -> None:
            self.actor.start()
            await self.actor.connect()

        self.run(start())

    @rule()
    def socket_drops(self) -> None:
        if self.scripted.up:
            self.scripted.up = False
            self.hear(LinkLost("scripted drop"))

    @rule()
    def ib_loses_its_link(self) -> None:  # 1100
        if self.scripted.up:
            self.hear(ConnectivityLost("scripted 1100"))

    @rule(data_kept=st.booleans())
    def ib_restores_its_link(self, data_kept: bool) -> None:  # 1102 / 1101
        if self.scripted.up:
            self.hear(ConnectivityRestored(data_kept, "scripted restore"))

    @rule(count=st.integers(min_value=1, max_value=4))
    def connects_fail(self, count: int) -> None:
        self.scripted.failing_connects = count

    @rule(mode=st.sampled_from(["complete", "missing", "late"]))
    def sync_answers(self, mode: str) -> None:
        self.scripted.sync = mode

    @rule(turns=st.integers(min_value=1, max_value=20))
    def time_passes(self, turns: int) -> None:
        async def turn() -> None:
            for _ in range(turns):
                await asyncio.sleep(0.002)

        self.run(turn())

    def teardown(self) -> None:
        try:
            self.scripted.failing_connects = 0
            self.scripted.sync = "complete"
            if self.actor.state == DEGRADED and self.scripted.up:
                self.hear(ConnectivityRestored(True, "IB restores its link at last"))
            try:
                self.run(self.actor.wait_ready(5.0))
            except NotConnectedError:
                assert self.actor.state == FAILED, f"stuck in {self.actor.state}"
            else:
                assert self.actor.state == READY
                assert self.scripted.is_connected()
            assert self.unretrieved == []
        finally:
            self.run(self.actor.close())
            self.loop.close()


LinkEvents.TestCase.settings = settings(max_examples=100, stateful_step_count=15, deadline=None)
TestConnectionActorEndsReadyOrFailed = LinkEvents.TestCase
