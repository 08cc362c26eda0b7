"""After mailing, in the SQLite store: events, returned-mail evidence, a debtor's timeline."""

from __future__ import annotations

from addresses.model import PostalAddress
from letters.state.base import SqliteBase
from letters.state.records import AddressEvidence, TimelineEntry, TrackingEvent


class SqliteTracking(SqliteBase):
    """The `events` and `address_evidence` tables, and what is read across all tables."""

    def events_of(self, piece_id: str) -> list[TrackingEvent]:
        """The events of a piece, oldest first."""
        rows = self.db.execute(
            "SELECT event, occurred_at, detail FROM events WHERE piece_id = ?"
            " ORDER BY occurred_at, id",
            (piece_id,),
        ).fetchall()
        return [TrackingEvent(str(a), str(b), str(c)) for a, b, c in rows]

    def add_event(
        self,
        piece_id: str,
        article_number: str,
        event: str,
        occurred_at: str,
        detail: str,
        imported_at: str,
    ) -> bool:
        """Record an event once; False when the same event was imported before."""
        with self._tx() as db:
            before = db.total_changes
            db.execute(
                "INSERT OR IGNORE INTO events"
                " (piece_id, article_number, event, occurred_at, detail,"
                " imported_at) VALUES (?, ?, ?, ?, ?, ?)",
                (piece_id, article_number, event, occurred_at, detail, imported_at),
            )
            return db.total_changes > before

    def add_evidence(
        self, customer_id: str, address: PostalAddress, observed_at: str, status: str, ref: str
    ) -> bool:
        """Record returned mail against an address once (keyed by `ref`)."""
        with self._tx() as db:
            before = db.total_changes
            db.execute(
                "INSERT OR IGNORE INTO address_evidence (customer_id, source, line1, line2, city,"
                " state, zip, country, observed_at, status, ref)"
                " VALUES (?, 'returned_mail', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    customer_id,
                    address.line1,
                    address.line2,
                    address.city,
                    address.state,
                    address.zip,
                    address.country,
                    observed_at,
                    status,
                    ref,
                ),
            )
            return db.total_changes > before

    def evidence(self) -> list[AddressEvidence]:
        """Every returned-mail record, in the order it was recorded."""
        rows = self.db.execute(
            "SELECT id, customer_id, line1, line2, city, state, zip, country, observed_at, status"
            " FROM address_evidence ORDER BY id"
        ).fetchall()
        return [
            AddressEvidence(
                evidence_id=ident,
                customer_id=customer,
                address=PostalAddress(line1, line2, city, state, zip_code, country),
                observed_at=observed,
                status=status,
            )
            for ident, customer, line1, line2, city, state, zip_code, country, observed, status in (
                rows
            )
        ]

    def customer_of(self, identifier: str) -> str | None:
        """The customer_id a customer or account id belongs to, from letters and decisions."""
        for query in (
            "SELECT customer_id FROM decisions WHERE customer_id = ? LIMIT 1",
            "SELECT customer_id FROM letters WHERE customer_id = ? LIMIT 1",
            "SELECT customer_id FROM decisions WHERE account_id = ? LIMIT 1",
            "SELECT l.customer_id FROM letter_accounts a JOIN letters l ON l.piece_id = a.piece_id"
            " WHERE a.account_id = ? LIMIT 1",
        ):
            row = self.db.execute(query, (identifier,)).fetchone()
            if row:
                return str(row[0])
        return None

    def timeline(self, customer_id: str) -> list[TimelineEntry]:
        """Every letter, decision, event and address evidence for a debtor, newest first."""
        rows: list[TimelineEntry] = []
        for piece, batch, stage, status, mail, article, created, kind, sealed in self.db.execute(
            "SELECT l.piece_id, l.batch_id, l.stage, l.status, l.mail_date, l.article_number,"
            " l.created_at, l.kind, b.status IN ('complete', 'closed') FROM letters l"
            " LEFT JOIN batches b ON b.batch_id = l.batch_id WHERE l.customer_id = ?",
            (customer_id,),
        ):
            accounts = ",".join(
                r[0]
                for r in self.db.execute(
                    "SELECT account_id FROM letter_accounts WHERE piece_id = ? ORDER BY account_id",
                    (piece,),
                )
            )
            # a letter counts as sent only once its batch is sealed (complete, or closed later)
            sent = "sent" if status == "rendered" and sealed else f"{status}, not yet sent"
            what = f"letter {piece} ({kind or 'demand'}, stage {stage}, {sent})"
            detail = f"batch {batch}; mail date {mail}; accounts {accounts}" + (
                f"; article {article}" if article else ""
            )
            rows.append(TimelineEntry(mail or created, what, detail))
            for event in self.events_of(piece):
                what = f"event {event.event} for {piece}"
                rows.append(TimelineEntry(event.occurred_at, what, event.detail))
        for batch, account, status, code, detail, piece, started in self.db.execute(
            "SELECT d.batch_id, d.account_id, d.status, d.reason_code, d.reason_detail,"
            " d.piece_id, b.started_at FROM decisions d JOIN batches b ON b.batch_id = d.batch_id"
            " WHERE d.customer_id = ?",
            (customer_id,),
        ):
            what = f"decision {account}: {status} {code}" + (f" (piece {piece})" if piece else "")
            rows.append(TimelineEntry(started, what, f"batch {batch}; {detail}"))
        for observed, status, line1, city in self.db.execute(
            "SELECT observed_at, status, line1, city FROM address_evidence WHERE customer_id = ?",
            (customer_id,),
        ):
            rows.append(TimelineEntry(observed, f"address evidence: {status}", f"{line1}, {city}"))
        return sorted(rows, key=lambda r: r.when, reverse=True)
