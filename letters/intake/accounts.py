"""Accounts intake: read the overdue-accounts CSV strictly, row by row, losing nothing.

File-level problems raise `InputFileError`; row-level problems become `Reject`s that keep the row's
raw text and a one-line reason such as `accounts.csv:14: balance: not a number: '12,0O'`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from addresses.csvio import (
    CsvFileError,
    Reject,
    RowError,
    missing_columns_message,
    open_csv,
    row_values,
)
from addresses.hygiene import clean_text
from letters.errors import InputFileError
from letters.model import Account

REQUIRED_COLUMNS = (
    "account_id",
    "customer_id",
    "full_name",
    "creditor",
    "account_number",
    "itemization_date",
    "amount_at_itemization",
    "balance",
    "due_date",
)
OPTIONAL_COLUMNS = (
    "original_creditor",
    "currency",
    "interest_since",
    "fees_since",
    "payments_since",
    "language",
    "email",
    "cease_communication",
    "bankruptcy",
    "attorney_name",
    "attorney_address",
    "deceased",
    "dispute_open",
    "hardship",
    "time_barred",
    "large_print",
    "representative_name",
    "representative_address",
)
# Every column in the order the README documents (and `letters sample` writes).
COLUMNS = (
    "account_id", "customer_id", "full_name", "creditor", "original_creditor", "account_number",
    "currency", "itemization_date", "amount_at_itemization", "interest_since", "fees_since",
    "payments_since", "balance", "due_date", "language", "email", "cease_communication",
    "bankruptcy", "attorney_name", "attorney_address", "deceased", "dispute_open", "hardship",
    "time_barred", "large_print", "representative_name", "representative_address",
)  # fmt: skip
FLAG_COLUMNS = (
    "cease_communication",
    "bankruptcy",
    "deceased",
    "dispute_open",
    "hardship",
    "time_barred",
    "large_print",
)
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "x"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", ""})
_MONEY = re.compile(r"^(?P<sign>-?)\$?(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d{1,2}))?$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_FIELD_CHARS = 500
# Printed on letters and envelopes: control and bidirectional characters reject the row (see
# `addresses.hygiene.clean_text`); line breaks become spaces and zero-width characters go.
PRINTED_COLUMNS = frozenset({
    "full_name", "creditor", "original_creditor", "attorney_name", "attorney_address",
    "representative_name", "representative_address",
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class AccountsFile:
    """What reading the accounts file gave: the good accounts (in file order) and the rejects."""

    path: Path
    accounts: list[Account]
    rejects: list[Reject] = field(default_factory=list)


def parse_money(text: str, field_name: str) -> Decimal:
    """Parse an amount like `1234.56`, `1,234.56` or `$12`; never a float."""
    match = _MONEY.match(text.strip())
    if not match:
        raise RowError(field_name, f"not a number: {text!r}")
    digits = match["int"].replace(",", "") + "." + (match["frac"] or "0")
    try:
        value = Decimal(match["sign"] + digits)
    except InvalidOperation:  # pragma: no cover - the pattern admits only digits
        raise RowError(field_name, f"not a number: {text!r}") from None
    return value.quantize(Decimal("0.01"))


def parse_date(text: str, field_name: str) -> date:
    """Parse an ISO 8601 calendar date (YYYY-MM-DD)."""
    value = text.strip()
    if not _ISO_DATE.match(value):
        raise RowError(field_name, f"not a date (YYYY-MM-DD): {text!r}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise RowError(field_name, f"no such date: {text!r}") from None


def parse_flag(text: str, field_name: str) -> bool:
    """Parse a yes/no flag in the usual spellings; empty means no."""
    value = text.strip().lower()
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise RowError(field_name, f"not a yes/no value: {text!r}")


def _text(values: dict[str, str], name: str, *, required: bool = False) -> str:
    value = values.get(name, "")
    if name in PRINTED_COLUMNS:
        value = clean_text(value, name)
    value = value.strip()
    if required and not value:
        raise RowError(name, "required but empty")
    if len(value) > MAX_FIELD_CHARS:
        raise RowError(name, f"longer than {MAX_FIELD_CHARS} characters")
    return value


def _checked(values: dict[str, str], name: str, pattern: re.Pattern[str], what: str) -> str:
    value = _text(values, name)
    if value and not pattern.match(value):
        raise RowError(name, f"not {what}: {value!r}")
    return value


def _money(values: dict[str, str], name: str, *, required: bool = False) -> Decimal:
    text = _text(values, name, required=required)
    return parse_money(text, name) if text else Decimal("0.00")


def account_from_values(values: dict[str, str], line: int) -> Account:
    """Build an `Account` from one row's named values; raise `RowError` on the first bad field."""
    flags = {name: parse_flag(values.get(name, ""), name) for name in FLAG_COLUMNS}
    amounts = {
        name: _money(values, name, required=name in REQUIRED_COLUMNS)
        for name in (
            "amount_at_itemization",
            "interest_since",
            "fees_since",
            "payments_since",
            "balance",
        )
    }
    for name in ("interest_since", "fees_since", "payments_since"):
        if amounts[name] < 0:
            raise RowError(name, f"must not be negative: {values[name]!r}")
    expected = (
        amounts["amount_at_itemization"]
        + amounts["interest_since"]
        + amounts["fees_since"]
        - amounts["payments_since"]
    )
    if expected != amounts["balance"]:
        raise RowError(
            "balance",
            f"itemization does not add up: {amounts['amount_at_itemization']} + interest "
            f"{amounts['interest_since']} + fees {amounts['fees_since']} - payments "
            f"{amounts['payments_since']} = {expected}, not {amounts['balance']}",
        )
    creditor = _text(values, "creditor", required=True)
    attorney_name = _text(values, "attorney_name")
    attorney_address = _text(values, "attorney_address")
    if attorney_address and not attorney_name:
        raise RowError("attorney_name", "required when attorney_address is given")
    if attorney_name and not attorney_address:
        raise RowError("attorney_address", "required when attorney_name is given")
    representative_name = _text(values, "representative_name")
    representative_address = _text(values, "representative_address")
    if bool(representative_name) != bool(representative_address):
        missing = "representative_address" if representative_name else "representative_name"
        raise RowError(missing, "a representative needs both a name and an address")
    return Account(
        account_id=_text(values, "account_id", required=True),
        customer_id=_text(values, "customer_id", required=True),
        full_name=_text(values, "full_name", required=True),
        creditor=creditor,
        original_creditor=_text(values, "original_creditor") or creditor,
        account_number=_text(values, "account_number", required=True),
        currency=(_checked(values, "currency", _CURRENCY, "a currency code like USD") or "USD"),
        itemization_date=parse_date(_text(values, "itemization_date"), "itemization_date"),
        due_date=parse_date(_text(values, "due_date"), "due_date"),
        language=(_checked(values, "language", _LANGUAGE, "a language code like en") or "en"),
        email=_checked(values, "email", _EMAIL, "an email address"),
        attorney_name=attorney_name,
        attorney_address=attorney_address,
        line=line,
        amount_at_itemization=amounts["amount_at_itemization"],
        interest_since=amounts["interest_since"],
        fees_since=amounts["fees_since"],
        payments_since=amounts["payments_since"],
        balance=amounts["balance"],
        cease_communication=flags["cease_communication"],
        bankruptcy=flags["bankruptcy"],
        deceased=flags["deceased"],
        dispute_open=flags["dispute_open"],
        hardship=flags["hardship"],
        time_barred=flags["time_barred"],
        large_print=flags["large_print"],
        representative_name=representative_name,
        representative_address=representative_address,
    )


