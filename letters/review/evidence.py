"""Reviewers' decisions as evidence for the next run.

Each held debtor's latest decision counts: an accepted or entered address becomes a report from
source `reviewer` (status `verified_by_reviewer`, dated the run date the reviewer decided on), which
the address engine selects until newer evidence contradicts it; `not_mailable` stops every letter
to the debtor until a source reports an address after that date.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from addresses.records import SourceRecord
from letters.intake.request import NotMailable, RunRequest
from letters.state.protocol import StateStore
from letters.state.records import ReviewDecisionRecord

REVIEWER_SOURCE = "reviewer"
REVIEWER_STATUS = "verified_by_reviewer"


def _latest(store: StateStore) -> dict[str, ReviewDecisionRecord]:
    latest: dict[str, ReviewDecisionRecord] = {}
    for decision in store.review_decisions():
        if decision.kind != "leave":
            latest[decision.customer_id] = decision
    return latest


def reviewer_records(store: StateStore) -> list[SourceRecord]:
    """Each debtor's latest accepted or entered address, as an address report."""
    return [
        SourceRecord.of_address(
            d.customer_id,
            REVIEWER_SOURCE,
            d.address,
            date.fromisoformat(d.effective_on),
            REVIEWER_STATUS,
            ("review", d.decision_id),
        )
        for d in _latest(store).values()
        if d.kind in ("accept", "address") and d.address is not None
    ]


def not_mailable(store: StateStore) -> tuple[NotMailable, ...]:
    """The debtors whose latest decision is `not_mailable`."""
    return tuple(
        NotMailable(
            d.customer_id,
            date.fromisoformat(d.effective_on),
            f"{d.reason}: decided by {d.reviewer} on {d.decided_at[:10]} (review:{d.decision_id})",
        )
        for d in _latest(store).values()
        if d.kind == "not_mailable"
    )


def with_review_evidence(request: RunRequest, store: StateStore) -> RunRequest:
    """The request with the reviewers' decisions added: their addresses to the extra address
    records, and the debtors marked not mailable."""
    return replace(
        request,
        extra_records=(*request.extra_records, *reviewer_records(store)),
        not_mailable=not_mailable(store),
    )
