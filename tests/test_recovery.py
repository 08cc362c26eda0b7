"""No stranded letter: a run first closes every unfinished batch of its state (issue 13, defect 1).

A batch that failed or was interrupted mid-render, followed by a plain re-run or the next night's
run: the letters it rendered are sealed in its own folder (status `closed`), those it never
rendered are decided afresh, and nothing points at a folder without a manifest.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from letters.cli.app import app
from letters.errors import FileSystemError
from letters.fsutil import write_bytes_atomic
from letters.ops import produce
from letters.ops.batch import Interrupted
from letters.processes import stop_now
from letters.proof.seal import verify_batch
from letters.state import open_store
from letters.state.base import transaction
from letters.state.schema import MIGRATIONS
from tests.helpers import (
    AS_OF,
    CERTIFIED,
    RecordingReporter,
    WriteCsv,
    at,
    batch_dirs,
    manifest,
    read_rows,
    run_in_process,
)

CUSTOMERS = 6
FAIL_AT = 3  # the third PDF write fails: two letters rendered, the other four pending


@pytest.fixture
def inputs(write_accounts: WriteCsv, write_sources: WriteCsv) -> tuple[Path, list[Path]]:
    """Six debtors, one letter each; every other one certified (a mailing book line)."""
    accounts = write_accounts(
        *(
            {"account_id": f"A{n}", "customer_id": f"C{n}", **(CERTIFIED if n % 2 else {})}
            for n in range(1, CUSTOMERS + 1)
        )
    )
    sources = write_sources(*({"customer_id": f"C{n}"} for n in range(1, CUSTOMERS + 1)))
    return accounts, [sources]


def _stop_at(
    monkeypatch: pytest.MonkeyPatch, failure: Callable[[], BaseException], at_write: int = FAIL_AT
) -> None:
    """Make the `at_write`-th PDF write raise (a full disk, or a Ctrl-C)."""
    real = write_bytes_atomic
    writes = [0]

    def write(target_path: Path, data: bytes) -> None:
        writes[0] += 1
        if writes[0] >= at_write:
            raise failure()
        real(target_path, data)

    monkeypatch.setattr(produce, "write_bytes_atomic", write)


def _disk_full() -> BaseException:
    return FileSystemError("pdf/x.pdf: cannot write: No space left on device")


def _state_rows(out_dir: Path, query: str) -> list[tuple[object, ...]]:
    db = sqlite3.connect(out_dir / "letters.db")
    try:
        return db.execute(query).fetchall()
    finally:
        db.close()


def _assert_nothing_stranded(out_dir: Path) -> None:
    """Every letter the state holds is in a sealed batch whose manifest lists its PDF, intact;
    every `already_sent` detail names a piece in a folder whose manifest has it."""
    generated: dict[str, set[str]] = {}
    for batch_dir in batch_dirs(out_dir):
        assert verify_batch(batch_dir, None).problems == []
        generated[batch_dir.name] = {
            r["piece_id"] for r in manifest(batch_dir) if r["status"] == "generated"
        }
    for piece, batch, status in _state_rows(
        out_dir, "SELECT piece_id, batch_id, status FROM letters"
    ):
        assert status == "rendered"
        assert piece in generated[str(batch)], f"{piece} is stranded in {batch}"
    for batch_dir in batch_dirs(out_dir):
        for row in manifest(batch_dir):
            if row["reason_code"] == "already_sent":
                piece, batch = row["reason_detail"].removeprefix("piece ").split(" in batch ")
                assert piece in generated[batch]


def test_a_failed_batch_is_closed_and_sealed_by_a_plain_rerun(
    inputs: tuple[Path, list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out_dir = tmp_path / "out"
    _stop_at(monkeypatch, _disk_full)
    with pytest.raises(FileSystemError):
        run_in_process(*inputs, out_dir, now=at("02:00:00"))
    monkeypatch.undo()
    (failed_dir,) = batch_dirs(out_dir)
    assert not (failed_dir / "manifest.csv").exists()  # today: stranded, no manifest

    reporter = RecordingReporter()
    result = run_in_process(*inputs, out_dir, now=at("03:00:00"), reporter=reporter)

    closed_rows = manifest(failed_dir)
    assert [r["status"] for r in closed_rows] == ["generated"] * (FAIL_AT - 1)
    seal = json.loads((failed_dir / "batch.json").read_text())
    assert seal["status"] == "closed" and seal["closed_by"] == result.batch_id
    assert (
        read_rows(failed_dir / "print-order.csv") and (failed_dir / "print-file-001.pdf").exists()
    )
    book = read_rows(failed_dir / "mailing-book.csv")
    certified = [r for r in closed_rows if r["article_number"]]
    assert [r["piece_id"] for r in book] == [r["piece_id"] for r in certified] != []
    assert {r["mail_class"] for r in certified} == {"certified"}
    assert all(r["address_line1"] and r["pdf_sha256"] for r in closed_rows)
    assert json.loads((failed_dir / "summary.json").read_text())["status"] == "closed"
    assert "closed by batch" in (failed_dir / "run.log").read_text()

    # the new batch: the two sealed letters are already sent; the four reserved (pending) but
    # never rendered are released, decided afresh, and go now
    rows = {r["customer_id"]: r for r in manifest(result.batch_dir)}
    sent = {r["customer_id"] for r in closed_rows}
    assert {c for c, r in rows.items() if r["reason_code"] == "already_sent"} == sent
    assert {c for c, r in rows.items() if r["status"] == "generated"} == set(rows) - sent
    assert result.summary()["closed_batches"] == [
        {"batch_id": failed_dir.name, "was": "failed", "letters": 2, "accounts": 2,
         "released": CUSTOMERS - 2, "mailing_book": len(book)}
    ]  # fmt: skip
    assert any(
        line.startswith(f"closed batch {failed_dir.name} (failed)") for line in reporter.lines
    )
    assert "closed batch" in (result.batch_dir / "run.log").read_text()
    _assert_nothing_stranded(out_dir)


def test_an_interrupted_batch_is_closed_by_the_next_nights_run(
    inputs: tuple[Path, list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out_dir = tmp_path / "out"
    _stop_at(monkeypatch, KeyboardInterrupt)
    with pytest.raises(Interrupted):
        run_in_process(*inputs, out_dir, now=at("02:00:00"))
    monkeypatch.undo()
    (stopped_dir,) = batch_dirs(out_dir)

    next_night = AS_OF + timedelta(days=1)
    result = run_in_process(*inputs, out_dir, as_of=next_night, now=at("02:00:00", next_night))

    assert result.batch_id != stopped_dir.name and not result.resumed
    assert json.loads((stopped_dir / "batch.json").read_text())["status"] == "closed"
    assert len(manifest(stopped_dir)) == FAIL_AT - 1
    reasons = [r["reason_code"] for r in manifest(result.batch_dir)]
    assert reasons.count("already_sent") == FAIL_AT - 1
    assert reasons.count("letter_due") == CUSTOMERS - (FAIL_AT - 1)
    assert result.summary()["closed_batches"][0]["was"] == "interrupted"
    _assert_nothing_stranded(out_dir)


def test_the_same_inputs_still_resume_and_close_nothing(
    inputs: tuple[Path, list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out_dir = tmp_path / "out"
    _stop_at(monkeypatch, KeyboardInterrupt)
    with pytest.raises(Interrupted):
        run_in_process(*inputs, out_dir, now=at("02:00:00"))
    monkeypatch.undo()
    result = run_in_process(*inputs, out_dir, now=at("03:00:00"))
    assert result.resumed and result.summary()["closed_batches"] == []
    assert [d.name for d in batch_dirs(out_dir)] == [result.batch_id]
    assert len([r for r in manifest(result.batch_dir) if r["status"] == "generated"]) == CUSTOMERS


def test_a_stop_signal_python_dropped_still_stops_the_run_before_the_seal(
    inputs: tuple[Path, list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out_dir, real, writes = tmp_path / "out", write_bytes_atomic, [0]

    def write(target_path: Path, data: bytes) -> None:
        writes[0] += 1
        if writes[0] == FAIL_AT:  # Ctrl-C lands in a weakref callback: "Exception ignored in"
            with contextlib.suppress(KeyboardInterrupt):
                stop_now(signal.SIGINT, None)
        real(target_path, data)

    monkeypatch.setattr(produce, "write_bytes_atomic", write)
    with pytest.raises(Interrupted):
        run_in_process(*inputs, out_dir, now=at("02:00:00"))
    monkeypatch.undo()
    (stopped_dir,) = batch_dirs(out_dir)
    assert json.loads((stopped_dir / "summary.json").read_text())["status"] == "interrupted"
    assert not (stopped_dir / "batch.json").exists()

    result = run_in_process(*inputs, out_dir, now=at("03:00:00"))  # the stop is not carried over
    assert result.resumed and result.batch_id == stopped_dir.name
    assert len([r for r in manifest(result.batch_dir) if r["status"] == "generated"]) == CUSTOMERS
    _assert_nothing_stranded(out_dir)


def test_batches_and_history_say_a_letter_is_sent_only_once_sealed(
    inputs: tuple[Path, list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out_dir = tmp_path / "out"
    _stop_at(monkeypatch, _disk_full)
    with pytest.raises(FileSystemError):
        run_in_process(*inputs, out_dir, now=at("02:00:00"))
    monkeypatch.undo()
    runner = CliRunner()
    listing = runner.invoke(app, ["batches", "--out", str(out_dir)])
    assert "failed: letters not yet sent" in listing.stdout
    history = runner.invoke(app, ["history", "C1", "--out", str(out_dir)])
    assert "rendered, not yet sent" in history.stdout

    run_in_process(*inputs, out_dir, now=at("03:00:00"))
    listing = runner.invoke(app, ["batches", "--out", str(out_dir)])
    assert "closed" in listing.stdout and "not yet sent" not in listing.stdout
    history = runner.invoke(app, ["history", "C1", "--out", str(out_dir)])
    assert "final, sent)" in history.stdout and "not yet sent" not in history.stdout


def test_a_closed_batch_cannot_be_resumed(
    inputs: tuple[Path, list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out_dir = tmp_path / "out"
    _stop_at(monkeypatch, _disk_full)
    with pytest.raises(FileSystemError):
        run_in_process(*inputs, out_dir, now=at("02:00:00"))
    monkeypatch.undo()
    (failed_dir,) = batch_dirs(out_dir)
    run_in_process(*inputs, out_dir, now=at("03:00:00"))
    args = ["run", str(inputs[0]), "--sources", str(inputs[1][0]), "--out", str(out_dir)]
    result = CliRunner().invoke(app, [*args, "--as-of", "2026-11-20", "--resume", failed_dir.name])
    assert result.exit_code == 2
    assert f"Error: --resume: batch {failed_dir.name} is already closed" in result.output


def test_the_schema_migration_allows_closed_and_keeps_every_row(tmp_path: Path) -> None:
    db_path = tmp_path / "old.db"
    db = sqlite3.connect(db_path, isolation_level=None)
    for script in MIGRATIONS[:4]:  # a state written before `closed` existed
        for statement in script.split(";"):
            if statement.strip():
                db.execute(statement)
    db.execute("PRAGMA user_version = 4")
    db.execute(
        "INSERT INTO batches (batch_id, as_of, started_at, status, batch_dir, request_json)"
        " VALUES ('B1', '2026-11-20', '2026-11-20T02:00:00', 'failed', 'x', '{}')"
    )
    db.execute(
        "INSERT INTO letters (letter_key, piece_id, batch_id, customer_id, stage, cycle, status,"
        " created_at) VALUES ('C1|final|2026-08-01', 'B1-000001', 'B1', 'C1', 'final',"
        " '2026-08-01', 'rendered', 'now')"
    )
    db.close()
    store = open_store(db_path)
    try:
        store.finish_batch("B1", "closed", "2026-11-21T02:00:00", {})
        record = store.batch("B1")
        assert record is not None and record.status == "closed"
        assert [r.piece_id for r in store.letters_of_batch("B1")] == ["B1-000001"]
    finally:
        store.close()
    db = sqlite3.connect(db_path)
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    schema = db.execute("SELECT sql FROM sqlite_master WHERE name = 'letters'").fetchone()[0]
    assert "REFERENCES batches(batch_id)" in schema
    db.close()


class _StoppedAtCommit(sqlite3.Connection):
    """A connection on which a stop signal lands as the first COMMIT is sent."""

    stop = True

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql == "COMMIT" and self.stop:
            self.stop = False
            raise KeyboardInterrupt
        return super().execute(sql, *args)


def test_a_stop_as_a_write_commits_leaves_no_transaction_open(tmp_path: Path) -> None:
    """The write is rolled back and the state stays usable: the run's closing write (the batch's
    status) still goes through. Seen once: SIGTERM in the end stage, then `cannot start a
    transaction within a transaction` and exit 1 instead of 5."""
    db = sqlite3.connect(tmp_path / "s.db", isolation_level=None, factory=_StoppedAtCommit)
    db.execute("CREATE TABLE t (x)")
    with pytest.raises(KeyboardInterrupt), transaction(db) as tx:
        tx.execute("INSERT INTO t VALUES (1)")
    assert not db.in_transaction
    with transaction(db) as tx:
        tx.execute("INSERT INTO t VALUES (2)")
    assert db.execute("SELECT x FROM t").fetchall() == [(2,)]
    db.close()
