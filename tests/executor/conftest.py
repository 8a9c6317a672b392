"""Fixtures: an IBKROrderExecutor connected through the real ib_async client to FakeTWS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio

from ibkr_exec import AuditLogger, IBKRConnectionManager, IBKROrderExecutor
from ibkr_exec.sim import FakeTWS


def far_zone() -> str:
    """A TWS time zone 11 hours or more from this machine's, so that a library reading TWS's
    zone-less times in the machine's zone would be caught by every test that checks a time."""
    offset = datetime.now().astimezone().utcoffset() or timedelta(0)
    return "Pacific/Pago_Pago" if offset >= timedelta(0) else "Pacific/Kiritimati"


def make_executor(
    tws: FakeTWS, journal_path: Path, *, client_id: int = 1, **manager_options: object
) -> IBKROrderExecutor:
    """An executor (not started) for ``tws`` writing its journal to ``journal_path``."""
    options: dict[str, object] = {
        "timeout_seconds": 3.0,
        "reconnect_backoff_seconds": 0.02,
        "reconnect_max_attempts": 50,
        "max_requests_per_second": 0,
    }
    options.update(manager_options)
    manager = IBKRConnectionManager(
        tws.host,
        tws.port,
        client_id,
        audit_logger=AuditLogger(journal_path),
        **options,  # type: ignore[arg-type]
    )
    return IBKROrderExecutor(manager)


@pytest.fixture
def journal_path(tmp_path: Path) -> Path:
    """Where the test's journal is written (a real file)."""
    return tmp_path / "journal.jsonl"


@pytest_asyncio.fixture
async def tws() -> AsyncIterator[FakeTWS]:
    """A FakeTWS with AAPL at 150 and MSFT at 300."""
    async with FakeTWS(timezone=far_zone()) as sim:
        sim.set_price("AAPL", Decimal("150"))
        sim.set_price("MSFT", Decimal("300"))
        yield sim


@pytest_asyncio.fixture
async def executor(tws: FakeTWS, journal_path: Path) -> AsyncIterator[IBKROrderExecutor]:
    """A started executor on ``tws``; stopped (and its journal closed) after the test."""
    ex = make_executor(tws, journal_path)
    await ex.start()
    yield ex
    await ex.stop()
    ex.journal.close()
