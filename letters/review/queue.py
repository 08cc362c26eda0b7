"""The review queue and a reviewer's decision: the one function every way in calls.

A run holds a debtor whose address is doubtful (`address_review`) or unknown (`no_address`) and
puts them in the queue with the engine's candidates (`record_held`). A reviewer then decides, from
the command line, a filled-in `review.csv` or the review page, always through `decide`:

- `accept` candidate N, or enter a corrected `address` (standardized and checked like any other):
  the next run mails it, with source `reviewer`;
- `not_mailable`, with a reason: the next run sends nothing (`not_mailable`) until newer evidence;
- `leave`: a note; the debtor stays in the queue.

Each decision is recorded once, with who, when, how and why. The latest decision of a debtor is
the one that counts; deciding again before the next run replaces it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from addresses.hygiene import clean_text
from addresses.model import AddressChoice, PostalAddress
from addresses.standardize import standardize
from letters.errors import UsageError
from letters.model import Account
from letters.review.codec import (
    CandidateView,
    accounts_from_json,
    accounts_json,
    candidates_from_json,
    candidates_json,
)
from letters.state.protocol import StateStore
from letters.state.records import QueueRecord, ReviewDecisionRecord

KINDS = ("accept", "address", "not_mailable", "leave")
NOT_MAILABLE_REASONS = {
    "wrong_person": "the addresses on file belong to someone else",
    "deceased": "the debtor has died (the estate is written to through the accounts file)",
    "no_address": "no address could be found",
    "refused": "the debtor refuses mail at every known address",
    "other": "another reason, given in the note",
}
MAX_TEXT = 500
COLUMNS = {"address": "corrected_address"}  # a request field -> its review.csv column


class ReviewError(UsageError):
    """A decision that cannot be taken; the message says why, in one line. `field_name`: the
    `review.csv` column at fault."""

    def __init__(self, message: str, field_name: str = "decision") -> None:
        super().__init__(message)
        self.field_name = field_name


@dataclass(frozen=True, slots=True)
class DecisionRequest:
    """What a reviewer decided about one debtor, from any way in."""

    customer_id: str
    kind: str
    reviewer: str
    candidate: int | None = None  # for `accept`
    address: str = ""  # for `address`: one line, e.g. `123 N Main St Apt 4, Chicago, IL 60614`
    reason: str = ""  # for `not_mailable`: one of NOT_MAILABLE_REASONS
    note: str = ""
    via: str = "cli"


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """A held debtor as a reviewer reads them: reasons, candidates, accounts, decisions."""

    entry: QueueRecord
    candidates: tuple[CandidateView, ...]
    accounts: tuple[Account, ...]
    decisions: tuple[ReviewDecisionRecord, ...]

    @property
    def customer_id(self) -> str:
        """The debtor's customer id."""
        return self.entry.customer_id


@dataclass(frozen=True, slots=True)
class Applied:
    """A decision as recorded, and whether recording it changed anything."""

    decision: ReviewDecisionRecord
    changed: bool


def record_held(
    store: StateStore,
    batch: tuple[str, str, str],
    held: Sequence[AddressChoice],
    accounts: dict[str, list[Account]],
) -> None:
    """Put the debtors a run held for their address into the queue and take out the run's other
    debtors. `batch`: the batch id, the run date and the time it is recorded."""
    batch_id, as_of, at = batch
    records = [
        QueueRecord(
            customer_id=choice.customer_id,
            status="open",
            first_held=as_of,
            opened_on=as_of,
            batch_id=batch_id,
            as_of=as_of,
            reasons=" | ".join(choice.reasons),
            choice_json=candidates_json(choice),
            accounts_json=accounts_json(accounts.get(choice.customer_id, [])),
        )
        for choice in held
    ]
    held_ids = {choice.customer_id for choice in held}
    store.update_review_queue(records, [c for c in accounts if c not in held_ids], at)


def accounts_by_customer(accounts: Iterable[Account]) -> dict[str, list[Account]]:
    """Accounts grouped by their debtor, in input order."""
    groups: dict[str, list[Account]] = {}
    for account in accounts:
        groups.setdefault(account.customer_id, []).append(account)
    return groups


def _item(store: StateStore, entry: QueueRecord) -> ReviewItem:
    return ReviewItem(
        entry,
        candidates_from_json(entry.choice_json),
        accounts_from_json(entry.accounts_json),
        tuple(store.review_decisions(entry.customer_id)),
    )


def list_queue(store: StateStore, include_decided: bool = False) -> list[ReviewItem]:
    """The debtors waiting for a reviewer, oldest first (with `include_decided`, also those a
    reviewer decided that the next run has not acted on yet)."""
    return [_item(store, entry) for entry in store.review_queue(include_decided)]


def review_item(store: StateStore, customer_id: str) -> ReviewItem:
    """One held debtor; a `ReviewError` when they are not in the queue."""
    entry = store.review_entry(customer_id)
    if entry is None:
        raise ReviewError(f"{customer_id}: not in the review queue")
    return _item(store, entry)


