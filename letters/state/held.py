"""Lint-held letters in the SQLite store: held, released or voided by a reviewer, then mailed.

A released letter goes into the next batch as it is: `mail_held_letter` records it rendered in
that batch (its key, accounts and PDF) and marks it mailed in the same transaction, so it is
mailed once and a later run sees it as sent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from letters.state.base import SqliteBase
from letters.state.letters import address_from_json, address_json
from letters.state.records import HeldLetter, LetterFacts

COLUMNS = (
    "piece_id, batch_id, customer_id, letter_key, stage, cycle, reason, pdf_path, pdf_sha256,"
    " pages, facts_json, rows_json, held_at, status, decided_by, decided_at, note, released_batch"
)


def _facts_json(facts: LetterFacts) -> str:
    return json.dumps(
        [facts.mail_date, facts.kind, facts.recipient_role, address_json(facts.address)]
    )


def _held(row: Sequence[object]) -> HeldLetter:
    values = [str(v) for v in row]
    mail_date, kind, role, address = json.loads(values[10])
    piece, batch, customer, key, stage, cycle, reason, pdf_path, sha = values[:9]
    return HeldLetter(
        piece_id=piece,
        batch_id=batch,
        customer_id=customer,
        letter_key=key,
        stage=stage,
        cycle=cycle,
        reason=reason,
        pdf_path=pdf_path,
        pdf_sha256=sha,
        pages=int(values[9]),
        facts=LetterFacts(mail_date, kind, role, address_from_json(address)),
        rows_json=values[11],
        held_at=values[12],
        status=values[13],
        decided_by=values[14],
        decided_at=values[15],
        note=values[16],
        released_batch=values[17],
    )


class SqliteHeld(SqliteBase):
    """The `held_letters` table."""

    def hold_letter(self, held: HeldLetter) -> None:
        """Record a letter the lint held (again on a resume: the first record stays)."""
        with self._tx() as db:
            db.execute(
                f"INSERT OR IGNORE INTO held_letters ({COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'held', '', '', '', '')",
                (held.piece_id, held.batch_id, held.customer_id, held.letter_key, held.stage,
                 held.cycle, held.reason, held.pdf_path, held.pdf_sha256, held.pages,
                 _facts_json(held.facts), held.rows_json, held.held_at),
            )  # fmt: skip

    def held_letters(self, statuses: Sequence[str] = ("held",)) -> list[HeldLetter]:
        """The held letters in these statuses, oldest first."""
        marks = ", ".join("?" for _ in statuses)
        rows = self.db.execute(
            f"SELECT {COLUMNS} FROM held_letters WHERE status IN ({marks})"
            " ORDER BY held_at, piece_id",
            tuple(statuses),
        ).fetchall()
        return [_held(row) for row in rows]

    def held_letter(self, piece_id: str) -> HeldLetter | None:
        """One held letter, in any status."""
        row = self.db.execute(
            f"SELECT {COLUMNS} FROM held_letters WHERE piece_id = ?", (piece_id,)
        ).fetchone()
        return _held(row) if row else None

    def decide_held_letter(self, piece_id: str, status: str, by: str, at: str, note: str) -> bool:
        """Release or void a letter that is still held (or re-decide a released one not yet
        mailed); False when it is not waiting."""
        with self._tx() as db:
            before = db.total_changes
            db.execute(
                "UPDATE held_letters SET status = ?, decided_by = ?, decided_at = ?, note = ?"
                " WHERE piece_id = ? AND status IN ('held', 'released')",
                (status, by, at, note, piece_id),
            )
            return db.total_changes > before

    def mail_held_letter(self, held: HeldLetter, batch_id: str, pdf_path: str, at: str) -> bool:
        """Record a released letter as rendered in `batch_id` (its PDF at `pdf_path` in that
        batch) and mark it mailed, in one transaction; False when its key went since."""
        with self._tx() as db:
            taken = db.execute(
                "SELECT piece_id FROM letters WHERE letter_key = ?", (held.letter_key,)
            ).fetchone()
            if taken is not None:
                db.execute(
                    "UPDATE held_letters SET status = 'voided', note = ? WHERE piece_id = ?",
                    (f"superseded by piece {taken[0]}", held.piece_id),
                )
                return False
            facts = held.facts
            rows = json.loads(held.rows_json)
            article = next((r["article_number"] for _l, r in rows if r["article_number"]), None)
            db.execute(
                "INSERT INTO letters (letter_key, piece_id, batch_id, customer_id, stage, cycle,"
                " status, article_number, pdf_path, pdf_sha256, pages, created_at, mail_date,"
                " kind, recipient_role, address_json)"
                " VALUES (?, ?, ?, ?, ?, ?, 'rendered', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (held.letter_key, held.piece_id, batch_id, held.customer_id, held.stage,
                 held.cycle, article, pdf_path, held.pdf_sha256, held.pages, at, facts.mail_date,
                 facts.kind, facts.recipient_role, address_json(facts.address)),
            )  # fmt: skip
            accounts = {row["account_id"] for _line, row in rows}
            db.executemany(
                "INSERT OR IGNORE INTO letter_accounts (piece_id, account_id) VALUES (?, ?)",
                [(held.piece_id, account) for account in sorted(accounts)],
            )
            db.execute(
                "UPDATE held_letters SET status = 'mailed', released_batch = ? WHERE piece_id = ?",
                (batch_id, held.piece_id),
            )
            db.execute(  # the same letter held again on later nights is not needed any more
                "UPDATE held_letters SET status = 'voided', decided_at = ?, note = ?"
                " WHERE letter_key = ? AND piece_id != ? AND status IN ('held', 'released')",
                (at, f"superseded by piece {held.piece_id}", held.letter_key, held.piece_id),
            )
            return True
