"""ib_async's log records: the library's own connection hands them to loguru, never to the
user's stderr, and leaves the application's ``logging`` configuration alone."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import ib_async
import pytest
from loguru import logger

from ibkr_exec.broker.ib_log import route_ib_async_logging

# A user's program: default logging and loguru configuration, plus a loguru sink of its own.
# A normal cancel, then the simulator goes away (the link drops, a reconnect attempt fails) and
# comes back on the same port (the executor reconnects and reconciles).
_SESSION = r"""
import asyncio, json, logging, sys
from loguru import logger
from ibkr_exec import IBKRConnectionManager, IBKROrderExecutor, OrderRequest, OrderStatus
from ibkr_exec import OrderType, Side
from ibkr_exec.sim import FakeTWS

records = []
seen = {}

def sink(message):
    record = message.record
    records.append({"level": record["level"].name, "message": record["message"],
                    "ib_async": record["extra"]["ib_async"]})
    for key, event in seen.items():
        if key in record["message"]:
            event.set()

logger.add(sink, level="TRACE", filter=lambda r: "ib_async" in r["extra"], format="{message}")

class Statuses:
    def __init__(self):
        self.cancelled = asyncio.Event()
    def on_order_status(self, order):
        if order.status is OrderStatus.CANCELLED:
            self.cancelled.set()

async def main():
    seen.update({key: asyncio.Event() for key in ("Peer closed", "API connection failed")})
    tws = FakeTWS()
    await tws.start()
    tws.set_price("AAPL", "150")
    manager = IBKRConnectionManager(
        tws.host, tws.port, 1, timeout_seconds=5, reconnect_backoff_seconds=0.05,
        reconnect_max_attempts=100,
    )
    statuses = Statuses()
    executor = IBKROrderExecutor(manager, order_handlers=[statuses])
    await executor.start()
    order = await executor.submit_order(
        OrderRequest("AAPL", 10, OrderType.LIMIT, Side.BUY, limit_price="100")
    )
    await executor.cancel_order(order.client_order_id)
    await asyncio.wait_for(statuses.cancelled.wait(), 10)
    await tws.stop()  # the socket closes; reconnect attempts find nobody listening
    await asyncio.wait_for(seen["Peer closed"].wait(), 10)
    await asyncio.wait_for(seen["API connection failed"].wait(), 10)
    await tws.start()  # same port
    await manager.ensure_connected(timeout=10)
    state = manager.state
    await executor.stop()
    await tws.stop()
    print(json.dumps({"state": state, "records": records,
                      "propagate": logging.getLogger("ib_async").propagate,
                      "root_handlers": len(logging.getLogger().handlers),
                      "ib_async_handlers": len(logging.getLogger("ib_async.client").handlers)}))

asyncio.run(main())
"""

# What ib_async wrote to stderr before (through logging.lastResort).
NOISE = ("Error 202", "Order Canceled", "Peer closed connection", "API connection failed")


@pytest.fixture(scope="module")
def session() -> tuple[dict[str, object], str]:
    done = subprocess.run(
        [sys.executable, "-c", _SESSION], capture_output=True, text=True, timeout=90, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1]), done.stderr


def test_a_cancel_and_a_reconnect_write_nothing_of_ib_async_on_stderr(
    session: tuple[dict[str, object], str],
) -> None:
    result, stderr = session
    assert result["state"] == "READY"
    for noise in NOISE:
        assert noise not in stderr, stderr


@pytest.mark.parametrize(
    ("text", "source"),
    [
        ("Error 202", "ib_async.wrapper"),
        ("Peer closed connection", "ib_async.client"),
        ("API connection failed", "ib_async.client"),
    ],
)
def test_what_the_library_handles_is_a_loguru_trace_record(
    session: tuple[dict[str, object], str], text: str, source: str
) -> None:
    result, _ = session
    records = result["records"]
    assert isinstance(records, list)
    found = [r for r in records if text in r["message"]]
    assert found, records
    assert {(r["level"], r["ib_async"]) for r in found} == {("TRACE", source)}
    assert found[0]["message"].startswith(f"{source}: ")


def test_the_applications_logging_configuration_is_left_alone(
    session: tuple[dict[str, object], str],
) -> None:
    result, _ = session
    assert (result["propagate"], result["root_handlers"], result["ib_async_handlers"]) == (
        True,
        0,
        0,
    )


# -- the routing on one IB object (real ib_async objects, no connection) --------------------------


@pytest.fixture
def loguru_records() -> Iterator[list[tuple[str, str, bool]]]:
    """What reaches loguru from ib_async, with ib_async's loggers at the default level (WARNING;
    another test in this process may have changed it)."""
    registered = logging.getLogger("ib_async")
    level = registered.level
    registered.setLevel(logging.WARNING)
    records: list[tuple[str, str, bool]] = []
    sink = logger.add(
        lambda m: records.append(
            (m.record["level"].name, m.record["message"], m.record["exception"] is not None)
        ),
        level="TRACE",
        filter=lambda r: "ib_async" in r["extra"],
    )
    yield records
    logger.remove(sink)
    registered.setLevel(level)


def test_a_message_ib_async_cannot_decode_keeps_its_level_and_traceback(
    loguru_records: list[tuple[str, str, bool]],
) -> None:
    ib = ib_async.IB()
    route_ib_async_logging(ib)
    decoder: Any = ib.client.decoder
    decoder.interpret(["3", "not-a-number"])  # orderStatus with a malformed order id
    [(level, message, has_traceback)] = loguru_records
    assert (level, has_traceback) == ("ERROR", True)
    assert message.startswith("ib_async.Decoder: Error handling fields")


def test_another_ib_object_of_the_application_logs_as_before(
    loguru_records: list[tuple[str, str, bool]], caplog: pytest.LogCaptureFixture
) -> None:
    ours, theirs = ib_async.IB(), ib_async.IB()
    route_ib_async_logging(ours)
    with caplog.at_level(logging.INFO, logger="ib_async"):
        theirs.client._logger.error("their error")
        ours.client._logger.error("our error")
        ours.client._logger.info("our chatter")  # enabled because the app asked for INFO
    assert [r.getMessage() for r in caplog.records] == ["their error"]
    assert [(level, message) for level, message, _ in loguru_records] == [
        ("TRACE", "ib_async.client: our error"),
        ("TRACE", "ib_async.client: our chatter"),
    ]


def test_ib_async_chatter_below_the_applications_level_costs_nothing(
    loguru_records: list[tuple[str, str, bool]],
) -> None:
    ib = ib_async.IB()
    route_ib_async_logging(ib)
    assert not ib.client._logger.isEnabledFor(logging.INFO)  # WARNING and up
    ib.client._logger.info("not wanted")
    assert loguru_records == []
