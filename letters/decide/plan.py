"""The nightly run's plan: read inputs, choose addresses, decide, and describe each letter.

Nothing here renders or writes; `letters.ops.batch` carries the plan out under the state lock.
"""

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
from letters.decide.gates import decide_customer
from letters.errors import InputFileError, UsageError
from letters.intake.accounts import read_accounts
from letters.intake.policy import Policy
from letters.model import Account, Decision, History, LetterSpec, Status, format_money
from letters.proof.manifest import ManifestRow
from letters.render.articles import PostalMarks
from letters.render.lint import LintSpec
from letters.render.notices import CFPB_URL, mini_miranda, notices_for

Notify = Callable[[str], None]
HistoryOf = Callable[[str], History]
ENDORSEMENTS = {
    "first_class": "",
    "certified": "CERTIFIED MAIL",
    "certified_return_receipt": "CERTIFIED MAIL RETURN RECEIPT REQUESTED",
    "registered": "REGISTERED MAIL",
}
SPANISH_MONTHS = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
]


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
    policy_path: Path | None = None  # the policy file given (None: the shipped default)
    seal_key: Path | None = None  # HMAC key for the batch seal (else the policy's)
    extra_records: tuple[SourceRecord, ...] = ()  # evidence from the state (returned mail)


@dataclass(slots=True)
class Plan:
    """Everything decided before anything is rendered."""

    rows: list[tuple[int, ManifestRow]]  # (input line, row) of accounts that get no letter
    letters: list[LetterSpec]
    choices: dict[str, AddressChoice]
    review: list[list[str]]
    rejects: list[Reject]
    flagged_address_rows: int


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
            customer_id,
            ChoiceStatus.NONE,
            None,
            0.0,
            reasons=("no_address: no source reports an address for this debtor",),
        )
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
            ]
        )
    return rows


def long_date(day: date, language: str) -> str:
    """`November 20, 2026`, or `20 de noviembre de 2026` in Spanish."""
    if language == "es":
        return f"{day.day} de {SPANISH_MONTHS[day.month - 1]} de {day.year}"
    return f"{day:%B} {day.day}, {day.year}"


@dataclass(frozen=True, slots=True)
class LetterContent:
    """A letter's template data and what its lint must find."""

    context: dict[str, Any]
    lint: LintSpec


