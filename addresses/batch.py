"""File-level work over the engine: resolve source files, explain one person, dedupe any CSV."""

from __future__ import annotations

import heapq
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from addresses.config import EngineConfig
from addresses.csvio import CsvFileError, Reject, open_csv, row_values
from addresses.engine import address_key, build_candidates, group_records, resolve_all
from addresses.files import write_csv
from addresses.forms import Standardized
from addresses.hygiene import spreadsheet_safe_rows
from addresses.merge import merge_groups
from addresses.model import AddressChoice, ChoiceStatus
from addresses.records import SourceRecord, UnknownSource, read_sources, unknown_sources
from addresses.score import Candidate, Observation
from addresses.standardize import standardize

RESOLVED_COLUMNS = (
    "customer_id", "status", "confidence", "line1", "line2", "city", "state", "zip", "country",
    "sources", "runner_up_confidence", "reasons",
)  # fmt: skip
DEDUPE_COLUMNS = ("id", "cluster_id", "line1", "line2", "city", "state", "zip", "problem")


def resolved_row(choice: AddressChoice) -> list[str]:
    """One `resolved.csv` row for a person."""
    a = choice.address
    return [
        choice.customer_id, choice.status.value, f"{choice.confidence:.3f}",
        a.line1 if a else "", a.line2 if a else "", a.city if a else "", a.state if a else "",
        a.zip if a else "", a.country if a else "", ";".join(choice.sources),
        f"{choice.runner_up_confidence:.3f}", " | ".join(choice.reasons),
    ]  # fmt: skip


