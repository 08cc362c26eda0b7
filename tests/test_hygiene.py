"""Issue 13, defects 7, 8 and 9 (input part): spreadsheet-safe CSVs and input hygiene.

A real batch in this process writes every CSV for people with formula cells made inert while
manifest.jsonl keeps the exact values; junk address lines are held for review; control and
bidirectional characters reject a row; a NUL byte or an oversized field rejects its row alone.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from addresses.batch import DedupeColumns, dedupe_file, resolve_files
from addresses.config import load_config
from addresses.csvio import RowError
from addresses.hygiene import (
    ADDRESS_FORBIDDEN,
    FORMULA_STARTS,
    PLAIN_NUMBER,
    clean_text,
    spreadsheet_safe,
    spreadsheet_safe_rows,
)
from addresses.records import COLUMNS as SOURCE_COLUMNS
from addresses.records import iter_source_file
from addresses.standardize import standardize
from letters.intake.accounts import COLUMNS as ACCOUNT_COLUMNS
from letters.intake.accounts import read_accounts
from letters.ops.context import BatchResult
from letters.ops.dryrun import decide_accounts
from tests.helpers import (
    AS_OF,
    CERTIFIED,
    GOOD_ACCOUNT,
    GOOD_SOURCE,
    only_batch,
    read_rows,
    run_in_process,
    run_request,
    write_rows,
)

EVIL_NAME = '=HYPERLINK("http://evil.example/x","click")'
RLO_REASON = (
    "contains a bidirectional control character (U+202E RIGHT-TO-LEFT OVERRIDE):"
    " the text could print in another order than it is stored"
)


def _accounts_file(path: Path, *overrides: dict[str, str]) -> Path:
    return write_rows(path, ACCOUNT_COLUMNS, [{**GOOD_ACCOUNT, **o} for o in overrides])


def _sources_file(path: Path, *overrides: dict[str, str]) -> Path:
    return write_rows(path, SOURCE_COLUMNS, [{**GOOD_SOURCE, **o} for o in overrides])


def _insert_line(path: Path, after_line: int, text: str) -> None:
    """Put one raw line into a CSV file after physical line `after_line`."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines.insert(after_line, text)
    path.write_text("".join(lines), encoding="utf-8", newline="")


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[BatchResult, Path]:
    """One real batch over hostile inputs: formula names and ids, junk address lines, a bidi
    name, a NUL byte and an oversized field."""
    work = tmp_path_factory.mktemp("hostile")
    accounts = _accounts_file(
        work / "accounts.csv",
        {"account_id": "@evil", "customer_id": "C1", "full_name": EVIL_NAME, **CERTIFIED},
        {"account_id": "A2", "customer_id": "C2", "full_name": "Bea Math"},
        {"account_id": "A3", "customer_id": "C3", "full_name": "Cy Junk"},
        {"account_id": "=cmd|' /C calc'!A0", "customer_id": "C4", "balance": "oops"},
        {"account_id": "A5", "customer_id": "C5", "full_name": "\u202eHTIMS"},
        {"account_id": "A8", "customer_id": "C8", "full_name": "Last Good"},
    )
    # accounts.csv lines: 1 header, 2 @evil, 3 A2, 4 A3, 5 =cmd, 6 A5, 7 A8; then a NUL row
    # (line 8) and an oversized field (line 9) after the last good row.
    nul = dict(GOOD_ACCOUNT, account_id="A6", customer_id="C6", full_name="Nul\x00Name")
    big = dict(GOOD_ACCOUNT, account_id="A7", customer_id="C7", full_name="x" * 131_073)
    with accounts.open("a", encoding="utf-8", newline="") as handle:
        csv.DictWriter(handle, fieldnames=list(ACCOUNT_COLUMNS)).writerows([nul, big])
    sources = _sources_file(
        work / "internal.csv",
        {"customer_id": "C1"},
        {"customer_id": "C2", "line1": "=1+1 Main", "line2": ""},
        {"customer_id": "C3", "line1": "{{ 7*7 }} Elm St", "line2": ""},
        {"customer_id": "C8"},
    )
    result = run_in_process(accounts, [sources], work / "out")
    return result, only_batch(work / "out")


def test_run_csvs_neutralize_formulas_and_jsonl_keeps_exact_values(
    hostile_run: tuple[BatchResult, Path],
) -> None:
    _result, batch_dir = hostile_run
    rows = {r["customer_id"]: r for r in read_rows(batch_dir / "manifest.csv")}
    assert rows["C1"]["status"] == "generated"
    assert rows["C1"]["recipient_name"] == "'" + EVIL_NAME
    assert rows["C1"]["account_id"] == "'@evil"
    records = [json.loads(line) for line in (batch_dir / "manifest.jsonl").read_text().splitlines()]
    first = next(r for r in records if r["customer_id"] == "C1")
    assert (first["recipient_name"], first["account_id"]) == (EVIL_NAME, "@evil")
    book = read_rows(batch_dir / "mailing-book.csv")
    assert [line["addressee"] for line in book] == ["'" + EVIL_NAME]
    rejects = {r["line"]: r for r in read_rows(batch_dir / "rejects.csv")}
    assert rejects["5"]["key"] == "'=cmd|' /C calc'!A0"
    assert rejects["5"]["raw_row"].startswith("'=cmd|")


