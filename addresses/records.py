"""Source records: one observation of a person's address, from one source, on one day."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from addresses.config import EngineConfig
from addresses.csvio import (
    CsvFileError,
    CsvTable,
    Reject,
    RowError,
    missing_columns_message,
    open_csv,
    row_values,
)
from addresses.hygiene import clean_text
from addresses.model import PostalAddress

REQUIRED_COLUMNS = ("customer_id", "line1", "city", "state", "zip", "observed_at")
OPTIONAL_COLUMNS = ("source", "line2", "country", "status")
COLUMNS = ("customer_id", "source", "line1", "line2", "city", "state", "zip", "country",
           "observed_at", "status")  # fmt: skip
# `verified_by_reviewer`: a person chose or corrected this address (`addresses.score.choose`)
KNOWN_STATUSES = frozenset(
    {"", "returned", "moved", "verified_by_customer", "verified_by_reviewer", "undeliverable"}
)
MAX_FIELD_CHARS = 200
# Printed on envelopes: control and bidirectional characters reject the row, line breaks become
# spaces and zero-width characters go (see `addresses.hygiene.clean_text`).
PRINTED_COLUMNS = frozenset({"line1", "line2", "city"})


class SourceFileError(ValueError):
    """A whole source file cannot be used; the message names the file (and line)."""


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One address observation as read, before any standardization."""

    customer_id: str
    source: str
    line1: str
    line2: str
    city: str
    state: str
    zip: str
    country: str
    observed_at: date
    status: str
    file_name: str
    line: int

    @classmethod
    def of_address(cls, customer_id: str, source: str, address: PostalAddress, observed_at: date,
                   status: str, where: tuple[str, int]) -> SourceRecord:  # fmt: skip
        """A report of a known address (returned mail, a reviewer's choice) from the state;
        `where`: what stands for its file and line."""
        a = address
        return cls(customer_id, source, a.line1, a.line2, a.city, a.state, a.zip,
                   a.country or "US", observed_at, status, *where)  # fmt: skip


_SHARED_TEXT: dict[str, str] = {}
_DATES: dict[date, date] = {}


def _shared(text: str) -> str:
    """One object per distinct short value (source, state, city): many records share each."""
    if len(_SHARED_TEXT) > 500_000:
        _SHARED_TEXT.clear()
    return _SHARED_TEXT.setdefault(text, text)


def _field(values: dict[str, str], name: str) -> str:
    value = values.get(name, "")
    if name in PRINTED_COLUMNS:
        value = clean_text(value, name)
    value = " ".join(value.split())
    if len(value) > MAX_FIELD_CHARS:
        raise RowError(name, f"longer than {MAX_FIELD_CHARS} characters")
    return value


def record_from_values(
    values: dict[str, str], default_source: str, where: tuple[str, int]
) -> SourceRecord:
    """Build a `SourceRecord` from one row; raise `RowError` when the row has no usable address."""
    customer_id = _field(values, "customer_id")
    if not customer_id:
        raise RowError("customer_id", "required but empty")
    line1 = _field(values, "line1")
    if not line1:
        raise RowError("line1", "no street address")
    observed_text = _field(values, "observed_at")
    try:
        observed_at = date.fromisoformat(observed_text[:10])
    except ValueError:
        raise RowError("observed_at", f"not a date (YYYY-MM-DD): {observed_text!r}") from None
    status = _field(values, "status").lower().replace(" ", "_")
    if status not in KNOWN_STATUSES:
        raise RowError("status", f"unknown status {status!r}")
    return SourceRecord(
        customer_id=customer_id,
        source=_shared(_field(values, "source") or default_source),
        line1=line1,
        line2=_shared(_field(values, "line2")),
        city=_shared(_field(values, "city")),
        state=_shared(_field(values, "state")),
        zip=_shared(_field(values, "zip")),
        country=_shared(_field(values, "country").upper() or "US"),
        observed_at=_DATES.setdefault(observed_at, observed_at),
        status=_shared(status),
        file_name=where[0],
        line=where[1],
    )


def _open_source(source_path: Path) -> CsvTable:
    try:
        table = open_csv(source_path)
    except CsvFileError as exc:
        raise SourceFileError(str(exc)) from None
    missing = [column for column in REQUIRED_COLUMNS if column not in table.header]
    if missing:
        raise SourceFileError(missing_columns_message(table.name, table.header, missing))
    return table


def iter_source_file(
    source_path: Path, config: EngineConfig | None = None
) -> Iterator[SourceRecord | Reject]:
    """Yield each row of one source file as a `SourceRecord`, or as a `Reject` saying why not.

    A file without a `source` column gives every row the source its name maps to in `config`
    (`EngineConfig.source_for_file`): `customer_updated_20261120.csv` gives `customer_updated`.
    """
    table = _open_source(source_path)
    default_source = (config or EngineConfig()).source_for_file(source_path.name)
    key_position = table.header.index("customer_id")
    try:
        for row in table.rows:
            try:
                values = row_values(row, table.header)
                yield record_from_values(values, default_source, (table.name, row.line))
            except RowError as exc:
                key = row.values[key_position].strip() if len(row.values) > key_position else ""
                yield Reject(table.name, row.line, exc.field_name, exc.reason, row.raw, key)
    except CsvFileError as exc:
        raise SourceFileError(str(exc)) from None


def read_sources(
    source_paths: list[Path], config: EngineConfig | None = None
) -> tuple[list[SourceRecord], list[Reject]]:
    """Read every source file in full; any unusable file raises `SourceFileError` first."""
    records: list[SourceRecord] = []
    rejects: list[Reject] = []
    for source_path in source_paths:
        for item in iter_source_file(source_path, config):
            if isinstance(item, Reject):
                rejects.append(item)
            else:
                records.append(item)
    return records, rejects


@dataclass(frozen=True, slots=True)
class UnknownSource:
    """Rows of one file whose source is no configured source (they get a cautious weight)."""

    file: str
    source: str
    rows: int

    def message(self) -> str:
        """A warning line: the file and the source name, never a row's values."""
        return (
            f"{self.file}: source {self.source!r} is not a configured source ({self.rows} rows);"
            " name it in the address configuration ([sources.NAME] match = [...])"
        )


def unknown_sources(records: Iterable[SourceRecord], config: EngineConfig) -> list[UnknownSource]:
    """Every (file, source) pair whose source maps to no configured source, with its row count."""
    counts = Counter((r.file_name, r.source) for r in records if r.source not in config.sources)
    return [UnknownSource(file, source, rows) for (file, source), rows in sorted(counts.items())]
