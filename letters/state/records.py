"""What the state holds, as typed records, and the errors it raises.

These are the values every `StateStore` takes and returns, whatever database is behind it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from addresses.model import PostalAddress
from letters.errors import ExitCode, LettersError


class PoolExhausted(LettersError):
    """No unused article number is left in a pool."""

    exit_code = ExitCode.FATAL


class LockedError(LettersError):
    """Another run holds the lock on the state."""

    exit_code = ExitCode.LOCKED


class StateError(LettersError):
    """The state cannot be opened or does not hold what was asked for."""

    exit_code = ExitCode.USAGE


@dataclass(frozen=True, slots=True)
class LetterRecord:
    """One letter as the state knows it."""

    letter_key: str
    piece_id: str
    batch_id: str
    customer_id: str
    stage: str
    cycle: str
    status: str
    pdf_path: str | None
    pdf_sha256: str | None
    pages: int | None


@dataclass(frozen=True, slots=True)
class LetterFacts:
    """What later decisions need to know of a letter."""

    mail_date: str
    kind: str
    recipient_role: str
    address: PostalAddress | None = None


@dataclass(frozen=True, slots=True)
class LetterDetails:
    """What else the state knows of a piece beyond its `LetterRecord`."""

    article_number: str
    mail_date: str
    kind: str
    recipient_role: str
    address: PostalAddress | None


@dataclass(frozen=True, slots=True)
class BatchRecord:
    """One batch as the state knows it."""

    batch_id: str
    as_of: str
    started_at: str
    finished_at: str | None
    status: str
    batch_dir: str
    request: dict[str, Any]
    pid: int | None
    host: str | None
    counts: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """One account's outcome in a batch, as the state keeps it."""

    account_id: str
    customer_id: str
    status: str
    reason_code: str
    reason_detail: str
    stage: str
    piece_id: str


@dataclass(frozen=True, slots=True)
class TrackingEvent:
    """One tracking or return event of a piece."""

    event: str
    occurred_at: str
    detail: str


@dataclass(frozen=True, slots=True)
class AddressEvidence:
    """Returned mail recorded against the address a piece was sent to."""

    evidence_id: int
    customer_id: str
    address: PostalAddress
    observed_at: str
    status: str


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One line of a debtor's history: a letter, a decision, an event or address evidence."""

    when: str
    what: str
    detail: str


@dataclass(frozen=True, slots=True)
class ArchivedLetter:
    """Everything the state holds of one rendered letter: what a closed batch's manifest is
    written from, what a sealed batch keeps (`letters.jsonl`) and a rebuilt state restores."""

    letter: LetterRecord
    account_ids: tuple[str, ...]
    details: LetterDetails
    created_at: str
    article_pool: str | None = None  # where its article number came from, and its place there
    article_ordinal: int | None = None
    imb_serial: int | None = None
    imb_counter: str | None = None  # the counter its IMb serial came from (`imb:<mailer id>`)


@dataclass(frozen=True, slots=True)
class QueueRecord:
    """A debtor held for their address, as the last run that held them left them for review."""

    customer_id: str
    status: str  # `open` (waiting for a reviewer) or `decided` (the next run acts on it)
    first_held: str  # the run date (`--as-of`) that first held the debtor
    opened_on: str  # the run date that put them (back) in the queue
    batch_id: str  # the last batch that held them
    as_of: str
    reasons: str
    choice_json: str  # the engine's choice: candidates with their factors and checks
    accounts_json: str  # the debtor's accounts, for the letter that would go


@dataclass(frozen=True, slots=True)
class ReviewDecisionRecord:
    """A reviewer's decision about a held debtor: who, when, why, and what."""

    decision_id: int
    customer_id: str
    opened_on: str  # the queue round it decided
    kind: str  # `accept`, `address`, `not_mailable` or `leave`
    candidate: int | None  # the accepted candidate's rank
    address: PostalAddress | None  # the accepted or entered address
    reason: str  # why not mailable
    reviewer: str
    note: str
    via: str  # `cli`, `csv` or `page`
    decided_at: str
    effective_on: str  # the run date of the evidence the reviewer saw: newer evidence overrides


@dataclass(frozen=True, slots=True)
class HeldLetter:
    """A letter the lint held: its PDF in the batch's `held/` folder, waiting for a reviewer to
    release it (it goes into the next batch as it is) or void it."""

    piece_id: str
    batch_id: str
    customer_id: str
    letter_key: str
    stage: str
    cycle: str
    reason: str  # `lint:<rule>: what failed`
    pdf_path: str  # absolute
    pdf_sha256: str
    pages: int
    facts: LetterFacts
    rows_json: str  # its manifest rows as held, with their input lines
    held_at: str
    status: str = "held"  # `held`, `released` (by a reviewer), `voided`, `mailed` (in a batch)
    decided_by: str = ""
    decided_at: str = ""
    note: str = ""
    released_batch: str = ""  # the batch that mailed it


# A message's life: pending (reserved by a run), queued (rendered, waiting for its window),
# sending (the SMTP transaction has begun), then sent, or delivery_unknown (a send stopped inside
# the transaction: never sent again blindly), failed (refused for good), expired (its window
# passed) or cancelled (an opt-out or a bounce came before it went).
MESSAGE_STATUSES = (
    "pending",
    "queued",
    "sending",
    "sent",
    "delivery_unknown",
    "failed",
    "expired",
    "cancelled",
)
ENDED_UNSENT = ("failed", "expired", "cancelled")  # a later run may decide the stage again


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """One e-mail as the state knows it."""

    message_id: str  # `<batch>-E000001`
    message_key: str  # `customer|stage|cycle|email`
    batch_id: str
    customer_id: str
    channel: str
    stage: str
    kind: str
    recipient: str
    rfc_message_id: str  # the Message-ID header, `<...@domain>`, fixed when it is rendered
    status: str
    window_json: str  # the send window (`letters.send.window.SendWindow.to_json`)
    eml_path: str = ""
    eml_sha256: str = ""
    attempts: int = 0
    last_error: str = ""
    created_at: str = ""
    queued_at: str = ""
    sent_at: str = ""
    note: str = ""  # who settled a delivery_unknown message, and why


@dataclass(frozen=True, slots=True)
class ContactEvent:
    """Something that happened to a contact point: delivered, bounced, complained, opted_out,
    replied (and `stop` replies). Bounces and opt-outs stop the channel to that address."""

    customer_id: str
    channel: str
    value: str
    event: str
    occurred_at: str
    message_id: str = ""
    detail: str = ""
