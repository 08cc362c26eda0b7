"""A batch end to end in this process (`run_batch`), with real CSVs and real WeasyPrint PDFs.

The command line around it (exit codes, error lines) is tested in `test_cli.py`.
"""

from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path

from letters.errors import ExitCode
from letters.ops.sample import SampleFiles
from letters.proof.manifest import MANIFEST_COLUMNS, ManifestRow
from letters.render.renderer import pdf_text
from letters.state import open_store
from tests.helpers import (
    RecordingReporter,
    WriteCsv,
    count_data_rows,
    manifest,
    only_batch,
    read_rows,
    run_in_process,
    threatening_templates,
)


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
    reporter = RecordingReporter()
    result = run_in_process(accounts, [sources], tmp_path / "out", reporter=reporter)
    assert result.exit_code == ExitCode.DONE, reporter.lines
    batch_dir = only_batch(tmp_path / "out")
    assert result.batch_dir == batch_dir and result.batch_id == batch_dir.name
    rows = manifest(batch_dir)
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
    assert summary == {**summary, **json.loads(json.dumps(result.summary()))}
    assert stat.S_IMODE(batch_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((batch_dir / "manifest.csv").stat().st_mode) == 0o600
    assert not list(batch_dir.rglob(".tmp-*"))


def test_sample_batch_exits_3_and_accounts_for_every_row(
    tmp_path: Path, sample_files: SampleFiles
) -> None:
    result = run_in_process(sample_files.accounts_path, sample_files.source_paths, tmp_path / "out")
    assert result.exit_code == ExitCode.REJECTED_ROWS, result.summary()
    batch_dir = only_batch(tmp_path / "out")
    rows = manifest(batch_dir)
    assert len(rows) == count_data_rows(sample_files.accounts_path)  # nothing silently dropped
    rejects = read_rows(batch_dir / "rejects.csv")
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
    result = run_in_process(accounts, [write_sources({})], tmp_path / "out")
    assert result.exit_code == ExitCode.DONE
    batch_dir = only_batch(tmp_path / "out")
    rows = manifest(batch_dir)
    assert rows[0]["piece_id"] == rows[1]["piece_id"] != ""
    text = pdf_text((batch_dir / rows[0]["pdf_path"]).read_bytes())
    assert "ending 1234" in text and "ending 6666" in text
    assert "$1,874.68" in text  # the total of both accounts


def test_held_when_no_usable_address(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    sources = write_sources({"status": "returned"})
    result = run_in_process(write_accounts({}), [sources], tmp_path / "out")
    assert result.exit_code == ExitCode.DONE
    (row,) = manifest(only_batch(tmp_path / "out"))
    assert (row["status"], row["reason_code"], row["pdf_path"]) == ("held", "no_address", "")


def test_person_level_flag_suppresses_every_account_of_the_debtor(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    accounts = write_accounts({}, {"account_id": "A2", "bankruptcy": "yes"})
    result = run_in_process(accounts, [write_sources({})], tmp_path / "out")
    assert result.exit_code == ExitCode.DONE
    rows = manifest(only_batch(tmp_path / "out"))
    assert {(r["status"], r["reason_code"]) for r in rows} == {("suppressed", "bankruptcy")}


def test_manifest_carries_the_decision_columns(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    result = run_in_process(write_accounts({}), [write_sources({})], tmp_path / "out")
    assert result.exit_code == ExitCode.DONE, result.summary()
    (row,) = manifest(only_batch(tmp_path / "out"))
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
    templates = threatening_templates(tmp_path)
    accounts = write_accounts(
        {"account_id": "A2", "customer_id": "C2", "due_date": "2026-11-10"}, {}
    )
    sources = write_sources({"customer_id": "C2"}, {})
    out_dir = tmp_path / "out"
    result = run_in_process(accounts, [sources], out_dir, templates=templates)
    assert result.exit_code == ExitCode.DONE, result.summary()
    batch_dir = only_batch(out_dir)
    rows = {r["account_id"]: r for r in manifest(batch_dir)}
    assert (rows["A1"]["status"], rows["A1"]["reason_code"]) == ("held", "lint:prohibited:lawsuit")
    assert rows["A1"]["pdf_path"] == ""
    assert rows["A2"]["status"] == "generated"  # the batch goes on
    assert [p.name for p in (batch_dir / "pdf").iterdir()] == [Path(rows["A2"]["pdf_path"]).name]
    assert len(list((batch_dir / "held").iterdir())) == 1
    with sqlite3.connect(out_dir / "letters.db") as db:
        assert db.execute("SELECT count(*) FROM letters").fetchone() == (1,)
    held_piece = next((batch_dir / "held").iterdir()).stem
    assert held_piece == f"{batch_dir.name}-000002"  # after A2's piece 000001
    store = open_store(out_dir / "letters.db")
    try:  # the held piece's number stays spent: a resume of this batch starts after it
        assert store.last_piece_number(batch_dir.name) == 2
    finally:
        store.close()
