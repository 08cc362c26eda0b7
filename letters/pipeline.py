"""The nightly run: read accounts and sources, choose addresses, decide, render, record."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from addresses.config import EngineConfig
from addresses.csvio import Reject
from addresses.engine import resolve_all
from addresses.model import AddressChoice, ChoiceStatus
from addresses.records import SourceFileError, SourceRecord, read_sources
from addresses.score import Candidate
from letters.accounts import Account, read_accounts
from letters.decide import Decision, Status, decide_customer
from letters.errors import InputFileError, UsageError
from letters.manifest import (
    ManifestRow,
)
from letters.policy import Policy, Stage
from letters.render import format_money

Notify = Callable[[str], None]
ENDORSEMENTS = {
    "first_class": "",
    "certified": "CERTIFIED MAIL",
    "certified_return_receipt": "CERTIFIED MAIL RETURN RECEIPT REQUESTED",
    "registered": "REGISTERED MAIL",
}


@dataclass(frozen=True, slots=True)
class RunRequest:
    """Everything a run needs, as given on the command line."""

    accounts_path: Path
    source_paths: tuple[Path, ...]
    out_dir: Path
    as_of: date
    policy: Policy
    templates_dir: Path
    address_config: EngineConfig = field(default_factory=EngineConfig)
    jobs: int | None = None
    db_path: Path | None = None  # default: $LETTERS_DB, else letters.db in out_dir
    resume: str | None = None  # a batch id to resume
    force: tuple[str, ...] = ()  # piece ids whose letters may be produced again
    force_reason: str = ""


@dataclass(frozen=True, slots=True)
class LetterPlan:
    """One letter the decisions call for: who, which stage, which accounts, where to."""

    customer_id: str
    letter_key: str
    stage: Stage
    decisions: tuple[Decision, ...]
    choice: AddressChoice


@dataclass(slots=True)
class Plan:
    """Everything decided before anything is rendered."""

    rows: list[tuple[int, ManifestRow]]  # (input line, row) of accounts that get no letter
    letters: list[LetterPlan]
    review: list[list[str]]
    rejects: list[Reject]
    flagged_address_rows: int
    accounts: int
    records: int


def letter_key(customer_id: str, stage: Stage, decisions: Sequence[Decision]) -> str:
    """The letter's identity across runs: debtor, stage and delinquency cycle.

    The cycle is the oldest due date among the letter's accounts: a debtor who pays and falls
    behind again starts a new cycle, and may receive the same stage again.
    """
    cycle = min(d.account.due_date for d in decisions).isoformat()
    return f"{customer_id}|{stage.name}|{cycle}"


def _group_by_customer(accounts: Sequence[Account]) -> dict[str, list[Account]]:
    groups: dict[str, list[Account]] = defaultdict(list)
    for account in accounts:
        groups[account.customer_id].append(account)
    return groups


def resolve_addresses(
    request: RunRequest, records: Sequence[SourceRecord], customer_ids: set[str]
) -> dict[str, AddressChoice]:
    """Choose an address for each debtor of the batch with the address engine."""
    mine = [r for r in records if r.customer_id in customer_ids]
    choices = {
        c.customer_id: c
        for c in resolve_all(mine, request.address_config, request.as_of, request.jobs)
    }
    for customer_id in customer_ids - choices.keys():
        choices[customer_id] = AddressChoice(
            customer_id, ChoiceStatus.NONE, None, 0.0,
            reasons=("no_address: no source reports an address for this debtor",),
        )  # fmt: skip
    return choices


def review_rows(choice: AddressChoice) -> list[list[str]]:
    """The review.csv lines for one held debtor: each candidate with its score factors."""
    head = [choice.customer_id, choice.status.value, " | ".join(choice.reasons)]
    if not choice.candidates:
        return [[*head, "", "", "", "", "", "", "", "", "", "", ""]]
    rows = []
    for rank, candidate in enumerate(choice.candidates, start=1):
        assert isinstance(candidate, Candidate)
        form = candidate.standardized
        factors = "; ".join(
            f"{f.name} {f.contribution:+.3f} ({f.detail})" for f in candidate.factors
        )
        failed = "; ".join(f"{c.name}: {c.detail}" for c in form.checks if c.passed is False)
        rows.append([
            *head, str(rank), f"{candidate.confidence:.3f}", form.line1, form.line2, form.city,
            form.state, form.zip, form.country, ";".join(candidate.sources), factors, failed,
        ])  # fmt: skip
    return rows


def _hold_for_address(decisions: list[Decision], choice: AddressChoice) -> list[Decision]:
    if choice.status is ChoiceStatus.SELECTED:
        return decisions
    code = "no_address" if choice.status is ChoiceStatus.NONE else "address_review"
    detail = " | ".join(choice.reasons) or code
    return [
        Decision(d.account, Status.HELD, code, detail, None, d.days_past_due)
        if d.status is Status.GENERATED
        else d
        for d in decisions
    ]


def letter_context(
    piece_id: str,
    policy: Policy,
    stage: Stage,
    decisions: Sequence[Decision],
    choice: AddressChoice,
    mail_date: date,
) -> dict[str, Any]:
    """The data a template sees for one letter; money already formatted for print."""
    assert choice.address is not None
    accounts = [d.account for d in decisions]
    currency = accounts[0].currency
    total = sum((a.balance for a in accounts), Decimal("0"))

    def money(amount: Decimal) -> str:
        return format_money(amount, currency)

    return {
        "sender": policy.sender,
        "recipient": {"name": accounts[0].full_name, "address_lines": choice.address.lines()},
        "letter": {
            "piece_id": piece_id,
            "reference": piece_id,
            "language": accounts[0].language,
            "mail_date": f"{mail_date:%B} {mail_date.day}, {mail_date.year}",
            "mail_date_iso": mail_date.isoformat(),
            "stage": stage.name,
            "endorsement": ENDORSEMENTS[stage.mail_class],
            "days_past_due": max(d.days_past_due for d in decisions),
        },
        "accounts": [
            {
                "account_last4": a.account_number_last4,
                "creditor": a.creditor,
                "original_creditor": a.original_creditor,
                "due_date": a.due_date.isoformat(),
                "itemization_date": a.itemization_date.isoformat(),
                "amount_at_itemization": money(a.amount_at_itemization),
                "interest_since": money(a.interest_since),
                "fees_since": money(a.fees_since),
                "payments_since": money(a.payments_since),
                "balance": money(a.balance),
                "has_changes": bool(a.interest_since or a.fees_since or a.payments_since),
            }
            for a in accounts
        ],
        "total_due": money(total),
    }


def _manifest_row(
    batch_id: str,
    decision: Decision,
    choice: AddressChoice | None,
    letter: dict[str, str],
) -> ManifestRow:
    address = choice.address if choice and decision.status is Status.GENERATED else None
    stage = decision.stage
    return ManifestRow(
        batch_id=batch_id,
        piece_id=letter.get("piece_id", ""),
        account_id=decision.account.account_id,
        customer_id=decision.account.customer_id,
        status=decision.status.value,
        reason_code=decision.reason_code,
        reason_detail=decision.reason_detail,
        stage=stage.name if stage else "",
        template=stage.template if stage else "",
        recipient_name=decision.account.full_name if address else "",
        address_line1=address.line1 if address else "",
        address_line2=address.line2 if address else "",
        city=address.city if address else "",
        state=address.state if address else "",
        zip=address.zip if address else "",
        country=address.country if address else "",
        address_confidence=f"{choice.confidence:.3f}" if choice else "",
        pdf_path=letter.get("pdf_path", ""),
        pdf_sha256=letter.get("pdf_sha256", ""),
        pages=letter.get("pages", ""),
        amount_due=str(decision.account.balance),
        address_sources=";".join(choice.sources) if choice else "",
        mail_class=stage.mail_class if stage else "",
    )


def _rejected_row(batch_id: str, reject: Reject) -> ManifestRow:
    blank = dict.fromkeys(ManifestRow.__dataclass_fields__, "")
    blank.update(
        batch_id=batch_id,
        account_id=reject.key,
        status=Status.REJECTED.value,
        reason_code="invalid_row",
        reason_detail=reject.message,
    )
    return ManifestRow(**blank)


def load_inputs(request: RunRequest) -> tuple[list[Account], list[SourceRecord], list[Reject]]:
    """Read every input in full; a file-level problem raises before anything is written."""
    for path in (request.accounts_path, *request.source_paths):
        if not path.is_file():
            raise UsageError(f"{path}: no such file")
    accounts_file = read_accounts(request.accounts_path)
    try:
        records, source_rejects = read_sources(list(request.source_paths))
    except SourceFileError as exc:
        raise InputFileError(str(exc)) from None
    return accounts_file.accounts, records, accounts_file.rejects + source_rejects


def plan_batch(
    request: RunRequest,
    batch_id: str,
    inputs: tuple[list[Account], list[SourceRecord], list[Reject]],
    notify: Notify,
) -> Plan:
    """Resolve addresses and decide every account; the letters come out in input order."""
    accounts, records, rejects = inputs
    groups = _group_by_customer(accounts)
    choices = resolve_addresses(request, records, set(groups))
    flagged = sum(len(choice.flagged) for choice in choices.values())
    notify(f"resolved addresses for {len(choices)} debtors; {flagged} address rows failed a check")
    plan = Plan(
        rows=[
            (r.line, _rejected_row(batch_id, r))
            for r in rejects
            if r.file_name == request.accounts_path.name
        ],
        letters=[], review=[], rejects=rejects, flagged_address_rows=flagged,
        accounts=len(accounts), records=len(records),
    )  # fmt: skip
    for customer_id, customer_accounts in groups.items():
        choice = choices[customer_id]
        decisions = _hold_for_address(
            decide_customer(customer_accounts, request.policy, request.as_of), choice
        )
        mailed = [d for d in decisions if d.status is Status.GENERATED]
        if mailed:
            stage = max((d.stage for d in mailed if d.stage), key=lambda s: s.min_days)
            letter_decisions = tuple(
                Decision(d.account, d.status, "letter_due",
                         f"{d.days_past_due} days past due; stage {stage.name}", stage,
                         d.days_past_due)
                for d in mailed
            )  # fmt: skip
            key = letter_key(customer_id, stage, letter_decisions)
            plan.letters.append(LetterPlan(customer_id, key, stage, letter_decisions, choice))
        plan.rows.extend(
            (d.account.line, _manifest_row(batch_id, d, choice, {}))
            for d in decisions
            if d.status is not Status.GENERATED
        )
        if any(d.reason_code in ("address_review", "no_address") for d in decisions):
            plan.review.extend(review_rows(choice))
    return plan


def manifest_rows_for_letter(
    batch_id: str,
    letter: LetterPlan,
    status: Status,
    reason: tuple[str, str],
    record: dict[str, str],
) -> list[tuple[int, ManifestRow]]:
    """The (input line, row) of a letter's accounts: generated with its PDF, or skipped."""
    rows = []
    for d in letter.decisions:
        decision = Decision(d.account, status, reason[0], reason[1], d.stage, d.days_past_due)
        rows.append((d.account.line, _manifest_row(batch_id, decision, letter.choice, record)))
    return rows
