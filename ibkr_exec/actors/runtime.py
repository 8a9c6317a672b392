"""A small asyncio actor core: mailboxes, tell/ask, supervision, pause with a bounded stash.

Nothing here knows about orders. An actor is an object with a mailbox whose messages are processed
one at a time, to completion, by :meth:`Actor.receive`. Its lifecycle is a handful of hooks, all in
this file (after Pykka): :meth:`~Actor.on_start`, :meth:`~Actor.on_stop`,
:meth:`~Actor.on_failure`, :meth:`~Actor.on_restart`; hooks and ``receive`` may be plain methods or
coroutines.

Cost matters because an order is an actor and there may be tens of thousands alive: an idle actor
owns no task and no mailbox object. A message schedules a drain with ``loop.call_soon``; the drain
runs messages until the mailbox is empty and drops it. Only a handler that returns an awaitable
moves the rest of that drain into an asyncio task, so there is never more than one task per actor.

Supervision follows Erlang/OTP (one_for_one): a failing actor is restarted after an exponential
backoff with jitter (the failed message is dropped); more than ``max_restarts`` failures within
``within_seconds`` stop it and fail its parent with :class:`~ibkr_exec.errors.EscalationError`. An
actor without a parent that exceeds the intensity is stopped. The mode (running, paused,
restarting, stopped) is driven by the table in ``statemachines.actor``.

>>> import asyncio
>>> class Echo(Actor):
...     def receive(self, message):
...         return message * 2
>>> async def main():
...     echo = Echo("echo").start()
...     answer = await echo.ask(21)
...     await echo.stop()
...     return answer
>>> asyncio.run(main())
42
"""

from __future__ import annotations

import asyncio
import enum
import random
import time
from collections import deque
from inspect import isawaitable
from typing import Any, ClassVar, Self

import attrs

from ibkr_exec.errors import ActorStoppedError, AskTimeoutError, EscalationError, StashFullError
from ibkr_exec.statemachines.actor import PAUSED, RESTARTING, RUNNING, STOPPED, actor_machine

__all__ = ["Actor", "Restart", "RestartPolicy"]

_MODES = actor_machine()
_BATCH = 100  # messages per drain callback before yielding to the loop, so one busy actor is fair


class Restart(enum.StrEnum):
    """Which failures are restarted (OTP child restart types)."""

    TRANSIENT = "transient"  # restarted after a failure; a normal stop is final
    TEMPORARY = "temporary"  # never restarted: a failure stops it


