"""`letters send`: deliver the queued messages whose window is open, each at most once.

Only a sealed batch's messages go (`complete` or `closed`): a batch still running, interrupted
or failed has no sealed messages.csv yet, so its messages wait, untouched, until it is.

The caller holds the send lock (`RunLock(db, ".send-lock")`), so a message found `sending` is
from a send that died inside its SMTP transaction: it becomes `delivery_unknown` and is never sent
again until a person settles it (`settle_unknown`). Each queued message is moved `queued ->
sending` (committed) before its transaction begins and `sending -> sent` after it ends, so no
crash, kill or lost connection can make it go twice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Protocol

from letters.errors import UsageError
from letters.fsutil import sha256_bytes
from letters.intake.channels import stop_kind
from letters.processes import signals_held
from letters.send.transports import (
    PermanentError,
    TransientError,
    Transport,
    TransportError,
    UnknownOutcome,
    scrub,
)
from letters.send.window import SendWindow
from letters.state.protocol import ChannelStore
from letters.state.records import BatchRecord, ContactEvent, MessageRecord

EMAIL = "email"
CHECK_THE_SERVER = (
    "the send stopped inside the SMTP transaction: a person checks the mail server's log, then"
    " settles it as sent or to resend"
)
OUTCOMES = {"sent": "sent", "resend": "queued"}
SEALED = ("complete", "closed")  # a batch's statuses once its files are sealed


class SendStore(ChannelStore, Protocol):
    """What a send needs of the state: the channel's part, and a message's batch."""

    def batch(self, batch_id: str) -> BatchRecord | None:
        """One batch, or None."""
        ...


@dataclass(slots=True)
class SendReport:
    """What one `letters send` did, by message id (never an address)."""

    sent: int = 0
    waiting: int = 0  # queued, their window not open now or their batch not sealed yet
    next_opening: datetime | None = None  # the earliest opening among the waiting
    expired: int = 0
    cancelled: int = 0
    failed: int = 0
    deferred: int = 0  # the server said try later: still queued
    delivery_unknown: int = 0  # found `sending`, or lost inside the transaction this time
    not_reached: int = 0  # due, not attempted: over the limit, or the transport stopped the send
    problems: list[str] = field(default_factory=list)  # `<message or batch id>: what happened`
    failure: str = ""  # why the transport stopped the send (the rest stay queued)

    def wait_for(self, opening: datetime | None) -> None:
        """Count a message waiting for its window, and keep the earliest opening."""
        self.waiting += 1
        if opening is not None and (self.next_opening is None or opening < self.next_opening):
            self.next_opening = opening


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("the send clock must give aware datetimes (with a zone)")
    return moment


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _same_address(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def stop_reason(store: ChannelStore, record: MessageRecord) -> str:
    """Why the message may no longer go to its address (an opt-out, a complaint, a hard bounce
    recorded since it was queued), or "" when nothing stops it."""
    for point in store.contact_points(record.customer_id):
        if (
            point.channel == EMAIL
            and point.opted_out_at
            and _same_address(point.value, record.recipient)
        ):
            return f"the address was opted out on {point.opted_out_at.isoformat()}"
    for event in store.contact_events(record.customer_id):
        if event.channel != EMAIL or not _same_address(event.value, record.recipient):
            continue
        kind = stop_kind(event.event, event.detail)  # the nightly run's rule, word for word
        if kind:
            return f"{event.event} recorded for the address on {event.occurred_at} ({kind})"
    return ""


def file_problem(record: MessageRecord) -> tuple[bytes, str]:
    """The message's file, or why it cannot go: missing, or changed since it was queued."""
    try:
        data = Path(record.eml_path).read_bytes()
    except OSError:
        return b"", "its file is missing or unreadable since it was queued"
    if not record.eml_sha256 or sha256_bytes(data) != record.eml_sha256:
        return b"", "its file changed since it was queued"
    return data, ""


def with_date(data: bytes, moment: datetime) -> bytes:
    """The stored message with its `Date:` header, the moment it goes (the file keeps none, so
    its recorded hash stays valid)."""
    eol = b"\r\n" if b"\r\n" in data else b"\n"
    return f"Date: {format_datetime(moment)}".encode("ascii") + eol + data


