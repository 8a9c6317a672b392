"""ib_async's log records for the library's own connection, handed to loguru instead of stderr.

ib_async logs through the standard ``logging`` module, on one logger per object: ``IB._logger``
("ib_async.ib"), ``Client._logger`` ("ib_async.client"), ``Wrapper._logger`` ("ib_async.wrapper")
and ``Decoder.logger`` ("ib_async.Decoder"). An application that never configured ``logging``
gets every WARNING and ERROR of those on stderr through ``logging.lastResort``: "Error 202 ...
Order Canceled" on every normal cancel, "Peer closed connection" and "API connection failed" on
every reconnect attempt, all events this library handles (translates, journals, reconnects).

The choice: re-route per instance, not per logger name. The ``IB`` object the adapter creates gets
private loggers (same names, never registered with ``logging``, not propagating) whose one handler
forwards to loguru. Nothing global changes: the root logger, its handlers, the registered
"ib_async" loggers and their ``propagate`` stay as the application left them, and another ``IB``
the application runs in the same process logs exactly as before. Verbosity still follows the
application: a private logger is enabled for a level exactly when the registered logger of the
same name is (``logging.getLogger("ib_async").setLevel(logging.INFO)`` shows ib_async's chatter).

Levels in loguru:
- TRACE: what the library handles (every record of ``ib``, ``client`` and ``wrapper``: errors and
  warnings reach the adapter as callbacks and are journaled; link failures drive the reconnect)
  and ib_async's INFO/DEBUG chatter. TRACE sits below loguru's default stderr sink (DEBUG), so
  the console stays quiet unless the application asks for TRACE.
- the record's own level (WARNING or above) for what the library never sees: a record carrying an
  exception (ib_async failed inside, e.g. a message it could not decode) and any other
  WARNING-or-worse record of the decoder.

Each loguru record carries ``extra["ib_async"]``: the ib_async logger's name.
"""

from __future__ import annotations

import logging
from typing import Any

from loguru import logger

__all__ = ["route_ib_async_logging"]

# (attribute path on the IB object, name of the logger ib_async keeps there)
_INSTANCE_LOGGERS = (
    (("_logger",), "ib_async.ib"),
    (("client", "_logger"), "ib_async.client"),
    (("wrapper", "_logger"), "ib_async.wrapper"),
    (("client", "decoder", "logger"), "ib_async.Decoder"),
)
# Loggers whose warnings and errors are about events the adapter receives as callbacks.
_HANDLED = frozenset({"ib_async.ib", "ib_async.client", "ib_async.wrapper"})
_LOGURU_LEVELS = frozenset({"WARNING", "ERROR", "CRITICAL"})


def _loguru_level(record: logging.LogRecord) -> str:
    if record.exc_info is not None and record.exc_info[0] is not None:
        return record.levelname  # ib_async itself failed: never quiet
    if record.levelno < logging.WARNING or record.name in _HANDLED:
        return "TRACE"
    return record.levelname if record.levelname in _LOGURU_LEVELS else "WARNING"


class _ToLoguru(logging.Handler):
    """Forwards a standard-library record to loguru, at the level :func:`_loguru_level` picks."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a bad format string in ib_async must not break its caller
            text = f"{record.msg!r} {record.args!r}"
        exception = record.exc_info if record.exc_info and record.exc_info[0] else None
        logger.opt(exception=exception).bind(ib_async=record.name).log(
            _loguru_level(record), "{}: {}", record.name, text
        )


class _RoutedLogger(logging.Logger):
    """A private stand-in for one of ib_async's loggers: enabled when the registered logger of
    the same name is, handled by loguru only."""

    def __init__(self, registered: logging.Logger, handler: logging.Handler) -> None:
        super().__init__(registered.name)
        self._registered = registered
        self.propagate = False
        self.addHandler(handler)

    def isEnabledFor(self, level: int) -> bool:
        """As the application configured the registered logger (levels, ``logging.disable``)."""
        return self._registered.isEnabledFor(level)

    def getEffectiveLevel(self) -> int:
        """The registered logger's effective level."""
        return self._registered.getEffectiveLevel()


def route_ib_async_logging(ib: Any) -> None:
    """Give ``ib`` (an ``ib_async.IB``) private loggers that hand its records to loguru.

    Only this object changes; an attribute that is not a ``logging.Logger`` (another ib_async
    version) is left alone.
    """
    handler = _ToLoguru()
    for path, name in _INSTANCE_LOGGERS:
        owner = ib
        for attribute in path[:-1]:
            owner = getattr(owner, attribute, None)
        current = getattr(owner, path[-1], None)
        if isinstance(current, logging.Logger) and not isinstance(current, _RoutedLogger):
            setattr(owner, path[-1], _RoutedLogger(logging.getLogger(name), handler))
