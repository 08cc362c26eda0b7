"""`letters run` end to end through the CLI, with real CSVs and real WeasyPrint PDFs."""

from __future__ import annotations

import csv
import json
import stat
from pathlib import Path

from typer.testing import CliRunner

from letters.cli.app import app
from letters.errors import ExitCode
from letters.ops.sample import SampleFiles
from letters.proof.manifest import MANIFEST_COLUMNS, ManifestRow
from letters.render.renderer import pdf_text
from letters.state.sqlite import SqliteStore
from tests.conftest import WriteCsv, only_batch

runner = CliRunner()


def _run(accounts: Path, sources: list[Path], out_dir: Path, *extra: str) -> tuple[int, str]:
    args = ["run", str(accounts), "--out", str(out_dir), "--as-of", "2026-11-20", *extra]
    for source in sources:
        args += ["--sources", str(source)]
    result = runner.invoke(app, args)
    return result.exit_code, result.output


def _manifest(batch_dir: Path) -> list[dict[str, str]]:
    with (batch_dir / "manifest.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_manifest_row_fields_match_the_documented_columns() -> None:
    assert tuple(ManifestRow.__dataclass_fields__) == MANIFEST_COLUMNS


def test_clean_run_exits_0_and_the_pdf_shows_name_and_amount(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    accounts = write_accounts(
        {},
        {
            "account_id": "A2",
            "customer_id": "C2",
            "full_name": '<b>Bob & "Sue"</b>',
            "due_date": "2026-11-25",
        },
    )
    sources = write_sources({}, {"customer_id": "C2"})
    code, output = _run(accounts, [sources], tmp_path / "out")
    assert code == ExitCode.DONE, output
    batch_dir = only_batch(tmp_path / "out")
    rows = _manifest(batch_dir)
    assert [(r["account_id"], r["status"], r["reason_code"]) for r in rows] == [
        ("A1", "generated", "letter_due"),
        ("A2", "suppressed", "not_past_due"),
    ]
    letter = rows[0]
    assert (letter["address_line1"], letter["address_line2"]) == ("123 N MAIN ST", "APT 4")
    assert letter["address_sources"] == "internal"
    assert letter["amount_due"] == "937.34"
    pdf_bytes = (batch_dir / letter["pdf_path"]).read_bytes()
    assert pdf_bytes.startswith(b"%PDF")
    text = pdf_text(pdf_bytes)
    assert "Ada Lovelace" in text
    assert "$937.34" in text
    assert "123 N MAIN ST APT 4" in text  # Pub 28: the unit joins the delivery line
    assert letter["pages"] == "1"
    summary = json.loads((batch_dir / "summary.json").read_text())
    assert summary["status"] == "complete"
    assert summary["counts"] == {"generated": 1, "suppressed": 1}
    assert stat.S_IMODE(batch_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((batch_dir / "manifest.csv").stat().st_mode) == 0o600
    assert not list(batch_dir.rglob(".tmp-*"))


def test_sample_batch_exits_3_and_accounts_for_every_row(
    tmp_path: Path, sample_files: SampleFiles
) -> None:
    code, output = _run(
        sample_files.accounts_path, list(sample_files.source_paths), tmp_path / "out"
    )
    assert code == ExitCode.REJECTED_ROWS, output
    batch_dir = only_batch(tmp_path / "out")
    rows = _manifest(batch_dir)
    with sample_files.accounts_path.open(encoding="utf-8") as handle:
        account_rows = sum(1 for _ in csv.reader(handle)) - 1
    assert len(rows) == account_rows  # nothing silently dropped
    with (batch_dir / "rejects.csv").open(encoding="utf-8", newline="") as handle:
        rejects = list(csv.DictReader(handle))
    assert rejects and all(r["reason"] and r["raw_row"] for r in rejects)
    generated = [r for r in rows if r["status"] == "generated"]
    assert generated
    for row in generated[:3]:
        text = pdf_text((batch_dir / row["pdf_path"]).read_bytes())
        assert row["recipient_name"] in text
        assert f"${float(row['amount_due']):,.2f}" in text


def test_consolidates_one_letter_per_debtor(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    accounts = write_accounts({}, {"account_id": "A2", "account_number": "9999888877776666"})
    code, _ = _run(accounts, [write_sources({})], tmp_path / "out")
    assert code == ExitCode.DONE
    batch_dir = only_batch(tmp_path / "out")
    rows = _manifest(batch_dir)
    assert rows[0]["piece_id"] == rows[1]["piece_id"] != ""
    text = pdf_text((batch_dir / rows[0]["pdf_path"]).read_bytes())
    assert "ending 1234" in text and "ending 6666" in text
    assert "$1,874.68" in text  # the total of both accounts


def test_held_when_no_usable_address(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    sources = write_sources({"status": "returned"})
    code, _ = _run(write_accounts({}), [sources], tmp_path / "out")
    assert code == ExitCode.DONE
    (row,) = _manifest(only_batch(tmp_path / "out"))
    assert (row["status"], row["reason_code"], row["pdf_path"]) == ("held", "no_address", "")


def test_person_level_flag_suppresses_every_account_of_the_debtor(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    accounts = write_accounts({}, {"account_id": "A2", "bankruptcy": "yes"})
    code, _ = _run(accounts, [write_sources({})], tmp_path / "out")
    assert code == ExitCode.DONE
    rows = _manifest(only_batch(tmp_path / "out"))
    assert {(r["status"], r["reason_code"]) for r in rows} == {("suppressed", "bankruptcy")}


def test_file_level_problem_stops_before_anything_is_written(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    accounts = write_accounts({"full_name": "José"})
    accounts.write_bytes(accounts.read_text(encoding="utf-8").encode("latin-1"))
    code, output = _run(accounts, [write_sources({})], tmp_path / "out")
    assert code == ExitCode.FATAL
    assert "Error: accounts.csv:2: not UTF-8 text (byte 0xe9" in output
    assert not (tmp_path / "out").exists()


def test_usage_errors_exit_2(tmp_path: Path, write_sources: WriteCsv) -> None:
    sources = write_sources({})
    code, output = _run(tmp_path / "missing.csv", [sources], tmp_path / "out")
    assert code == ExitCode.USAGE
    assert "missing.csv: no such file" in output
    code, output = _run(sources, [sources], tmp_path / "out", "--as-of", "tomorrow")
    assert code == ExitCode.USAGE
    assert "Error: --as-of: not a date (YYYY-MM-DD): 'tomorrow'" in output


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
        assert result.exit_code == 0, result.output
    for relative in ("accounts.csv", "ground_truth.csv", "sources/third_party.csv"):
        assert (tmp_path / "a" / relative).read_bytes() == (tmp_path / "b" / relative).read_bytes()


def test_init_creates_a_working_folder_and_never_overwrites(tmp_path: Path) -> None:
    work = tmp_path / "work"
    result = runner.invoke(app, ["init", str(work)])
    assert result.exit_code == 0, result.output
    for name in ("policy.toml", "address-config.toml", "crontab.txt", "templates/letter.css",
                 "templates/reminder.html", "input", "batches"):  # fmt: skip
        assert (work / name).exists(), name
    assert "letters run" in (work / "crontab.txt").read_text()
    again = runner.invoke(app, ["init", str(work)])
    assert again.exit_code == ExitCode.USAGE
    assert "nothing was changed" in again.output


def test_manifest_carries_the_decision_columns(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    code, output = _run(write_accounts({}), [write_sources({})], tmp_path / "out")
    assert code == ExitCode.DONE, output
    (row,) = _manifest(only_batch(tmp_path / "out"))
    assert (row["stage"], row["template"], row["mail_class"]) == (
        "notice",
        "notice.html",
        "first_class",
    )
    assert row["mail_date"] == "2026-11-21"  # the day after --as-of that the post office takes mail
    assert len(row["template_version"]) == 16
    assert (row["validation_end_date"], row["recipient_role"], row["language"]) == (
        "",
        "debtor",
        "en",
    )


def test_a_letter_failing_lint_is_held_and_never_reaches_the_print_folder(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    import shutil

    from letters.render.renderer import default_templates_dir

    templates = tmp_path / "templates"
    shutil.copytree(default_templates_dir(), templates)
    notice = (templates / "notice.html").read_text(encoding="utf-8")
    (templates / "notice.html").write_text(
        notice.replace("<h1>Your account is past due</h1>", "<h1>Pay or we will sue you</h1>"),
        encoding="utf-8",
    )
    accounts = write_accounts(
        {"account_id": "A2", "customer_id": "C2", "due_date": "2026-11-10"}, {}
    )
    sources = write_sources({"customer_id": "C2"}, {})
    code, output = _run(accounts, [sources], tmp_path / "out", "--templates", str(templates))
    assert code == ExitCode.DONE, output
    batch_dir = only_batch(tmp_path / "out")
    rows = {r["account_id"]: r for r in _manifest(batch_dir)}
    assert (rows["A1"]["status"], rows["A1"]["reason_code"]) == ("held", "lint:prohibited:lawsuit")
    assert rows["A1"]["pdf_path"] == ""
    assert rows["A2"]["status"] == "generated"  # the batch goes on
    assert [p.name for p in (batch_dir / "pdf").iterdir()] == [Path(rows["A2"]["pdf_path"]).name]
    assert len(list((batch_dir / "held").iterdir())) == 1
    import sqlite3

    with sqlite3.connect(tmp_path / "out" / "letters.db") as db:
        assert db.execute("SELECT count(*) FROM letters").fetchone() == (1,)
    held_piece = next((batch_dir / "held").iterdir()).stem
    assert held_piece == f"{batch_dir.name}-000002"  # after A2's piece 000001
    store = SqliteStore(tmp_path / "out" / "letters.db")
    try:  # the held piece's number stays spent: a resume of this batch starts after it
        assert store.last_piece_number(batch_dir.name) == 2
    finally:
        store.close()


def test_decide_is_a_dry_run(tmp_path: Path, sample_files: SampleFiles) -> None:
    out = tmp_path / "decisions.csv"
    args = ["decide", str(sample_files.accounts_path), "--as-of", "2026-11-20", "--out", str(out)]
    for source in sample_files.source_paths:
        args += ["--sources", str(source)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    with sample_files.accounts_path.open(encoding="utf-8") as handle:
        assert len(rows) == sum(1 for _ in csv.reader(handle)) - 1
    assert {r["status"] for r in rows} >= {"generated", "rejected"}
    assert all(r["pdf_path"] == "" for r in rows)
    assert list(tmp_path.iterdir()) == [out]  # no batch folder, no state