def test_every_csv_of_the_run_starts_no_cell_with_a_formula(
    hostile_run: tuple[BatchResult, Path],
) -> None:
    _result, batch_dir = hostile_run
    written = sorted(batch_dir.glob("*.csv"))
    assert {p.name for p in written} >= {
        "manifest.csv", "rejects.csv", "review.csv", "mailing-book.csv", "print-order.csv",
    }  # fmt: skip
    for csv_path in written:
        with csv_path.open(encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle):
                assert all(_is_safe(cell) for cell in row), (csv_path.name, row)


def test_junk_address_lines_are_held_with_the_characters_check_in_review_csv(
    hostile_run: tuple[BatchResult, Path],
) -> None:
    _result, batch_dir = hostile_run
    rows = {r["customer_id"]: r for r in read_rows(batch_dir / "manifest.csv")}
    for customer in ("C2", "C3"):
        assert (rows[customer]["status"], rows[customer]["reason_code"]) == (
            "held",
            "address_review",
        )
        assert rows[customer]["pdf_path"] == ""
    review = {r["customer_id"]: r for r in read_rows(batch_dir / "review.csv")}
    assert review["C2"]["line1"] == "1 1ST MAIN"  # what it would have been mailed to
    assert "characters: line1 has '=' '+': no address has these" in review["C2"]["failed_checks"]
    assert "characters: line1 has '{' '*' '}'" in review["C3"]["failed_checks"]
    assert review["C2"]["reasons"].startswith("invalid_address: characters (line1 has '='")


def test_bidi_name_nul_row_and_oversized_field_are_rejected_alone(
    hostile_run: tuple[BatchResult, Path],
) -> None:
    result, batch_dir = hostile_run
    rejects = {r["line"]: r for r in read_rows(batch_dir / "rejects.csv")}
    assert (rejects["6"]["field"], rejects["6"]["reason"]) == ("full_name", RLO_REASON)
    assert (rejects["8"]["file"], rejects["8"]["field"]) == ("accounts.csv", "full_name")
    assert rejects["8"]["reason"] == "contains a NUL byte"
    assert "Nul\u2400Name" in rejects["8"]["raw_row"]  # shown, never a NUL in rejects.csv
    assert rejects["9"]["reason"] == "a field is longer than 131072 characters (the reader's limit)"
    assert rejects["9"]["raw_row"].endswith("characters in all]")
    assert set(rejects) == {"5", "6", "8", "9"}
    rows = {r["customer_id"]: r for r in read_rows(batch_dir / "manifest.csv")}
    assert rows["C8"]["status"] == "generated"  # the rows around the bad ones still count
    assert result.rejected_rows == 4


def test_decisions_csv_is_spreadsheet_safe(tmp_path: Path) -> None:
    accounts = _accounts_file(
        tmp_path / "accounts.csv", {"full_name": EVIL_NAME, "account_id": "-A1+2"}
    )
    sources = _sources_file(tmp_path / "internal.csv", {})
    out_path = tmp_path / "decisions.csv"
    result = decide_accounts(run_request(accounts, [sources], tmp_path / "out"), None, out_path)
    assert [row.recipient_name for row in result.rows] == [EVIL_NAME]
    (row,) = read_rows(out_path)
    assert (row["recipient_name"], row["account_id"]) == ("'" + EVIL_NAME, "'-A1+2")
    assert row["amount_due"] == "937.34"


def test_resolved_and_clusters_csv_are_spreadsheet_safe(tmp_path: Path) -> None:
    sources = _sources_file(tmp_path / "internal.csv", {"customer_id": "@C1"})
    resolved = tmp_path / "resolved.csv"
    resolve_files([sources], resolved, load_config(None), AS_OF, jobs=1)
    assert [r["customer_id"] for r in read_rows(resolved)] == ["'@C1"]
    sites = tmp_path / "sites.csv"
    sites.write_text("Id,Address,Zip\n=1+2,123 N Main St,60614\n", encoding="utf-8")
    clusters = tmp_path / "clusters.csv"
    dedupe_file(sites, clusters, DedupeColumns("Id", "Address", zip="Zip"))
    assert [r["id"] for r in read_rows(clusters)] == ["'=1+2"]


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        (EVIL_NAME, "'" + EVIL_NAME),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("+1 312 555 0100", "'+1 312 555 0100"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("\uff1d1+1", "'\uff1d1+1"),
        ("-12.00", "-12.00"),  # a plain negative amount stays a number
        ("-1,234.56", "-1,234.56"),
        ("-", "'-"),
        ("Ada Lovelace", "Ada Lovelace"),
        ("", ""),
    ],
)
def test_spreadsheet_safe_cells(cell: str, written: str) -> None:
    assert spreadsheet_safe(cell) == written


