"""The journal writer: its own file, batched per loop turn, ordered, fsync as configured, and
polite to loguru (a structured record at the application's level, sinks never touched)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from loguru import logger

from ibkr_exec.audit import AuditLogger, FsyncPolicy, JournalWarning, read_journal
from ibkr_exec.config import Settings
from ibkr_exec.errors import JournalError


def lines_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def handler_ids() -> set[int]:
    return set(logger._core.handlers)  # type: ignore[attr-defined]


def test_the_journal_adds_no_loguru_sink(tmp_path: Path) -> None:
    before = handler_ids()
    with AuditLogger(tmp_path / "j.jsonl") as journal:
        journal.record("x")
        assert handler_ids() == before
    assert handler_ids() == before


def test_the_application_removing_every_sink_does_not_break_the_journal(tmp_path: Path) -> None:
    # In a child process: logger.remove() is global, and this test's process keeps its sinks.
    path = tmp_path / "j.jsonl"
    code = (
        "import sys\n"
        "from loguru import logger\n"
        "from ibkr_exec.audit import AuditLogger\n"
        "logger.remove()\n"  # before the journal exists
        "journal = AuditLogger(sys.argv[1], log_level='DEBUG')\n"
        "journal.record('first')\n"
        "logger.remove()\n"  # and while it runs
        "journal.record('second')\n"
        "journal.close()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert [e["kind"] for e in lines_of(path)] == ["first", "second"]


def test_each_entry_is_a_structured_loguru_record_at_the_chosen_level(tmp_path: Path) -> None:
    records: list[Any] = []
    sink = logger.add(records.append, level="DEBUG", format="{message}")
    try:
        with AuditLogger(tmp_path / "j.jsonl", log_level="DEBUG") as journal:
            journal.record("transition", order_id="7", src="PENDING", dst="SUBMITTED")
        with AuditLogger(tmp_path / "k.jsonl") as quiet:  # default TRACE: below the sink
            quiet.record("unheard")
    finally:
        logger.remove(sink)
    assert len(records) == 1
    entry = records[0].record["extra"]["journal"]
    assert (entry["kind"], entry["src"], entry["dst"], entry["seq"]) == (
        "transition",
        "PENDING",
        "SUBMITTED",
        1,
    )
    assert records[0].record["level"].name == "DEBUG"


def test_log_level_off_sends_no_record(tmp_path: Path) -> None:
    records: list[Any] = []
    sink = logger.add(records.append, level="TRACE")
    try:
        with AuditLogger(tmp_path / "j.jsonl", log_level="OFF") as journal:
            journal.record("x")
    finally:
        logger.remove(sink)
    assert [r for r in records if "journal" in r.record["extra"]] == []


def test_an_unknown_log_level_is_refused_when_the_journal_is_made() -> None:
    with pytest.raises(ValueError, match="NOPE"):
        AuditLogger(log_level="NOPE")


async def test_entries_are_written_once_per_loop_turn(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with AuditLogger(path) as journal:
        journal.record("a")
        journal.record("b")
        assert path.read_text(encoding="utf-8") == ""  # buffered within this turn
        await asyncio.sleep(0)  # one loop turn: the scheduled flush runs
        assert [e["kind"] for e in lines_of(path)] == ["a", "b"]


async def test_entries_reach_the_file_in_the_order_they_were_recorded(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with AuditLogger(path, buffer_entries=7) as journal:
        for i in range(100):
            journal.record("step", payload={"i": i})
            if i % 13 == 0:
                journal.flush(terminal=True)
            if i % 5 == 0:
                await asyncio.sleep(0)
    entries = lines_of(path)
    assert [e["payload"]["i"] for e in entries] == list(range(100))
    assert [e["seq"] for e in entries] == list(range(1, 101))


def test_without_a_running_loop_each_entry_is_written_at_once(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    journal = AuditLogger(path)
    journal.record("now")
    assert [e["kind"] for e in lines_of(path)] == ["now"]
    journal.close()


def count_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return calls


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("never", 0), ("terminal", 2), ("always", 4)],  # 3 writes (1 terminal) + close
)
def test_fsync_is_called_as_the_policy_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy: str, expected: int
) -> None:
    journal = AuditLogger(tmp_path / "j.jsonl", fsync=policy)
    calls = count_fsyncs(monkeypatch)
    journal.record("a")  # no loop: each record is one write
    journal.record("b")
    journal.record("c")
    journal.flush(terminal=True)  # "c" already written: a terminal point with nothing buffered
    journal.close()
    assert len(calls) == expected


async def test_a_terminal_flush_fsyncs_under_the_default_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = AuditLogger(tmp_path / "j.jsonl")
    assert journal.fsync_policy is FsyncPolicy.TERMINAL
    calls = count_fsyncs(monkeypatch)
    journal.record("transition")
    journal.flush()
    assert calls == []
    journal.record("transition", dst="FILLED")
    journal.flush(terminal=True)
    assert len(calls) == 1
    journal.close()


def test_an_unknown_fsync_policy_is_refused_naming_the_choices() -> None:
    with pytest.raises(ValueError, match="never, terminal, always"):
        AuditLogger(fsync="sometimes")


def test_settings_read_the_fsync_policy_and_the_log_level() -> None:
    settings = Settings.from_env(
        {"IBKR_JOURNAL_FSYNC": "Always", "IBKR_JOURNAL_LOG_LEVEL": "debug"}
    )
    assert (settings.journal_fsync, settings.journal_log_level) == ("always", "DEBUG")
    assert Settings().journal_fsync == "terminal"
    with pytest.raises(ValueError, match="IBKR_JOURNAL_FSYNC"):
        Settings.from_env({"IBKR_JOURNAL_FSYNC": "sometimes"})
    with pytest.raises(ValueError, match="IBKR_JOURNAL_LOG_LEVEL"):
        Settings.from_env({"IBKR_JOURNAL_LOG_LEVEL": "LOUD"})


def test_a_torn_tail_is_repaired_before_appending_so_the_next_entry_is_kept(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.jsonl"
    path.write_text('{"seq": 1, "kind": "a"}\n{"seq": 2, "ki', encoding="utf-8")
    with pytest.warns(JournalWarning, match="torn last journal line"):
        journal = AuditLogger(path)
    journal.record("after-the-crash")
    journal.close()
    with pytest.warns(JournalWarning, match=r"j.jsonl:2: corrupt journal line skipped"):
        entries = list(read_journal(path))
    assert [e["kind"] for e in entries] == ["a", "after-the-crash"]
    assert entries[-1]["seq"] == 2  # continues from the last readable entry


def test_a_journal_that_reads_as_an_endless_line_is_a_clear_error_at_start() -> None:
    with pytest.raises(JournalError, match="/dev/zero:1: a line longer than"):
        AuditLogger("/dev/zero")


def test_the_fsync_benchmark_runs() -> None:
    import sys

    root = str(Path(__file__).resolve().parents[2])
    if root not in sys.path:
        sys.path.insert(0, root)
    from bench import journal_fsync

    lines = journal_fsync.main(["--no-record", "--n", "5", "--rounds", "1"])
    assert any("ratio to never" in line for line in lines)


def test_the_connection_manager_opens_its_journal_with_the_settings_policy_and_level(
    tmp_path: Path,
) -> None:
    from ibkr_exec import IBKRConnectionManager

    path = tmp_path / "j.jsonl"
    env = {
        "IBKR_JOURNAL_PATH": str(path),
        "IBKR_JOURNAL_FSYNC": "never",
        "IBKR_JOURNAL_LOG_LEVEL": "DEBUG",
    }
    manager = IBKRConnectionManager.from_settings(Settings.from_env(env))
    records: list[Any] = []
    sink = logger.add(records.append, level="DEBUG")
    try:
        journal = manager.journal
        assert (journal.path, journal.fsync_policy) == (path, FsyncPolicy.NEVER)
        journal.record("x")
        journal.close()
    finally:
        logger.remove(sink)
    assert [r.record["extra"]["journal"]["kind"] for r in records] == ["x"]
    assert IBKRConnectionManager(journal_fsync="always").journal.fsync_policy is FsyncPolicy.ALWAYS
