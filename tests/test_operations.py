"""Nightly operations: kill and resume, re-runs, the lock, signals, cron vs terminal.

What only a real process shows (kill -9, SIGTERM, a second process against the lock, output with
and without a terminal) runs `letters run` as a subprocess; the rest calls `run_batch` here.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

import pytest
from pypdf import PdfReader
from typer.testing import CliRunner

from letters.cli.app import app
from letters.errors import ExitCode, UsageError
from letters.fsutil import sha256_file
from letters.ops.sample import SampleFiles
from letters.ops.start import new_batch_id
from tests.helpers import (
    RecordingReporter,
    WriteCsv,
    at,
    batch_dirs,
    manifest,
    only_batch,
    run_command,
    run_in_process,
    start_process,
    wait_for_pdfs,
)

AS_OF = "2026-11-20"
runner = CliRunner()


def _command(sample: SampleFiles, out_dir: Path, *extra: str) -> list[str]:
    return run_command(sample.accounts_path, sample.source_paths, out_dir, *extra, as_of=AS_OF)


def _wait_for_orphans(process: subprocess.Popen[str]) -> None:
    """Wait until every process of a killed run's group is gone.

    Render workers die with the run (parent-death signal) and never hold its lock; this only
    makes sure none is left (`tests/test_signals.py` holds them to two seconds).
    """
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)
    pytest.fail("the killed run's worker processes did not exit")


def _run(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
    process = start_process(command)
    stdout, stderr = process.communicate(timeout=300)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def _letters_in_state(out_dir: Path, batch_id: str) -> dict[str, tuple[str, str | None]]:
    with sqlite3.connect(out_dir / "letters.db") as db:
        rows = db.execute(
            "SELECT piece_id, status, pdf_sha256 FROM letters WHERE batch_id = ?", (batch_id,)
        ).fetchall()
    return {piece: (status, digest) for piece, status, digest in rows}


def _generated(rows: list[dict[str, str]]) -> dict[str, set[tuple[str, str]]]:
    """piece id -> the (customer, stage) of its accounts, for generated rows."""
    pieces: dict[str, set[tuple[str, str]]] = {}
    for row in rows:
        if row["status"] == "generated":
            pieces.setdefault(row["piece_id"], set()).add((row["customer_id"], row["stage"]))
    return pieces


def _assert_batch_intact(out_dir: Path, batch_dir: Path) -> dict[str, set[tuple[str, str]]]:
    """Manifest, PDFs and state agree: no duplicate, no missing, no partial file."""
    rows = manifest(batch_dir)
    pieces = _generated(rows)
    assert pieces, "no letter was generated"
    letters = [next(iter(v)) for v in pieces.values()]
    assert len(letters) == len(set(letters)), "a debtor got the same letter twice"
    on_disk = {p.stem for p in (batch_dir / "pdf").iterdir()}
    assert on_disk == set(pieces), "PDFs on disk and manifest pieces differ"
    assert not list(batch_dir.rglob(".tmp-*")), "a partial file was left"
    state = _letters_in_state(out_dir, batch_dir.name)
    assert set(state) == set(pieces)
    by_piece = {r["piece_id"]: r for r in rows if r["status"] == "generated"}
    for piece_id, (status, digest) in state.items():
        pdf_path = batch_dir / "pdf" / f"{piece_id}.pdf"
        assert status == "rendered"
        assert digest == by_piece[piece_id]["pdf_sha256"] == sha256_file(pdf_path)
        assert len(PdfReader(pdf_path).pages) >= 1
    return pieces


def _outcomes(*out_dirs: Path) -> list[dict[tuple[str, str], str]]:
    """Each run's account outcomes (status and reason) where the runs differ."""
    runs = [
        {(r["customer_id"], r["account_id"]): f"{r['status']} {r['reason_code']}: {r['reason_detail']}"
         for r in manifest(only_batch(out))}
        for out in out_dirs
    ]  # fmt: skip
    differ = {key for key in set().union(*runs) if len({run.get(key) for run in runs}) > 1}
    return [{key: run.get(key, "") for key in sorted(differ)} for run in runs]


# --- real processes: kill -9, the lock, SIGTERM, a terminal or none -------------------------


