"""The nightly run: read accounts and sources, choose addresses, decide, render, record."""

from __future__ import annotations

import secrets
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from addresses.config import EngineConfig
from addresses.csvio import Reject
from addresses.engine import resolve_all
from addresses.model import AddressChoice, ChoiceStatus
from addresses.records import SourceFileError, SourceRecord, read_sources
from addresses.score import Candidate
from letters import __version__
from letters.accounts import Account, read_accounts
from letters.decide import Decision, Status, decide_customer
from letters.errors import ExitCode, InputFileError, UsageError
from letters.fsutil import make_private_dir, sha256_file, write_bytes_atomic, write_csv
from letters.manifest import (
    REVIEW_COLUMNS,
    ManifestRow,
    write_manifest,
    write_rejects,
    write_summary,
)
from letters.policy import Policy, Stage
from letters.render import Renderer, format_money

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


@dataclass(slots=True)
class BatchResult:
    """What a run did: where, how many of each outcome, and the exit code it earns."""

    batch_id: str
    batch_dir: Path
    counts: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    rejected_rows: int = 0
    flagged_address_rows: int = 0
    letters: int = 0
    pages: int = 0
    render_seconds: float = 0.0
    exit_code: ExitCode = ExitCode.DONE


def new_batch_id(as_of: date, now: datetime) -> str:
    """A batch id that sorts by date and time and does not collide: `20261120-021502-a3f9`."""
    return f"{as_of:%Y%m%d}-{now:%H%M%S}-{secrets.token_hex(2)}"


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


def _load_inputs(request: RunRequest) -> tuple[list[Account], list[SourceRecord], list[Reject]]:
    for path in (request.accounts_path, *request.source_paths):
        if not path.is_file():
            raise UsageError(f"{path}: no such file")
    accounts_file = read_accounts(request.accounts_path)
    try:
        records, source_rejects = read_sources(list(request.source_paths))
    except SourceFileError as exc:
        raise InputFileError(str(exc)) from None
    return accounts_file.accounts, records, accounts_file.rejects + source_rejects


def run_batch(
    request: RunRequest,
    notify: Notify | None = None,
    now: Callable[[], datetime] = datetime.now,
    renderer_factory: Callable[[Path], Renderer] = Renderer,
) -> BatchResult:
    """Run one batch end to end; input problems raise before the batch folder is created."""
    say = notify or (lambda _message: None)
    accounts, records, rejects = _load_inputs(request)
    account_rejects = sum(1 for r in rejects if r.file_name == request.accounts_path.name)
    say(
        f"read {len(accounts)} accounts ({account_rejects} rejected), "
        f"{len(records)} address records ({len(rejects) - account_rejects} rejected)"
    )
    renderer = renderer_factory(request.templates_dir)
    renderer.check_templates(sorted({stage.template for stage in request.policy.stages}))

    started = now()
    batch_id = new_batch_id(request.as_of, started)
    batch_dir = make_private_dir(request.out_dir) / batch_id
    pdf_dir = make_private_dir(make_private_dir(batch_dir) / "pdf")
    result = BatchResult(batch_id=batch_id, batch_dir=batch_dir, rejected_rows=len(rejects))
    groups = _group_by_customer(accounts)
    choices = resolve_addresses(request, records, set(groups))
    flagged = sum(len(choice.flagged) for choice in choices.values())
    result.flagged_address_rows = flagged
    say(f"resolved addresses for {len(choices)} debtors; {flagged} address rows failed a check")
    rows: list[ManifestRow] = [
        _rejected_row(batch_id, r) for r in rejects if r.file_name == request.accounts_path.name
    ]
    render_start = time.perf_counter()
    review: list[list[str]] = []
    for customer_id, customer_accounts in groups.items():
        choice = choices[customer_id]
        decisions = _hold_for_address(
            decide_customer(customer_accounts, request.policy, request.as_of), choice
        )
        mailed = [d for d in decisions if d.status is Status.GENERATED]
        letter: dict[str, str] = {}
        if mailed:
            stage = max((d.stage for d in mailed if d.stage), key=lambda s: s.min_days)
            mailed = [
                Decision(
                    d.account,
                    d.status,
                    "letter_due",
                    f"{d.days_past_due} days past due; stage {stage.name}",
                    stage,
                    d.days_past_due,
                )
                for d in mailed
            ]
            piece_id = f"{batch_id}-{result.letters + 1:06d}"
            context = letter_context(piece_id, request.policy, stage, mailed, choice, request.as_of)
            pdf = renderer.render(stage.template, context, piece_id)
            pdf_path = pdf_dir / f"{piece_id}.pdf"
            write_bytes_atomic(pdf_path, pdf.data)
            letter = {
                "piece_id": piece_id,
                "pdf_path": str(pdf_path.relative_to(batch_dir)),
                "pdf_sha256": sha256_file(pdf_path),
                "pages": str(pdf.pages),
            }
            result.letters += 1
            result.pages += pdf.pages
            if result.letters % 50 == 0:
                say(f"rendered {result.letters} letters")
            decisions = [*mailed, *(d for d in decisions if d.status is not Status.GENERATED)]
        rows.extend(
            _manifest_row(batch_id, d, choice, letter if d.status is Status.GENERATED else {})
            for d in decisions
        )
        if any(d.reason_code in ("address_review", "no_address") for d in decisions):
            review.extend(review_rows(choice))
    result.render_seconds = time.perf_counter() - render_start
    for row in rows:
        result.counts[row.status] += 1
        if row.reason_code:
            result.reasons[row.reason_code] += 1
    write_manifest(batch_dir / "manifest.csv", rows)
    write_rejects(batch_dir / "rejects.csv", rejects)
    write_csv(batch_dir / "review.csv", REVIEW_COLUMNS, review)
    result.exit_code = ExitCode.REJECTED_ROWS if rejects else ExitCode.DONE
    write_summary(batch_dir / "summary.json", _summary(request, result, started, now()))
    say(f"wrote {result.letters} letters to {batch_dir}")
    return result


def _summary(
    request: RunRequest, result: BatchResult, started: datetime, finished: datetime
) -> dict[str, Any]:
    rate = result.letters / result.render_seconds if result.render_seconds else 0.0
    return {
        "batch_id": result.batch_id,
        "status": "complete",
        "tool_version": __version__,
        "as_of": request.as_of.isoformat(),
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": finished.isoformat(timespec="seconds"),
        "policy": request.policy.source_name,
        "inputs": {
            str(path): sha256_file(path) for path in (request.accounts_path, *request.source_paths)
        },
        "counts": dict(sorted(result.counts.items())),
        "reasons": dict(sorted(result.reasons.items())),
        "rejected_rows": result.rejected_rows,
        "flagged_address_rows": result.flagged_address_rows,
        "letters": result.letters,
        "pages": result.pages,
        "render_seconds": round(result.render_seconds, 3),
        "letters_per_second": round(rate, 2),
        "exit_code": int(result.exit_code),
    }
