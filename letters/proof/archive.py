"""A batch's letters as the state holds them, kept with the batch: the manifest rows of a batch
closed by a later run, and `letters.jsonl`, from which `letters state rebuild` restores the state.

A closed batch's manifest is written from the state alone. The state keeps, per letter, its piece,
accounts, debtor, stage, PDF, article number, mail date, kind, recipient role and address; the
columns only the night's inputs knew (name, amount, template, confidence, sources, language,
validation end date) stay empty.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from addresses.model import PostalAddress
from letters.fsutil import atomic_open
from letters.proof.manifest import ManifestRow
from letters.state.records import ArchivedLetter, DecisionRecord, LetterDetails, LetterRecord

LETTERS_FILE = "letters.jsonl"
MailClassOf = Callable[[ArchivedLetter], str]


def _blank(**values: str) -> ManifestRow:
    row = dict.fromkeys(ManifestRow.__dataclass_fields__, "")
    row.update(values)
    return ManifestRow(**row)


def closed_rows(
    batch_id: str,
    letters: Sequence[ArchivedLetter],
    decisions: Sequence[DecisionRecord],
    mail_class_of: MailClassOf,
    references: Mapping[str, str],
) -> list[ManifestRow]:
    """The manifest of a closed batch: one `generated` row per account of each rendered letter,
    then the other outcomes the batch had stored (if it got that far); `references` gives each
    account's registered payment reference."""
    decided = {d.account_id: d for d in decisions}
    rows = []
    for archived in letters:
        letter, details, address = archived.letter, archived.details, archived.details.address
        fields = address.fields() if address else ("",) * 6
        for account_id in archived.account_ids:
            decision = decided.get(account_id)
            rows.append(
                _blank(
                    batch_id=batch_id,
                    piece_id=letter.piece_id,
                    account_id=account_id,
                    customer_id=letter.customer_id,
                    status="generated",
                    reason_code=decision.reason_code if decision else "letter_due",
                    reason_detail=decision.reason_detail if decision else "",
                    stage=letter.stage,
                    address_line1=fields[0],
                    address_line2=fields[1],
                    city=fields[2],
                    state=fields[3],
                    zip=fields[4],
                    country=fields[5],
                    pdf_path=letter.pdf_path or "",
                    pdf_sha256=letter.pdf_sha256 or "",
                    pages=str(letter.pages or ""),
                    mail_class=mail_class_of(archived),
                    mail_date=details.mail_date,
                    recipient_role=details.recipient_role,
                    article_number=details.article_number,
                    payment_reference=references[account_id],
                )
            )
    covered = {account for archived in letters for account in archived.account_ids}
    for decision in decisions:
        if decision.account_id in covered or decision.status == "generated":
            continue  # a generated outcome whose letter is not rendered is not in this batch
        rows.append(
            _blank(
                batch_id=batch_id,
                piece_id=decision.piece_id,
                account_id=decision.account_id,
                customer_id=decision.customer_id,
                status=decision.status,
                reason_code=decision.reason_code,
                reason_detail=decision.reason_detail,
                stage=decision.stage,
                payment_reference=references[decision.account_id],
            )
        )
    return rows


def _record(archived: ArchivedLetter, imb_counter: str | None) -> dict[str, Any]:
    letter, details = archived.letter, archived.details
    return {
        "letter_key": letter.letter_key,
        "piece_id": letter.piece_id,
        "customer_id": letter.customer_id,
        "stage": letter.stage,
        "cycle": letter.cycle,
        "accounts": list(archived.account_ids),
        "pdf_path": letter.pdf_path,
        "pdf_sha256": letter.pdf_sha256,
        "pages": letter.pages,
        "article_number": details.article_number,
        "article_pool": archived.article_pool,
        "article_ordinal": archived.article_ordinal,
        "imb_serial": archived.imb_serial,
        "imb_counter": imb_counter if archived.imb_serial is not None else None,
        "mail_date": details.mail_date,
        "kind": details.kind,
        "recipient_role": details.recipient_role,
        "address": list(details.address.fields()) if details.address else [],
        "created_at": archived.created_at,
    }


def write_letter_records(
    batch_dir: Path, letters: Iterable[ArchivedLetter], imb_mailer_id: str = ""
) -> None:
    """Write letters.jsonl: the state's record of each letter of the batch, one JSON line each
    (with the IMb serial counter its serials came from, so a rebuilt state never reuses one)."""
    counter = f"imb:{imb_mailer_id}" if imb_mailer_id else None
    with atomic_open(batch_dir / LETTERS_FILE, "w", encoding="utf-8", newline="") as handle:
        for archived in letters:
            handle.write(json.dumps(_record(archived, counter), sort_keys=True) + "\n")


def _archived(batch_id: str, data: dict[str, Any]) -> ArchivedLetter:
    fields = list(data.get("address") or [])
    address = PostalAddress(*(fields + [""] * 6)[:6]) if fields else None
    letter = LetterRecord(
        str(data["letter_key"]),
        str(data["piece_id"]),
        batch_id,
        str(data["customer_id"]),
        str(data["stage"]),
        str(data["cycle"]),
        "rendered",
        data.get("pdf_path"),
        data.get("pdf_sha256"),
        data.get("pages"),
    )
    details = LetterDetails(
        str(data.get("article_number") or ""),
        str(data.get("mail_date") or ""),
        str(data.get("kind") or ""),
        str(data.get("recipient_role") or ""),
        address,
    )
    return ArchivedLetter(
        letter,
        tuple(str(a) for a in data.get("accounts", [])),
        details,
        str(data.get("created_at") or ""),
        data.get("article_pool"),
        data.get("article_ordinal"),
        data.get("imb_serial"),
        data.get("imb_counter"),
    )


def read_letter_records(batch_dir: Path, batch_id: str) -> list[ArchivedLetter]:
    """The letters a sealed batch's letters.jsonl records (ValueError or KeyError if unreadable)."""
    with (batch_dir / LETTERS_FILE).open(encoding="utf-8") as handle:
        return [_archived(batch_id, json.loads(line)) for line in handle if line.strip()]
