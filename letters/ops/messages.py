"""Messages in the nightly run: what each debtor's e-mail may rely on, then render and queue.

A message is reserved `pending` in the state, its file written (`messages/<id>.eml`, owner-only,
whole or not at all), then marked `queued` with its hash and its send window; `letters send`
delivers it in the debtor's daytime. A resumed batch finds its own messages: pending ones are
written again under the same id, queued ones are left alone. `messages.csv` and
`messages.jsonl` hold every debtor's e-mail decision, queued or not, and are sealed with the
batch.
"""

from __future__ import annotations

import json
import secrets
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path

from letters.decide.email import ChannelFacts
from letters.decide.plan import FactsOf, Plan
from letters.fsutil import make_private_dir, sha256_bytes, write_bytes_atomic, write_csv
from letters.intake.channels import stop_kind
from letters.intake.request import RunRequest
from letters.intake.sources import Inputs
from letters.model import Account, ChannelDecision, ContactPoint, MessageSpec, Status
from letters.ops.context import BatchContext
from letters.render.email import MessageInputs, build_message, lint_message
from letters.send.window import window_for
from letters.state.protocol import StateStore
from letters.state.records import ENDED_UNSENT, MessageRecord

MESSAGE_COLUMNS = (
    "message_id",
    "customer_id",
    "account_ids",
    "channel",
    "stage",
    "kind",
    "status",
    "reason_code",
    "reason_detail",
    "recipient",
    "send_window",
    "rfc_message_id",
    "eml_sha256",
    "attachment",
)


def account_points(accounts: Iterable[Account], file_name: str) -> dict[str, list[ContactPoint]]:
    """The accounts file's `email` column as contact points with no consent basis: read and
    checked, but never enough on its own (a contacts file says how the address was obtained)."""
    found: dict[str, list[ContactPoint]] = {}
    for account in accounts:
        local, at, domain = account.email.strip().rpartition("@")
        if not (local and at and "." in domain):
            continue
        value = f"{local}@{domain.lower()}"
        where = f"{file_name}:{account.line}"
        point = ContactPoint(
            account.customer_id, "email", value, "", None, False, None, False, where
        )
        found.setdefault(account.customer_id, []).append(point)
    return found


def channel_facts(ctx: BatchContext, inputs: Inputs) -> FactsOf | None:
    """Keep this run's contact points as evidence and return what each debtor's e-mail may rely
    on; None when the policy sends no e-mail."""
    if not ctx.request.policy.uses_email:
        return None
    added = ctx.store.record_contacts(inputs.contacts, ctx.batch_id, ctx.stamp())
    if inputs.contacts:
        ctx.say(f"contact points: {len(inputs.contacts)} read, {added} new to the state")
    from_accounts = account_points(inputs.accounts, ctx.request.accounts_path.name)
    return facts_reader(ctx.store, inputs.contacts, ctx.batch_id, from_accounts)


def dry_run_facts(request: RunRequest, inputs: Inputs, store: StateStore | None) -> FactsOf | None:
    """A dry run's e-mail facts: from the state when there is one (nothing is recorded), else
    from the files alone."""
    if not request.policy.uses_email:
        return None
    from_accounts = account_points(inputs.accounts, request.accounts_path.name)
    if store is not None:
        return facts_reader(store, inputs.contacts, "", from_accounts)
    run_points: dict[str, list[ContactPoint]] = {}
    for point in inputs.contacts:
        run_points.setdefault(point.customer_id, []).append(point)
    return lambda customer: ChannelFacts(
        points=(*from_accounts.get(customer, ()), *run_points.get(customer, ()))
    )


CHANNEL_COLUMNS = (
    "customer_id",
    "account_ids",
    "channel",
    "stage",
    "status",
    "reason_code",
    "reason_detail",
    "recipient",
)


def channel_rows(decisions: Iterable[ChannelDecision]) -> list[list[str]]:
    """A dry run's e-mail decisions as CSV rows (`CHANNEL_COLUMNS`)."""
    return [
        [
            d.customer_id,
            " ".join(d.account_ids),
            d.channel,
            d.stage,
            "would queue" if d.status is Status.GENERATED else d.status.value,
            d.reason_code,
            d.reason_detail,
            d.address,
        ]
        for d in decisions
    ]