@attrs.frozen
class RestartPolicy:
    """How a failing actor is restarted, as data.

    The n-th restart within the window waits ``min(max_backoff, min_backoff * 2**n)`` seconds,
    stretched by a random factor in ``[1, 1 + jitter]`` so that siblings do not restart in lockstep.
    More than ``max_restarts`` failures within ``within_seconds`` escalate.
    """

    max_restarts: int = 3
    within_seconds: float = 5.0
    min_backoff: float = 0.01
    max_backoff: float = 2.0
    jitter: float = 0.2
    restart: Restart = Restart.TRANSIENT

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before restart number ``attempt`` (0-based) within the window."""
        base = min(self.max_backoff, self.min_backoff * (2**attempt))
        return float(base * (1.0 + self.jitter * (rng or random).random()))


class _Unstashed:
    __slots__ = ("message",)

    def __init__(self, message: Any) -> None:
        self.message = message


Envelope = tuple[Any, "asyncio.Future[Any] | None"]


class Actor:
    """Base class: override :meth:`receive` and any hooks. Call :meth:`start` before use.

    ``parent`` supervises this actor (its restarts escalate there) and stops it when it stops.
    ``policy`` defaults to the class attribute :attr:`restart_policy`.
    """

    #: The restart policy used when none is passed to the constructor.
    restart_policy: ClassVar[RestartPolicy] = RestartPolicy()
    #: How many messages a paused actor keeps in its stash before refusing more.
    stash_limit: ClassVar[int] = 1000

    __slots__ = (
        "_children",
        "_draining",
        "_mailbox",
        "_orphans",
        "_parent",
        "_policy",
        "_pre_failure",
        "_restart_task",
        "_restart_times",
        "_stash",
        "_task",
        "mode",
        "name",
    )

    def __init__(
        self, name: str, *, parent: Actor | None = None, policy: RestartPolicy | None = None
    ) -> None:
        """Create the actor (not started). ``name`` must be unique among its siblings."""
        self.name = name
        self.mode: str = RUNNING
        self._parent = parent
        self._policy = policy
        self._mailbox: deque[Envelope] | None = None
        self._stash: deque[Envelope] | None = None
        self._children: dict[str, Actor] | None = None
        self._task: asyncio.Task[None] | None = None
        self._restart_task: asyncio.Task[None] | None = None
        self._restart_times: deque[float] | None = None
        self._orphans: list[asyncio.Task[None]] | None = None
        self._pre_failure = RUNNING
        self._draining = True  # until start(): messages told before start wait in the mailbox
        if parent is not None:
            siblings = parent._children
            if siblings is None:
                siblings = parent._children = {}
            if name in siblings:
                raise ValueError(f"actor {parent.name!r} already has a child named {name!r}")
            siblings[name] = self

    # -- hooks (override) -----------------------------------------------------------------------

    def receive(self, message: Any) -> Any:
        """Handle one message; the return value answers an ``ask``. May return an awaitable."""
        raise NotImplementedError(f"{type(self).__name__} must implement receive()")

    def receive_unstashed(self, message: Any) -> Any:
        """Handle a message replayed from the stash on resume (re-check it here).

        Default: :meth:`receive`.
        """
        return self.receive(message)

    def stashable(self, message: Any) -> bool:
        """True for messages that wait in the stash while paused. Default: every message."""
        return True

    def on_start(self) -> Any:
        """Called by :meth:`start`, before the first message. May return an awaitable."""

    def on_stop(self) -> Any:
        """Called once when the actor stops, after its children stopped. May return an awaitable."""

    def on_failure(self, error: BaseException, message: Any) -> None:
        """Called when ``receive`` (or ``on_restart``) raised ``error``; supervision follows."""

    def on_restart(self, error: BaseException) -> Any:
        """Rebuild state after a failure, before the next message. May return an awaitable."""

    def on_stashed(self, message: Any) -> None:
        """Called when ``message`` was put in the stash (paused). Default: nothing."""

    def on_stash_overflow(self, message: Any, error: StashFullError) -> None:
        """A message already queued could not be stashed and was dropped. Default: nothing."""

    # -- conditions and callbacks named in ACTOR_TRANSITIONS ------------------------------------

    def was_paused(self) -> bool:
        """The actor was paused when it failed (a restart returns it to PAUSED)."""
        return self._pre_failure == PAUSED

    def remember_pre_failure(self) -> None:
        """Keep the mode the actor failed in."""
        self._pre_failure = self.mode

    def remember_paused(self) -> None:
        """Paused while restarting: the restart ends in PAUSED."""
        self._pre_failure = PAUSED

    def remember_running(self) -> None:
        """Resumed while restarting: the restart ends in RUNNING."""
        self._pre_failure = RUNNING

    # -- public API -----------------------------------------------------------------------------

    @property
    def parent(self) -> Actor | None:
        """The supervising actor, if any."""
        return self._parent

    @property
    def children(self) -> dict[str, Actor]:
        """The live children by name (a copy)."""
        return dict(self._children or {})

    @property
    def stash_size(self) -> int:
        """How many messages wait in the stash."""
        return len(self._stash or ())

    def stashed(self) -> list[Any]:
        """The messages waiting in the stash, oldest first (a copy)."""
        return [message for message, _ in self._stash or ()]

    def start(self) -> Self:
        """Run ``on_start`` and begin processing messages. Returns the actor."""
        result = self.on_start()
        if isawaitable(result):
            self._task = asyncio.get_running_loop().create_task(self._continue(result, None))
            return self
        self._draining = False
        if self._mailbox:
            self._schedule()
        return self

    def tell(self, message: Any) -> None:
        """Send ``message`` without waiting.

        Raises ActorStoppedError once stopped, StashFullError when paused with a full stash.
        """
        self._enqueue(message, None)

    async def ask(self, message: Any, timeout: float | None = 5.0) -> Any:
        """Send ``message`` and wait for what ``receive`` returns (or raises).

        Raises :class:`~ibkr_exec.errors.AskTimeoutError` (a TimeoutError) after ``timeout``.
        """
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._enqueue(message, reply)
        try:
            return await asyncio.wait_for(reply, timeout)
        except TimeoutError:
            raise AskTimeoutError(
                f"actor {self.name!r} did not answer {type(message).__name__} within {timeout} s"
            ) from None

    def pause(self) -> None:
        """Enter PAUSED: stashable messages wait in the stash until :meth:`resume`."""
        self._fire("pause")

    def resume(self) -> None:
        """Leave PAUSED and replay the stash, in order, ahead of newer messages."""
        self._fire("resume")
        stash = self._stash
        if stash:
            self._stash = None
            mailbox = self._mailbox_or_new()
            mailbox.extendleft((_Unstashed(m), r) for m, r in reversed(stash))
        if self.mode != RESTARTING and self._mailbox and not self._draining:
            self._schedule()

    async def stop(self, grace: float = 5.0) -> None:
        """Stop: the message in progress completes, then children stop, then ``on_stop``.

        A message still in progress after ``grace`` seconds is cancelled. Messages still queued or
        stashed are dropped; their askers get ActorStoppedError. No task of this actor or its
        children is left behind. Idempotent.
        """
        if self.mode == STOPPED:
            pending = self._restart_task  # a stop already running in the background
            if pending is not None and pending is not asyncio.current_task():
                await asyncio.gather(pending, return_exceptions=True)
            return
        self._fire("stop")
        self._fail_pending()
        current = asyncio.current_task()
        restart = self._restart_task
        if restart is not None and restart is not current and not restart.done():
            restart.cancel()
            await asyncio.gather(restart, return_exceptions=True)
        task = self._task
        if task is not None and task is not current and not task.done():
            await asyncio.wait({task}, timeout=grace)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        for child in list((self._children or {}).values()):
            await child.stop(grace)
        if self._orphans:
            await asyncio.gather(*self._orphans, return_exceptions=True)
            self._orphans = None
        try:
            result = self.on_stop()
            if isawaitable(result):
                await result
        except Exception as error:  # a stop is always clean; the hook hears of its own failure
            self.on_failure(error, None)
        parent = self._parent
        if parent is not None and parent._children is not None:
            parent._children.pop(self.name, None)

    # -- internals ------------------------------------------------------------------------------

    def _fire(self, trigger: str) -> None:
        _MODES.fire(self, trigger)

    def _mailbox_or_new(self) -> deque[Envelope]:
        mailbox = self._mailbox
        if mailbox is None:
            mailbox = self._mailbox = deque()
        return mailbox

    def _enqueue(self, message: Any, reply: asyncio.Future[Any] | None) -> None:
        mode = self.mode
        if mode == STOPPED:
            raise ActorStoppedError(f"actor {self.name!r} has stopped; {message!r} not delivered")
        if mode == PAUSED and self.stashable(message):
            error = self._stash_put(message, reply)
            if error is not None:
                raise error
            return
        self._mailbox_or_new().append((message, reply))
        if not self._draining and mode != RESTARTING:
            self._schedule()

    def _stash_put(self, message: Any, reply: asyncio.Future[Any] | None) -> StashFullError | None:
        stash = self._stash
        if stash is None:
            stash = self._stash = deque()
        if len(stash) >= self.stash_limit:
            return StashFullError(
                f"actor {self.name!r} is paused and its stash is full "
                f"({self.stash_limit} messages): {type(message).__name__} refused"
            )
        stash.append((message, reply))
        self.on_stashed(message)
        return None

    def _schedule(self) -> None:
        self._draining = True
        asyncio.get_running_loop().call_soon(self._drain)

    def _drain(self) -> None:
        mailbox = self._mailbox
        budget = _BATCH
        while mailbox:
            mode = self.mode
            if mode not in (RUNNING, PAUSED):
                break
            if not budget:
                asyncio.get_running_loop().call_soon(self._drain)
                return
            budget -= 1
            message, reply = mailbox.popleft()
            if reply is not None and reply.done():
                continue  # the asker gave up (timeout)
            unstashed = type(message) is _Unstashed
            if unstashed:
                message = message.message
            if mode == PAUSED and self.stashable(message):
                error = self._stash_put(message, reply)
                if error is not None:
                    if reply is not None:
                        reply.set_exception(error)
                    else:
                        self.on_stash_overflow(message, error)
                continue
            try:
                result = self.receive_unstashed(message) if unstashed else self.receive(message)
                if result is not None and isawaitable(result):
                    loop = asyncio.get_running_loop()
                    self._task = loop.create_task(self._continue(result, reply, message))
                    return
            except Exception as error:
                self._draining = False
                self._failed(error, message, reply)
                return
            if reply is not None and not reply.done():
                reply.set_result(result)
        if not mailbox:
            self._mailbox = None  # an idle actor holds no mailbox object
        self._draining = False

    async def _continue(
        self, awaitable: Any, reply: asyncio.Future[Any] | None, message: Any = None
    ) -> None:
        try:
            result = await awaitable
        except Exception as error:
            self._task = None
            self._draining = False
            self._failed(error, message, reply)
            return
        if reply is not None and not reply.done():
            reply.set_result(result)
        self._task = None
        self._drain()

    def _fail_pending(self) -> None:
        for queue in (self._mailbox, self._stash):
            for _, reply in queue or ():
                if reply is not None and not reply.done():
                    reply.set_exception(ActorStoppedError(f"actor {self.name!r} stopped"))
        self._mailbox = self._stash = None

    def _failed(
        self, error: BaseException, message: Any, reply: asyncio.Future[Any] | None
    ) -> None:
        if reply is not None and not reply.done():
            reply.set_exception(error)
        self.on_failure(error, message)
        if self.mode == STOPPED:
            return  # failed while stopping: nothing to restart
        policy = self._policy or self.restart_policy
        loop = asyncio.get_running_loop()
        if policy.restart is Restart.TEMPORARY:
            self._stop_in_background(self, loop)
            return
        now = time.monotonic()
        times = self._restart_times
        if times is None:
            times = self._restart_times = deque()
        while times and now - times[0] > policy.within_seconds:
            times.popleft()
        if len(times) >= policy.max_restarts:
            self._escalate(error, policy, loop)
            return
        times.append(now)
        self._fire("fail")
        delay = policy.backoff(len(times) - 1)
        self._restart_task = loop.create_task(self._restart_after(delay, error))

    async def _restart_after(self, delay: float, error: BaseException) -> None:
        await asyncio.sleep(delay)
        try:
            result = self.on_restart(error)
            if isawaitable(result):
                await result
        except Exception as restart_error:
            self._failed(restart_error, None, None)
            return
        self._restart_task = None
        self._fire("restarted")
        # Paused or not, drain: while paused, stashable messages move to the stash.
        if self._mailbox and not self._draining:
            self._schedule()

    def _escalate(
        self, error: BaseException, policy: RestartPolicy, loop: asyncio.AbstractEventLoop
    ) -> None:
        parent = self._parent
        self._stop_in_background(parent or self, loop)
        if parent is not None and parent.mode != STOPPED:
            escalation = EscalationError(self.name, policy.max_restarts, policy.within_seconds)
            escalation.__cause__ = error
            parent._fail_from_child(escalation)

    def _fail_from_child(self, escalation: EscalationError) -> None:
        if self.mode == RESTARTING:
            return  # already restarting; its restart covers this
        self._draining = False
        self._failed(escalation, None, None)

    def _stop_in_background(self, owner: Actor, loop: asyncio.AbstractEventLoop) -> None:
        # Called from a message handler's stack, which stop() would wait for: run it as a task the
        # owner's own stop() awaits, so no task outlives the tree.
        task = loop.create_task(self.stop())
        if owner is self:
            self._restart_task = task
        else:
            orphans = owner._orphans
            if orphans is None:
                orphans = owner._orphans = []
            orphans.append(task)