_QUOTED = re.compile(r"""\s*('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")


def reject_line(reject: Reject) -> str:
    """A rejected row as `file:line: field: reason`, without the row's values (personal data):
    the reason is cut before its first `: ` and any quoted value is left out."""
    reason = _QUOTED.sub("", reject.reason.split(": ", 1)[0]).strip() or "unusable"
    where = f"{reject.file_name}:{reject.line}"
    return f"{where}: {reject.field}: {reason}" if reject.field else f"{where}: {reason}"


@dataclass(slots=True)
class ResolveSummary:
    """What `resolve_files` did."""

    records: int = 0
    people: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    rejects: list[Reject] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)
    unknown_sources: list[UnknownSource] = field(default_factory=list)


def rejected_only(
    records: Sequence[SourceRecord], rejects: Sequence[Reject]
) -> Iterator[AddressChoice]:
    """A `none` choice for each customer seen only in rejected rows, in customer_id order."""
    seen = {r.customer_id for r in records}
    for customer_id in sorted({" ".join(r.key.split()) for r in rejects} - seen - {""}):
        yield AddressChoice(
            customer_id, ChoiceStatus.NONE, None, 0.0,
            reasons=("no_address: every row of this customer was rejected",),
        )  # fmt: skip


def resolve_files(
    source_paths: Sequence[Path],
    out_path: Path,
    config: EngineConfig,
    as_of: date,
    jobs: int | None = None,
) -> ResolveSummary:
    """Resolve every person in the source files and write one row each to `out_path`, those
    whose every row was rejected too (`none`, `no_address`)."""
    records, rejects = read_sources(list(source_paths), config)
    summary = ResolveSummary(
        records=len(records), rejects=rejects, unknown_sources=unknown_sources(records, config)
    )

    def rows() -> Iterable[list[str]]:
        choices = heapq.merge(
            resolve_all(records, config, as_of, jobs),
            rejected_only(records, rejects),
            key=lambda c: c.customer_id,
        )
        for choice in choices:
            summary.people += 1
            summary.statuses[choice.status.value] += 1
            summary.flagged.extend(choice.flagged)
            yield resolved_row(choice)

    write_csv(out_path, RESOLVED_COLUMNS, spreadsheet_safe_rows(rows()))
    return summary


@dataclass(frozen=True, slots=True)
class Explanation:
    """Everything known about one person's address, for a reviewer to read."""

    customer_id: str
    observations: tuple[Observation, ...]
    candidates: tuple[Candidate, ...]
    choice: AddressChoice
    rejects: tuple[Reject, ...]


def explain(
    customer_id: str, source_paths: Sequence[Path], config: EngineConfig, as_of: date
) -> Explanation:
    """Standardize, merge, score and choose for one person, keeping every intermediate step."""
    records, rejects = read_sources(list(source_paths), config)
    mine = group_records(r for r in records if r.customer_id == customer_id).get(customer_id, [])
    observations = tuple(_observation(r) for r in mine if r.observed_at <= as_of)
    candidates = build_candidates(observations, config, as_of)
    from addresses.score import choose

    choice = choose(customer_id, candidates, config, as_of)
    own_rejects = tuple(r for r in rejects if r.key == customer_id)
    return Explanation(customer_id, observations, tuple(candidates), choice, own_rejects)


def _observation(record: SourceRecord) -> Observation:
    form = standardize(*address_key(record))
    return Observation(
        record.source, record.observed_at, record.status, form, f"{record.file_name}:{record.line}"
    )


@dataclass(frozen=True, slots=True)
class DedupeColumns:
    """Which columns of an arbitrary CSV hold the id and the address parts."""

    id: str = "id"
    address: str = "address"
    zip: str | None = None
    city: str | None = None
    state: str | None = None
    default_city: str = ""
    default_state: str = ""


@dataclass(slots=True)
class DedupeSummary:
    """What `dedupe_file` did."""

    rows: int = 0
    clusters: int = 0
    problems: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    cluster_of: list[str] = field(default_factory=list)


def _require_columns(header: tuple[str, ...], columns: DedupeColumns, name: str) -> None:
    wanted = [
        c for c in (columns.id, columns.address, columns.zip, columns.city, columns.state) if c
    ]
    missing = [c for c in wanted if c.strip().lower() not in header]
    if missing:
        raise CsvFileError(f"{name}:1: no column named {', '.join(repr(c) for c in missing)}")


def dedupe_file(input_path: Path, out_path: Path, columns: DedupeColumns) -> DedupeSummary:
    """Cluster the rows of any CSV by address alone; write `id, cluster_id` and the standard form.

    Rows without a usable address keep an empty cluster_id and say why in `problem`.
    """
    table = open_csv(input_path)
    _require_columns(table.header, columns, table.name)

    def get(values: dict[str, str], column: str | None) -> str:
        return values.get(column.strip().lower(), "") if column else ""

    ids: list[str] = []
    forms: list[Standardized | None] = []
    problems: list[str] = []
    summary = DedupeSummary()
    for row in table.rows:
        try:
            values = row_values(row, table.header)
        except ValueError as exc:
            ids.append(row.values[0] if row.values else "")
            forms.append(None)
            problems.append(str(exc))
            summary.problems.append(f"{table.name}:{row.line}: {exc}")
            continue
        address = get(values, columns.address).strip()
        ids.append(get(values, columns.id))
        if not address:
            forms.append(None)
            problems.append("no address")
            summary.problems.append(f"{table.name}:{row.line}: {columns.address}: no address")
            continue
        forms.append(standardize(
            address, "", get(values, columns.city), get(values, columns.state),
            get(values, columns.zip), "", columns.default_city, columns.default_state,
        ))  # fmt: skip
        problems.append("")
    present = [(i, form) for i, form in enumerate(forms) if form is not None]
    groups = merge_groups([form for _, form in present])
    cluster_of = [""] * len(forms)
    for number, group in enumerate(groups, start=1):
        for position in group:
            cluster_of[present[position][0]] = f"K{number:06d}"
    out_rows = []
    for i, maybe in enumerate(forms):
        parts = ["", "", "", "", ""]
        if maybe:
            parts = [maybe.line1, maybe.line2, maybe.city, maybe.state, maybe.zip]
        out_rows.append([ids[i], cluster_of[i], *parts, problems[i]])
    write_csv(out_path, DEDUPE_COLUMNS, spreadsheet_safe_rows(out_rows))
    summary.rows, summary.clusters = len(forms), len(groups)
    summary.ids, summary.cluster_of = ids, cluster_of
    return summary


def pair_scores(clusters: Sequence[str], truth: Sequence[str]) -> tuple[float, float, int, int]:
    """Pairwise precision and recall of a clustering against true labels (empty = unclustered).

    Returns precision, recall, pairs found, true pairs.
    """

    def pairs(labels: Sequence[str]) -> set[tuple[int, int]]:
        members: dict[str, list[int]] = {}
        for index, label in enumerate(labels):
            if label:
                members.setdefault(label, []).append(index)
        return {
            (a, b)
            for group in members.values()
            for i, a in enumerate(group)
            for b in group[i + 1 :]
        }

    found, true = pairs(clusters), pairs(truth)
    hits = len(found & true)
    precision = hits / len(found) if found else 1.0
    recall = hits / len(true) if true else 1.0
    return precision, recall, len(found), len(true)
