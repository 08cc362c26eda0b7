"""The review queue in the SQLite store: debtors held for their address, and the decisions.

A run puts each debtor it holds for an address into `review_queue` (with the engine's candidates
and the debtor's accounts) and takes out those it no longer holds. A reviewer's decision goes into
`review_decisions` once (its `fingerprint` is unique), and marks the queue entry `decided`; the
next run reads the decisions back as evidence.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from addresses.model import PostalAddress
from letters.state.base import SqliteBase
from letters.state.records import QueueRecord, ReviewDecisionRecord

QUEUE_COLUMNS = (
    "customer_id, status, first_held, opened_on, batch_id, as_of, reasons, choice_json,"
    " accounts_json"
)
DECISION_COLUMNS = (
    "decision_id, customer_id, opened_on, kind, candidate, line1, line2, city, state, zip,"
    " country, reason, reviewer, note, via, decided_at, effective_on"
)


def _decision(row: Sequence[object]) -> ReviewDecisionRecord:
    ident, customer, opened, kind, candidate, *address, reason, reviewer, note, via, at, on = row
    fields = [str(part) for part in address]
    return ReviewDecisionRecord(
        decision_id=int(str(ident)),
        customer_id=str(customer),
        opened_on=str(opened),
        kind=str(kind),
        candidate=None if candidate is None else int(str(candidate)),
        address=PostalAddress(*fields) if fields[0] else None,
        reason=str(reason),
        reviewer=str(reviewer),
        note=str(note),
        via=str(via),
        decided_at=str(at),
        effective_on=str(on),
    )


class SqliteReview(SqliteBase):
    """The `review_queue` and `review_decisions` tables."""

    def update_review_queue(
        self, held: Sequence[QueueRecord], cleared: Iterable[str], at: str
    ) -> None:
        """Put the debtors a run held into the queue (a decided one opens again: the decision
        did not take) and take out `cleared`, the run's debtors it no longer holds."""
        with self._tx() as db:
            db.executemany(
                "DELETE FROM review_queue WHERE customer_id = ?", [(c,) for c in cleared]
            )
            for item in held:
                db.execute(
                    f"INSERT INTO review_queue ({QUEUE_COLUMNS}, updated_at)"
                    " VALUES (?, 'open', ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (customer_id) DO UPDATE SET status = 'open',"
                    " opened_on = CASE WHEN review_queue.status = 'decided'"
                    " THEN excluded.opened_on ELSE review_queue.opened_on END,"
                    " batch_id = excluded.batch_id, as_of = excluded.as_of,"
                    " reasons = excluded.reasons, choice_json = excluded.choice_json,"
                    " accounts_json = excluded.accounts_json, updated_at = excluded.updated_at",
                    (item.customer_id, item.first_held, item.opened_on, item.batch_id,
                     item.as_of, item.reasons, item.choice_json, item.accounts_json, at),
                )  # fmt: skip

    def review_queue(self, include_decided: bool = False) -> list[QueueRecord]:
        """The queue, oldest first (by the date first held, then customer_id)."""
        where = "" if include_decided else " WHERE status = 'open'"
        rows = self.db.execute(
            f"SELECT {QUEUE_COLUMNS} FROM review_queue{where} ORDER BY first_held, customer_id"
        ).fetchall()
        return [QueueRecord(*(str(value) for value in row)) for row in rows]

    def review_entry(self, customer_id: str) -> QueueRecord | None:
        """One debtor's queue entry, open or decided."""
        row = self.db.execute(
            f"SELECT {QUEUE_COLUMNS} FROM review_queue WHERE customer_id = ?", (customer_id,)
        ).fetchone()
        return QueueRecord(*(str(value) for value in row)) if row else None

    def add_review_decision(self, record: ReviewDecisionRecord, fingerprint: str) -> bool:
        """Record a decision once (False when the same one was recorded before); any decision
        but `leave` marks the debtor's queue entry `decided`."""
        address = record.address.fields() if record.address else ("",) * 6
        with self._tx() as db:
            before = db.total_changes
            db.execute(
                f"INSERT OR IGNORE INTO review_decisions ({DECISION_COLUMNS}, fingerprint)"
                " VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (record.customer_id, record.opened_on, record.kind, record.candidate, *address,
                 record.reason, record.reviewer, record.note, record.via, record.decided_at,
                 record.effective_on, fingerprint),
            )  # fmt: skip
            added = db.total_changes > before
            if added and record.kind != "leave":
                db.execute(
                    "UPDATE review_queue SET status = 'decided', updated_at = ?"
                    " WHERE customer_id = ?",
                    (record.decided_at, record.customer_id),
                )
            return added

    def review_decisions(self, customer_id: str | None = None) -> list[ReviewDecisionRecord]:
        """Every decision (or one debtor's), oldest first."""
        where, args = ("WHERE customer_id = ? ", (customer_id,)) if customer_id else ("", ())
        rows = self.db.execute(
            f"SELECT {DECISION_COLUMNS} FROM review_decisions {where}ORDER BY decision_id", args
        ).fetchall()
        return [_decision(row) for row in rows]
