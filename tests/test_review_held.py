"""Letters the lint held: a reviewer releases one (the same PDF goes into the next batch's print
file, recorded `released`) or voids it (the next run writes a fresh letter), with who and why."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader
from typer.testing import CliRunner

from letters.cli.app import app
from letters.errors import ExitCode
from letters.fsutil import sha256_file
from letters.render.renderer import default_templates_dir
from letters.state import open_store
from tests.helpers import (
    WriteCsv,
    at,
    batch_dirs,
    manifest,
    run_in_process,
    threatening_templates,
)

runner = CliRunner()
NEXT_DAY = date(2026, 11, 21)


@pytest.fixture
def lint_held(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> tuple[Path, Path, Path, Path, str]:
    """A batch on 2026-11-20 whose letter to C1 (A1) the lint held (a template threatening a
    lawsuit), while C2's letter went: accounts, sources, templates, output, the held piece."""
    templates = threatening_templates(tmp_path)
    accounts = write_accounts(
        {}, {"account_id": "A2", "customer_id": "C2", "due_date": "2026-11-10"}
    )
    sources = write_sources({}, {"customer_id": "C2"})
    out = tmp_path / "out"
    result = run_in_process(accounts, [sources], out, templates=templates, now=at("09:00:00"))
    assert result.exit_code == ExitCode.DONE, result.summary()
    rows = {row["account_id"]: row for row in manifest(batch_dirs(out)[0])}
    assert (rows["A1"]["status"], rows["A1"]["reason_code"]) == ("held", "lint:prohibited:lawsuit")
    (piece,) = [p.stem for p in (batch_dirs(out)[0] / "held").iterdir()]
    return accounts, sources, templates, out, piece


def _review(out: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["review", *args, "--out", str(out)])
    return result.exit_code, result.output


def _next_run(held: tuple[Path, Path, Path, Path, str], day: date = NEXT_DAY,
              templates: Path | None = None) -> dict[str, dict[str, str]]:  # fmt: skip
    accounts, sources, held_templates, out, _piece = held
    result = run_in_process(accounts, [sources], out, as_of=day, now=at("09:00:00", day),
                            templates=templates or held_templates)  # fmt: skip
    assert result.exit_code == ExitCode.DONE, result.summary()
    return {row["account_id"]: row for row in manifest(batch_dirs(out)[-1])}


def test_held_lists_the_letter_with_its_rule_and_pdf(
    lint_held: tuple[Path, Path, Path, Path, str],
) -> None:
    out, piece = lint_held[3], lint_held[4]
    code, output = _review(out, "held")
    assert code == 0
    (line,) = [line for line in output.splitlines() if line.startswith(piece)]
    fields = line.split("\t")
    assert fields[1] == "held"
    assert fields[3] == "lint:prohibited:lawsuit"
    assert Path(fields[4]) == batch_dirs(out)[0] / "held" / f"{piece}.pdf"
    assert (
        output.splitlines()[-1] == "1 held letters waiting for review, 0 released for the next run"
    )