def _is_safe(cell: str) -> bool:
    return not cell or cell[0] not in FORMULA_STARTS or spreadsheet_safe(cell) == cell


@given(st.lists(st.lists(st.text(), max_size=4), max_size=4))
def test_no_text_leaves_the_neutralizer_starting_a_formula(rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(spreadsheet_safe_rows(rows))
    for written, original in zip(
        csv.reader(io.StringIO(buffer.getvalue(), newline="")), rows, strict=False
    ):
        for cell, before in zip(written, original, strict=False):
            assert cell[:1] not in FORMULA_STARTS or PLAIN_NUMBER.match(cell), cell
            assert cell in (before, "'" + before)  # nothing else is ever changed


@given(st.text())
def test_text_that_starts_safely_is_never_changed(text: str) -> None:
    if text[:1] not in FORMULA_STARTS:
        assert spreadsheet_safe(text) == text


@pytest.mark.parametrize(
    "line1",
    [
        "=1+1 Main",
        "{{ 7*7 }} Elm St",
        "123 Main St <b>",
        "1 Main St; DROP",
        "$100 Main",
        "123 Main\u202e St",
        "123 Main\x07 St",
    ],
)
def test_junk_address_lines_fail_the_hard_characters_check(line1: str) -> None:
    form = standardize(line1, "", "Chicago", "IL", "60614")
    assert [c.name for c in form.hard_failures] == ["characters"]
    assert form.validity == 0.0


@given(st.text(max_size=20), st.sampled_from(ADDRESS_FORBIDDEN), st.text(max_size=20))
def test_any_forbidden_character_fails_the_check(head: str, char: str, tail: str) -> None:
    form = standardize(f"123 Main St {head}{char}{tail}", "", "Chicago", "IL", "60614")
    assert "characters" in [c.name for c in form.hard_failures]


@pytest.mark.parametrize(
    "line1",
    ["123 O'Hare Dr # 4", "12-34 Main St", "123 1/2 Main St", "1 Main St., Apt 4, Rear",
     "100 1st & Main St", "5 Main St (Rear)", "100 Main St Ste 200"],
)  # fmt: skip
def test_real_address_punctuation_passes_the_characters_check(line1: str) -> None:
    form = standardize(line1, "", "Chicago", "IL", "60614")
    assert ("characters", True) in [(c.name, c.passed) for c in form.checks]


def test_foreign_and_third_party_addresses_get_the_check_too() -> None:
    foreign = standardize("=HYPERLINK(1)", "", "Toronto", "ON", "M5V 2T6", "CA")
    assert [c.name for c in foreign.hard_failures] == ["characters"]
    attorney = standardize("77 W Wacker Dr {{x}}, Chicago IL 60601")
    assert "characters" in [c.name for c in attorney.hard_failures]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("\u202eHTIMS", RLO_REASON),
        ("Ada\u2066 Lovelace", "contains a bidirectional control character (U+2066"),
        ("Ada\u200fLovelace", "contains a bidirectional control character (U+200F"),
        ("Ada\u061cLovelace", "contains a bidirectional control character (U+061C"),
        ("Ada\x07Lovelace", "contains a control character (U+0007)"),
        ("Ada\x1bLovelace", "contains a control character (U+001B)"),
        ("Ada\x9bLovelace", "contains a control character (U+009B)"),
    ],
)
def test_control_and_bidi_characters_are_rejected_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(RowError) as caught:
        clean_text(text, "full_name")
    assert caught.value.field_name == "full_name"
    assert caught.value.reason.startswith(reason)


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        ("Ada\u200b Lovelace", "Ada Lovelace"),
        ("\ufeffAda Lovelace\u2060", "Ada Lovelace"),
        ("Ada\u200cLovelace", "AdaLovelace"),
        ("Ada\nLovelace", "Ada Lovelace"),
        ("Ada\r\n\tLovelace", "Ada Lovelace"),
        ("José Peña", "José Peña"),
        ("محمد علي", "محمد علي"),  # right-to-left letters themselves are fine
    ],
)
def test_zero_width_and_line_breaks_are_normalised(text: str, clean: str) -> None:
    assert clean_text(text, "full_name") == clean