def _check_header(header: tuple[str, ...], name: str) -> None:
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise InputFileError(missing_columns_message(name, header, missing))


def read_accounts(accounts_path: Path, on_row: Callable[[int], None] | None = None) -> AccountsFile:
    """Read the whole accounts file; a file-level problem raises before anything is returned.

    Every row becomes an `Account` or a `Reject`; all rows sharing a duplicated `account_id` are
    rejected, since nothing says which of them is right.
    """
    try:
        table = open_csv(accounts_path)
        _check_header(table.header, table.name)
        accounts: list[Account] = []
        rejects: list[Reject] = []
        lines_by_id: dict[str, list[int]] = {}
        raw_by_line: dict[int, str] = {}
        for row in table.rows:
            if on_row:
                on_row(row.line)
            try:
                account = account_from_values(row_values(row, table.header), row.line)
            except RowError as exc:
                position = table.header.index("account_id")
                key = row.values[position].strip() if len(row.values) > position else ""
                rejects.append(
                    Reject(table.name, row.line, exc.field_name, exc.reason, row.raw, key)
                )
                continue
            lines_by_id.setdefault(account.account_id, []).append(row.line)
            raw_by_line[row.line] = row.raw
            accounts.append(account)
    except CsvFileError as exc:
        raise InputFileError(str(exc)) from None
    kept: list[Account] = []
    for account in accounts:
        lines = lines_by_id[account.account_id]
        if len(lines) > 1:
            others = ", ".join(str(line) for line in lines if line != account.line)
            rejects.append(
                Reject(
                    table.name,
                    account.line,
                    "account_id",
                    f"duplicate account_id {account.account_id!r} (also on line {others})",
                    raw_by_line[account.line],
                    account.account_id,
                )
            )
        else:
            kept.append(account)
    rejects.sort(key=lambda reject: reject.line)
    return AccountsFile(path=accounts_path, accounts=kept, rejects=rejects)
