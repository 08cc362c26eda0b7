"""The state in a real PostgreSQL server: the same batches, the same exactly-once and recovery
rules as SQLite, the run lock as an advisory lock, a server lost mid-run, and `state migrate`."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psycopg
from typer.testing import CliRunner

from letters.cli.app import app
from letters.errors import ExitCode
from letters.fsutil import sha256_file
from letters.ops.sample import SampleFiles
from letters.state import open_store, run_lock
from letters.state.postgres import translate
from tests.helpers import (
    AS_OF,
    batch_dirs,
    cli_args,
    error_lines,
    manifest,
    run_command,
    run_in_process,
    start_process,
    wait_for_pdfs,
)
from tests.pgserver import PgServer, pg_server, pg_url

__all__ = ["pg_server", "pg_url"]  # the fixtures, for pytest
runner = CliRunner()
POLICY = Path(__file__).parents[1] / "examples" / "policy-multichannel.toml"


def _rendered(url: str, batch_id: str) -> dict[str, str | None]:
    store = open_store(Path(url))
    try:
        return {r.piece_id: r.pdf_sha256 for r in store.letters_of_batch(batch_id)
                if r.status == "rendered"}  # fmt: skip
    finally:
        store.close()


def _intact(out_dir: Path, url: str) -> set[str]:
    """Every generated piece once, its PDF whole and the same as the state says."""
    (batch_dir,) = batch_dirs(out_dir)
    generated = [r for r in manifest(batch_dir) if r["status"] == "generated"]
    pieces = {r["piece_id"] for r in generated}
    owners = {(r["piece_id"], r["customer_id"]) for r in generated}
    assert len(owners) == len(pieces), "a piece was printed for two debtors"
    assert {p.stem for p in (batch_dir / "pdf").iterdir()} == pieces
    assert not list(batch_dir.rglob(".tmp-*")), "a partial file was left"
    state = _rendered(url, batch_dir.name)
    assert set(state) == pieces
    for piece in pieces:
        assert state[piece] == sha256_file(batch_dir / "pdf" / f"{piece}.pdf")
    return pieces


def _generated_accounts(out_dir: Path) -> int:
    return sum(r["status"] == "generated" for r in manifest(batch_dirs(out_dir)[0]))


def test_statements_in_postgresql_words() -> None:
    assert translate("INSERT OR IGNORE INTO t (a) VALUES (?)") == (
        "INSERT INTO t (a) VALUES (%s) ON CONFLICT DO NOTHING"
    )
    assert "GREATEST(counters.value" in translate(
        "INSERT INTO counters (name, value) VALUES (?, ?)"
        " ON CONFLICT(name) DO UPDATE SET value = max(value, excluded.value)"
    )
    assert translate("SELECT a FROM t WHERE b = '5%' ORDER BY rowid") == (
        "SELECT a FROM t WHERE b = '5%%' ORDER BY seq"
    )


def test_a_batch_on_postgresql_is_the_batch_on_sqlite_and_goes_once(
    sample_files: SampleFiles, pg_url: str, tmp_path: Path
) -> None:
    accounts, sources = sample_files.accounts_path, sample_files.source_paths
    on_server = run_in_process(accounts, sources, tmp_path / "pg", db=Path(pg_url))
    assert on_server.exit_code == ExitCode.REJECTED_ROWS
    assert on_server.letters > 0 and on_server.reasons["letter_due"] > 0
    assert not (tmp_path / "pg" / "letters.db").exists()
    _intact(tmp_path / "pg", pg_url)

    again = run_in_process(accounts, sources, tmp_path / "pg", db=Path(pg_url))
    assert again.letters == 0, (dict(on_server.reasons), dict(again.reasons))
    assert again.reasons["already_sent"] == _generated_accounts(tmp_path / "pg")

    listed = runner.invoke(app, ["batches", "--out", str(tmp_path / "pg"), "--db", pg_url])
    assert listed.exit_code == ExitCode.DONE, listed.output
    assert listed.stdout.count("complete") == 2


def test_e_mail_is_queued_and_sent_once_on_postgresql(
    sample_files: SampleFiles, pg_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    contacts = ["--contacts", str(sample_files.contacts_path), "--policy", str(POLICY)]
    args = cli_args(sample_files.accounts_path, sample_files.source_paths, out, *contacts,
                    "--db", pg_url)  # fmt: skip
    ran = runner.invoke(app, args)
    assert ran.exit_code == ExitCode.REJECTED_ROWS, ran.output
    send = ["send", "--out", str(out), "--db", pg_url, "--transport",
            f"maildir:{tmp_path / 'maildir'}", "--now", "2026-11-20T14:00:00-06:00"]  # fmt: skip
    first = runner.invoke(app, send)
    assert first.exit_code == ExitCode.DONE, first.output
    delivered = list((tmp_path / "maildir" / "new").iterdir())
    assert delivered, first.output
    second = runner.invoke(app, send)
    assert second.exit_code == ExitCode.DONE, second.output
    assert len(list((tmp_path / "maildir" / "new").iterdir())) == len(delivered)
    store = open_store(Path(pg_url))
    try:
        assert len(store.messages(("sent",))) == len(delivered)
    finally:
        store.close()


def test_a_killed_run_resumes_on_postgresql_without_duplicates(
    ops_sample: SampleFiles, pg_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    command = run_command(ops_sample.accounts_path, ops_sample.source_paths, out, "--db", pg_url,
                          as_of=AS_OF.isoformat())  # fmt: skip
    process = start_process(command)
    wait_for_pdfs(out, 5, process)
    process.send_signal(signal.SIGKILL)
    process.wait()

    held = run_lock(Path(pg_url))  # the server let go of the killed run's lock
    held.acquire("a test")
    try:
        second = runner.invoke(app, command[3:])  # `letters run …` in this process
    finally:
        held.release()
    assert second.exit_code == ExitCode.LOCKED, second.output
    assert error_lines(second.stderr)[0].startswith(
        f"Error: another run holds the lock on {pg_url}: batch a test (pid {os.getpid()} on "
    )

    resumed = run_in_process(ops_sample.accounts_path, ops_sample.source_paths, out,
                             db=Path(pg_url))  # fmt: skip
    assert resumed.exit_code == ExitCode.REJECTED_ROWS, resumed.summary()
    assert resumed.resumed and 0 < resumed.letters - resumed.reused < resumed.letters
    assert len(_intact(out, pg_url)) == resumed.letters


def test_a_server_lost_mid_run_is_one_clear_line_and_the_next_run_recovers(
    ops_sample: SampleFiles, pg_server: PgServer, tmp_path: Path
) -> None:
    url = pg_server.new_database()
    out = tmp_path / "out"
    command = run_command(ops_sample.accounts_path, ops_sample.source_paths, out, "--db", url,
                          as_of=AS_OF.isoformat())  # fmt: skip
    process = start_process(command)
    wait_for_pdfs(out, 3, process)
    pg_server.stop("fast")  # every session is ended: the server restarts
    try:
        _stdout, stderr = process.communicate(timeout=120)
    finally:
        pg_server.start()
    assert process.returncode == ExitCode.FATAL, stderr
    (line,) = error_lines(stderr)
    assert line.startswith(f"Error: {url}: the state database is unavailable: "), stderr
    assert "Traceback" not in stderr

    resumed = run_in_process(ops_sample.accounts_path, ops_sample.source_paths, out,
                             db=Path(url))  # fmt: skip
    assert resumed.exit_code == ExitCode.REJECTED_ROWS, resumed.summary()
    assert resumed.resumed
    _intact(out, url)


def test_an_unreachable_server_is_exit_1_and_never_shows_the_password(
    sample_files: SampleFiles, tmp_path: Path
) -> None:
    url = "postgresql://letters:s3cret@127.0.0.1:9/letters"
    ran = runner.invoke(app, cli_args(sample_files.accounts_path, sample_files.source_paths,
                                      tmp_path, "--db", url))  # fmt: skip
    assert ran.exit_code == ExitCode.FATAL
    assert "s3cret" not in ran.output
    assert error_lines(ran.stderr)[0].startswith(
        "Error: postgresql://letters:***@127.0.0.1:9/letters: the state database is unavailable:"
    )


def test_state_migrate_moves_a_sqlite_state_whole(
    sample_files: SampleFiles, pg_url: str, tmp_path: Path
) -> None:
    accounts, sources = sample_files.accounts_path, sample_files.source_paths
    first = run_in_process(accounts, sources, tmp_path)
    generated = _generated_accounts(tmp_path)
    db = tmp_path / "letters.db"
    moved = runner.invoke(app, ["state", "migrate", "--from", str(db), "--to", pg_url])
    assert moved.exit_code == ExitCode.DONE, moved.output
    assert f"{first.letters} letters" in moved.stdout
    with psycopg.connect(pg_url) as conn:
        (count,) = conn.execute("SELECT count(*) FROM letters").fetchone() or (0,)
    assert count == first.letters

    again = runner.invoke(app, ["state", "migrate", "--from", str(db), "--to", pg_url])
    assert again.exit_code == ExitCode.USAGE
    assert "already holds a state" in again.stderr

    later = run_in_process(accounts, sources, tmp_path, db=Path(pg_url))  # the next night
    assert later.letters == 0, (dict(first.reasons), dict(later.reasons))
    assert later.reasons["already_sent"] == generated, (dict(first.reasons), dict(later.reasons))