def facts_reader(
    store: StateStore,
    inputs_points: Sequence[ContactPoint],
    batch_id: str,
    from_accounts: dict[str, list[ContactPoint]],
) -> FactsOf:
    """A debtor's e-mail facts: contact points (the accounts file's first, then the state's,
    then this run's contacts file: later rows win, an opt-out stays), what stopped an address,
    and the messages already live in other batches."""
    run_points: dict[str, list[ContactPoint]] = {}
    for point in inputs_points:
        run_points.setdefault(point.customer_id, []).append(point)
    batch_dates: dict[str, date] = {}

    def batch_date(batch: str) -> date:
        if batch not in batch_dates:
            record = store.batch(batch)
            batch_dates[batch] = date.fromisoformat(record.as_of) if record else date.min
        return batch_dates[batch]

    def facts_of(customer_id: str) -> ChannelFacts:
        stopped: dict[str, str] = {}
        for event in store.contact_events(customer_id):
            kind = stop_kind(event.event, event.detail)
            if kind and stopped.get(event.value) != "opted_out":
                stopped[event.value] = kind
        live = [
            m
            for m in store.messages(customer_id=customer_id)
            if m.status not in ENDED_UNSENT and m.batch_id != batch_id
        ]
        return ChannelFacts(
            points=(
                *from_accounts.get(customer_id, ()),
                *store.contact_points(customer_id),
                *run_points.get(customer_id, ()),
            ),
            stopped=stopped,
            live_keys={
                m.message_key: f"message {m.message_id} in batch {m.batch_id} ({m.status})"
                for m in live
            },
            recent=tuple(batch_date(m.batch_id) for m in live),
        )

    return facts_of


def _row(decision: ChannelDecision, record: MessageRecord | None, attached: bool) -> list[str]:
    window = json.loads(record.window_json) if record else {}
    when = (
        f"{window['first_day']} to {window['last_day']}, {window['send_from']}-"
        f"{window['send_until']} {' '.join(window['zones'])}"
        if window
        else ""
    )
    return [
        record.message_id if record else "",
        decision.customer_id,
        " ".join(decision.account_ids),
        decision.channel,
        decision.stage,
        record.kind if record else "",
        "queued" if decision.status is Status.GENERATED else decision.status.value,
        decision.reason_code,
        decision.reason_detail,
        decision.address,
        when,
        record.rfc_message_id if record else "",
        record.eml_sha256 if record else "",
        "encrypted pdf" if attached else "",
    ]


class Queue:
    """Render and queue one batch's messages (see the module's docstring)."""

    def __init__(self, ctx: BatchContext) -> None:
        self.ctx = ctx
        store = ctx.store
        self.mine = {m.message_key: m for m in store.messages(batch_id=ctx.batch_id)}
        numbers = [int(m.message_id.rpartition("-E")[2]) for m in self.mine.values()]
        self.number = max(numbers, default=0)
        self.letters = {
            r.letter_key: r for r in store.letters_of_batch(ctx.batch_id) if r.status == "rendered"
        }
        email = ctx.request.policy.email
        sender = email.from_address or ctx.request.policy.sender.email
        self.domain = sender.rpartition("@")[2] or "letters.invalid"
        self.folder = ctx.batch_dir / "messages"

    def reserve(self, spec: MessageSpec) -> MessageRecord:
        """The spec's message in the state: this batch's own (a resume), or a new pending one."""
        if spec.key in self.mine:
            return self.mine[spec.key]
        ctx = self.ctx
        self.number += 1
        message_id = f"{ctx.batch_id}-E{self.number:06d}"
        policy = ctx.request.policy
        window = window_for(spec.zip5, ctx.request.as_of, policy.email, policy.calendar)
        record = MessageRecord(
            message_id=message_id,
            message_key=spec.key,
            batch_id=ctx.batch_id,
            customer_id=spec.customer_id,
            channel=spec.channel,
            stage=spec.stage.name if spec.kind != "validation" else "validation",
            kind=spec.kind,
            recipient=spec.to,
            rfc_message_id=f"<{message_id}.{secrets.token_hex(6)}@{self.domain}>",
            status="pending",
            window_json=window.to_json(),
            created_at=ctx.stamp(),
        )
        return ctx.store.reserve_message(record)

    def attachment(self, spec: MessageSpec) -> tuple[bytes | None, str]:
        """The PDF of the letter this batch mailed for the same stage, when the policy attaches
        letters; none for an e-mail-only stage or a letter held by the lint."""
        letter = self.letters.get(spec.attach_letter_key)
        if not self.ctx.request.policy.email.encrypt or letter is None or not letter.pdf_path:
            return None, ""
        return (self.ctx.batch_dir / letter.pdf_path).read_bytes(), f"letter-{letter.piece_id}.pdf"

    def write(self, spec: MessageSpec, record: MessageRecord) -> tuple[MessageRecord, str, bool]:
        """Render, lint and queue a pending message; the status and reason for messages.csv."""
        ctx = self.ctx
        pdf, name = self.attachment(spec)
        inputs = MessageInputs(
            spec=spec,
            policy=ctx.request.policy,
            as_of=ctx.request.as_of,
            references=ctx.references,
            message_id=record.message_id,
            rfc_message_id=record.rfc_message_id,
            attachment_pdf=pdf,
            attachment_name=name,
        )
        built = build_message(inputs, ctx.request.templates_dir)
        problems = lint_message(built, inputs)
        if problems:
            error = "; ".join(problems)
            ctx.store.move_message(record.message_id, ("pending",), "cancelled", ctx.stamp(), error)
            return record, f"message_lint: {error}", False
        make_private_dir(self.folder)
        path = self.folder / f"{record.message_id}.eml"
        write_bytes_atomic(path, built.eml)
        digest = sha256_bytes(built.eml)
        ctx.store.queue_message(record.message_id, str(path.resolve()), digest, ctx.stamp())
        queued = ctx.store.message(record.message_id)
        assert queued is not None
        return queued, "", built.attached


