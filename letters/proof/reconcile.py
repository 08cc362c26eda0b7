"""After mailing: import tracking and return events, and feed returned mail back as evidence."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

from addresses.csvio import CsvFileError, Reject, RowError, open_csv, row_values
from addresses.records import SourceRecord
from letters.errors import InputFileError
from letters.proof.email_events import import_email_events
from letters.proof.events import ReconcileReport, when
from letters.state.protocol import StateStore

EVENT_RANK = {
    "accepted": 1,
    "in_transit": 2,
    "delivered": 3,
    "returned_to_sender": 3,
    "undeliverable": 3,
    "refused": 3,
    "return_receipt": 4,
}
ALIASES = {
    "returned": "returned_to_sender",
    "return_to_sender": "returned_to_sender",
    "transit": "in_transit",
    "green_card": "return_receipt",
}
# Evidence against an address: mail that came back because it could not be delivered there.
NEGATIVE = {"returned_to_sender": "returned", "undeliverable": "undeliverable"}


def reconcile(events_path: Path, store: StateStore, imported_at: str) -> ReconcileReport:
    """Import events (idempotent); report unknown pieces, duplicates and out-of-order events."""
    report = ReconcileReport()
    try:
        table = open_csv(events_path)
        if "event" not in table.header or "timestamp" not in table.header:
            raise InputFileError(f"{table.name}:1: needs the columns event and timestamp")
        if "message_id" in table.header or "address" in table.header:  # e-mail events
            import_email_events(table, store, imported_at, report)
            return report
        if "piece_id" not in table.header and "article_number" not in table.header:
            raise InputFileError(
                f"{table.name}:1: needs piece_id or article_number (mail), or message_id (e-mail)"
            )
        for row in table.rows:
            report.rows += 1
            where = f"{table.name}:{row.line}"
            try:
                values = row_values(row, table.header)
                event = values["event"].strip().lower().replace(" ", "_").replace("-", "_")
                event = ALIASES.get(event, event)
                if event not in EVENT_RANK:
                    raise RowError("event", f"unknown {values['event']!r}")
                try:
                    occurred = when(values["timestamp"])
                except ValueError:
                    raise RowError(
                        "timestamp",
                        f"not an ISO date or date-time (YYYY-MM-DD[THH:MM:SS]): "
                        f"{values['timestamp']!r}",
                    ) from None
            except RowError as exc:
                reject = Reject(table.name, row.line, exc.field_name, exc.reason, row.raw)
                report.rejects.append(reject)
                continue
            _import_one(store, values, event, occurred, where, imported_at, report)
    except CsvFileError as exc:
        raise InputFileError(str(exc)) from None
    return report


def _import_one(
    store: StateStore,
    values: dict[str, str],
    event: str,
    occurred: str,
    where: str,
    imported_at: str,
    report: ReconcileReport,
) -> None:
    piece = values.get("piece_id", "").strip()
    article = values.get("article_number", "").strip().replace(" ", "")
    letter = store.letter_by_piece(piece) if piece else store.letter_by_article(article)
    if letter is None or letter.status != "rendered":
        report.unknown.append(f"{where}: unknown piece or article number {piece or article!r}")
        return
    details = store.letter_details(letter.piece_id)
    rank = EVENT_RANK[event]
    for earlier in store.events_of(letter.piece_id):
        other = EVENT_RANK.get(earlier.event, 0)
        when = earlier.occurred_at
        if (rank > other and occurred < when) or (rank < other and occurred > when):
            report.out_of_order.append(
                f"{where}: {event} at {occurred} is out of order with {earlier.event} at {when}"
            )
            break
    if not store.add_event(
        letter.piece_id,
        details.article_number if details else "",
        event,
        occurred,
        values.get("detail", "").strip(),
        imported_at,
    ):
        report.duplicates.append(
            f"{where}: {event} for {letter.piece_id} at {occurred} was imported before"
        )
        return
    report.imported += 1
    report.batches.setdefault(letter.batch_id, Counter())[event] += 1
    address = details.address if details else None
    if event in NEGATIVE and address is not None:
        ref = f"{letter.piece_id}:{event}:{occurred}"
        if store.add_evidence(letter.customer_id, address, occurred[:10], NEGATIVE[event], ref):
            report.evidence += 1


def evidence_records(store: StateStore) -> list[SourceRecord]:
    """Returned mail from the state as address observations for the engine."""
    return [
        SourceRecord.of_address(
            item.customer_id,
            "returned_mail",
            item.address,
            date.fromisoformat(item.observed_at),
            item.status,
            ("state", item.evidence_id),
        )
        for item in store.evidence()
    ]
