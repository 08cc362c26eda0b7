"""The batch folder's records: manifest.csv, rejects.csv and summary.json, written atomically."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from addresses.csvio import Reject
from letters.fsutil import atomic_open, write_csv, write_text_atomic

# Operators' scripts read these names: add columns at the end, never rename.
MANIFEST_COLUMNS = (
    "batch_id",
    "piece_id",
    "account_id",
    "customer_id",
    "status",
    "reason_code",
    "reason_detail",
    "stage",
    "template",
    "recipient_name",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "zip",
    "country",
    "address_confidence",
    "pdf_path",
    "pdf_sha256",
    "pages",
    "amount_due",
    "address_sources",
    "mail_class",
    "template_version",
    "mail_date",
    "validation_end_date",
    "recipient_role",
    "language",
    "article_number",
    "payment_reference",
    "template_approval",
)
REJECT_COLUMNS = ("file", "line", "field", "reason", "key", "raw_row")
REVIEW_COLUMNS = (
    "customer_id", "status", "reasons", "candidate", "confidence", "line1", "line2", "city",
    "state", "zip", "country", "sources", "factors", "failed_checks",
    # for the reviewer to fill in (see `letters review import`)
    "decision", "corrected_address", "reviewer", "note", "reason",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ManifestRow:
    """One account's line in the manifest."""

    batch_id: str
    piece_id: str
    account_id: str
    customer_id: str
    status: str
    reason_code: str
    reason_detail: str
    stage: str
    template: str
    recipient_name: str
    address_line1: str
    address_line2: str
    city: str
    state: str
    zip: str
    country: str
    address_confidence: str
    pdf_path: str
    pdf_sha256: str
    pages: str
    amount_due: str
    address_sources: str
    mail_class: str
    template_version: str
    mail_date: str
    validation_end_date: str
    recipient_role: str
    language: str
    article_number: str
    payment_reference: str
    template_approval: str = ""  # the id of the template approval the letter was made under


def write_manifest(target_path: Path, rows: Iterable[ManifestRow]) -> None:
    """Write manifest.csv, one row per account, columns in `MANIFEST_COLUMNS` order."""
    write_csv(
        target_path,
        MANIFEST_COLUMNS,
        ([str(v) for v in asdict(row).values()] for row in rows),
    )


def manifest_record(row: ManifestRow) -> dict[str, Any]:
    """One manifest row as typed JSON: counts as numbers, empty values as null, money as text."""
    record: dict[str, Any] = {k: (v if v != "" else None) for k, v in asdict(row).items()}
    record["pages"] = int(row.pages) if row.pages else None
    record["address_confidence"] = float(row.address_confidence) if row.address_confidence else None
    record["address_sources"] = row.address_sources.split(";") if row.address_sources else []
    return record


def write_manifest_jsonl(target_path: Path, rows: Iterable[ManifestRow]) -> None:
    """Write manifest.jsonl: one JSON object per account, the same fields as manifest.csv."""
    with atomic_open(target_path, "w", encoding="utf-8", newline="") as handle:
        for row in rows:  # a line at a time: memory stays flat however many accounts
            handle.write(json.dumps(manifest_record(row), sort_keys=False) + "\n")


def reject_cells(reject: Reject) -> list[str]:
    """One rejects.csv line: the row as read, a NUL byte in it shown as `␀` (U+2400)."""
    cells = (reject.file_name, str(reject.line), reject.field, reject.reason, reject.key,
             reject.raw.rstrip("\r\n"))  # fmt: skip
    return [cell.replace("\x00", "\u2400") for cell in cells]


def write_rejects(target_path: Path, rejects: Iterable[Reject]) -> None:
    """Write rejects.csv: each unused input row as read, with where it was and why (cells that
    would start a formula made inert, as in every CSV written for people)."""
    write_csv(target_path, REJECT_COLUMNS, (reject_cells(r) for r in rejects))


def write_summary(target_path: Path, summary: dict[str, Any]) -> None:
    """Write summary.json (sorted keys, trailing newline)."""
    write_text_atomic(target_path, json.dumps(summary, indent=2, sort_keys=True) + "\n")