def test_killed_run_resumes_without_duplicates_gaps_or_partial_files(
    ops_sample: SampleFiles, tmp_path: Path
) -> None:
    reference = run_in_process(ops_sample.accounts_path, ops_sample.source_paths,
                               tmp_path / "reference")  # fmt: skip
    assert reference.exit_code == ExitCode.REJECTED_ROWS, reference.summary()
    expected = _assert_batch_intact(tmp_path / "reference", only_batch(tmp_path / "reference"))

    out_dir = tmp_path / "out"
    process = start_process(_command(ops_sample, out_dir))
    wait_for_pdfs(out_dir, 5, process)
    process.send_signal(signal.SIGKILL)  # the run only, as an operator's kill -9 would
    process.wait()
    _wait_for_orphans(process)
    (batch_dir,) = batch_dirs(out_dir)
    assert json.loads((batch_dir / "summary.json").read_text())["status"] == "running"
    assert not (batch_dir / "manifest.csv").exists()

    listing = runner.invoke(app, ["batches", "--out", str(out_dir)])
    assert listing.exit_code == ExitCode.DONE, listing.output
    assert "interrupted" in listing.stdout

    reporter = RecordingReporter()  # a plain re-run resumes the interrupted batch
    resumed = run_in_process(ops_sample.accounts_path, ops_sample.source_paths, out_dir,
                             reporter=reporter)  # fmt: skip
    assert resumed.exit_code == ExitCode.REJECTED_ROWS, reporter.lines
    assert f"batch {batch_dir.name} resumed (as of {AS_OF})" in reporter.lines
    assert batch_dirs(out_dir) == [batch_dir]
    pieces = _assert_batch_intact(out_dir, batch_dir)
    assert sorted(map(sorted, pieces.values())) == sorted(map(sorted, expected.values())), (
        _outcomes(tmp_path / "reference", out_dir)  # seen twice on fresh clones: which and why
    )
    summary = json.loads((batch_dir / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["resumed"] is True
    assert 0 < summary["letters_rendered_this_run"] < summary["letters"]


def test_a_second_concurrent_run_exits_4_naming_the_running_batch(
    ops_sample: SampleFiles, tmp_path: Path
) -> None:
    first = start_process(_command(ops_sample, tmp_path))
    wait_for_pdfs(tmp_path, 1, first)
    first.send_signal(signal.SIGSTOP)  # still running, lock held, however slow the machine
    try:
        second = _run(_command(ops_sample, tmp_path))
    finally:
        first.send_signal(signal.SIGCONT)
        first.send_signal(signal.SIGTERM)  # its own end is another test's
    _, first_stderr = first.communicate(timeout=300)
    (batch_dir,) = batch_dirs(tmp_path)
    assert second.returncode == ExitCode.LOCKED
    assert f"another run holds the lock on letters.db.lock: batch {batch_dir.name}" in second.stderr
    assert second.stderr.splitlines() == [
        f"Error: another run holds the lock on letters.db.lock: batch {batch_dir.name} "
        f"(pid {first.pid} on {socket.gethostname()})"
    ]
    assert first.returncode == ExitCode.INTERRUPTED, first_stderr  # once 1 in CI, not reproduced


def test_sigterm_interrupts_cleanly_and_resume_finishes(
    ops_sample: SampleFiles, tmp_path: Path
) -> None:
    process = start_process(_command(ops_sample, tmp_path))
    wait_for_pdfs(tmp_path, 3, process)
    process.send_signal(signal.SIGTERM)
    _stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == ExitCode.INTERRUPTED
    (batch_dir,) = batch_dirs(tmp_path)
    assert f"can be resumed with --resume {batch_dir.name}" in stderr
    assert stderr.splitlines()[-1] == (
        f"Error: interrupted; batch {batch_dir.name} can be resumed with --resume {batch_dir.name}"
    )
    assert json.loads((batch_dir / "summary.json").read_text())["status"] == "interrupted"
    resumed = run_in_process(ops_sample.accounts_path, ops_sample.source_paths, tmp_path,
                             resume=batch_dir.name)  # fmt: skip
    assert resumed.exit_code == ExitCode.REJECTED_ROWS, resumed.summary()
    _assert_batch_intact(tmp_path, batch_dir)
    log = (batch_dir / "run.log").read_text()
    assert "interrupted" in log and "complete" in log


def _two_debtors(write_accounts: WriteCsv, write_sources: WriteCsv) -> SampleFiles:
    """A batch of two letters: enough for every stage's output, quick to run in a process."""
    accounts = write_accounts({}, {"account_id": "A2", "customer_id": "C2"})
    sources = write_sources({}, {"customer_id": "C2", "line1": "9 Oak Ave", "line2": ""})
    return SampleFiles(accounts, (sources,), accounts.with_name("no-ground-truth.csv"))


# Without a terminal the output is plain lines: tests/test_signals.py checks a real run's stdout.


def test_on_a_terminal_progress_bars_are_drawn(
    write_accounts: WriteCsv, write_sources: WriteCsv, tmp_path: Path
) -> None:
    command = _command(_two_debtors(write_accounts, write_sources), tmp_path / "out")
    main, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": "120", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    env.pop("LETTERS_DB", None)
    process = subprocess.Popen(command, stdin=follower, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    output = io.BytesIO()
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:
            break
        if not chunk:
            break
        output.write(chunk)
    process.wait(timeout=300)
    os.close(main)
    text = output.getvalue().decode("utf-8", "replace")
    assert process.returncode == ExitCode.DONE, text[-2000:]
    assert "━" in text  # the bar
    assert "\x1b[" in text  # drawn with terminal control sequences
    assert "render" in text


# --- in this process, through run_batch's seams ---------------------------------------------


def test_second_run_the_same_night_produces_no_new_piece(
    sample_files: SampleFiles, tmp_path: Path
) -> None:
    accounts, sources = sample_files.accounts_path, sample_files.source_paths
    first = run_in_process(accounts, sources, tmp_path, now=at("02:00:00"))
    assert first.exit_code == ExitCode.REJECTED_ROWS, first.summary()
    second = run_in_process(accounts, sources, tmp_path, now=at("02:30:00"))
    assert second.exit_code == ExitCode.REJECTED_ROWS, second.summary()
    summary = second.summary()
    assert summary["letters"] == 0
    old, new = batch_dirs(tmp_path)
    assert (old.name, new.name) == (first.batch_id, second.batch_id)
    assert not list((new / "pdf").iterdir())
    old_rows = [r for r in manifest(old) if r["status"] == "generated"]
    already = [r for r in manifest(new) if r["reason_code"] == "already_sent"]
    assert old_rows
    assert sorted(r["account_id"] for r in already) == sorted(r["account_id"] for r in old_rows)
    assert all(r["status"] == "suppressed" for r in already)
    assert {r["reason_detail"].split()[1] for r in already} == {r["piece_id"] for r in old_rows}


def test_force_reissues_only_the_named_piece_and_records_it(
    sample_files: SampleFiles, tmp_path: Path
) -> None:
    accounts, sources = sample_files.accounts_path, sample_files.source_paths
    done = run_in_process(accounts, sources, tmp_path, now=at("02:00:00"))
    assert done.exit_code == ExitCode.REJECTED_ROWS
    (first,) = batch_dirs(tmp_path)
    piece = sorted(_generated(manifest(first)))[0]
    with pytest.raises(UsageError) as refused:
        run_in_process(accounts, sources, tmp_path, force=[piece])
    assert refused.value.exit_code == ExitCode.USAGE
    assert "--force needs --force-reason" in str(refused.value)
    assert batch_dirs(tmp_path) == [first]  # refused before a batch was started
    forced = run_in_process(accounts, sources, tmp_path, force=[piece],
                            force_reason="envelope damaged", now=at("02:30:00"))  # fmt: skip
    assert forced.exit_code == ExitCode.REJECTED_ROWS, forced.summary()
    second = batch_dirs(tmp_path)[1]
    assert second.name == forced.batch_id
    assert len(_generated(manifest(second))) == 1
    with sqlite3.connect(tmp_path / "letters.db") as db:
        (row,) = db.execute("SELECT forced_piece_id, reason FROM forced").fetchall()
    assert row == (piece, "envelope damaged")


def test_personal_data_stays_out_of_the_log(sample_files: SampleFiles, tmp_path: Path) -> None:
    result = run_in_process(sample_files.accounts_path, sample_files.source_paths, tmp_path)
    assert result.exit_code == ExitCode.REJECTED_ROWS
    (batch_dir,) = batch_dirs(tmp_path)
    log = (batch_dir / "run.log").read_text()
    with sample_files.accounts_path.open(encoding="utf-8", newline="") as handle:
        accounts = list(csv.DictReader(handle))
    assert len(accounts) >= 30
    for account in accounts[:30]:
        assert account["full_name"] not in log
        assert account["balance"] not in log
    assert (batch_dir / "run.log").stat().st_mode & 0o077 == 0


def test_batches_started_in_one_second_sort_in_the_order_they_started() -> None:
    as_of, now = date(2026, 11, 20), datetime(2026, 12, 3, 2, 15, 2)
    ids: list[str] = []
    for _ in range(100):
        ids.append(new_batch_id(as_of, now, ids))

    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"20261120-021502-[0-9a-f]{4}", i) for i in ids)
    later = new_batch_id(as_of, datetime(2026, 12, 3, 2, 15, 3), ids)
    assert later > ids[-1]
    assert new_batch_id(as_of, now, ["20261119-021502-ffff"]) < "20261120-021502-8000"
