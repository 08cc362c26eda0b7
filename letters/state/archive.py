"""A batch's letters as a whole, in the SQLite store: read out to close or seal a batch, released
when they never rendered, and restored into a rebuilt state from a sealed batch folder."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from letters.model import PieceId
from letters.state.base import SqliteBase
from letters.state.letters import address_from_json, address_json
from letters.state.records import (
    ArchivedLetter,
    BatchRecord,
    DecisionRecord,
    LetterDetails,
    LetterRecord,
)

_ARCHIVE_QUERY = (
    "SELECT l.letter_key, l.piece_id, l.batch_id, l.customer_id, l.stage, l.cycle, l.status,"
    " l.pdf_path, l.pdf_sha256, l.pages, l.article_number, l.mail_date, l.kind,"
    " l.recipient_role, l.address_json, l.created_at, p.pool, p.ordinal, l.imb_serial"
    " FROM letters l LEFT JOIN article_pool p ON p.article_number = l.article_number"
    " WHERE l.batch_id = ? AND l.status = 'rendered' AND l.piece_id > ?"
    " ORDER BY l.piece_id LIMIT ?"
)
ARCHIVE_PAGE = 500  # letters read at once


class SqliteArchive(SqliteBase):
    """Whole batches' letters: archived, released, restored."""

    def archived_letters(self, batch_id: str) -> Iterator[ArchivedLetter]:
        """Every rendered letter of a batch with all the state holds of it, by piece id.

        Read a page at a time (a batch's letters are never all in memory: 7,000 of them took
        14 MB), with the accounts of a page in one query. The caller may write between pages.
        """
        after = ""
        while True:
            page = self.db.execute(_ARCHIVE_QUERY, (batch_id, after, ARCHIVE_PAGE)).fetchall()
            if not page:
                return
            accounts: dict[str, list[str]] = {str(row[1]): [] for row in page}
            for piece_id, account_id in self.db.execute(
                "SELECT piece_id, account_id FROM letter_accounts"
                " WHERE piece_id >= ? AND piece_id <= ? ORDER BY piece_id, account_id",
                (page[0][1], page[-1][1]),
            ).fetchall():
                if piece_id in accounts:
                    accounts[piece_id].append(str(account_id))
            for row in page:
                details = LetterDetails(
                    row[10] or "",
                    row[11] or "",
                    row[12] or "",
                    row[13] or "",
                    address_from_json(row[14]),
                )
                yield ArchivedLetter(
                    LetterRecord(*row[:10]),
                    tuple(accounts[str(row[1])]),
                    details,
                    str(row[15]),
                    row[16],
                    row[17],
                    row[18],
                )
            after = str(page[-1][1])

    def decisions_of(self, batch_id: str) -> list[DecisionRecord]:
        """The account outcomes a batch stored (none if it never reached its end)."""
        rows = self.db.execute(
            "SELECT account_id, customer_id, status, reason_code, reason_detail, stage, piece_id"
            " FROM decisions WHERE batch_id = ? ORDER BY account_id",
            (batch_id,),
        ).fetchall()
        return [DecisionRecord(*row) for row in rows]

    def release_pending(self, batch_id: str) -> list[str]:
        """Forget a batch's letters that never rendered, so a later batch decides them afresh;
        their article numbers stay used (a number is never handed out twice)."""
        with self._tx() as db:
            pieces = [
                str(row[0])
                for row in db.execute(
                    "SELECT piece_id FROM letters WHERE batch_id = ? AND status = 'pending'",
                    (batch_id,),
                )
            ]
            db.executemany("DELETE FROM letter_accounts WHERE piece_id = ?", [(p,) for p in pieces])
            db.execute("DELETE FROM letters WHERE batch_id = ? AND status = 'pending'", (batch_id,))
        return pieces

    def restore_batch(self, batch: BatchRecord) -> bool:
        """Record a sealed batch read back from its folder; False if the state has it already."""
        with self._tx() as db:
            before = db.total_changes
            db.execute(
                "INSERT OR IGNORE INTO batches (batch_id, as_of, started_at, finished_at, status,"
                " batch_dir, request_json, pid, host, counts_json)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?)",
                (
                    batch.batch_id,
                    batch.as_of,
                    batch.started_at,
                    batch.finished_at,
                    batch.status,
                    batch.batch_dir,
                    json.dumps(batch.request, sort_keys=True),
                    json.dumps(batch.counts, sort_keys=True),
                ),
            )
            return db.total_changes > before

    def restore_letter(self, archived: ArchivedLetter) -> bool:
        """Record a sealed letter read back from its batch folder as rendered, its article number
        as used and its batch's piece counter past it; False if the state has it already."""
        letter, details = archived.letter, archived.details
        with self._tx() as db:
            if db.execute(
                "SELECT 1 FROM letters WHERE piece_id = ? OR letter_key = ?",
                (letter.piece_id, letter.letter_key),
            ).fetchone():
                return False
            db.execute(
                "INSERT INTO letters (letter_key, piece_id, batch_id, customer_id, stage, cycle,"
                " status, pdf_path, pdf_sha256, pages, article_number, created_at, mail_date,"
                " kind, recipient_role, imb_serial, address_json)"
                " VALUES (?, ?, ?, ?, ?, ?, 'rendered', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    *_letter_values(letter),
                    details.article_number or None,
                    archived.created_at,
                    details.mail_date,
                    details.kind,
                    details.recipient_role,
                    archived.imb_serial,
                    address_json(details.address),
                ),
            )
            db.executemany(
                "INSERT OR IGNORE INTO letter_accounts (piece_id, account_id) VALUES (?, ?)",
                [(letter.piece_id, account) for account in archived.account_ids],
            )
            self._restore_numbers(archived)
        return True

    def _restore_numbers(self, archived: ArchivedLetter) -> None:
        """The piece counter, the article number (used) and a range pool's serial counter."""
        piece = archived.letter.piece_id
        self._raise_counter(f"piece:{archived.letter.batch_id}", PieceId.parse(piece).number)
        if archived.imb_counter and archived.imb_serial is not None:
            self._raise_counter(archived.imb_counter, archived.imb_serial)
        article = archived.details.article_number
        if not article:
            return
        self.db.execute(
            "INSERT INTO article_pool (article_number, state, piece_id, used_at, pool, ordinal)"
            " VALUES (?, 'used', ?, ?, ?, ?) ON CONFLICT(article_number) DO UPDATE"
            " SET state = 'used', piece_id = excluded.piece_id, used_at = excluded.used_at",
            (article, piece, archived.created_at, archived.article_pool, archived.article_ordinal),
        )
        pool = archived.article_pool
        if pool and not pool.startswith("file:") and archived.article_ordinal is not None:
            self._raise_counter(f"article:{pool}", archived.article_ordinal)

    def _raise_counter(self, name: str, value: int) -> None:
        self.db.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?)"
            " ON CONFLICT(name) DO UPDATE SET value = max(value, excluded.value)",
            (name, value),
        )


def _letter_values(letter: LetterRecord) -> tuple[Any, ...]:
    return (
        letter.letter_key,
        letter.piece_id,
        letter.batch_id,
        letter.customer_id,
        letter.stage,
        letter.cycle,
        letter.pdf_path,
        letter.pdf_sha256,
        letter.pages,
    )