def test_accounts_reader_rejects_bidi_names_and_normalises_zero_width(tmp_path: Path) -> None:
    path = _accounts_file(
        tmp_path / "accounts.csv",
        {"account_id": "A1", "full_name": "Ada\u200b Lovelace"},
        {"account_id": "A2", "full_name": "\u202eHTIMS"},
        {"account_id": "A3", "attorney_name": "Al Law", "attorney_address": "1 Main St\u202e"},
        {"account_id": "A4", "creditor": "Bank\x0bof\x1bTrust"},
        {"account_id": "A5", "representative_name": "R\u2067ep", "representative_address": "x"},
    )
    result = read_accounts(path)
    assert [(a.account_id, a.full_name) for a in result.accounts] == [("A1", "Ada Lovelace")]
    assert [r.message for r in result.rejects] == [
        f"accounts.csv:3: full_name: {RLO_REASON}",
        f"accounts.csv:4: attorney_address: {RLO_REASON}",
        "accounts.csv:5: creditor: contains a control character (U+001B)",
        "accounts.csv:6: representative_name: contains a bidirectional control character"
        " (U+2067 RIGHT-TO-LEFT ISOLATE): the text could print in another order than it is"
        " stored",
    ]


def test_sources_reader_rejects_bidi_lines_and_normalises_zero_width(tmp_path: Path) -> None:
    path = _sources_file(
        tmp_path / "internal.csv",
        {"line1": "123 N\u200b Main St"},
        {"customer_id": "C2", "line2": "Apt\u202e 4"},
        {"customer_id": "C3", "city": "Chi\x01cago"},
    )
    items = list(iter_source_file(path))
    assert items[0].line1 == "123 N Main St"  # type: ignore[union-attr]
    assert [(i.line, i.field, i.reason) for i in items[1:]] == [  # type: ignore[union-attr]
        (3, "line2", RLO_REASON),
        (4, "city", "contains a control character (U+0001)"),
    ]


@pytest.mark.parametrize("size", [131_072, 131_073, 1_000_000])
def test_accounts_reader_rejects_an_oversized_field_alone(tmp_path: Path, size: int) -> None:
    path = _accounts_file(tmp_path / "accounts.csv", {"account_id": "A1"}, {"account_id": "A3"})
    # line 3: a quoted oversized name over two physical lines; the reader must find line 5
    big = dict(GOOD_ACCOUNT, account_id="A2", full_name="x" * (size - 12) + "\nsecond line")
    buffer = io.StringIO()
    csv.DictWriter(buffer, fieldnames=list(ACCOUNT_COLUMNS)).writerow(big)
    _insert_line(path, 2, buffer.getvalue())
    result = read_accounts(path)
    assert [(a.account_id, a.line) for a in result.accounts] == [("A1", 2), ("A3", 5)]
    (reject,) = result.rejects
    assert (reject.file_name, reject.line) == ("accounts.csv", 3)
    if size > 131_072:  # past the csv module's limit: the reader's own reason
        assert reject.message == (
            "accounts.csv:3: a field is longer than 131072 characters (the reader's limit)"
        )
    else:
        assert reject.message == "accounts.csv:3: full_name: longer than 500 characters"


def test_accounts_reader_rejects_a_nul_row_alone(tmp_path: Path) -> None:
    path = _accounts_file(
        tmp_path / "accounts.csv",
        {"account_id": "A1"},
        {"account_id": "A2", "full_name": "Ada\x00Lovelace"},
        {"account_id": "A3", "balance": "937.34\x00"},
        {"account_id": "A4"},
    )
    result = read_accounts(path)
    assert [a.account_id for a in result.accounts] == ["A1", "A4"]
    assert [r.message for r in result.rejects] == [
        "accounts.csv:3: full_name: contains a NUL byte",
        "accounts.csv:4: balance: contains a NUL byte",
    ]


def test_sources_reader_rejects_nul_and_oversized_rows_alone(tmp_path: Path) -> None:
    path = _sources_file(
        tmp_path / "internal.csv",
        {"customer_id": "C1"},
        {"customer_id": "C2", "line1": "1 Main\x00 St"},
        {"customer_id": "C3", "city": "y" * 200_000},
        {"customer_id": "C4"},
    )
    items = list(iter_source_file(path))
    assert [(i.line, i.customer_id) for i in items if not hasattr(i, "reason")] == [
        (2, "C1"),
        (5, "C4"),
    ]
    assert [(i.line, i.reason) for i in items if hasattr(i, "reason")] == [
        (3, "contains a NUL byte"),
        (4, "a field is longer than 131072 characters (the reader's limit)"),
    ]


def test_a_nul_in_the_header_still_refuses_the_file(tmp_path: Path) -> None:
    from letters.errors import InputFileError

    path = tmp_path / "accounts.csv"
    path.write_bytes(b"a\x00c\x00c\x00\n1,2,3\n")
    with pytest.raises(InputFileError, match=r"^accounts.csv:1: contains NUL bytes"):
        read_accounts(path)
