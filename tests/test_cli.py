"""The `letters` command line: exit codes, whole error lines, and the commands around a batch.

What a batch does is tested in-process in `test_run.py`; here the command is run with
`CliRunner` to see what an operator sees: `Error: <where>: <what>` on stderr and the exit code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from letters.cli.app import app
from letters.errors import ExitCode
from letters.intake.accounts import REQUIRED_COLUMNS
from letters.intake.policy import default_policy_text
from letters.ops.sample import SampleFiles
from tests.helpers import (
    CERTIFIED,
    WriteCsv,
    batch_dirs,
    cli_args,
    count_data_rows,
    manifest,
    only_batch,
    read_rows,
    run_in_process,
)

runner = CliRunner()


def _fails(args: list[str], code: ExitCode) -> list[str]:
    """Run a command that must fail with `code` and nothing on stdout; its stderr lines."""
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    return result.stderr.splitlines()


# --- operator mistakes: the whole error line, the exit code, nothing written ------------------


def test_file_level_problem_stops_before_anything_is_written(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    accounts = write_accounts({"full_name": "José"})
    accounts.write_bytes(accounts.read_text(encoding="utf-8").encode("latin-1"))
    args = cli_args(accounts, [write_sources({})], tmp_path / "out")
    assert _fails(args, ExitCode.FATAL) == [
        "Error: accounts.csv:2: not UTF-8 text (byte 0xe9 at column 10); save the file as UTF-8"
    ]
    assert not (tmp_path / "out").exists()


def test_a_missing_column_names_the_file_line_and_columns(
    tmp_path: Path, write_sources: WriteCsv
) -> None:
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("account_id,customer_id\nA1,C1\n", encoding="utf-8")
    missing = ", ".join(c for c in REQUIRED_COLUMNS if c not in ("account_id", "customer_id"))
    args = cli_args(accounts, [write_sources({})], tmp_path / "out")
    assert _fails(args, ExitCode.FATAL) == [
        f"Error: accounts.csv:1: missing required column(s): {missing}"
    ]
    assert not (tmp_path / "out").exists()


def test_usage_errors_exit_2(tmp_path: Path, write_sources: WriteCsv) -> None:
    sources = write_sources({})
    missing = tmp_path / "missing.csv"
    lines = _fails(cli_args(missing, [sources], tmp_path / "out"), ExitCode.USAGE)
    assert lines == [f"Error: {missing}: no such file"]
    lines = _fails(cli_args(sources, [sources], tmp_path / "out", as_of="tomorrow"), ExitCode.USAGE)
    assert lines == ["Error: --as-of: not a date (YYYY-MM-DD): 'tomorrow'"]
    assert not (tmp_path / "out").exists()


def test_force_without_a_reason_is_refused(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    args = cli_args(write_accounts({}), [write_sources({})], tmp_path / "out", "--force", "P-1")
    assert _fails(args, ExitCode.USAGE) == [
        "Error: --force needs --force-reason: say why these pieces go again"
    ]
    assert not (tmp_path / "out").exists()


def test_resuming_an_unknown_batch_names_the_state(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    out = tmp_path / "out"
    args = cli_args(
        write_accounts({}), [write_sources({})], out, "--resume", "20261120-000000-beef"
    )
    assert _fails(args, ExitCode.USAGE) == [
        f"Error: --resume: no batch '20261120-000000-beef' in {out / 'letters.db'}"
    ]
    assert batch_dirs(out) == []


@pytest.mark.parametrize(
    ("old", "new", "line"),
    [
        ('intended_actions = ["collection_agency"]', 'intended_actions = ["jail"]',
         "Error: policy.toml: [rules]: intended_actions: unknown ['jail']; "
         "known: credit_reporting, lawsuit, collection_agency"),
        ('kind = "creditor"', 'kind = "landlord"',
         "Error: policy.toml: [sender]: kind: must be one of creditor, debt_collector"),
        ('mailer_id = "999999999"', 'file = "articles.txt"',
         "Error: articles.txt:2: not a valid article number (check digit): '9400111201080805483017'"),
    ],
)  # fmt: skip
def test_a_policy_mistake_names_the_file_and_the_key(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv, old: str, new: str, line: str
) -> None:
    (tmp_path / "articles.txt").write_text(
        "9400111201080805483016\n9400111201080805483017\n", encoding="utf-8"
    )
    text = default_policy_text()
    assert old in text
    policy = tmp_path / "policy.toml"
    policy.write_text(text.replace(old, new), encoding="utf-8")
    accounts = write_accounts(CERTIFIED)
    args = cli_args(accounts, [write_sources({})], tmp_path / "out", "--policy", str(policy))
    assert _fails(args, ExitCode.USAGE) == [line]
    assert not (tmp_path / "out").exists()


# --- a batch through the command line: what it prints and its exit code ---------------------


def test_json_summary_and_exit_3_when_rows_were_rejected(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    accounts = write_accounts({}, {"account_id": "A2", "balance": "12,0O"})
    out = tmp_path / "out"
    result = runner.invoke(app, cli_args(accounts, [write_sources({})], out, "--json"))
    assert result.exit_code == ExitCode.REJECTED_ROWS, result.output
    summary = json.loads(result.stdout)
    batch_dir = only_batch(out)
    assert (summary["batch_id"], summary["status"]) == (batch_dir.name, "complete")
    assert (summary["letters"], summary["rejected_rows"], summary["exit_code"]) == (1, 1, 3)
    assert summary["counts"] == {"generated": 1, "rejected": 1}
    assert [(r["line"], r["field"], r["reason"]) for r in read_rows(batch_dir / "rejects.csv")] == [
        ("3", "balance", "not a number: '12,0O'")
    ]
    assert json.loads((batch_dir / "summary.json").read_text())["exit_code"] == 3


# --- the commands around a batch ------------------------------------------------------------


def test_sample_command_is_deterministic(tmp_path: Path) -> None:
    for name in ("a", "b"):
        result = runner.invoke(
            app,
            [
                "sample",
                "--accounts",
                "30",
                "--out",
                str(tmp_path / name),
                "--seed",
                "5",
                "--as-of",
                "2026-11-20",
            ],
        )
        assert result.exit_code == ExitCode.DONE, result.output
    for relative in ("accounts.csv", "ground_truth.csv", "sources/third_party.csv"):
        assert (tmp_path / "a" / relative).read_bytes() == (tmp_path / "b" / relative).read_bytes()


def test_init_creates_a_working_folder_and_never_overwrites(tmp_path: Path) -> None:
    work = tmp_path / "work"
    result = runner.invoke(app, ["init", str(work)])
    assert result.exit_code == ExitCode.DONE, result.output
    for name in ("policy.toml", "address-config.toml", "crontab.txt", "templates/letter.css",
                 "templates/reminder.html", "input", "batches"):  # fmt: skip
        assert (work / name).exists(), name
    assert "letters run" in (work / "crontab.txt").read_text()
    before = {p: p.read_bytes() for p in work.rglob("*") if p.is_file()}
    again = runner.invoke(app, ["init", str(work)])
    assert again.exit_code == ExitCode.USAGE
    assert "nothing was changed" in again.output
    assert {p: p.read_bytes() for p in work.rglob("*") if p.is_file()} == before


def test_decide_is_a_dry_run(tmp_path: Path, sample_files: SampleFiles) -> None:
    out = tmp_path / "decisions.csv"
    args = ["decide", str(sample_files.accounts_path), "--as-of", "2026-11-20", "--out", str(out)]
    for source in sample_files.source_paths:
        args += ["--sources", str(source)]
    result = runner.invoke(app, args)
    assert result.exit_code == ExitCode.REJECTED_ROWS, result.output  # the sample has bad rows
    rows = read_rows(out)
    assert len(rows) == count_data_rows(sample_files.accounts_path)
    assert {r["status"] for r in rows} >= {"generated", "rejected"}
    assert all(r["pdf_path"] == "" for r in rows)
    assert list(tmp_path.iterdir()) == [out]  # no batch folder, no state


def test_batches_lists_each_batch_with_its_status(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    out = tmp_path / "out"
    result = run_in_process(write_accounts({}), [write_sources({})], out)
    listing = runner.invoke(app, ["batches", "--out", str(out)])
    assert listing.exit_code == ExitCode.DONE, listing.output
    (line,) = [line for line in listing.stdout.splitlines() if result.batch_id in line]
    assert "complete" in line
    assert manifest(result.batch_dir)[0]["status"] == "generated"
