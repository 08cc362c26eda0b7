"""Contacts intake: e-mail addresses with what we know of the consumer's consent (`--contacts`).

Read as strictly as the accounts file: a file that cannot be used raises `InputFileError`; each bad
row becomes one `Reject` naming its file, line, field and reason. A reason never quotes a cell
(a shifted row can put an address in any column; the reject's raw row holds it, in rejects.csv
only), so stderr and logs stay free of addresses.

An address is kept lower-cased whole, local part too, so every later comparison (opt-outs,
bounces, the send's last check) matches however a file spelled it; no debtor's mailbox tells
`Ada` from `ada`. Addresses outside ASCII are refused for now: neither smtplib (without
SMTPUTF8) nor our headers can carry them.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from pathlib import Path

from addresses.csvio import (
    CsvFileError,
    Reject,
    RowError,
    missing_columns_message,
    open_csv,
    row_values,
)
from addresses.hygiene import char_name
from letters.errors import InputFileError
from letters.intake.accounts import MAX_FIELD_CHARS, parse_date, parse_flag
from letters.model import CONSENT_BASES, ContactPoint

REQUIRED_COLUMNS = ("customer_id", "channel", "value")
OPTIONAL_COLUMNS = ("consent_basis", "consent_date", "esign_consent", "opted_out_at", "is_work")
# Every column in the order the README documents (and `letters sample` writes).
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
CHANNELS = ("email",)
CHANNEL_SPELLINGS = {"email": "email", "e-mail": "email"}
# 12 CFR 1006.6(d)(4)(ii): the creditor's notice counts only once the consumer had 35 days to opt
# out, counted from its date; without one nothing can be counted.
DATED_BASES = frozenset({"creditor_notice"})
UNKNOWN_CUSTOMER = "customer not in the accounts file (or all its rows there were rejected)"
NOT_ASCII = "not an ASCII address (international addresses are not supported yet)"
MAX_ADDRESS_CHARS = 254  # RFC 5321's path limit, less the angle brackets
MAX_LOCAL_CHARS = 64
# RFC 5322 `atext` (and dots between atoms). Quoted local parts are refused: no debtor's real
# address needs one, and their commas, angle brackets and quotes are how a second recipient gets
# into a header.
_LOCAL_SPECIALS = frozenset("!#$%&'*+-/=?^_`{|}~")
# A host name's label: letters and digits, hyphens inside, at most 63 (an IDN as its `xn--` form).
_DOMAIN_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def _bad_character(text: str) -> str:
    """The first space or control character (any Unicode `Z*`/`C*` category), or ""."""
    for char in text:
        if unicodedata.category(char)[0] in "ZC":
            return char
    return ""


def _local_ok(local: str) -> bool:
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return False
    return all(char.isalnum() or char == "." or char in _LOCAL_SPECIALS for char in local)


def _domain_problem(domain: str) -> str:
    labels = domain.split(".")
    if len(labels) < 2:
        return "the domain after the @ has no dot"
    if not all(_DOMAIN_LABEL.fullmatch(label) for label in labels):
        return "the domain after the @ is not a host name"
    if labels[-1].isdigit() or len(labels[-1]) < 2:
        return "the domain after the @ does not end in a top-level domain"
    return ""


def parse_email_address(text: str, field_name: str = "value") -> str:
    """A plausible ASCII e-mail address, lower-cased whole; raise `RowError` with a reason that
    never repeats the address."""
    value = text.strip()
    if not value:
        raise RowError(field_name, "required but empty")
    if len(value) > MAX_ADDRESS_CHARS:
        raise RowError(field_name, f"longer than {MAX_ADDRESS_CHARS} characters")
    bad = _bad_character(value)
    if bad:
        raise RowError(field_name, f"not an e-mail address: contains {char_name(bad)}")
    if not value.isascii():
        raise RowError(field_name, NOT_ASCII)
    value = value.lower()
    signs = value.count("@")
    if signs != 1:
        count = "no @" if not signs else f"{signs} @ signs"
        raise RowError(field_name, f"not an e-mail address: {count} (exactly one is needed)")
    local, _, domain = value.partition("@")
    if not local:
        raise RowError(field_name, "not an e-mail address: nothing before the @")
    if len(local) > MAX_LOCAL_CHARS:
        raise RowError(
            field_name,
            f"not an e-mail address: more than {MAX_LOCAL_CHARS} characters before the @",
        )
    if not _local_ok(local):
        raise RowError(
            field_name,
            "not an e-mail address: the part before the @ has a character or dot it cannot have",
        )
    problem = _domain_problem(domain)
    if problem:
        raise RowError(field_name, f"not an e-mail address: {problem}")
    return value


def _text(values: dict[str, str], name: str, *, required: bool = False) -> str:
    value = values.get(name, "").strip()
    if required and not value:
        raise RowError(name, "required but empty")
    if len(value) > MAX_FIELD_CHARS:
        raise RowError(name, f"longer than {MAX_FIELD_CHARS} characters")
    return value


def _channel(values: dict[str, str]) -> str:
    text = _text(values, "channel", required=True)
    channel = CHANNEL_SPELLINGS.get(text.lower())
    if channel is None:
        raise RowError("channel", f"not a supported channel ({', '.join(CHANNELS)})")
    return channel


def _basis(values: dict[str, str]) -> str:
    text = _text(values, "consent_basis")
    basis = text.lower()
    if basis and basis not in CONSENT_BASES:
        raise RowError(
            "consent_basis",
            f"not a consent basis ({', '.join(CONSENT_BASES[:-1])}, {CONSENT_BASES[-1]} or empty)",
        )
    return basis


def _unquoted(exc: RowError) -> RowError:
    # The accounts file's parsers end a reason with `: '<the cell>'`; here the cell stays out
    return RowError(exc.field_name, exc.reason.partition(": ")[0])


def _date(values: dict[str, str], name: str) -> date | None:
    text = _text(values, name)
    try:
        return parse_date(text, name) if text else None
    except RowError as exc:
        raise _unquoted(exc) from None


def _flag(values: dict[str, str], name: str) -> bool:
    try:
        return parse_flag(values.get(name, ""), name)
    except RowError as exc:
        raise _unquoted(exc) from None


def contact_from_values(values: dict[str, str], where: str) -> ContactPoint:
    """Build a `ContactPoint` from one row's named values; raise `RowError` on the first bad
    field (in the order of `COLUMNS`)."""
    customer_id = _text(values, "customer_id", required=True)
    channel = _channel(values)
    value = parse_email_address(_text(values, "value", required=True))
    basis = _basis(values)
    consent_date = _date(values, "consent_date")
    if basis in DATED_BASES and consent_date is None:
        raise RowError(
            "consent_date",
            f"required when consent_basis is {basis}: the 35 days to opt out count from it",
        )
    return ContactPoint(
        customer_id=customer_id,
        channel=channel,
        value=value,
        consent_basis=basis,
        consent_date=consent_date,
        esign_consent=_flag(values, "esign_consent"),
        opted_out_at=_date(values, "opted_out_at"),
        is_work=_flag(values, "is_work"),
        where=where,
    )


def _row_key(values: tuple[str, ...], header: tuple[str, ...]) -> str:
    position = header.index("customer_id")
    return values[position].strip() if len(values) > position else ""


def read_contacts(
    path: Path, known_customers: set[str] | None = None
) -> tuple[list[ContactPoint], list[Reject]]:
    """Read the whole contacts file: the good contact points in file order, and one `Reject` per
    bad row. A row for a customer not in `known_customers` (when given) is rejected too, unless
    it records an opt-out: that is kept whatever tonight's accounts hold. Several rows for the
    same customer and address are all kept (later rows win downstream; an opt-out on any of them
    stays). A file-level problem raises `InputFileError`."""
    points: list[ContactPoint] = []
    rejects: list[Reject] = []
    try:
        table = open_csv(path)
        missing = [column for column in REQUIRED_COLUMNS if column not in table.header]
        if missing:
            raise InputFileError(missing_columns_message(table.name, table.header, missing))
        for row in table.rows:
            try:
                point = contact_from_values(
                    row_values(row, table.header), f"{table.name}:{row.line}"
                )
                if (
                    known_customers is not None
                    and point.customer_id not in known_customers
                    and point.opted_out_at is None
                ):
                    raise RowError("customer_id", UNKNOWN_CUSTOMER)
            except RowError as exc:
                key = _row_key(row.values, table.header)
                rejects.append(
                    Reject(table.name, row.line, exc.field_name, exc.reason, row.raw, key)
                )
                continue
            points.append(point)
    except CsvFileError as exc:
        raise InputFileError(str(exc)) from None
    return points, rejects
