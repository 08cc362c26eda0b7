"""What the state says to an operator, and what it takes in: the batches and their status, a
debtor's history, and tracking events to reconcile.

Every function finds the state as a run does (`--db`, else `$LETTERS_DB`, else `OUT/letters.db`)
and refuses to create one: these commands only make sense on a state that runs have written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from letters.errors import UsageError, not_a_file
from letters.proof.events import ReconcileReport
from letters.proof.reconcile import reconcile
from letters.state import db_path_for, opened_store, shown, state_exists
from letters.state.lock import pid_alive
from letters.state.protocol import StateStore
from letters.state.records import BatchRecord, TimelineEntry

INTERRUPTED_UNFINISHED = "interrupted (not finished)"
SEALED = ("complete", "closed")  # the statuses of a sealed batch
NOT_SENT = "letters not yet sent"


@dataclass(frozen=True, slots=True)
class BatchStatus:
    """One batch as an operator sees it: `status` says `interrupted (not finished)` for a run
    recorded as running whose process is gone, and `letters not yet sent` for any unsealed one
    (the next run closes it)."""

    batch_id: str
    as_of: str
    started_at: str
    finished_at: str | None
    status: str
    letters: int | None
    outcomes: dict[str, int]


@dataclass(frozen=True, slots=True)
class BatchListing:
    """Every batch in a state, newest first."""

    db_path: Path
    batches: list[BatchStatus]


@dataclass(frozen=True, slots=True)
class DebtorHistory:
    """Every letter, decision and event for one debtor, newest first."""

    customer_id: str
    entries: list[TimelineEntry]


def existing_db_path(db: Path | None, out_dir: Path) -> Path:
    """The state database a command reads; it must exist already."""
    db_path = db_path_for(db, out_dir)
    if not state_exists(db_path):
        raise UsageError(f"{shown(db_path)}: no state database here")
    return db_path


def batch_status(record: BatchRecord) -> BatchStatus:
    """A batch's status: a run still marked running whose process is gone was interrupted."""
    status = record.status
    if status == "running" and not pid_alive(record.pid, record.host):
        status = INTERRUPTED_UNFINISHED
    if record.status not in SEALED:  # a letter counts as sent once its batch is sealed
        status = f"{status}: {NOT_SENT}"
    return BatchStatus(
        batch_id=record.batch_id,
        as_of=record.as_of,
        started_at=record.started_at,
        finished_at=record.finished_at,
        status=status,
        letters=record.counts.get("letters"),
        outcomes=dict(record.counts.get("counts", {})),
    )


def list_batches(db: Path | None, out_dir: Path) -> BatchListing:
    """Every batch in the state, newest first, with its status and counts."""
    db_path = existing_db_path(db, out_dir)
    with opened_store(db_path) as store:
        records = store.batches()
    return BatchListing(db_path, [batch_status(record) for record in records])


def debtor_history(identifier: str, db: Path | None, out_dir: Path) -> DebtorHistory:
    """The history of the debtor a customer_id or account_id names."""
    db_path = existing_db_path(db, out_dir)
    with opened_store(db_path) as store:
        customer = store.customer_of(identifier)
        if customer is None:
            raise UsageError(f"{identifier}: no such customer or account in {shown(db_path)}")
        entries = [*store.timeline(customer), *email_timeline(store, customer)]
        return DebtorHistory(customer, sorted(entries, key=lambda e: e.when, reverse=True))


def email_timeline(store: StateStore, customer_id: str) -> list[TimelineEntry]:
    """A debtor's e-mails (queued, sent, or why not) and the events of their addresses."""
    entries = []
    for m in store.messages(customer_id=customer_id):
        what = f"e-mail {m.message_id} ({m.kind}, stage {m.stage}, {m.status})"
        detail = f"batch {m.batch_id}; to {m.recipient}; {m.rfc_message_id}"
        detail += "".join(f"; {text}" for text in (m.last_error, m.note) if text)
        entries.append(TimelineEntry(m.sent_at or m.queued_at or m.created_at, what, detail))
    for event in store.contact_events(customer_id):
        what = f"e-mail event {event.event}" + (
            f" for {event.message_id}" if event.message_id else ""
        )
        entries.append(TimelineEntry(event.occurred_at, what, f"{event.value}; {event.detail}"))
    return entries


def import_events(
    events_path: Path,
    db: Path | None,
    out_dir: Path,
    now: Callable[[], datetime] = datetime.now,
) -> ReconcileReport:
    """Import a tracking and return events file into the state (see `letters.proof.reconcile`)."""
    db_path = existing_db_path(db, out_dir)
    if not events_path.is_file():
        raise UsageError(not_a_file(events_path))
    with opened_store(db_path) as store:
        return reconcile(events_path, store, now().isoformat(timespec="seconds"))