def test_a_released_letter_goes_into_the_next_batch_as_it_is(
    lint_held: tuple[Path, Path, Path, Path, str],
) -> None:
    out, piece = lint_held[3], lint_held[4]
    held_pdf = batch_dirs(out)[0] / "held" / f"{piece}.pdf"
    digest = sha256_file(held_pdf)
    code, output = _review(out, "release", piece, "--by", "J. Doe", "--note", "wording cleared")
    assert (code, output.strip()) == (0, f"{piece}: released recorded; the next run mails it")
    # the same command again changes nothing
    assert _review(out, "release", piece, "--by", "J. Doe", "--note", "wording cleared")[
        1
    ].strip() == (f"{piece}: released already recorded, unchanged; the next run mails it")

    rows = _next_run(lint_held)  # the template still threatens: tonight's own letter is not made
    batch = batch_dirs(out)[-1]
    row = rows["A1"]
    assert (row["status"], row["reason_code"], row["piece_id"]) == ("generated", "released", piece)
    assert f"held in batch {batch_dirs(out)[0].name}" in row["reason_detail"]
    assert (
        "released by J. Doe on" in row["reason_detail"]
        and "wording cleared" in row["reason_detail"]
    )
    assert row["pdf_path"] == f"pdf/{piece}.pdf"
    assert sha256_file(batch / row["pdf_path"]) == digest == row["pdf_sha256"]
    assert row["mail_date"] == "2026-11-21"  # the date printed on it, not tonight's
    assert not (batch / "held").exists()  # nothing held again for A1
    # the print file carries it: the released letter's pages are in it
    (print_file,) = batch.glob("print-file-*.pdf")
    assert len(PdfReader(print_file).pages) == int(row["pages"])  # C2 got its letter yesterday
    code, output = _review(out, "held", "--all")
    assert f"{piece}\tmailed" in output

    # a third run sends A1 nothing more: the released letter counts as sent
    third = _next_run(lint_held, date(2026, 11, 23))
    assert third["A1"]["status"] != "generated"
    store = open_store(out / "letters.db")
    try:
        held = store.held_letter(piece)
        assert held is not None and (held.status, held.released_batch) == ("mailed", batch.name)
    finally:
        store.close()


def test_a_voided_letter_never_goes_and_the_next_run_writes_a_fresh_one(
    lint_held: tuple[Path, Path, Path, Path, str],
) -> None:
    out, piece = lint_held[3], lint_held[4]
    code, output = _review(out, "void", piece, "--by", "J. Doe")
    assert code == ExitCode.USAGE and "--note" in output  # why is required
    code, output = _review(out, "void", piece, "--by", "J. Doe", "--note", "threatens a lawsuit")
    assert (code, output.strip()) == (0, f"{piece}: voided recorded")
    code, output = _review(out, "release", piece, "--by", "J. Doe")
    assert code == ExitCode.USAGE and f"{piece}: already voided" in output

    rows = _next_run(lint_held, templates=default_templates_dir())
    row = rows["A1"]
    assert (row["status"], row["reason_code"]) == ("generated", "letter_due")
    assert row["piece_id"] != piece
    assert not (batch_dirs(out)[-1] / "pdf" / f"{piece}.pdf").exists()


def test_a_released_letter_whose_date_has_passed_is_voided(
    lint_held: tuple[Path, Path, Path, Path, str],
) -> None:
    out, piece = lint_held[3], lint_held[4]
    assert _review(out, "release", piece, "--by", "J. Doe")[0] == 0
    rows = _next_run(lint_held, date(2026, 12, 1), templates=default_templates_dir())
    row = rows["A1"]  # mailed ten days after its date: void; tonight's fresh letter goes instead
    assert (row["status"], row["reason_code"]) == ("generated", "letter_due")
    assert row["piece_id"] != piece
    store = open_store(out / "letters.db")
    try:
        held = store.held_letter(piece)
        assert held is not None and held.status == "voided"
        assert "too early for this batch's 2026-12-02" in held.note
    finally:
        store.close()
    log = (batch_dirs(out)[-1] / "run.log").read_text(encoding="utf-8")
    assert f"released {piece} not mailed: its mail date 2026-11-21 is too early" in log


def test_an_unknown_piece_or_no_reviewer_is_refused_in_one_line(
    lint_held: tuple[Path, Path, Path, Path, str],
) -> None:
    out, piece = lint_held[3], lint_held[4]
    code, output = _review(out, "release", "NO-SUCH-PIECE", "--by", "J. Doe")
    assert code == ExitCode.USAGE
    assert "NO-SUCH-PIECE: no letter held with this piece id" in output
    code, output = _review(out, "release", piece, "--by", "  ")
    assert code == ExitCode.USAGE and "reviewer: required" in output