def mark_unfinished(store: ChannelStore, at: str, report: SendReport) -> None:
    """Every message still `sending` (a send died inside its transaction) becomes
    `delivery_unknown`: a person checks the mail server's log before it may go again."""
    for record in store.messages(("sending",)):
        note = CHECK_THE_SERVER
        if store.move_message(record.message_id, ("sending",), "delivery_unknown", at, note=note):
            report.delivery_unknown += 1
            report.problems.append(f"{record.message_id}: delivery unknown: {CHECK_THE_SERVER}")


class _Stop(Exception):
    """The transport stopped the send; the rest stay queued."""


class _Delivery:
    """One send: the store, the transport (opened when the first message is due) and the
    report."""

    def __init__(
        self,
        store: SendStore,
        transport: Transport,
        envelope_from: str,
        stack: contextlib.ExitStack,
    ) -> None:
        self.store, self.transport, self.envelope_from = store, transport, envelope_from
        self.stack = stack
        self.opened = False
        self.report = SendReport()
        self.batch_status: dict[str, str] = {}  # read once per batch and send

    def sealed(self, record: MessageRecord) -> bool:
        """Whether the message's batch is sealed; the first time a batch is not, say so."""
        status = self.batch_status.get(record.batch_id)
        if status is None:
            batch = self.store.batch(record.batch_id)
            status = batch.status if batch is not None else "not in the state"
            self.batch_status[record.batch_id] = status
            if status not in SEALED:
                self.report.problems.append(
                    f"{record.batch_id}: its messages wait: the batch is {status}, not sealed"
                )
        return status in SEALED

    def consider(self, record: MessageRecord, now: datetime) -> bool:
        """Settle a queued message without sending, or return True when it is to go now."""
        window = SendWindow.from_json(record.window_json)
        report, at = self.report, _stamp(now)
        if not self.sealed(record):
            report.wait_for(None)
        elif window.expired(now):
            why = f"its send window ended ({window.describe()})"
            self.store.move_message(record.message_id, ("queued",), "expired", at, why)
            report.expired += 1
            report.problems.append(f"{record.message_id}: expired: {why}")
        elif why := stop_reason(self.store, record):
            self.store.move_message(record.message_id, ("queued",), "cancelled", at, why)
            report.cancelled += 1
            report.problems.append(f"{record.message_id}: cancelled: {why}")
        elif not window.is_open(now):
            report.wait_for(window.next_open(now))
        else:
            return True
        return False

    def count_after_stop(self, record: MessageRecord, now: datetime) -> None:
        """Count a message the stopped send leaves queued, changing nothing: due (not reached)
        or waiting; one whose window ended is left for the next send to expire."""
        window = SendWindow.from_json(record.window_json)
        if not self.sealed(record):
            self.report.wait_for(None)
        elif window.is_open(now):
            self.report.not_reached += 1
        elif not window.expired(now):
            self.report.wait_for(window.next_open(now))

    def deliver(self, record: MessageRecord, now: datetime) -> None:
        """Send one due message: `queued -> sending` committed first, then the transaction."""
        report, at, message_id = self.report, _stamp(now), record.message_id
        data, problem = file_problem(record)
        if problem:
            self.store.move_message(message_id, ("queued",), "failed", at, problem)
            report.failed += 1
            report.problems.append(f"{message_id}: failed: {problem}")
            return
        if not self.opened:  # connect only when something is to go; nothing is marked yet
            try:
                self.stack.enter_context(self.transport)
            except TransportError as exc:
                report.not_reached += 1  # still queued, untouched
                raise _Stop(str(exc)) from None
            self.opened = True
        if not self.store.move_message(message_id, ("queued",), "sending", at):
            return  # moved by someone else meanwhile (a settle, an import): not ours to send
        try:
            self.transport.send(with_date(data, now), self.envelope_from, record.recipient)
        except TransientError as exc:
            self._back(message_id, "queued", at, str(exc), "deferred, still queued")
            report.deferred += 1
        except PermanentError as exc:
            report.failed += 1
            if not exc.about_recipient:  # about the message or the server: the address stays
                self._back(message_id, "failed", at, str(exc), "failed, refused by the server")
                return
            self._back(message_id, "failed", at, str(exc), "failed, the address was refused")
            event = ContactEvent(
                record.customer_id, EMAIL, record.recipient, "bounced", at, message_id, str(exc)
            )
            self.store.add_contact_event(event, at)
        except UnknownOutcome as exc:
            self._back(message_id, "delivery_unknown", at, str(exc), "delivery unknown")
            report.delivery_unknown += 1
            raise _Stop(str(exc)) from None
        except TransportError as exc:  # nothing went: it may go again as it is
            self._back(message_id, "queued", at, str(exc), "not sent, still queued")
            report.not_reached += 1
            raise _Stop(str(exc)) from None
        except BaseException:  # Ctrl-C, SIGTERM, a bug: the transaction may have gone through
            self.store.move_message(
                message_id, ("sending",), "delivery_unknown", at, "interrupted", CHECK_THE_SERVER
            )
            raise
        else:
            with signals_held() as caught:  # the send went: record it before any stop
                self.store.move_message(message_id, ("sending",), "sent", at)
                report.sent += 1
            if caught:
                raise KeyboardInterrupt

    def _back(self, message_id: str, to: str, at: str, error: str, what: str) -> None:
        note = CHECK_THE_SERVER if to == "delivery_unknown" else ""
        self.store.move_message(message_id, ("sending",), to, at, scrub(error), note)
        self.report.problems.append(f"{message_id}: {what}: {scrub(error)}")


