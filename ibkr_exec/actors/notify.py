"""Calling application handlers without letting them hurt the actors.

A handler method may be a plain function or a coroutine function. Plain ones run at once; coroutines
run as tasks that are tracked and awaited by :meth:`Notifier.drain` (no orphan tasks). An exception,
raised at once or by the task later, goes no further: it is logged through loguru at ERROR with its
traceback (the application's sinks decide where it goes; the library adds none) and journaled as an
anomaly, traceback included, so a broken handler is visible both live and after the fact.
"""

from __future__ import annotations

import asyncio
import traceback
from inspect import isawaitable
from typing import Any

from loguru import logger

from ibkr_exec.audit import AuditLogger


class Notifier:
    """Calls ``method`` on handlers, logging and journaling what they raise."""

    __slots__ = ("_journal", "_tasks")

    def __init__(self, journal: AuditLogger) -> None:
        """Journal handler failures to ``journal``."""
        self._journal = journal
        self._tasks: set[asyncio.Future[Any]] = set()

    def call(self, handler: object, method: str, *args: Any, **ids: Any) -> None:
        """Call ``handler.method(*args)`` if the handler has it; ``ids`` label a failure entry."""
        function = getattr(handler, method, None)
        if function is None:
            return
        try:
            result = function(*args)
        except Exception as error:
            self._failed(handler, method, error, ids)
            return
        if result is not None and isawaitable(result):
            task = asyncio.ensure_future(result)
            self._tasks.add(task)
            task.add_done_callback(lambda t: self._done(t, handler, method, ids))

    def _done(self, task: asyncio.Future[Any], handler: object, method: str, ids: Any) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            assert error is not None
            self._failed(handler, method, error, ids)

    def _failed(self, handler: object, method: str, error: BaseException, ids: Any) -> None:
        name = f"{type(handler).__name__}.{method}"
        # exception=error (not exception=True): a coroutine's error is reported from a done
        # callback, outside any except block, and still carries its own traceback.
        logger.opt(exception=error).error(
            "ibkr-exec: handler {} raised {!r}; the order and link actors carry on", name, error
        )
        self._journal.log_anomaly(
            f"handler {name} raised {error!r}",
            payload={
                "handler": type(handler).__name__,
                "method": method,
                "traceback": "".join(traceback.format_exception(error)),
            },
            **ids,
        )

    async def drain(self) -> None:
        """Wait for every handler coroutine still running."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
