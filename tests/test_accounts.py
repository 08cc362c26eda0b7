"""The accounts reader on good and bad files."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from letters.errors import InputFileError
from letters.intake.accounts import COLUMNS as ACCOUNT_COLUMNS
from letters.intake.accounts import read_accounts
from tests.helpers import GOOD_ACCOUNT, WriteCsv


def test_good_row_is_read_with_decimals_defaults_and_flags(write_accounts: WriteCsv) -> None:
    result = read_accounts(write_accounts({}, {"account_id": "A2", "hardship": "yes"}))
    assert result.rejects == []
    first, second = result.accounts
    assert first.amount_at_itemization == Decimal("1000.00")
    assert first.balance == Decimal("937.34")
    assert isinstance(first.balance, Decimal)
    assert first.original_creditor == first.creditor  # defaults to the creditor
    assert first.currency == "USD"
    assert first.account_number_last4 == "1234"
    assert (first.hardship, second.hardship) == (False, True)
    assert first.line == 2 and second.line == 3


def test_bad_number_gives_the_one_line_error(write_accounts: WriteCsv) -> None:
    result = read_accounts(write_accounts({}, {"account_id": "A2", "balance": "12,0O"}))
    assert [a.account_id for a in result.accounts] == ["A1"]
    (reject,) = result.rejects
    assert reject.message == "accounts.csv:3: balance: not a number: '12,0O'"
    assert reject.key == "A2"
    assert "12,0O" in reject.raw


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"due_date": "2026-13-01"}, "due_date: no such date: '2026-13-01'"),
        ({"due_date": "01/10/2026"}, "due_date: not a date (YYYY-MM-DD): '01/10/2026'"),
        ({"bankruptcy": "maybe"}, "bankruptcy: not a yes/no value: 'maybe'"),
        ({"customer_id": " "}, "customer_id: required but empty"),
        ({"interest_since": "1.234"}, "interest_since: not a number: '1.234'"),
        ({"fees_since": "-5"}, "fees_since: must not be negative: '-5'"),
        ({"currency": "dollars"}, "currency: not a currency code like USD: 'dollars'"),
        ({"email": "nobody"}, "email: not an email address: 'nobody'"),
        ({"balance": "937.35"}, "balance: itemization does not add up"),
        ({"attorney_address": "1 Main St"}, "attorney_name: required when attorney_address"),
    ],
)
def test_bad_field_rejects_the_row(
    write_accounts: WriteCsv, override: dict[str, str], message: str
) -> None:
    result = read_accounts(write_accounts(override))
    assert result.accounts == []
    assert result.rejects[0].message.startswith(f"accounts.csv:2: {message}")


def test_duplicate_account_ids_reject_every_copy(write_accounts: WriteCsv) -> None:
    result = read_accounts(write_accounts({}, {"account_id": "A2"}, {}))
    assert [a.account_id for a in result.accounts] == ["A2"]
    assert [r.message for r in result.rejects] == [
        "accounts.csv:2: account_id: duplicate account_id 'A1' (also on line 4)",
        "accounts.csv:4: account_id: duplicate account_id 'A1' (also on line 2)",
    ]


def test_wrong_field_count_and_multiline_fields_keep_line_numbers(tmp_path: Path) -> None:
    header = ",".join(ACCOUNT_COLUMNS)
    good = ",".join(
        GOOD_ACCOUNT[c] if c != "amount_at_itemization" else '"1,000.00"' for c in ACCOUNT_COLUMNS
    )
    multiline = good.replace("Ada Lovelace", '"Ada\nLovelace"').replace("A1,", "A2,", 1)
    path = tmp_path / "accounts.csv"
    path.write_text(f"{header}\n{good}\n{multiline}\nA3,C3,short\n\n", encoding="utf-8")
    result = read_accounts(path)
    assert [(a.account_id, a.line) for a in result.accounts] == [("A1", 2), ("A2", 3)]
    (reject,) = result.rejects
    assert reject.message == "accounts.csv:5: expected 27 fields, found 3"
    assert reject.raw == "A3,C3,short\n"


def test_bom_is_accepted(write_accounts: WriteCsv) -> None:
    path = write_accounts({})
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert len(read_accounts(path).accounts) == 1


def test_latin1_file_is_refused_naming_the_encoding(write_accounts: WriteCsv) -> None:
    path = write_accounts({"full_name": "José Peña"})
    path.write_bytes(path.read_text(encoding="utf-8").encode("latin-1"))
    with pytest.raises(InputFileError, match=r"accounts.csv:2: not UTF-8 text \(byte 0xe9"):
        read_accounts(path)


def test_missing_column_is_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "accounts.csv"
    path.write_text("account_id,customer_id\nA1,C1\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"accounts\.csv:1: missing required column"):
        read_accounts(path)


@pytest.mark.parametrize("content", [b"", b"\n\n", b"a,a\n", b"\x00\x01binary"])
def test_unusable_files_are_file_errors(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "accounts.csv"
    path.write_bytes(content)
    with pytest.raises(InputFileError, match=r"^accounts.csv"):
        read_accounts(path)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.binary(max_size=400))
def test_arbitrary_bytes_never_crash(tmp_path: Path, body: bytes) -> None:
    path = tmp_path / "accounts.csv"
    path.write_bytes(",".join(ACCOUNT_COLUMNS).encode() + b"\n" + body)
    try:
        result = read_accounts(path)
    except InputFileError as exc:
        assert str(exc).startswith("accounts.csv")
        return
    for reject in result.rejects:
        assert reject.message.startswith("accounts.csv:")


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cells=st.lists(st.text(max_size=12), min_size=27, max_size=27))
def test_arbitrary_field_values_are_read_or_rejected(tmp_path: Path, cells: list[str]) -> None:
    import csv

    path = tmp_path / "accounts.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(ACCOUNT_COLUMNS)
        writer.writerow(cells)
    try:
        result = read_accounts(path)
    except InputFileError:
        return
    assert len(result.accounts) + len(result.rejects) == 1


def test_documented_columns_cover_required_and_optional() -> None:
    from letters.intake.accounts import COLUMNS, OPTIONAL_COLUMNS, REQUIRED_COLUMNS

    assert sorted(COLUMNS) == sorted(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)