def deliver_due(
    store: SendStore,
    transport: Transport,
    now: Callable[[], datetime],
    envelope_from: str,
    limit: int | None = None,
) -> SendReport:
    """Send every queued message of a sealed batch whose window is open (at most `limit`), in
    id order.

    `now` is the clock (aware datetimes), read for each message so a long send never goes past
    a window's end. Expired windows expire, opt-outs and bounces cancel, changed files fail; a
    transport that fails stops the send with the rest still queued (`report.failure`), the due
    ones counted not reached. The caller holds the send lock; `KeyboardInterrupt` is re-raised
    once the state is recorded.
    """
    with contextlib.ExitStack() as stack:
        delivery = _Delivery(store, transport, envelope_from, stack)
        report = delivery.report
        mark_unfinished(store, _stamp(_aware(now())), report)
        attempts, stopped = 0, False
        for record in store.messages(("queued",)):
            moment = _aware(now())
            if stopped:
                delivery.count_after_stop(record, moment)
                continue
            if not delivery.consider(record, moment):
                continue
            if limit is not None and attempts >= limit:
                report.not_reached += 1  # due, but over the limit: the next send takes it
                continue
            attempts += 1
            try:
                delivery.deliver(record, moment)
            except _Stop as stop:
                report.failure, stopped = str(stop) or "the transport stopped the send", True
    return report


def settle_unknown(
    store: ChannelStore, message_id: str, outcome: str, by: str, note: str, at: str
) -> MessageRecord:
    """A person's verdict on a `delivery_unknown` message, from the mail server's log: `sent`
    (it arrived) or `resend` (it did not: queued again). Returns the message as it now is."""
    target = OUTCOMES.get(outcome)
    if target is None:
        raise UsageError(f"--outcome: sent or resend, not {outcome!r}")
    if not by.strip():
        raise UsageError("--by: say who settles the message (it is recorded)")
    record = store.message(message_id)
    if record is None:
        raise UsageError(f"{message_id}: no such message")
    if record.status != "delivery_unknown":
        raise UsageError(
            f"{message_id}: is {record.status}, not delivery_unknown: nothing to settle"
        )
    why = f"settled as {outcome} by {by.strip()} at {at}"
    if note.strip():
        why += f": {note.strip()}"
    if not store.move_message(message_id, ("delivery_unknown",), target, at, "", why):
        raise UsageError(f"{message_id}: changed meanwhile; look again")
    settled = store.message(message_id)
    assert settled is not None
    return settled
