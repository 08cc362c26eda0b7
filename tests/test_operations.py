"""Nightly operations with real processes: kill and resume, re-runs, the lock, cron vs terminal."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader

from letters.errors import ExitCode
from letters.fsutil import sha256_file
from letters.ops.sample import SampleFiles, write_sample

AS_OF = "2026-11-20"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleFiles:
    """Enough accounts that rendering takes a few seconds (about 55 letters)."""
    return write_sample(
        tmp_path_factory.mktemp("ops"), accounts=80, seed=4, as_of=date(2026, 11, 20)
    )


def _command(sample: SampleFiles, out_dir: Path, *extra: str) -> list[str]:
    command = [sys.executable, "-m", "letters.cli.app", "run", str(sample.accounts_path),
               "--out", str(out_dir), "--as-of", AS_OF, *extra]  # fmt: skip
    for source in sample.source_paths:
        command += ["--sources", str(source)]
    return command


def _start(command: Sequence[str]) -> subprocess.Popen[str]:
    env = {**os.environ, "COLUMNS": "120"}
    env.pop("LETTERS_DB", None)
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def _run(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
    process = _start(command)
    stdout, stderr = process.communicate(timeout=300)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def _wait_for_pdfs(out_dir: Path, count: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if len(list(out_dir.glob("*/pdf/*.pdf"))) >= count:
            return
        if process.poll() is not None:
            pytest.fail(f"the run ended before it was stopped: {process.communicate()}")
        time.sleep(0.02)
    pytest.fail("no PDFs appeared")


def _manifest(batch_dir: Path) -> list[dict[str, str]]:
    with (batch_dir / "manifest.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _batch_dirs(out_dir: Path) -> list[Path]:
    return sorted(p for p in out_dir.iterdir() if p.is_dir())


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
    rows = _manifest(batch_dir)
    pieces = _generated(rows)
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


def test_killed_run_resumes_without_duplicates_gaps_or_partial_files(
    sample: SampleFiles, tmp_path: Path
) -> None:
    reference = _run(_command(sample, tmp_path / "reference"))
    assert reference.returncode == ExitCode.REJECTED_ROWS, reference.stderr
    expected = _assert_batch_intact(tmp_path / "reference", _batch_dirs(tmp_path / "reference")[0])

    out_dir = tmp_path / "out"
    process = _start(_command(sample, out_dir))
    _wait_for_pdfs(out_dir, 5, process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    (batch_dir,) = _batch_dirs(out_dir)
    assert json.loads((batch_dir / "summary.json").read_text())["status"] == "running"
    assert not (batch_dir / "manifest.csv").exists()

    listing = _run([sys.executable, "-m", "letters.cli.app", "batches", "--out", str(out_dir)])
    assert "interrupted" in listing.stdout

    resumed = _run(_command(sample, out_dir))  # a plain re-run resumes the interrupted batch
    assert resumed.returncode == ExitCode.REJECTED_ROWS, resumed.stderr
    assert f"batch {batch_dir.name} resumed" in resumed.stdout
    assert _batch_dirs(out_dir) == [batch_dir]
    pieces = _assert_batch_intact(out_dir, batch_dir)
    assert sorted(map(sorted, pieces.values())) == sorted(map(sorted, expected.values()))
    summary = json.loads((batch_dir / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["resumed"] is True
    assert 0 < summary["letters_rendered_this_run"] < summary["letters"]


def test_second_run_the_same_night_produces_no_new_piece(
    sample: SampleFiles, tmp_path: Path
) -> None:
    first = _run(_command(sample, tmp_path))
    assert first.returncode == ExitCode.REJECTED_ROWS, first.stderr
    second = _run(_command(sample, tmp_path, "--json"))
    assert second.returncode == ExitCode.REJECTED_ROWS, second.stderr
    summary = json.loads(second.stdout)
    assert summary["letters"] == 0
    old, new = _batch_dirs(tmp_path)
    assert not list((new / "pdf").iterdir())
    old_rows = [r for r in _manifest(old) if r["status"] == "generated"]
    already = [r for r in _manifest(new) if r["reason_code"] == "already_sent"]
    assert sorted(r["account_id"] for r in already) == sorted(r["account_id"] for r in old_rows)
    assert all(r["status"] == "suppressed" for r in already)
    assert {r["reason_detail"].split()[1] for r in already} == {r["piece_id"] for r in old_rows}


def test_a_second_concurrent_run_exits_4_naming_the_running_batch(
    sample: SampleFiles, tmp_path: Path
) -> None:
    first = _start(_command(sample, tmp_path))
    _wait_for_pdfs(tmp_path, 1, first)
    second = _run(_command(sample, tmp_path))
    first.communicate(timeout=300)
    (batch_dir,) = _batch_dirs(tmp_path)
    assert second.returncode == ExitCode.LOCKED
    assert f"another run holds the lock on letters.db.lock: batch {batch_dir.name}" in second.stderr
    assert first.returncode == ExitCode.REJECTED_ROWS


def test_sigterm_interrupts_cleanly_and_resume_finishes(
    sample: SampleFiles, tmp_path: Path
) -> None:
    process = _start(_command(sample, tmp_path))
    _wait_for_pdfs(tmp_path, 3, process)
    process.send_signal(signal.SIGTERM)
    _stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == ExitCode.INTERRUPTED
    (batch_dir,) = _batch_dirs(tmp_path)
    assert f"can be resumed with --resume {batch_dir.name}" in stderr
    assert json.loads((batch_dir / "summary.json").read_text())["status"] == "interrupted"
    resumed = _run(_command(sample, tmp_path, "--resume", batch_dir.name))
    assert resumed.returncode == ExitCode.REJECTED_ROWS, resumed.stderr
    _assert_batch_intact(tmp_path, batch_dir)
    log = (batch_dir / "run.log").read_text()
    assert "interrupted" in log and "complete" in log


def test_force_reissues_only_the_named_piece_and_records_it(
    sample: SampleFiles, tmp_path: Path
) -> None:
    assert _run(_command(sample, tmp_path)).returncode == ExitCode.REJECTED_ROWS
    (first,) = _batch_dirs(tmp_path)
    piece = sorted(_generated(_manifest(first)))[0]
    refused = _run(_command(sample, tmp_path, "--force", piece))
    assert refused.returncode == ExitCode.USAGE
    assert "--force needs --force-reason" in refused.stderr
    forced = _run(
        _command(sample, tmp_path, "--force", piece, "--force-reason", "envelope damaged")
    )
    assert forced.returncode == ExitCode.REJECTED_ROWS, forced.stderr
    second = _batch_dirs(tmp_path)[1]
    assert len(_generated(_manifest(second))) == 1
    with sqlite3.connect(tmp_path / "letters.db") as db:
        (row,) = db.execute("SELECT forced_piece_id, reason FROM forced").fetchall()
    assert row == (piece, "envelope damaged")


def test_personal_data_stays_out_of_the_log(sample: SampleFiles, tmp_path: Path) -> None:
    assert _run(_command(sample, tmp_path)).returncode == ExitCode.REJECTED_ROWS
    (batch_dir,) = _batch_dirs(tmp_path)
    log = (batch_dir / "run.log").read_text()
    with sample.accounts_path.open(encoding="utf-8", newline="") as handle:
        accounts = list(csv.DictReader(handle))
    for account in accounts[:30]:
        assert account["full_name"] not in log
        assert account["balance"] not in log
    assert (batch_dir / "run.log").stat().st_mode & 0o077 == 0


def test_without_a_terminal_the_output_is_plain_lines(sample: SampleFiles, tmp_path: Path) -> None:
    done = _run(_command(sample, tmp_path))
    assert "\x1b[" not in done.stdout
    assert "render: " in done.stdout and "/s)" in done.stdout
    assert "━" not in done.stdout


def test_on_a_terminal_progress_bars_are_drawn(sample: SampleFiles, tmp_path: Path) -> None:
    main, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": "120", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen(
        _command(sample, tmp_path), stdin=follower, stdout=follower, stderr=follower, env=env
    )
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
    assert process.returncode == ExitCode.REJECTED_ROWS, text[-2000:]
    assert "━" in text  # the bar
    assert "\x1b[" in text  # drawn with terminal control sequences
    assert "render" in text
