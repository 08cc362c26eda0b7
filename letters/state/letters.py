"""Letters in the SQLite store: reserved, completed, released; decisions, forcing, history."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date
from typing import ClassVar

from addresses.model import PostalAddress
from letters.model import EarlierLetter, History
from letters.state.base import SqliteBase
from letters.state.records import DecisionRecord, LetterDetails, LetterFacts, LetterRecord


def address_json(address: PostalAddress | None) -> str:
    """An address as a letter row stores it: a JSON list of its six fields, `[]` for none."""
    if address is None:
        return "[]"
    return json.dumps(list(address.fields()))


def address_from_json(text: str | None) -> PostalAddress | None:
    """The address `address_json` stored, or None for an empty or missing one."""
    fields = json.loads(text) if text else []
    if not fields:
        return None
    line1, line2, city, state, zip_code, country = (list(fields) + [""] * 6)[:6]
    return PostalAddress(line1, line2, city, state, zip_code, country)


class SqliteLetters(SqliteBase):
    """The `letters`, `letter_accounts`, `decisions` and `forced` tables."""

    _LETTER_COLUMNS: ClassVar[str] = (
        "letter_key, piece_id, batch_id, customer_id, stage, cycle, status, pdf_path, pdf_sha256,"
        " pages"
    )

    def _letter_where(self, column: str, value: str) -> LetterRecord | None:
        row = self.db.execute(
            f"SELECT {self._LETTER_COLUMNS} FROM letters WHERE {column} = ?", (value,)
        ).fetchone()
        return LetterRecord(*row) if row else None

    def letter(self, letter_key: str) -> LetterRecord | None:
        """The letter recorded under a key, or None."""
        return self._letter_where("letter_key", letter_key)

    def letter_by_piece(self, piece_id: str) -> LetterRecord | None:
        """The letter with a piece id, or None."""
        return self._letter_where("piece_id", piece_id)

    def letter_by_article(self, article_number: str) -> LetterRecord | None:
        """The letter with an article number, or None."""
        return self._letter_where("article_number", article_number)

    def letters_of_batch(self, batch_id: str) -> list[LetterRecord]:
        """Every letter recorded in a batch, by piece id."""
        rows = self.db.execute(
            f"SELECT {self._LETTER_COLUMNS} FROM letters WHERE batch_id = ? ORDER BY piece_id",
            (batch_id,),
        ).fetchall()
        return [LetterRecord(*row) for row in rows]

    def letter_details(self, piece_id: str) -> LetterDetails | None:
        """What else the state knows of a piece: article number, mail date, kind, address."""
        row = self.db.execute(
            "SELECT article_number, mail_date, kind, recipient_role, address_json FROM letters"
            " WHERE piece_id = ?",
            (piece_id,),
        ).fetchone()
        if row is None:
            return None
        return LetterDetails(
            article_number=row[0] or "",
            mail_date=row[1] or "",
            kind=row[2] or "",
            recipient_role=row[3] or "",
            address=address_from_json(row[4]),
        )

    def reserve_letter(
        self,
        record: LetterRecord,
        account_ids: Sequence[str],
        created_at: str,
        facts: LetterFacts,
        sequence: int = 0,
    ) -> None:
        """Record a letter as pending before its PDF is written; its key must be new.

        `sequence` is the piece's number within its batch; the highest one given is kept, so a
        piece number stays spent even when its letter is dropped (held) later.
        """
        with self._tx() as db:
            db.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?)"
                " ON CONFLICT(name) DO UPDATE SET value = max(value, excluded.value)",
                (f"piece:{record.batch_id}", sequence),
            )
            db.execute(
                f"INSERT INTO letters ({self._LETTER_COLUMNS}, created_at, mail_date, kind,"
                " recipient_role, address_json)"
                " VALUES (?, ?, ?, ?, ?, ?, 'pending', NULL, NULL, NULL, ?, ?, ?, ?, ?)",
                (
                    record.letter_key,
                    record.piece_id,
                    record.batch_id,
                    record.customer_id,
                    record.stage,
                    record.cycle,
                    created_at,
                    facts.mail_date,
                    facts.kind,
                    facts.recipient_role,
                    address_json(facts.address),
                ),
            )
            db.executemany(
                "INSERT OR IGNORE INTO letter_accounts (piece_id, account_id) VALUES (?, ?)",
                [(record.piece_id, account_id) for account_id in account_ids],
            )

    def last_piece_number(self, batch_id: str) -> int:
        """The highest piece number a batch has handed out (0 for none)."""
        row = self.db.execute(
            "SELECT value FROM counters WHERE name = ?", (f"piece:{batch_id}",)
        ).fetchone()
        return int(row[0]) if row else 0

    def complete_letter(self, piece_id: str, pdf_path: str, pdf_sha256: str, pages: int) -> None:
        """Mark a pending letter rendered, once its PDF is in place under its real name."""
        with self._tx() as db:
            db.execute(
                "UPDATE letters SET status = 'rendered', pdf_path = ?, pdf_sha256 = ?, pages = ?"
                " WHERE piece_id = ?",
                (pdf_path, pdf_sha256, pages, piece_id),
            )

    def drop_pending(self, piece_id: str) -> None:
        """Forget a pending letter that will not be released (it failed its checks)."""
        with self._tx() as db:
            db.execute("DELETE FROM letter_accounts WHERE piece_id = ?", (piece_id,))
            db.execute("DELETE FROM letters WHERE piece_id = ? AND status = 'pending'", (piece_id,))

    def history(self, customer_id: str, exclude_batch_id: str) -> History:
        """What earlier batches sent this debtor: keys, last mail date, a validation notice, and
        each letter (date, stage, kind, recipient role, cycle) for the wording of later letters."""
        rows = self.db.execute(
            "SELECT letter_key, mail_date, kind, piece_id, batch_id, stage, cycle, recipient_role"
            " FROM letters WHERE customer_id = ? AND status = 'rendered' AND batch_id != ?"
            " ORDER BY mail_date, piece_id",
            (customer_id, exclude_batch_id),
        ).fetchall()
        dates = [date.fromisoformat(row[1]) for row in rows if row[1]]
        earlier = tuple(
            EarlierLetter(
                piece_id=row[3],
                mail_date=date.fromisoformat(row[1]) if row[1] else None,
                stage=row[5],
                kind=row[2] or "",
                role=row[7] or "debtor",
                cycle=row[6],
            )
            for row in rows
        )
        return History(
            earlier=earlier,
            sent={row[0]: f"piece {row[3]} in batch {row[4]}" for row in rows},
            last_mail_date=max(dates, default=None),
            validation_sent=any(row[2] == "validation" for row in rows),
            validation_mail_date=max(
                (date.fromisoformat(row[1]) for row in rows if row[2] == "validation" and row[1]),
                default=None,
            ),
        )

    def release_letter(self, letter_key: str) -> None:
        """Forget a letter's key so it may be produced again (only `--force` does this)."""
        with self._tx() as db:
            db.execute(
                "UPDATE letters SET letter_key = letter_key || '#forced@' || piece_id"
                " WHERE letter_key = ?",
                (letter_key,),
            )

    def record_force(
        self, batch_id: str, piece_id: str, letter_key: str, operator: str, reason: str, at: str
    ) -> None:
        """Keep a record of who forced which piece to be produced again, and why."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO forced (batch_id, forced_piece_id, letter_key, operator, reason, at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (batch_id, piece_id, letter_key, operator, reason, at),
            )

    def record_decisions(self, batch_id: str, decisions: Iterable[DecisionRecord]) -> None:
        """Store every account's outcome in a batch, replacing what the batch stored before."""
        with self._tx() as db:
            db.execute("DELETE FROM decisions WHERE batch_id = ?", (batch_id,))
            db.executemany(
                "INSERT INTO decisions (batch_id, account_id, customer_id, status, reason_code,"
                " reason_detail, stage, piece_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (
                        batch_id,
                        d.account_id,
                        d.customer_id,
                        d.status,
                        d.reason_code,
                        d.reason_detail,
                        d.stage,
                        d.piece_id,
                    )
                    for d in decisions
                ),
            )
