"""`StateStore`: everything the pipeline and the CLI ask of the state.

`SqliteStore` is its one implementation today; a server database is added by writing one class
that satisfies this protocol and returning it from `letters.state.open_store`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from addresses.model import PostalAddress
from letters.model import ContactPoint, History
from letters.state.approvals import ApprovalRecord
from letters.state.records import (
    AddressEvidence,
    ArchivedLetter,
    BatchRecord,
    ContactEvent,
    DecisionRecord,
    HeldLetter,
    LetterDetails,
    LetterFacts,
    LetterRecord,
    MessageRecord,
    QueueRecord,
    ReviewDecisionRecord,
    TimelineEntry,
    TrackingEvent,
)


class ChannelStore(Protocol):
    """The state's part for channels besides the letter: contact points, messages and their
    events (`letters.state.messages` in SQLite)."""

    def record_contacts(self, points: Iterable[ContactPoint], batch_id: str, at: str) -> int:
        """Keep contact points as evidence (a row seen before adds nothing); how many are new."""
        ...

    def contact_points(self, customer_id: str) -> list[ContactPoint]:
        """Every contact point recorded for a debtor, oldest first."""
        ...

    def reserve_message(self, record: MessageRecord) -> MessageRecord:
        """Record a message `pending`, or return the live one its key already has."""
        ...

    def queue_message(self, message_id: str, eml_path: str, eml_sha256: str, at: str) -> None:
        """A pending message's file is written: it waits for its window."""
        ...

    def move_message(
        self,
        message_id: str,
        from_statuses: Sequence[str],
        to_status: str,
        at: str,
        error: str = "",
        note: str = "",
    ) -> bool:
        """Compare and set a message's status (one transaction); False when it was in none of
        `from_statuses`. `sending` counts an attempt; `sent` records `at`."""
        ...

    def message(self, message_id: str) -> MessageRecord | None:
        """One message by its id."""
        ...

    def message_by_rfc_id(self, rfc_message_id: str) -> MessageRecord | None:
        """One message by its Message-ID header."""
        ...

    def messages(
        self,
        statuses: Sequence[str] = (),
        batch_id: str | None = None,
        customer_id: str | None = None,
    ) -> list[MessageRecord]:
        """Messages in these statuses (all when empty), of one batch or debtor, in id order."""
        ...

    def add_contact_event(self, event: ContactEvent, imported_at: str) -> bool:
        """Record an event once; False when the same event was recorded before."""
        ...

    def contact_events(self, customer_id: str | None = None) -> list[ContactEvent]:
        """Events of one debtor (or all), oldest first."""
        ...


