"""Strict CSV reading: UTF-8 (with or without BOM), line numbers, and each record's raw text."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

BOM = b"\xef\xbb\xbf"
KEPT_OF_OVERSIZED = 1_000  # characters of a record with an oversized field kept in rejects.csv


class CsvFileError(ValueError):
    """The file as a whole cannot be read as CSV; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class CsvRow:
    """One record: the physical line it starts on, its fields, and its text exactly as read."""

    line: int
    values: tuple[str, ...]
    raw: str
    problem: str = ""  # why the record could not be read (an oversized field): a reject, not data


@dataclass(frozen=True, slots=True)
class Reject:
    """An input row that was not used, with where it came from and why."""

    file_name: str
    line: int
    field: str
    reason: str
    raw: str
    key: str = ""  # the row's own id (account_id, customer_id) when it could be read

    @property
    def message(self) -> str:
        """The one-line error, e.g. `accounts.csv:14: balance: not a number: '12,0O'`."""
        where = f"{self.file_name}:{self.line}"
        return f"{where}: {self.field}: {self.reason}" if self.field else f"{where}: {self.reason}"


class RowError(ValueError):
    """A problem with one field of one row; becomes a `Reject`."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(reason)
        self.field_name = field_name
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CsvTable:
    """A header (names stripped and lower-cased) and an iterator over the records after it."""

    name: str
    header: tuple[str, ...]
    rows: Iterator[CsvRow]


def _decoded_lines(csv_path: Path, name: str) -> Iterator[str]:
    with csv_path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number == 1 and raw.startswith(BOM):
                raw = raw[len(BOM) :]
            if number == 1 and b"\x00" in raw:  # a NUL in a data row rejects that row alone
                raise CsvFileError(f"{name}:{number}: contains NUL bytes; not a text CSV file")
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad = raw[exc.start : exc.start + 1].hex()
                raise CsvFileError(
                    f"{name}:{number}: not UTF-8 text (byte 0x{bad} at column {exc.start + 1});"
                    " save the file as UTF-8"
                ) from None


def _records(lines: Iterator[str], name: str) -> Iterator[CsvRow]:
    consumed: list[str] = []
    line_count = 0

    def feed() -> Iterator[str]:
        nonlocal line_count
        for text in lines:
            line_count += 1
            consumed.append(text)
            yield text

    source = feed()
    reader = csv.reader(source, strict=True)
    while True:
        start = line_count + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "field limit" not in str(exc):
                raise CsvFileError(f"{name}:{start}: not valid CSV: {exc}") from None
            yield _oversized(start, consumed, source)
            consumed.clear()
            continue
        raw = "".join(consumed)
        consumed.clear()
        if not values or (len(values) == 1 and not values[0].strip()):
            continue  # a blank line is not a record
        yield CsvRow(line=start, values=tuple(values), raw=raw)


def _oversized(start: int, consumed: list[str], source: Iterator[str]) -> CsvRow:
    """The record whose field passed the reader's limit, as a row to reject: the reader drops
    the rest of that line; a record still inside quotes there takes the lines up to its end."""
    while sum(text.count('"') for text in consumed) % 2 and next(source, None) is not None:
        pass  # `source` appends each line it gives to `consumed`
    raw = "".join(consumed)
    if len(raw) > KEPT_OF_OVERSIZED:
        raw = f"{raw[:KEPT_OF_OVERSIZED]}... [{len(raw)} characters in all]"
    limit = csv.field_size_limit()
    return CsvRow(start, (), raw, f"a field is longer than {limit} characters (the reader's limit)")


def open_csv(csv_path: Path) -> CsvTable:
    """Open a CSV file and read its header; raise `CsvFileError` if it cannot be used at all."""
    name = csv_path.name
    try:
        csv_path.stat()
    except OSError as exc:
        raise CsvFileError(f"{name}: cannot read: {exc.strerror}") from None
    rows = _records(_decoded_lines(csv_path, name), name)
    first = next(rows, None)
    if first is None:
        raise CsvFileError(f"{name}: empty file: no header row")
    if first.problem:
        raise CsvFileError(f"{name}:{first.line}: header: {first.problem}")
    header = tuple(cell.strip().lower() for cell in first.values)
    seen: set[str] = set()
    for column in header:
        if not column:
            raise CsvFileError(f"{name}:{first.line}: header has an empty column name")
        if column in seen:
            raise CsvFileError(f"{name}:{first.line}: header repeats column '{column}'")
        seen.add(column)
    return CsvTable(name=name, header=header, rows=rows)


def row_values(row: CsvRow, header: tuple[str, ...]) -> dict[str, str]:
    """Name a row's fields by the header; a row of the wrong width, with an oversized field or a
    NUL byte raises `RowError`."""
    if row.problem:
        raise RowError("", row.problem)
    if "\x00" in row.raw:
        where = [name for name, value in zip(header, row.values, strict=False) if "\x00" in value]
        raise RowError(where[0] if where else "", "contains a NUL byte")
    if len(row.values) != len(header):
        raise RowError("", f"expected {len(header)} fields, found {len(row.values)}")
    return dict(zip(header, row.values, strict=True))


def missing_columns_message(name: str, header: Sequence[str], missing: Sequence[str]) -> str:
    """`name:1: missing required column(s): ...`, with a hint when the header row looks like it
    is separated by semicolons (a spreadsheet's export in some locales)."""
    message = f"{name}:1: missing required column(s): {', '.join(missing)}"
    if any(";" in column for column in header):
        message += " (the file seems to use ';' as separator; use ',')"
    return message
