"""Channels besides the letter in the SQLite store: contact points, messages and their events.

A message is reserved `pending` by a run (one live message per key: the partial unique index),
`queued` once its file is written, and moved by `letters send` with compare-and-set updates
(`move_message`): `queued -> sending` is committed before the SMTP transaction begins, `sending ->
sent` after it ends. One found `sending` by the next send is `delivery_unknown`, never re-sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from letters.model import ContactPoint
from letters.state.base import SqliteBase
from letters.state.records import ContactEvent, MessageRecord

MESSAGE_COLUMNS = (
    "message_id, message_key, batch_id, customer_id, channel, stage, kind, recipient,"
    " rfc_message_id, status, window_json, eml_path, eml_sha256, attempts, last_error,"
    " created_at, queued_at, sent_at, note"
)
POINT_COLUMNS = (
    "customer_id, channel, value, consent_basis, consent_date, esign_consent, opted_out_at,"
    " is_work, source"
)
EVENT_COLUMNS = "customer_id, channel, value, event, occurred_at, message_id, detail"


MESSAGE_FIELDS = tuple(name.strip() for name in MESSAGE_COLUMNS.split(","))


def _message(row: Sequence[object]) -> MessageRecord:
    values: dict[str, Any] = {k: str(v) for k, v in zip(MESSAGE_FIELDS, row, strict=True)}
    values["attempts"] = int(values["attempts"])
    return MessageRecord(**values)


def _point(row: Sequence[object]) -> ContactPoint:
    customer, channel, value, basis, on, esign, opted, work, source = (str(v) for v in row)
    return ContactPoint(
        customer_id=customer,
        channel=channel,
        value=value,
        consent_basis=basis,
        consent_date=date.fromisoformat(on) if on else None,
        esign_consent=esign == "1",
        opted_out_at=date.fromisoformat(opted) if opted else None,
        is_work=work == "1",
        where=source,
    )


class SqliteMessages(SqliteBase):
    """The `contact_points`, `messages` and `contact_events` tables."""

    def record_contacts(self, points: Iterable[ContactPoint], batch_id: str, at: str) -> int:
        """Keep contact points as evidence; a row seen before (same content) adds nothing.
        Returns how many were new."""
        added = 0
        with self._tx() as db:
            for p in points:
                values = (
                    p.customer_id,
                    p.channel,
                    p.value,
                    p.consent_basis,
                    p.consent_date.isoformat() if p.consent_date else "",
                    int(p.esign_consent),
                    p.opted_out_at.isoformat() if p.opted_out_at else "",
                    int(p.is_work),
                    p.where,
                )
                fingerprint = hashlib.sha256("\0".join(map(str, values[:8])).encode()).hexdigest()
                cursor = db.execute(
                    f"INSERT OR IGNORE INTO contact_points ({POINT_COLUMNS}, batch_id, recorded_at,"
                    " fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*values, batch_id, at, fingerprint),
                )
                added += cursor.rowcount
        return added

    def contact_points(self, customer_id: str) -> list[ContactPoint]:
        """Every contact point recorded for a debtor, oldest first."""
        rows = self.db.execute(
            f"SELECT {POINT_COLUMNS} FROM contact_points WHERE customer_id = ? ORDER BY rowid",
            (customer_id,),
        )
        return [_point(row) for row in rows]

    def reserve_message(self, record: MessageRecord) -> MessageRecord:
        """Record a message `pending`, or return the live one its key already has."""
        with self._tx() as db:
            row = db.execute(
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE message_key = ?"
                " AND status NOT IN ('failed', 'expired', 'cancelled')",
                (record.message_key,),
            ).fetchone()
            if row is not None:
                return _message(row)
            db.execute(
                f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES"
                " (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, '', '', 0, '', ?, '', '', '')",
                (
                    record.message_id,
                    record.message_key,
                    record.batch_id,
                    record.customer_id,
                    record.channel,
                    record.stage,
                    record.kind,
                    record.recipient,
                    record.rfc_message_id,
                    record.window_json,
                    record.created_at,
                ),
            )
        return record

    def queue_message(self, message_id: str, eml_path: str, eml_sha256: str, at: str) -> None:
        """A pending message's file is written: it waits for its window."""
        with self._tx() as db:
            db.execute(
                "UPDATE messages SET status = 'queued', eml_path = ?, eml_sha256 = ?,"
                " queued_at = ? WHERE message_id = ? AND status = 'pending'",
                (eml_path, eml_sha256, at, message_id),
            )

    def move_message(
        self,
        message_id: str,
        from_statuses: Sequence[str],
        to_status: str,
        at: str,
        error: str = "",
        note: str = "",
    ) -> bool:
        """Compare and set: move a message from one of `from_statuses` to `to_status`; False when
        it was in none of them (someone else moved it). `sending` counts an attempt; `sent`
        records `at` as the time it went."""
        marks = ", ".join("?" for _ in from_statuses)
        with self._tx() as db:
            cursor = db.execute(
                f"UPDATE messages SET status = ?, last_error = ?,"
                f" attempts = attempts + CASE WHEN ? = 'sending' THEN 1 ELSE 0 END,"
                f" sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END,"
                f" note = CASE WHEN ? = '' THEN note ELSE ? END"
                f" WHERE message_id = ? AND status IN ({marks})",
                (
                    to_status,
                    error,
                    to_status,
                    to_status,
                    at,
                    note,
                    note,
                    message_id,
                    *from_statuses,
                ),
            )
            return cursor.rowcount == 1

    def message(self, message_id: str) -> MessageRecord | None:
        """One message by its id."""
        row = self.db.execute(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE message_id = ?", (message_id,)
        ).fetchone()
        return None if row is None else _message(row)

    def message_by_rfc_id(self, rfc_message_id: str) -> MessageRecord | None:
        """One message by its Message-ID header (bounces and replies quote it)."""
        row = self.db.execute(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE rfc_message_id = ?", (rfc_message_id,)
        ).fetchone()
        return None if row is None else _message(row)

    def messages(
        self,
        statuses: Sequence[str] = (),
        batch_id: str | None = None,
        customer_id: str | None = None,
    ) -> list[MessageRecord]:
        """Messages in these statuses (all when empty), of one batch or debtor, in id order."""
        where: list[str] = ["1 = 1"]
        params: list[str] = []
        if statuses:
            where.append(f"status IN ({', '.join('?' for _ in statuses)})")
            params.extend(statuses)
        if batch_id is not None:
            where.append("batch_id = ?")
            params.append(batch_id)
        if customer_id is not None:
            where.append("customer_id = ?")
            params.append(customer_id)
        rows = self.db.execute(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE {' AND '.join(where)}"
            " ORDER BY message_id",
            params,
        )
        return [_message(row) for row in rows]

    def add_contact_event(self, event: ContactEvent, imported_at: str) -> bool:
        """Record an event once; False when the same event was recorded before."""
        with self._tx() as db:
            cursor = db.execute(
                f"INSERT OR IGNORE INTO contact_events ({EVENT_COLUMNS}, imported_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    event.customer_id,
                    event.channel,
                    event.value,
                    event.event,
                    event.occurred_at,
                    event.message_id,
                    event.detail,
                    imported_at,
                ),
            )
            return cursor.rowcount == 1

    def contact_events(self, customer_id: str | None = None) -> list[ContactEvent]:
        """Events of one debtor (or all), oldest first."""
        sql = f"SELECT {EVENT_COLUMNS} FROM contact_events"
        rows = (
            self.db.execute(f"{sql} WHERE customer_id = ? ORDER BY occurred_at", (customer_id,))
            if customer_id is not None
            else self.db.execute(f"{sql} ORDER BY occurred_at")
        )
        return [ContactEvent(*(str(v) for v in row)) for row in rows]
