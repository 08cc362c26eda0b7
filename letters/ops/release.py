"""Released letters: a letter the lint held, that a reviewer released, goes into this batch as it
is (the same PDF, piece id and article number), recorded as sent in it.

It goes only while what it prints still holds. A validation notice states the last day of the
validation period, counted from its mail date: mailed later, that day would be too early, so a
released notice whose mail date is before this batch's is voided (the next run writes a fresh one).
Another letter states only its date ("within 30 days of the date of this letter"): it may go up to
RELEASE_GRACE_DAYS after that date, like a letter mailed late; later than that it is voided too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

from letters.fsutil import sha256_bytes, write_bytes_atomic
from letters.model import History
from letters.ops.context import BatchContext
from letters.proof.manifest import ManifestRow
from letters.proof.rows import Numbered
from letters.state.records import HeldLetter

LAST = 10**9  # the input line of a released letter's account not in tonight's accounts file
RELEASE_GRACE_DAYS = 7  # how late after its date a letter without a validation period may go


def _rows(ctx: BatchContext, held: HeldLetter) -> list[Numbered]:
    detail = (
        f"held in batch {held.batch_id} ({held.reason.split(':', 2)[1]}); released by"
        f" {held.decided_by} on {held.decided_at[:10]}" + (f": {held.note}" if held.note else "")
    )
    changes = {
        "batch_id": ctx.batch_id, "piece_id": held.piece_id, "status": "generated",
        "reason_code": "released", "reason_detail": detail, "pages": str(held.pages),
        "pdf_path": f"pdf/{held.piece_id}.pdf", "pdf_sha256": held.pdf_sha256,
    }  # fmt: skip
    return [
        (line, replace(ManifestRow(**row), **changes)) for line, row in json.loads(held.rows_json)
    ]


def mail_released(ctx: BatchContext) -> tuple[list[HeldLetter], list[Numbered]]:
    """Put every released letter into this batch (again on a resume), and give their rows; say
    why one cannot go."""
    store, mail_date = ctx.store, ctx.request.policy.calendar.mail_date(ctx.request.as_of)
    mine = [h for h in store.held_letters(("mailed",)) if h.released_batch == ctx.batch_id]
    for held in store.held_letters(("released",)):
        why = _cannot_go(ctx, held, mail_date)
        if why:
            ctx.say(f"released {held.piece_id} not mailed: {why}")
        else:
            mine.append(held)
    rows = [numbered for held in mine for numbered in _rows(ctx, held)]
    for held in mine:
        ctx.result.letters += 1
        ctx.result.pages += held.pages
    if mine:
        ctx.say(f"released letters mailed in this batch: {len(mine)}")
    return mine, rows


def _cannot_go(ctx: BatchContext, held: HeldLetter, mail_date: date) -> str:
    """Copy a released letter's PDF into the batch and record it mailed; else say why not."""
    store = ctx.store
    dated = date.fromisoformat(held.facts.mail_date)
    grace = 0 if held.facts.kind == "validation" else RELEASE_GRACE_DAYS
    if dated + timedelta(days=grace) < mail_date:
        what = "validation notice" if grace == 0 else f"letter (more than {grace} days)"
        why = f"its mail date {dated} is too early for this batch's {mail_date} ({what})"
        store.decide_held_letter(held.piece_id, "voided", held.decided_by, ctx.stamp(), why)
        return why + "; voided"
    try:
        data = Path(held.pdf_path).read_bytes()
    except OSError as exc:
        return f"its PDF cannot be read ({exc.strerror})"
    if sha256_bytes(data) != held.pdf_sha256:
        return "its PDF changed since it was held"
    target = ctx.pdf_dir / f"{held.piece_id}.pdf"
    write_bytes_atomic(target, data)
    if not store.mail_held_letter(held, ctx.batch_id, f"pdf/{target.name}", ctx.stamp()):
        target.unlink(missing_ok=True)
        return "a letter with the same key went since; voided"
    return ""


def with_released(history: History, released: Sequence[HeldLetter], batch_id: str) -> History:
    """A debtor's history with the letters released into this batch counted as sent."""
    mine = [h for h in released if h.customer_id]
    if not mine:
        return history
    sent = {h.letter_key: f"piece {h.piece_id} in batch {batch_id} (released)" for h in mine}
    last = max(date.fromisoformat(h.facts.mail_date) for h in mine)
    if history.last_mail_date is not None:
        last = max(last, history.last_mail_date)
    return replace(history, sent={**history.sent, **sent}, last_mail_date=last)


def merge_released(rows: list[Numbered], released_rows: list[Numbered]) -> list[Numbered]:
    """The plan's rows with the released letters' rows in place of the `already_sent` rows their
    letters caused (one row per account); a released row takes its account's line of tonight."""
    pieces = {row.piece_id for _line, row in released_rows}
    replaced = {
        row.account_id: line
        for line, row in rows
        if row.reason_code == "already_sent" and any(p in row.reason_detail for p in pieces)
    }
    kept = [(line, row) for line, row in rows if row.account_id not in replaced]
    return kept + [(replaced.get(row.account_id, LAST), row) for _line, row in released_rows]