def letter_content(
    piece_id: str,
    policy: Policy,
    letter: LetterSpec,
    consumer: AddressChoice,
    marks: PostalMarks | None = None,
) -> LetterContent:
    """The data a template sees for one letter (money formatted for print), and its lint spec."""
    accounts = [d.account for d in letter.decisions]
    currency = accounts[0].currency
    total = sum((a.balance for a in accounts), Decimal("0"))
    sender = policy.sender
    recipient = letter.recipient
    assert recipient.address is not None
    address_lines = recipient.address.lines()
    language = letter.language

    def money(amount: Decimal) -> str:
        return format_money(amount, currency)

    items = [
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
    ]
    creditor = accounts[0].creditor
    collector = sender.is_debt_collector
    disclosures = notices_for(
        recipient.address.state, sender.kind, letter.first_contact, letter.time_barred, creditor
    )
    initial = mini_miranda(sender.name, creditor, True, language) if collector else ""
    later = mini_miranda(sender.name, creditor, letter.first_contact, language) if collector else ""
    endorsement = ENDORSEMENTS[letter.mail_class]
    marks = marks or PostalMarks()
    postal = marks.context(recipient.address.zip if not recipient.address.is_foreign else "")
    consumer_lines = consumer.address.lines() if consumer.address else address_lines
    context: dict[str, Any] = {
        "sender": {
            "name": sender.name,
            "address": sender.address,
            "dispute_address": sender.dispute_address,
            "payment_address": sender.payment_address,
            "phone": sender.phone,
            "hours": sender.hours,
            "website": sender.website,
            "email": sender.email,
            "signatory": sender.signatory,
        },
        "recipient": {
            "name": recipient.name,
            "role": recipient.role,
            "address_lines": address_lines,
            "debtor_name": accounts[0].full_name,
        },
        "consumer": {"name": accounts[0].full_name, "address_lines": consumer_lines},
        "letter": {
            "piece_id": piece_id,
            "reference": piece_id,
            "language": language,
            "kind": letter.kind,
            "mail_date": long_date(letter.mail_date, language),
            "mail_date_iso": letter.mail_date.isoformat(),
            "stage": letter.stage.name,
            "endorsement": endorsement,
            "days_past_due": max(d.days_past_due for d in letter.decisions),
            "large_print": letter.large_print,
            "time_barred": letter.time_barred,
            "intended_actions": policy.rules.intended_actions,
            "mention_suit": "lawsuit" in policy.rules.intended_actions and not letter.time_barred,
            "validation_end_date": (
                long_date(letter.validation_end_date, language)
                if letter.validation_end_date
                else ""
            ),
            "first_contact": letter.first_contact,
            **postal,
            "initial_notice": initial,
            "collector_notice": later if letter.kind != "validation" else "",
        },
        "accounts": items,
        "total_due": money(total),
        "disclosures": disclosures,
        "cfpb_url": CFPB_URL,
    }
    figures = ("amount_at_itemization", "interest_since", "fees_since", "payments_since", "balance")
    amounts = {money(total)} | {str(item[key]) for item in items for key in figures}
    required: list[tuple[str, str]] = [
        ("recipient_name", recipient.name),
        *((f"address_line_{n}", line) for n, line in enumerate(address_lines, start=1)),
        ("amount_due", money(total)),
        ("contact_phone", sender.phone),
        *((f"state_notice_{n}", text) for n, text in enumerate(disclosures, start=1)),
    ]
    if endorsement:
        required.append(("endorsement", endorsement))
    if marks.article_number:
        required.append(("article_number", str(postal["article_number_display"])))
    if collector and letter.kind != "validation":
        required.append(("debt_collector_notice", later))
    if letter.kind == "hardship":
        required.append(
            ("payment_plan_offer", "plan de pagos" if language == "es" else "payment plan")
        )
    if letter.kind == "validation":
        required += validation_items(
            sender.name,
            sender.dispute_address,
            initial,
            items,
            context["letter"]["validation_end_date"],
            consumer_lines,
            accounts[0].full_name,
        )
    lint = LintSpec(
        required=tuple(required),
        amounts=frozenset(amounts),
        total=money(total),
        intended_actions=policy.rules.intended_actions,
        time_barred=letter.time_barred,
        exempt=(
            *disclosures,
            recipient.name,
            accounts[0].full_name,
            *address_lines,
            *(a.creditor for a in accounts),
            *(a.original_creditor for a in accounts),
        ),
        window_text={
            "return": (sender.name, *sender.address),
            "recipient": (recipient.name, *address_lines),
            "service": (endorsement, str(postal["article_number_display"])),
        },
    )
    return LetterContent(context, lint)


def validation_items(
    collector: str,
    dispute_address: Sequence[str],
    initial_notice: str,
    items: Sequence[dict[str, Any]],
    end_date: str,
    consumer_lines: Sequence[str],
    consumer_name: str,
) -> list[tuple[str, str]]:
    """Every item of 12 CFR 1006.34(c) as text the validation notice must show."""
    required = [
        ("1_debt_collector_disclosure", initial_notice),
        ("2_collector_name", collector),
        *((f"2_dispute_address_{n}", line) for n, line in enumerate(dispute_address, start=1)),
        ("3_consumer_name", consumer_name),
        *((f"3_consumer_address_{n}", line) for n, line in enumerate(consumer_lines, start=1)),
        (
            "11_validation_end_date",
            f"Call or write to us by {end_date}, to dispute all or part of the debt.",
        ),
        ("11_dispute_stops_collection", "we must stop collection on any amount you dispute"),
        ("11_original_creditor_request", "name and address of the original creditor"),
        ("11_assumed_valid", "we will assume that our information is correct"),
        ("12_cfpb", CFPB_URL),
        ("13_respond_heading", "How do you want to respond?"),
        ("13_check_all", "Check all that apply:"),
        ("13_not_my_debt", "This is not my debt."),
        ("13_amount_wrong", "The amount is wrong."),
        ("13_other", "Other (please describe on reverse or attach additional information)."),
        (
            "13_original_creditor",
            "I want you to send me the name and address of the original creditor.",
        ),
        ("13_enclosed", "I enclosed this amount:"),
    ]
    for n, item in enumerate(items, start=1):
        required += [
            (
                f"4_creditor_on_itemization_date_{n}",
                f"You had an account with {item['original_creditor']}",
            ),
            (f"5_account_number_{n}", f"account number ending {item['account_last4']}"),
            (
                f"6_current_creditor_{n}",
                f"The creditor to whom the debt is currently owed: {item['creditor']}",
            ),
            (f"7_itemization_date_{n}", f"As of {item['itemization_date']}, you owed:"),
            (f"8_amount_on_itemization_date_{n}", item["amount_at_itemization"]),
            (
                f"9_interest_{n}",
                f"You were charged this amount in interest: + {item['interest_since']}",
            ),
            (f"9_fees_{n}", f"You were charged this amount in fees: + {item['fees_since']}"),
            (f"9_payments_{n}", f"toward the debt: \u2013 {item['payments_since']}"),
            (f"10_current_amount_{n}", f"Total amount of the debt now: {item['balance']}"),
        ]
    return required


