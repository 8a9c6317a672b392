"""The audit journal: schema, reading back after a crash, and manners towards the application."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from loguru import logger
from support import new_order

from ibkr_exec.audit import AuditLogger, JournalWarning, read_journal, replay_orders

SCHEMA = ["ts", "seq", "kind", "actor", "order_id", "client_order_id", "src", "dst", "trigger"]


def write_lines(path: Path, *lines: str) -> None:
    path.write_text("".join(lines), encoding="utf-8")


def test_an_entry_has_the_schema_fields_with_utc_time_and_decimal_as_string(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with AuditLogger(path) as journal:
        journal.order_created(new_order())
    entry = json.loads(path.read_text(encoding="utf-8"))
    assert [k for k in entry if k != "payload"] == SCHEMA
    assert datetime.fromisoformat(entry["ts"]).utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert entry["payload"]["order"]["quantity"] == "100"


def test_sequence_numbers_continue_when_a_journal_is_reopened(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with AuditLogger(path) as journal:
        journal.record("x")
        journal.record("x")
    with AuditLogger(path) as journal:
        assert journal.record("x") == 3


def test_a_torn_last_line_is_skipped_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    write_lines(path, '{"seq": 1, "kind": "a"}\n', '{"seq": 2, "kind": "b"}\n', '{"seq": 3, "ki')
    with pytest.warns(JournalWarning, match="torn last"):
        entries = list(read_journal(path))
    assert [e["seq"] for e in entries] == [1, 2]


def test_a_corrupt_line_in_the_middle_is_skipped_with_a_warning_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    write_lines(path, '{"seq": 1}\n', "garbage\n", '{"seq": 3}\n')
    with pytest.warns(JournalWarning, match=r"j.jsonl:2: corrupt"):
        entries = list(read_journal(path))
    assert [e["seq"] for e in entries] == [1, 3]


def test_the_application_sinks_are_untouched() -> None:
    handlers_before = dict(logger._core.handlers)  # type: ignore[attr-defined]
    journal = AuditLogger()
    journal.record("x")
    journal.close()
    assert dict(logger._core.handlers) == handlers_before  # type: ignore[attr-defined]


def test_two_journals_never_write_each_others_entries(tmp_path: Path) -> None:
    with AuditLogger(tmp_path / "a.jsonl") as a, AuditLogger(tmp_path / "b.jsonl") as b:
        a.record("only-a")
        b.record("only-b")
        a.flush()
        b.flush()
        assert [e["kind"] for e in a.entries()] == ["only-a"]
        assert [e["kind"] for e in b.entries()] == ["only-b"]


def test_entries_are_written_even_when_the_application_disables_the_library_logs(
    tmp_path: Path,
) -> None:
    logger.disable("ibkr_exec")
    try:
        with AuditLogger(tmp_path / "j.jsonl") as journal:
            journal.record("kept")
            assert [e["kind"] for e in journal.entries()] == ["kept"]
    finally:
        logger.enable("ibkr_exec")


def test_a_commission_payload_keeps_decimal_precision() -> None:
    with AuditLogger() as journal:
        journal.record("commission", payload={"commission": Decimal("1.0000001")})
        assert journal.entries()[0]["payload"]["commission"] == "1.0000001"


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)


def test_importing_the_journal_and_actors_prints_nothing() -> None:
    out = run_python("import ibkr_exec.audit, ibkr_exec.actors, ibkr_exec.statemachines")
    assert (out.stdout, out.stderr) == ("", "")


def test_journal_entries_do_not_reach_the_default_stderr_sink() -> None:
    out = run_python(
        "from ibkr_exec.audit import AuditLogger\n"
        "j = AuditLogger()\n"
        "j.record('secret-kind')\n"
        "j.close()\n"
        "assert [e['kind'] for e in j.entries()] == ['secret-kind']\n"
    )
    assert "secret-kind" not in out.stderr + out.stdout


def test_the_original_design_methods_work_as_written_and_read_back(tmp_path: Path) -> None:
    from ibkr_exec.models import Fill, OrderRequest, OrderStatus, Side

    request = OrderRequest("AAPL", 100, "LIMIT", "BUY", limit_price="150", client_order_id="c-1")
    order = new_order()
    fill = Fill(
        "E1", "7", "AAPL", Decimal(40), Decimal("149.5"), Side.BUY, order.submitted_at,
        client_order_id="c-1",
    )  # fmt: skip
    with AuditLogger(tmp_path / "j.jsonl") as journal:
        journal.log_order_submitted(request, order)
        journal.log_order_status_change(order, OrderStatus.SUBMITTED)
        journal.log_fill(fill)
        journal.log_order_cancelled("7", "user asked")
        journal.log_connection_event("connected", {"host": "127.0.0.1"})
        entries = journal.entries()
    submitted, changed, filled, cancelled, connection = entries
    assert submitted["kind"] == "submitted"
    assert submitted["payload"]["request"]["limit_price"] == "150"
    assert submitted["payload"]["order"]["client_order_id"] == "c-1"
    assert (changed["src"], changed["dst"]) == ("SUBMITTED", "PENDING")
    assert (filled["order_id"], filled["payload"]["fill"]["quantity"]) == ("7", "40")
    assert (cancelled["order_id"], cancelled["payload"]["reason"]) == ("7", "user asked")
    assert (connection["trigger"], connection["payload"]) == ("connected", {"host": "127.0.0.1"})
    assert replay_orders(entries)["c-1"].status.value == "PENDING"