def clean_field(value: str, what: str, required: bool) -> str:
    """A reviewer's free text on one line, checked (no control characters, at most MAX_TEXT)."""
    try:
        text = " ".join(clean_text(value, what).split())
    except ValueError as exc:
        raise ReviewError(f"{what}: {exc}", COLUMNS.get(what, what)) from None
    if required and not text:
        raise ReviewError(f"{what}: required", COLUMNS.get(what, what))
    if len(text) > MAX_TEXT:
        raise ReviewError(f"{what}: longer than {MAX_TEXT} characters", COLUMNS.get(what, what))
    return text


def _address(request: DecisionRequest, item: ReviewItem) -> tuple[int | None, PostalAddress | None]:
    """The candidate rank and address a decision names, checked."""
    if request.kind == "accept":
        found = next((c for c in item.candidates if c.rank == request.candidate), None)
        if found is None:
            ranks = ", ".join(str(c.rank) for c in item.candidates) or "none"
            raise ReviewError(
                f"candidate {request.candidate}: no such candidate (have: {ranks})", "candidate"
            )
        if found.invalid:
            raise ReviewError(
                f"candidate {found.rank} fails a hard check ({'; '.join(found.failed_checks)});"
                " enter a corrected address instead",
                "candidate",
            )
        return found.rank, found.address
    if request.kind == "address":
        text = clean_field(request.address, "address", required=True)
        form = standardize(text)
        if form.hard_failures:
            failed = "; ".join(f"{c.name}: {c.detail}" for c in form.hard_failures)
            raise ReviewError(f"address: not a deliverable address ({failed})", "corrected_address")
        return None, form.postal_address()
    return None, None


def _fingerprint(record: ReviewDecisionRecord, with_round: bool) -> str:
    # an accepted candidate is named by its rank (all a `review.csv` row or a button names)
    named = record.candidate if record.kind == "accept" else record.address
    address = list(named.fields()) if isinstance(named, PostalAddress) else named
    parts = [record.customer_id, record.kind, address, record.reason, record.reviewer, record.note]
    if with_round:
        parts.append(record.opened_on)
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _same(decisions: Iterable[ReviewDecisionRecord], record: ReviewDecisionRecord) -> bool:
    wanted = _fingerprint(record, with_round=False)
    return any(_fingerprint(d, with_round=False) == wanted for d in decisions)


def _bare(request: DecisionRequest, reviewer: str, note: str, reason: str) -> ReviewDecisionRecord:
    """A decision with no queue entry to check it against: compared with recorded ones only
    by kind, reason, reviewer and note (its address was checked when it was recorded)."""
    address = None
    if request.kind == "address":
        form = standardize(clean_field(request.address, "address", required=True))
        address = form.postal_address()
    return ReviewDecisionRecord(0, request.customer_id, "", request.kind, request.candidate,
                                address, reason, reviewer, note, request.via, "", "")  # fmt: skip


def decide(store: StateStore, request: DecisionRequest, now: datetime) -> Applied:
    """Record a reviewer's decision about a held debtor, once: the same decision again (the same
    `review.csv` imported twice) changes nothing. Raises `ReviewError` saying why not."""
    if request.kind not in KINDS:
        raise ReviewError(f"decision: {request.kind!r} is not one of {', '.join(KINDS)}")
    reviewer = clean_field(request.reviewer, "reviewer", required=True)
    note = clean_field(request.note, "note", required=request.reason == "other")
    reason = request.reason if request.kind == "not_mailable" else ""
    if request.kind == "not_mailable" and reason not in NOT_MAILABLE_REASONS:
        raise ReviewError(
            f"not mailable: the reason must be one of {', '.join(NOT_MAILABLE_REASONS)}", "reason"
        )
    entry = store.review_entry(request.customer_id)
    earlier = store.review_decisions(request.customer_id)
    if entry is None:
        if earlier and _same(earlier, _bare(request, reviewer, note, reason)):
            return Applied(earlier[-1], changed=False)  # decided so, and acted on since
        if earlier:
            latest = earlier[-1]
            raise ReviewError(
                f"{request.customer_id}: not in the review queue (last decided on"
                f" {latest.decided_at} by {latest.reviewer}: {latest.kind})",
                "customer_id",
            )
        raise ReviewError(f"{request.customer_id}: not in the review queue", "customer_id")
    item = _item(store, entry)
    candidate, address = _address(request, item)
    record = ReviewDecisionRecord(
        decision_id=0,
        customer_id=request.customer_id,
        opened_on=entry.opened_on,
        kind=request.kind,
        candidate=candidate,
        address=address,
        reason=reason,
        reviewer=reviewer,
        note=note,
        via=request.via,
        decided_at=now.isoformat(timespec="seconds"),
        effective_on=entry.as_of,
    )
    this_round = [d for d in earlier if d.opened_on == entry.opened_on]
    if this_round and _same(this_round[-1:], record):
        return Applied(this_round[-1], changed=False)
    store.add_review_decision(record, _fingerprint(record, with_round=True) + f":{len(earlier)}")
    return Applied(store.review_decisions(request.customer_id)[-1], changed=True)