def _manifest_row(
    batch_id: str,
    decision: Decision,
    letter: LetterSpec | None,
    record: dict[str, str],
    choice: AddressChoice | None,
) -> ManifestRow:
    """One account's manifest row; the address and letter columns only for a generated letter."""
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
    history_of: HistoryOf = lambda _customer: History(),
    template_exists: Callable[[str], bool] = lambda _name: False,
) -> Plan:
    """Resolve addresses and decide every account; the letters come out in input order."""
    accounts, records, rejects = inputs
    groups = _group_by_customer(accounts)
    choices = resolve_addresses(request, [*records, *request.extra_records], set(groups))
    flagged = sum(len(choice.flagged) for choice in choices.values())
    notify(f"resolved addresses for {len(choices)} debtors; {flagged} address rows failed a check")
    plan = Plan(
        rows=[
            (r.line, _rejected_row(batch_id, r))
            for r in rejects
            if r.file_name == request.accounts_path.name
        ],
        letters=[],
        choices=choices,
        review=[],
        rejects=rejects,
        flagged_address_rows=flagged,
    )
    for customer_id, customer_accounts in groups.items():
        choice = choices[customer_id]
        outcome = decide_customer(
            customer_accounts,
            choice,
            request.policy,
            request.as_of,
            history_of(customer_id),
            template_exists,
        )
        plan.letters.extend(outcome.letters)
        plan.rows.extend(
            (d.account.line, _manifest_row(batch_id, d, None, {}, choice))
            for d in outcome.decisions
            if d.status is not Status.GENERATED
        )
        if any(d.reason_code in ("address_review", "no_address") for d in outcome.decisions):
            plan.review.extend(review_rows(choice))
    return plan


def manifest_rows_for_letter(
    batch_id: str,
    letter: LetterSpec,
    status: Status,
    reason: tuple[str, str] | None,
    record: dict[str, str],
) -> list[tuple[int, ManifestRow]]:
    """The (input line, row) of a letter's accounts: generated with its PDF, or held/skipped."""
    rows = []
    for d in letter.decisions:
        decision = Decision(
            d.account,
            status,
            *(reason or (d.reason_code, d.reason_detail)),
            d.stage,
            d.days_past_due,
        )
        rows.append((d.account.line, _manifest_row(batch_id, decision, letter, record, None)))
    return rows


def dry_run(
    request: RunRequest,
    history_of: HistoryOf,
    template_exists: Callable[[str], bool],
    notify: Notify,
) -> list[ManifestRow]:
    """Decide every account as a run would, without rendering or recording anything."""
    inputs = load_inputs(request)
    plan = plan_batch(request, "dry-run", inputs, notify, history_of, template_exists)
    rows = list(plan.rows)
    for letter in plan.letters:
        rows += manifest_rows_for_letter("dry-run", letter, Status.GENERATED, None, {})
    return [row for _, row in sorted(rows, key=lambda numbered: numbered[0])]
