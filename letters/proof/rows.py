"""Manifest and review rows: one row per account of the input, saying what became of it and why."""

from __future__ import annotations

from collections.abc import Mapping

from addresses.csvio import Reject
from addresses.model import AddressChoice
from addresses.score import Candidate
from letters.decide.plan import Plan
from letters.model import Decision, LetterSpec, Status
from letters.proof.manifest import ManifestRow

Numbered = tuple[int, ManifestRow]  # (input line, row): manifests keep the accounts file's order


REVIEWER_FILLS = ("", "", "", "", "")  # decision, corrected_address, reviewer, note, reason


def review_rows(choice: AddressChoice) -> list[list[str]]:
    """The review.csv lines for one held debtor: each candidate with its score factors."""
    head = [choice.customer_id, choice.status.value, " | ".join(choice.reasons)]
    if not choice.candidates:
        return [[*head, "", "", "", "", "", "", "", "", "", "", "", *REVIEWER_FILLS]]
    rows = []
    for rank, candidate in enumerate(choice.candidates, start=1):
        assert isinstance(candidate, Candidate)
        form = candidate.standardized
        factors = "; ".join(
            f"{f.name} {f.contribution:+.3f} ({f.detail})" for f in candidate.factors
        )
        failed = "; ".join(f"{c.name}: {c.detail}" for c in form.checks if c.passed is False)
        rows.append(
            [
                *head,
                str(rank),
                f"{candidate.confidence:.3f}",
                form.line1,
                form.line2,
                form.city,
                form.state,
                form.zip,
                form.country,
                ";".join(candidate.sources),
                factors,
                failed,
                *REVIEWER_FILLS,
            ]
        )
    return rows


def manifest_row(
    batch_id: str,
    decision: Decision,
    letter: LetterSpec | None,
    record: dict[str, str],
    choice: AddressChoice | None,
    reference: str,
) -> ManifestRow:
    """One account's manifest row; the address and letter columns only for a generated letter.
    `reference` is the account's registered payment reference."""
    recipient = letter.recipient if letter and decision.status is Status.GENERATED else None
    address = recipient.address if recipient else None
    stage = decision.stage
    confidence = recipient.confidence if recipient else (choice.confidence if choice else None)
    sources = recipient.sources if recipient else (choice.sources if choice else ())
    return ManifestRow(
        batch_id=batch_id,
        piece_id=record.get("piece_id", ""),
        account_id=decision.account.account_id,
        customer_id=decision.account.customer_id,
        status=decision.status.value,
        reason_code=decision.reason_code,
        reason_detail=decision.reason_detail,
        stage=(letter.stage.name if letter else stage.name) if stage else "",
        template=letter.template if letter else (stage.template if stage else ""),
        recipient_name=recipient.name if recipient else "",
        address_line1=address.line1 if address else "",
        address_line2=address.line2 if address else "",
        city=address.city if address else "",
        state=address.state if address else "",
        zip=address.zip if address else "",
        country=address.country if address else "",
        address_confidence=f"{confidence:.3f}" if confidence is not None else "",
        pdf_path=record.get("pdf_path", ""),
        pdf_sha256=record.get("pdf_sha256", ""),
        pages=record.get("pages", ""),
        amount_due=str(decision.account.balance),
        address_sources=";".join(sources),
        mail_class=letter.mail_class if letter else (stage.mail_class if stage else ""),
        template_version=record.get("template_version", ""),
        mail_date=letter.mail_date.isoformat() if letter else "",
        validation_end_date=(
            letter.validation_end_date.isoformat() if letter and letter.validation_end_date else ""
        ),
        recipient_role=recipient.role if recipient else "",
        language=letter.language if letter else "",
        article_number=record.get("article_number", "") if recipient else "",
        payment_reference=reference,
        template_approval=record.get("template_approval", ""),
    )


def rejected_row(batch_id: str, reject: Reject) -> ManifestRow:
    blank = dict.fromkeys(ManifestRow.__dataclass_fields__, "")
    blank.update(
        batch_id=batch_id,
        account_id=reject.key,
        status=Status.REJECTED.value,
        reason_code="invalid_row",
        reason_detail=reject.message,
    )
    return ManifestRow(**blank)


def manifest_rows_for_letter(
    batch_id: str,
    letter: LetterSpec,
    status: Status,
    reason: tuple[str, str] | None,
    record: dict[str, str],
    references: Mapping[str, str],
) -> list[tuple[int, ManifestRow]]:
    """The (input line, row) of a letter's accounts: generated with its PDF, or held/skipped;
    `references` gives each account's payment reference (account id -> reference)."""
    rows = []
    for d in letter.decisions:
        decision = Decision(
            d.account,
            status,
            *(reason or (d.reason_code, d.reason_detail)),
            d.stage,
            d.days_past_due,
        )
        reference = references[d.account.account_id]
        row = manifest_row(batch_id, decision, letter, record, None, reference)
        rows.append((d.account.line, row))
    return rows


def in_input_order(rows: list[Numbered]) -> list[ManifestRow]:
    """The rows sorted back into the order of the accounts file."""
    return [row for _, row in sorted(rows, key=lambda numbered: numbered[0])]


def plan_account_ids(plan: Plan) -> list[str]:
    """Every account the plan decided (not the rejected rows), in the accounts file's order:
    those whose manifest rows carry a payment reference."""
    decisions = [d for d, _ in plan.settled] + [d for s in plan.letters for d in s.decisions]
    return [d.account.account_id for d in sorted(decisions, key=lambda d: d.account.line)]


def plan_rows(batch_id: str, plan: Plan, references: Mapping[str, str]) -> list[Numbered]:
    """The rows of every account the plan settled without a letter, and of rejected accounts;
    `references` gives each account's payment reference (account id -> reference)."""
    rows = [
        (r.line, rejected_row(batch_id, r))
        for r in plan.rejects
        if r.file_name == plan.accounts_file_name
    ]
    rows += [
        (d.account.line, manifest_row(batch_id, d, None, {}, c, references[d.account.account_id]))
        for d, c in plan.settled
    ]
    return rows


def plan_review_rows(plan: Plan) -> list[list[str]]:
    """review.csv's lines: every candidate of every debtor held for an address."""
    return [line for choice in plan.held_choices for line in review_rows(choice)]