class StateStore(ChannelStore, Protocol):
    """What the pipeline and the CLI need from the state; every write is its own transaction."""

    # batches
    def begin_batch(self, batch: BatchRecord) -> None:
        """Record a batch as running (or running again, on resume)."""
        ...

    def finish_batch(
        self, batch_id: str, status: str, finished_at: str, counts: dict[str, Any]
    ) -> None:
        """Mark a batch complete, interrupted or failed, with its counts."""
        ...

    def batch(self, batch_id: str) -> BatchRecord | None:
        """One batch, or None."""
        ...

    def batches(self) -> list[BatchRecord]:
        """Every batch, newest first."""
        ...

    # letters
    def letter(self, letter_key: str) -> LetterRecord | None:
        """The letter recorded under a key, or None."""
        ...

    def letter_by_piece(self, piece_id: str) -> LetterRecord | None:
        """The letter with a piece id, or None."""
        ...

    def letter_by_article(self, article_number: str) -> LetterRecord | None:
        """The letter with an article number, or None."""
        ...

    def letters_of_batch(self, batch_id: str) -> list[LetterRecord]:
        """Every letter recorded in a batch, by piece id."""
        ...

    def letter_details(self, piece_id: str) -> LetterDetails | None:
        """What else the state knows of a piece (article number, mail date, kind, address)."""
        ...

    def reserve_letter(
        self,
        record: LetterRecord,
        account_ids: Sequence[str],
        created_at: str,
        facts: LetterFacts,
        sequence: int = 0,
    ) -> None:
        """Record a letter as pending before its PDF is written; its key must be new."""
        ...

    def last_piece_number(self, batch_id: str) -> int:
        """The highest piece number a batch has handed out (0 for none)."""
        ...

    def complete_letter(self, piece_id: str, pdf_path: str, pdf_sha256: str, pages: int) -> None:
        """Mark a pending letter rendered, once its PDF is in place under its real name."""
        ...

    def drop_pending(self, piece_id: str) -> None:
        """Forget a pending letter that will not be released (it failed its checks)."""
        ...

    def release_letter(self, letter_key: str) -> None:
        """Forget a letter's key so it may be produced again (only `--force` does this)."""
        ...

    def history(self, customer_id: str, exclude_batch_id: str) -> History:
        """What earlier batches sent this debtor: keys, last mail date, a validation notice, and
        every earlier letter (`History.earlier`: date, stage, kind, role, cycle, channel)."""
        ...

    def record_force(
        self, batch_id: str, piece_id: str, letter_key: str, operator: str, reason: str, at: str
    ) -> None:
        """Keep a record of who forced which piece to be produced again, and why."""
        ...

    def record_decisions(self, batch_id: str, decisions: Iterable[DecisionRecord]) -> None:
        """Store every account's outcome in a batch, replacing what the batch stored before."""
        ...

    # whole batches: closed, sealed, rebuilt
    def archived_letters(self, batch_id: str) -> Iterator[ArchivedLetter]:
        """Every rendered letter of a batch with all the state holds of it, by piece id, read a
        page at a time (the caller may write to the state between two letters)."""
        ...

    def decisions_of(self, batch_id: str) -> list[DecisionRecord]:
        """The account outcomes a batch stored (none if it never reached its end)."""
        ...

    def release_pending(self, batch_id: str) -> list[str]:
        """Forget a batch's letters that never rendered; say which pieces they were."""
        ...

    def restore_batch(self, batch: BatchRecord) -> bool:
        """Record a sealed batch read back from its folder; False if the state has it already."""
        ...

    def restore_letter(self, archived: ArchivedLetter) -> bool:
        """Record a sealed letter as rendered, its numbers as used; False if known already."""
        ...

    # postal numbers
    def load_pool(self, pool: str, numbers: Sequence[str]) -> int:
        """Add numbers to a pool in the given order and say how many were new."""
        ...

    def assign_article(
        self,
        piece_id: str,
        pool: str,
        make: Callable[[int], str] | None,
        first: int,
        last: int,
        at: str,
    ) -> str:
        """The piece's article number: the one it has, else the next unused one of the pool."""
        ...

    def assign_imb_serial(self, piece_id: str, name: str, modulus: int) -> int:
        """The piece's Intelligent Mail serial: the one it has, else the next of the counter."""
        ...

    # tracking and evidence
    def events_of(self, piece_id: str) -> list[TrackingEvent]:
        """The events of a piece, oldest first."""
        ...

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
        ...

    def add_evidence(
        self, customer_id: str, address: PostalAddress, observed_at: str, status: str, ref: str
    ) -> bool:
        """Record returned mail against an address once (keyed by `ref`)."""
        ...

    def evidence(self) -> list[AddressEvidence]:
        """Every returned-mail record, in the order it was recorded."""
        ...

    def customer_of(self, identifier: str) -> str | None:
        """The customer_id a customer or account id belongs to, from letters and decisions."""
        ...

    def timeline(self, customer_id: str) -> list[TimelineEntry]:
        """Every letter, decision, event and address evidence for a debtor, newest first."""
        ...

    # template approvals
    def add_approval(
        self, approved_at: str, approved_by: str, note: str, files: dict[str, str]
    ) -> ApprovalRecord:
        """Record an approval of these file hashes (name -> SHA-256); it becomes the latest."""
        ...

    def latest_approval(self) -> ApprovalRecord | None:
        """The newest approval, or None when templates were never approved."""
        ...

    # payment references
    def payment_reference(self, account_id: str, at: str) -> str:
        """The account's registered payment reference; on first use, register its first
        candidate (`letters.model.reference_candidate`) that no other account holds, in one
        transaction. Unique per account, and the same forever after."""
        ...

    def payment_references(self, account_ids: Iterable[str], at: str) -> dict[str, str]:
        """`payment_reference` for many accounts (account id -> reference), in one transaction."""
        ...

    def lookup_payment_references(self, account_ids: Iterable[str]) -> dict[str, str]:
        """What `payment_references` would give each account, writing nothing (the dry run):
        the registered reference, else the first candidate no other account holds."""
        ...

    def restore_payment_references(self, references: Mapping[str, str], at: str) -> int:
        """Register references read back from a sealed batch (account id -> reference); say how
        many were new. An account or reference the state holds already keeps its own."""
        ...

    # the review queue
    def update_review_queue(
        self, held: Sequence[QueueRecord], cleared: Iterable[str], at: str
    ) -> None:
        """Put the debtors a run held for their address into the queue (a `decided` entry opens
        again, from the entry's `opened_on`) and take out `cleared`, those it no longer holds."""
        ...

    def review_queue(self, include_decided: bool = False) -> list[QueueRecord]:
        """The open queue (or every entry), oldest first: by the date first held."""
        ...

    def review_entry(self, customer_id: str) -> QueueRecord | None:
        """One debtor's queue entry, open or decided."""
        ...

    def add_review_decision(self, record: ReviewDecisionRecord, fingerprint: str) -> bool:
        """Record a decision once by `fingerprint` (False when recorded before); any decision
        but `leave` marks the queue entry `decided`. One transaction."""
        ...

    def review_decisions(self, customer_id: str | None = None) -> list[ReviewDecisionRecord]:
        """Every decision, or one debtor's, oldest first."""
        ...

    # lint-held letters
    def hold_letter(self, held: HeldLetter) -> None:
        """Record a letter the lint held, with its PDF and manifest rows (once)."""
        ...

    def held_letters(self, statuses: Sequence[str] = ("held",)) -> list[HeldLetter]:
        """The held letters in these statuses, oldest first."""
        ...

    def held_letter(self, piece_id: str) -> HeldLetter | None:
        """One held letter, in any status."""
        ...

    def decide_held_letter(self, piece_id: str, status: str, by: str, at: str, note: str) -> bool:
        """Set a held (or released, not yet mailed) letter `released` or `voided`, with who,
        when and why; False when it is not waiting."""
        ...

    def mail_held_letter(self, held: HeldLetter, batch_id: str, pdf_path: str, at: str) -> bool:
        """Record a released letter rendered in `batch_id` and mark it mailed, in one
        transaction; False (and the letter voided) when a letter with its key went since."""
        ...

    def close(self) -> None:
        """Let go of the database."""
        ...