# Decisions that leave an earlier batch's queued message alone; any other (a cease, a dispute, a
# payment, an opt-out, doubt about the address) cancels it before `letters send` can take it.
KEEPS_QUEUED = frozenset({"message_due", "already_sent", "weekly_cap", "stage_without_email"})


def cancel_stopped(ctx: BatchContext, decisions: Sequence[ChannelDecision]) -> int:
    """Cancel the messages earlier batches queued for debtors every one of whose e-mail
    decisions tonight is a stop; how many were cancelled."""
    codes: dict[str, set[str]] = {}
    for decision in decisions:
        codes.setdefault(decision.customer_id, set()).add(decision.reason_code)
    cancelled = 0
    for message in ctx.store.messages(("queued",)):
        found = codes.get(message.customer_id)
        if message.batch_id == ctx.batch_id or not found or found & KEEPS_QUEUED:
            continue
        why = f"batch {ctx.batch_id} stopped e-mail to this debtor: {', '.join(sorted(found))}"
        cancelled += ctx.store.move_message(
            message.message_id, ("queued",), "cancelled", ctx.stamp(), why
        )
    return cancelled


def queue_messages(ctx: BatchContext, plan: Plan) -> None:
    """Cancel what tonight's gates stop, render and queue the plan's messages, then write
    messages.csv and messages.jsonl."""
    if not plan.channel_decisions:
        return
    cancelled = cancel_stopped(ctx, plan.channel_decisions)
    if cancelled:
        ctx.say(f"e-mail: {cancelled} queued from earlier batches cancelled (the state says why)")
    queue = Queue(ctx)
    specs = {id(m.decision): m for m in plan.messages}
    rows = []
    counts: Counter[str] = Counter()
    for decision in plan.channel_decisions:
        spec = specs.get(id(decision))
        if spec is None:
            rows.append(_row(decision, None, False))
            counts[decision.reason_code] += 1
            continue
        record = queue.reserve(spec)
        attached = False
        if record.status == "pending":
            record, problem, attached = queue.write(spec, record)
            if problem:
                code, _, detail = problem.partition(": ")
                decision = ChannelDecision(
                    decision.customer_id,
                    decision.channel,
                    decision.stage,
                    Status.HELD,
                    code,
                    detail,
                    decision.account_ids,
                    decision.address,
                )
        rows.append(_row(decision, record, attached or queue.attachment(spec)[0] is not None))
        counts["queued" if decision.status is Status.GENERATED else decision.reason_code] += 1
    write_csv(ctx.batch_dir / "messages.csv", MESSAGE_COLUMNS, rows)
    write_jsonl(ctx.batch_dir / "messages.jsonl", rows)
    ctx.result.messages = dict(sorted(counts.items()))
    ctx.say("e-mail: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


def write_jsonl(path: Path, rows: Iterable[list[str]]) -> None:
    """One JSON object a line, the messages.csv columns as keys, exactly (no spreadsheet guard)."""
    text = "".join(
        json.dumps(dict(zip(MESSAGE_COLUMNS, row, strict=True)), ensure_ascii=False) + "\n"
        for row in rows
    )
    write_bytes_atomic(path, text.encode())
