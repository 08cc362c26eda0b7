"""`review.csv` back from a spreadsheet: each filled-in row applied through `decide`, or rejected
with file, line and reason.

A batch's `review.csv` has one row per candidate of each held debtor, and five empty columns for
the reviewer: `decision` (`accept`, `address`, `not_mailable` or `leave`), `corrected_address`
(for `address`: one line, `123 N Main St Apt 4, Chicago, IL 60614`), `reviewer`, `note`, and
`reason` (for `not_mailable`). `accept` takes the candidate of the row it is written on. Rows
without a decision are skipped; one decision per debtor. Importing the same file again changes
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from addresses.csvio import CsvFileError, Reject, RowError, open_csv, row_values
from letters.errors import InputFileError, UsageError, not_a_file
from letters.review.queue import Applied, DecisionRequest, ReviewError, decide
from letters.state.protocol import StateStore

DECISION_COLUMNS = ("decision", "corrected_address", "reviewer", "note", "reason")
REQUIRED = ("customer_id", "candidate", "decision")


@dataclass(slots=True)
class ImportResult:
    """What an import did: decisions applied, found applied already, and rows rejected."""

    applied: list[Applied] = field(default_factory=list)
    unchanged: list[Applied] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    skipped: int = 0  # rows with no decision


def _inert(cell: str) -> str:
    """A cell as written before `spreadsheet_safe` guarded it with a leading `'`."""
    return cell[1:] if cell.startswith("'") and len(cell) > 1 and cell[1] in "=+-@\t\r" else cell


def _request(values: dict[str, str], default_reviewer: str) -> DecisionRequest:
    kind = values["decision"].strip().lower()
    candidate = None
    if kind == "accept":
        try:
            candidate = int(values["candidate"])
        except ValueError:
            raise RowError("candidate", "accept: this row names no candidate") from None
    return DecisionRequest(
        customer_id=values["customer_id"].strip(),
        kind=kind,
        reviewer=values.get("reviewer", "").strip() or default_reviewer,
        candidate=candidate,
        address=values.get("corrected_address", ""),
        reason=values.get("reason", "").strip().lower(),
        note=values.get("note", ""),
        via="csv",
    )


def import_review_csv(
    store: StateStore, csv_path: Path, default_reviewer: str, now: datetime
) -> ImportResult:
    """Apply every decision filled into a `review.csv`; reject each row that cannot be applied."""
    if not csv_path.is_file():
        raise UsageError(not_a_file(csv_path))
    try:
        table = open_csv(csv_path)
    except CsvFileError as exc:
        raise InputFileError(str(exc)) from None
    missing = [c for c in REQUIRED if c not in table.header]
    if missing:
        raise InputFileError(
            f"{table.name}:1: missing column(s): {', '.join(missing)} (export a batch's"
            " review.csv and fill in its decision columns)"
        )
    result = ImportResult()
    decided: dict[str, int] = {}  # customer_id -> the line of its decision
    for row in table.rows:
        try:
            values = {k: _inert(v) for k, v in row_values(row, table.header).items()}
            if not values["decision"].strip():
                result.skipped += 1
                continue
            request = _request(values, default_reviewer)
            if request.customer_id in decided:
                first = decided[request.customer_id]
                raise RowError(
                    "decision", f"a second decision for this debtor (first on line {first})"
                )
            applied = decide(store, request, now)
            decided[request.customer_id] = row.line
        except RowError as exc:
            result.rejects.append(Reject(table.name, row.line, exc.field_name, exc.reason, row.raw))
            continue
        except ReviewError as exc:
            reason = str(exc).removeprefix(f"{exc.field_name}: ")  # the line names the field
            result.rejects.append(Reject(table.name, row.line, exc.field_name, reason, row.raw))
            continue
        (result.applied if applied.changed else result.unchanged).append(applied)
    return result
