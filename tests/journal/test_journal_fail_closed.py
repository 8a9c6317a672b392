"""Fail closed: a journal that cannot be written stops placements, tells the application, and
never keeps stop() from completing. Through the public API, on FakeTWS over loopback."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from ibkr_exec import IBKRConnectionManager, IBKROrderExecutor, JournalError
from ibkr_exec.sim import FakeTWS

# The executor runs in a child process whose file-size limit is set, mid-run, to the journal's
# size: the kernel then refuses every further write to it (EFBIG), as a full disk would (ENOSPC).
# The simulator stays in this process, so its placement count is the broker's own word.
CHILD = textwrap.dedent(
    """
    import asyncio, json, os, resource, signal, sys
    from loguru import logger
    from ibkr_exec import (
        ConnectionEventHandler, IBKRConnectionManager, IBKROrderExecutor, JournalError,
        OrderRequest,
    )

    port, path = int(sys.argv[1]), sys.argv[2]
    seen = {"handler": [], "loguru_errors": [], "errors": []}

    class Watcher(ConnectionEventHandler):
        def on_journal_failed(self, error):
            seen["handler"].append(str(error))

    logger.add(lambda m: seen["loguru_errors"].append(str(m.record["message"])), level="ERROR")

    def request(cid):
        return OrderRequest("AAPL", 10, "LIMIT", "BUY", limit_price="140", client_order_id=cid)

    async def main():
        manager = IBKRConnectionManager(
            "127.0.0.1", port, 1, journal_path=path, timeout_seconds=3.0,
            max_requests_per_second=0,
        )
        executor = IBKROrderExecutor(manager, connection_handlers=[Watcher()])
        await executor.start()
        await executor.submit_order(request("ok-1"))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
        size = os.path.getsize(path)
        hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
        for cid in ("refused-1", "refused-2"):
            try:
                await executor.submit_order(request(cid))
            except JournalError as error:
                seen["errors"].append(str(error))
        seen["status"] = (await executor.get_order_status("refused-1")).status.value
        await executor.stop()
        seen["stopped"] = True

    asyncio.run(main())
    print(json.dumps(seen))
    """
)


async def run_child(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE/SIGXFSZ as on Linux")
async def test_an_unwritable_journal_stops_placements_and_tells_the_application(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.jsonl"
    async with FakeTWS() as tws:
        tws.set_price("AAPL", Decimal("150"))
        code, out, err = await run_child(str(tws.port), str(path))
        assert code == 0, err
        placed = tws.placements_received
    seen = json.loads(out.splitlines()[-1])
    assert placed == 1  # only the order placed before the journal failed
    assert len(seen["errors"]) == 2
    assert all("not sent" in e and "cannot be written" in e for e in seen["errors"])
    assert seen["status"] == "REJECTED"
    assert len(seen["handler"]) == 1
    assert "File too large" in seen["handler"][0]
    assert any("audit journal failed" in m for m in seen["loguru_errors"])
    assert seen["stopped"] is True


async def test_a_journal_path_that_reads_as_an_endless_line_fails_at_start() -> None:
    async with FakeTWS() as tws:
        manager = IBKRConnectionManager(tws.host, tws.port, 1, journal_path="/dev/full")
        executor = IBKROrderExecutor(manager)
        with pytest.raises(JournalError, match="/dev/full:1: a line longer than"):
            await executor.start()
        await executor.stop()
        assert tws.placements_received == 0
