"""Issue 13, defects 2, 9 and 10: forged or stripped seals, what `verify` must notice, folders that
keep their mode, operator mistakes as one `Error:` line, and the smaller messages."""

from __future__ import annotations

import csv
import errno
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from addresses import files
from addresses.config import EngineConfig
from addresses.score import Candidate, Observation, choose
from addresses.standardize import standardize
from letters.cli.app import app
from letters.errors import ExitCode
from letters.fsutil import make_private_dir, sha256_file
from letters.intake.policy import default_policy_text
from letters.proof.seal import write_seal
from letters.state import open_store
from tests.helpers import WriteCsv, cli_args, only_batch

ROOT = Path(__file__).resolve().parent.parent
KEY_TEXT = "a-long-secret-key-for-tests-only\n"
runner = CliRunner()


# --- a small sealed batch, made without rendering ---------------------------------------------


def _sealed_batch(tmp_path: Path, key: bytes | None = None, name: str = "b1") -> Path:
    """A batch folder as a run leaves it: a PDF, its manifest row, an empty `held/`, the seal."""
    batch_dir = tmp_path / name
    (batch_dir / "pdf").mkdir(parents=True)
    (batch_dir / "held").mkdir()
    pdf = batch_dir / "pdf" / "P-000001.pdf"
    pdf.write_bytes(b"%PDF-1.7 a letter\n")
    with (batch_dir / "manifest.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["piece_id", "status", "pdf_path", "pdf_sha256", "amount_due"])
        writer.writerow(["P-000001", "generated", "pdf/P-000001.pdf", sha256_file(pdf), "937.34"])
    write_seal(batch_dir, {"batch_id": name, "counts": {"generated": 1}}, key)
    return batch_dir


def _key(tmp_path: Path) -> Path:
    key = tmp_path / "seal.key"
    key.write_text(KEY_TEXT)
    return key


def _verify(*args: str) -> tuple[int, list[str], list[str]]:
    result = runner.invoke(app, ["verify", *args])
    return result.exit_code, result.stdout.splitlines(), result.stderr.splitlines()


def _forge(batch_dir: Path) -> None:
    """What a forger without the key does: change the manifest, re-hash it into the seal, and
    drop the signature they cannot make."""
    manifest = batch_dir / "manifest.csv"
    manifest.write_text(manifest.read_text().replace("937.34", "9.34"))
    seal_path = batch_dir / "batch.json"
    seal = json.loads(seal_path.read_text())
    seal.pop("signature")
    seal["files"]["manifest.csv"] = seal["manifest_sha256"] = sha256_file(manifest)
    seal_path.write_text(json.dumps(seal))


def test_a_stripped_signature_fails_with_a_key(tmp_path: Path) -> None:
    key = _key(tmp_path)
    batch_dir = _sealed_batch(tmp_path, key.read_bytes().strip())
    assert _verify(str(batch_dir), "--key", str(key))[0] == ExitCode.DONE
    _forge(batch_dir)
    code, out, err = _verify(str(batch_dir), "--key", str(key))
    assert code == ExitCode.FATAL
    assert err == ["b1: batch.json: not signed, but a key was given (a signature removed?)"]
    assert out == ["b1: NOT intact: 1 problem(s)"]


def test_an_unsigned_seal_fails_when_a_key_is_given(tmp_path: Path) -> None:
    batch_dir = _sealed_batch(tmp_path)
    code, out, _err = _verify(str(batch_dir))
    assert (code, out) == (ExitCode.DONE, ["b1: intact (2 files, not signed)"])
    code, _out, err = _verify(str(batch_dir), "--key", str(_key(tmp_path)))
    assert code == ExitCode.FATAL
    assert err == ["b1: batch.json: not signed, but a key was given (a signature removed?)"]


def _policy(tmp_path: Path, seal: str) -> Path:
    tmp_path.mkdir(exist_ok=True)
    policy = tmp_path / "policy.toml"
    policy.write_text(default_policy_text().replace("[seal]\n", f"[seal]\n{seal}\n", 1))
    return policy


def test_require_signature_makes_verify_demand_one(tmp_path: Path) -> None:
    key = _key(tmp_path)
    policy = _policy(tmp_path, f'require_signature = true\nhmac_key_file = "{key}"')
    unsigned = _sealed_batch(tmp_path)
    code, _out, err = _verify(str(unsigned), "--policy", str(policy))
    assert code == ExitCode.FATAL
    assert err == ["b1: batch.json: not signed, but a key was given (a signature removed?)"]
    keyless = _policy(tmp_path / "keyless", "require_signature = true")
    code, _out, err = _verify(str(unsigned), "--policy", str(keyless))
    assert code == ExitCode.FATAL
    assert err == ["b1: batch.json: not signed, but the policy requires a signed seal"]
    signed = _sealed_batch(tmp_path, key.read_bytes().strip(), name="b2")
    code, _out, err = _verify(str(signed), "--policy", str(keyless))
    assert code == ExitCode.FATAL
    assert err == ["b2: batch.json: signed; give the key (--key) to check the signature"]
    code, out, _err = _verify(str(signed), "--policy", str(policy))  # the policy's key file
    assert (code, out) == (ExitCode.DONE, ["b2: intact (2 files, signature checked)"])


def test_require_signature_stops_a_run_without_a_key_before_rendering(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    policy = _policy(tmp_path / "keyless", "require_signature = true")
    out = tmp_path / "out"
    args = [*cli_args(write_accounts({}), [write_sources({})], out), "--policy", str(policy)]
    result = runner.invoke(app, args)
    assert result.exit_code == ExitCode.FATAL, result.output
    assert result.stderr.splitlines() == [
        "Error: [seal] require_signature: the policy requires a signed seal, but no key is "
        "configured (give --seal-key FILE or [seal] hmac_key_file)"
    ]
    assert not out.exists()  # nothing rendered, no state
    result = runner.invoke(app, [*args, "--seal-key", str(tmp_path / "missing.key")])
    assert result.exit_code == ExitCode.FATAL
    assert result.stderr.splitlines() == [
        f"Error: seal key: {tmp_path / 'missing.key'}: No such file or directory"
    ]
    assert not out.exists()


def test_a_run_under_require_signature_with_its_key_writes_a_signed_seal(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    key = _key(tmp_path)
    policy = _policy(tmp_path / "signed", f'require_signature = true\nhmac_key_file = "{key}"')
    out = tmp_path / "out"
    args = [*cli_args(write_accounts({}), [write_sources({})], out), "--policy", str(policy)]
    result = runner.invoke(app, args)
    assert result.exit_code == ExitCode.DONE, result.output
    batch_dir = only_batch(out)
    assert json.loads((batch_dir / "batch.json").read_text())["signature"]
    code, lines, _err = _verify(str(batch_dir), "--policy", str(policy))
    assert code == ExitCode.DONE and lines[-1].endswith("signature checked)")


def test_verify_reports_what_a_sealed_batch_never_holds(tmp_path: Path) -> None:
    batch_dir = _sealed_batch(tmp_path)
    (batch_dir / ".tmp-manifest.csv-x1").write_text("half")
    (batch_dir / "pdf" / "empty").mkdir()
    pdf = batch_dir / "pdf" / "P-000001.pdf"
    copy = tmp_path / "elsewhere.pdf"
    shutil.copy(pdf, copy)  # the same bytes: only the link gives it away
    pdf.unlink()
    pdf.symlink_to(copy)
    (batch_dir / "notes.txt").write_text("added later")
    code, out, err = _verify(str(batch_dir))
    assert code == ExitCode.FATAL
    assert err == [
        "b1: notes.txt: not part of the sealed batch",
        "b1: .tmp-manifest.csv-x1: a temporary file left by an unfinished write",
        "b1: pdf/P-000001.pdf: a symbolic link, not a file of the batch",
        "b1: pdf/empty/: an empty folder, not part of the sealed batch",
    ]
    assert out == ["b1: NOT intact: 4 problem(s)"]


# --- folders and operator mistakes -----------------------------------------------------------


def test_an_existing_folder_keeps_its_mode_and_new_ones_are_owner_only(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o2775)
    make_private_dir(shared)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o2775
    made = make_private_dir(shared / "a" / "b")
    assert stat.S_IMODE(made.stat().st_mode) == 0o700
    assert stat.S_IMODE((shared / "a").stat().st_mode) == 0o700
    assert stat.S_IMODE(shared.stat().st_mode) == 0o2775


def _unprivileged(args: list[str]) -> subprocess.CompletedProcess[str]:
    """`letters ARGS` in its own process, where file permissions apply even to root (root runs
    it without the capabilities that override them)."""
    command = [sys.executable, "-m", "letters.cli", *args]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: permissions cannot be tested")
        caps = "-dac_override,-dac_read_search,-fowner"
        command = [setpriv, "--bounding-set", caps, f"--inh-caps={caps}", *command]
    env = {k: v for k, v in os.environ.items() if k != "LETTERS_DB"}
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """A folder its owner may not write to (made writable again for the clean-up)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    os.chmod(folder, 0o555)
    yield folder
    os.chmod(folder, 0o755)


def test_a_read_only_out_folder_is_one_error_line(
    tmp_path: Path, read_only: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    inputs = (write_accounts({}), [write_sources({})])
    result = _unprivileged(cli_args(*inputs, read_only))
    assert result.returncode == ExitCode.USAGE, result.stderr
    assert result.stderr.splitlines() == [
        f"Error: {read_only / 'letters.db'}: cannot open the state database: Permission denied"
    ]
    result = _unprivileged([*cli_args(*inputs, read_only), "--db", str(tmp_path / "s.db")])
    assert result.returncode == ExitCode.FATAL, result.stderr
    assert re.fullmatch(
        rf"Error: {re.escape(str(read_only))}/\d{{8}}-\d{{6}}-[0-9a-f]{{4}}: "
        r"cannot create the folder: Permission denied\n",
        result.stderr,
    )


def test_a_read_only_state_or_state_folder_is_one_error_line(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    state_dir = tmp_path / "state"
    db = state_dir / "letters.db"
    open_store(db).close()
    args = [*cli_args(write_accounts({}), [write_sources({})], tmp_path / "out"), "--db", str(db)]
    os.chmod(db, 0o400)
    result = _unprivileged(args)
    assert result.returncode == ExitCode.USAGE, result.stderr
    assert result.stderr == f"Error: {db}: cannot open the state database: Permission denied\n"
    os.chmod(db, 0o600)
    os.chmod(state_dir, 0o555)
    try:
        result = _unprivileged(args)
    finally:
        os.chmod(state_dir, 0o755)
    assert result.returncode == ExitCode.USAGE, result.stderr
    assert result.stderr == (
        f"Error: {db}: cannot use the state database: attempt to write a readonly database\n"
    )
    assert not (tmp_path / "out").exists()


def test_disk_full_at_the_end_stage_is_one_error_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    write_accounts: WriteCsv,
    write_sources: WriteCsv,
) -> None:
    real_open = files.atomic_open

    def full_disk(target_path: Path, mode: str = "w", **kwargs: Any) -> Any:
        if target_path.name == "manifest.csv":  # the end stage's first file
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_open(target_path, mode, **kwargs)

    monkeypatch.setattr(files, "atomic_open", full_disk)
    out = tmp_path / "out"
    result = runner.invoke(app, cli_args(write_accounts({}), [write_sources({})], out))
    assert result.exit_code == ExitCode.FATAL, result.output
    batch_dir = only_batch(out)
    assert result.stderr.splitlines() == [
        f"Error: {batch_dir / 'manifest.csv'}: cannot write: No space left on device"
    ]
    assert list(batch_dir.glob("**/.tmp-*")) == []


def test_a_run_into_a_shared_folder_keeps_its_mode_and_prints_one_summary_line(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    out = tmp_path / "shared"
    out.mkdir()
    os.chmod(out, 0o775)
    accounts = write_accounts({}, {"account_id": "A2", "customer_id": "C2", "balance": "x"})
    result = runner.invoke(app, cli_args(accounts, [write_sources({})], out))
    assert result.exit_code == ExitCode.REJECTED_ROWS, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o775
    batch_dir = only_batch(out)
    assert stat.S_IMODE(batch_dir.stat().st_mode) == 0o700
    summaries = [line for line in result.stdout.splitlines() if " complete" in line]
    assert len(summaries) == 1, result.stdout
    assert re.fullmatch(
        rf"batch {batch_dir.name} complete: accounts generated=1 rejected=1; letters 1 "
        r"\(1 rendered now\), pages \d+, [\d.]+ letters/s; "
        rf"folder {re.escape(str(batch_dir))}; 1 input rows rejected: see .*rejects\.csv",
        summaries[0],
    )
    code, out_lines, err = _verify(str(batch_dir))
    assert (code, err) == (ExitCode.DONE, []), out_lines
    log = (batch_dir / "run.log").read_text(encoding="utf-8")  # the log has the line too, sealed
    assert (
        f"INFO batch {batch_dir.name} complete: accounts generated=1 rejected=1; letters 1\n" in log
    )


# --- defect 10: the smaller messages ---------------------------------------------------------


def test_decide_exits_3_and_names_bad_rows_of_accounts_and_sources(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    accounts = write_accounts({}, {"account_id": "A2", "customer_id": "C2", "balance": "12,0O"})
    sources = write_sources({}, {"customer_id": "C2", "observed_at": "yesterday"})
    out = tmp_path / "decisions.csv"
    result = runner.invoke(app, ["decide", str(accounts), "--sources", str(sources),
                                 "--as-of", "2026-11-20", "--out", str(out)])  # fmt: skip
    assert result.exit_code == ExitCode.REJECTED_ROWS, result.output
    assert result.stderr.splitlines() == [
        "rejected: accounts.csv:3: balance: not a number",
        "rejected: internal.csv:3: observed_at: not a date (YYYY-MM-DD)",
        "2 input rows rejected (accounts, address sources and contacts)",
    ]
    assert "12,0O" not in result.output and "yesterday" not in result.output


def test_resolve_never_echoes_a_bad_value(tmp_path: Path, write_sources: WriteCsv) -> None:
    path = write_sources({}, {"observed_at": "SECRET-1"}, {"status": "SECRET-2"})
    result = runner.invoke(app, ["addresses", "resolve", str(path), "--out",
                                 str(tmp_path / "r.csv")])  # fmt: skip
    assert result.exit_code == ExitCode.REJECTED_ROWS
    assert [line for line in result.stderr.splitlines() if line.startswith("rejected: ")] == [
        "rejected: internal.csv:3: observed_at: not a date (YYYY-MM-DD)",
        "rejected: internal.csv:4: status: unknown status",
    ]
    assert "SECRET" not in result.output


def _cron_entries(text: str) -> list[tuple[list[str], str]]:
    """The entries of a crontab per crontab(5): each line that is not blank, a comment or an
    environment setting holds five time fields and the command, all on that one line."""
    entries = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#") or re.match(r"^\s*\w+\s*=", line):
            continue
        fields = line.split(None, 5)
        assert len(fields) == 6, line
        assert all(re.fullmatch(r"[\d*/,-]+", field) for field in fields[:5]), line
        assert not line.rstrip().endswith("\\"), "cron does not join lines"
        entries.append((fields[:5], fields[5]))
    return entries


def test_init_writes_a_crontab_cron_can_install_and_run(tmp_path: Path) -> None:
    work = tmp_path / "work"
    assert runner.invoke(app, ["init", str(work)]).exit_code == 0
    text = (work / "crontab.txt").read_text()
    assert text.endswith("\n")
    ((times, command),) = _cron_entries(text)
    assert times == ["15", "2", "*", "*", "*"]
    assert "%" not in command.replace("\\%", "")
    words = shlex.split(command)
    assert words[:3] == ["cd", str(work.resolve()), "&&"]
    executable = Path(words[3])
    assert executable.is_absolute() and os.access(executable, os.X_OK), words[3]
    assert words[4] == "run"
    paths = [w for w in words[5:] if not w.startswith("-") and w not in (">>", "2>&1")]
    assert len(paths) == 10 and all(Path(p).is_absolute() for p in paths), paths
    help_result = subprocess.run([executable, "--help"], capture_output=True, timeout=60)
    assert help_result.returncode == 0


def test_low_confidence_prints_enough_digits() -> None:
    form = standardize("123 N Main St", "", "Chicago", "IL", "60614", "US")
    seen = Observation("internal", date(2026, 1, 1), "", form, "internal.csv:2")
    choice = choose("C1", [Candidate(form, (seen,), confidence=0.446)], EngineConfig())
    assert choice.reasons == ("low_confidence: best is 0.446, below 0.450",)


def test_an_unreadable_event_timestamp_names_its_field(tmp_path: Path) -> None:
    open_store(tmp_path / "letters.db").close()
    events = tmp_path / "events.csv"
    events.write_text("piece_id,event,timestamp\nP-1,delivered,last tuesday\n")
    result = runner.invoke(app, ["reconcile", str(events), "--out", str(tmp_path)])
    assert result.exit_code == ExitCode.REJECTED_ROWS, result.output
    assert result.stderr.splitlines() == [
        "events.csv:2: timestamp: not an ISO date or date-time (YYYY-MM-DD[THH:MM:SS]): "
        "'last tuesday'"
    ]


def test_a_folder_given_as_sources_is_called_a_folder(
    tmp_path: Path, write_accounts: WriteCsv
) -> None:
    result = runner.invoke(app, cli_args(write_accounts({}), [tmp_path], tmp_path / "out"))
    assert result.exit_code == ExitCode.USAGE
    assert result.stderr.splitlines() == [
        f"Error: {tmp_path}: is a folder, not a file (give a CSV file)"
    ]


def test_a_semicolon_separated_file_gets_a_hint(tmp_path: Path, write_sources: WriteCsv) -> None:
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("account_id;customer_id;full_name\nA1;C1;Ada\n", encoding="utf-8")
    result = runner.invoke(app, cli_args(accounts, [write_sources({})], tmp_path / "out"))
    assert result.exit_code == ExitCode.FATAL
    (line,) = result.stderr.splitlines()
    assert line.startswith("Error: accounts.csv:1: missing required column(s): account_id, ")
    assert line.endswith(" (the file seems to use ';' as separator; use ',')")


def test_explain_says_the_decision_once(write_sources: WriteCsv) -> None:
    path = write_sources({})
    result = runner.invoke(app, ["addresses", "explain", "C1", str(path), "--as-of", "2026-11-20"])
    assert result.exit_code == 0, result.output
    (decision,) = [line for line in result.stdout.splitlines() if line.startswith("decision:")]
    assert decision.startswith("decision: selected: reported by internal; confidence ")


def test_batches_has_a_header_line(tmp_path: Path) -> None:
    open_store(tmp_path / "letters.db").close()
    result = runner.invoke(app, ["batches", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "batch  as of  started  finished  status  letters  outcomes"
    ]
