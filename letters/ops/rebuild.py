"""Rebuild a lost or emptied state from the sealed batch folders: `letters state rebuild`.

Every seal is verified first (with the key, when the batches are signed); a batch that fails is
named and nothing is written. Then each batch, its letters (from `letters.jsonl`, the state's own
record sealed with the batch), their article numbers (marked used), the counters and every
account's payment reference (from the manifest) go back into the state, so the next run sends
nothing twice, reuses no number and gives each account the reference its letters printed.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from addresses.model import PostalAddress
from letters.errors import ExitCode, LettersError
from letters.ops.recover import sealed_batch_dirs
from letters.proof.archive import LETTERS_FILE, read_letter_records
from letters.proof.seal import SEAL_NAME, signing_key, verify_batch
from letters.state import db_path_for, open_store, run_lock
from letters.state.records import ArchivedLetter, BatchRecord, LetterDetails, LetterRecord

UNKNOWN_CYCLE = "unknown"


class RebuildError(LettersError):
    """The state cannot be rebuilt from the batch folders (none there, or a seal that fails)."""

    exit_code = ExitCode.FATAL


@dataclass(slots=True)
class RebuildReport:
    """What a rebuild restored."""

    db_path: Path
    batches: list[str] = field(default_factory=list)  # restored
    known: list[str] = field(default_factory=list)  # the state had them already
    letters: int = 0
    articles: int = 0
    without_cycle: int = 0  # letters of batches sealed before letters.jsonl existed
    references: int = 0  # payment references registered anew


def rebuild_state(out_dir: Path, db: Path | None, key_path: Path | None) -> RebuildReport:
    """Verify every sealed batch in `out_dir`, then restore each into the state at `db`."""
    dirs = sealed_batch_dirs(out_dir)
    if not dirs:
        raise RebuildError(f"{out_dir}: no sealed batch folder (with {SEAL_NAME}) to rebuild from")
    key = signing_key(key_path, False)
    failed = []
    for batch_dir in dirs:
        report = verify_batch(batch_dir, key)
        if not report.intact:
            failed.append(f"{batch_dir.name} ({report.problems[0]})")
    if failed:
        raise RebuildError(
            "seal does not verify, nothing rebuilt: " + "; ".join(failed) + " (see letters verify)"
        )
    db_path = db_path_for(db, out_dir)
    lock = run_lock(db_path)
    lock.acquire("rebuilding the state")
    try:
        return _restore_all(dirs, db_path)
    finally:
        lock.release()


def _restore_all(dirs: list[Path], db_path: Path) -> RebuildReport:
    report = RebuildReport(db_path)
    store = open_store(db_path)
    try:
        for batch_dir in dirs:
            seal = json.loads((batch_dir / SEAL_NAME).read_text(encoding="utf-8"))
            summary = _json(batch_dir / "summary.json")
            record = _batch_record(batch_dir, seal, summary)
            if not store.restore_batch(record):
                report.known.append(batch_dir.name)
            else:
                report.batches.append(batch_dir.name)
            at = record.finished_at or record.started_at
            report.references += store.restore_payment_references(_references(batch_dir), at)
            for archived in _letters(batch_dir, batch_dir.name):
                if store.restore_letter(archived):
                    report.letters += 1
                    report.articles += bool(archived.details.article_number)
                    report.without_cycle += archived.letter.cycle == UNKNOWN_CYCLE
    finally:
        store.close()
    return report


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _batch_record(batch_dir: Path, seal: dict[str, Any], summary: dict[str, Any]) -> BatchRecord:
    status = str(seal.get("status") or "complete")
    return BatchRecord(
        batch_id=batch_dir.name,
        as_of=str(seal.get("as_of") or summary.get("as_of") or ""),
        started_at=str(summary.get("started_at") or seal.get("finished_at") or ""),
        finished_at=seal.get("finished_at"),
        status=status if status in ("complete", "closed") else "complete",
        batch_dir=str(batch_dir),
        request={"rebuilt_from": str(batch_dir)},  # never resumed: a sealed batch is finished
        pid=None,
        host=None,
        counts={k: summary[k] for k in ("counts", "reasons", "letters", "pages") if k in summary},
    )


def _manifest_rows(batch_dir: Path) -> list[dict[str, Any]]:
    """The batch's manifest rows: from manifest.jsonl (values as written), else manifest.csv."""
    if (batch_dir / "manifest.jsonl").is_file():
        with (batch_dir / "manifest.jsonl").open(encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
    with (batch_dir / "manifest.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _references(batch_dir: Path) -> dict[str, str]:
    """Each account's payment reference as the batch's manifest gives it (account id -> it)."""
    return {
        str(row["account_id"]): str(row["payment_reference"])
        for row in _manifest_rows(batch_dir)
        if row.get("account_id") and row.get("payment_reference")
    }


def _letters(batch_dir: Path, batch_id: str) -> list[ArchivedLetter]:
    """The batch's letters from letters.jsonl; for a batch sealed before it existed, from the
    manifest (whose letters lack their delinquency cycle)."""
    if (batch_dir / LETTERS_FILE).is_file():
        return read_letter_records(batch_dir, batch_id)
    pieces: dict[str, list[dict[str, str]]] = defaultdict(list)
    with (batch_dir / "manifest.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row.get("status") == "generated" and row.get("piece_id"):
                pieces[row["piece_id"]].append(row)
    return [_from_manifest(batch_id, piece, rows) for piece, rows in sorted(pieces.items())]


def _from_manifest(batch_id: str, piece: str, rows: list[dict[str, str]]) -> ArchivedLetter:
    first = rows[0]
    role = first.get("recipient_role") or "debtor"
    key = f"{first['customer_id']}|{first['stage']}|{UNKNOWN_CYCLE}:{piece}"
    address = PostalAddress(
        first.get("address_line1", ""), first.get("address_line2", ""), first.get("city", ""),
        first.get("state", ""), first.get("zip", ""), first.get("country", ""),
    )  # fmt: skip
    letter = LetterRecord(
        key if role == "debtor" else f"{key}|{role}", piece, batch_id, first["customer_id"],
        first["stage"], UNKNOWN_CYCLE, "rendered", first.get("pdf_path"),
        first.get("pdf_sha256"), int(first["pages"]) if first.get("pages") else None,
    )  # fmt: skip
    details = LetterDetails(
        first.get("article_number", ""), first.get("mail_date", ""),
        "validation" if first.get("validation_end_date") else "", role, address,
    )  # fmt: skip
    accounts = tuple(row["account_id"] for row in rows)
    return ArchivedLetter(letter, accounts, details, first.get("mail_date", ""))
