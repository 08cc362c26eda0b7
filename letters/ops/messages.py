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
from letters.errors import TemplateError, UsageError
from letters.fsutil import make_private_dir, sha256_bytes, write_bytes_atomic, write_csv
from letters.intake.channels import stop_kind
from letters.intake.policy import Policy
from letters.intake.request import RunRequest
from letters.intake.sources import Inputs
from letters.model import Account, ChannelDecision, ContactPoint, MessageSpec, Status
from letters.ops.context import BatchContext
from letters.render.email import (
    PARTS,
    MessageError,
    MessageInputs,
    build_message,
    environment,
    lint_message,
)
from letters.render.notices import notices_for
from letters.render.sandbox import describe
from letters.send.window import SendWindow, window_for
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
        value = f"{local}@{domain}".lower()  # addresses compare lower-cased everywhere
        where = f"{file_name}:{account.line}"
        point = ContactPoint(
            account.customer_id, "email", value, "", None, False, None, False, where
        )
        found.setdefault(account.customer_id, []).append(point)
    return found


def check_email_setup(policy: Policy, templates_dir: Path) -> None:
    """Before a run that sends e-mail renders anything: a sender address, and every e-mail
    template it can use present and compiling (a Spanish set is optional)."""
    if not policy.uses_email:
        return
    if not (policy.email.from_address or policy.sender.email):
        raise UsageError(f"{policy.source_name}: [email] from (or [sender] email) is required")
    env = environment(templates_dir)
    bases = {policy.email.template} | {
        s.email_template for s in policy.stages if "email" in s.channels and s.email_template
    }
    for base in sorted(bases):
        folder, _, name = base.rpartition("/")
        prefix = f"{folder}/" if folder else ""
        for language in ("", f"{policy.templates.spanish_folder}/"):
            for part in PARTS:
                relative = f"{prefix}{language}{name}.{part}"
                if not (templates_dir / relative).is_file():
                    if language:
                        continue
                    raise TemplateError(f"{relative}: e-mail template not found in {templates_dir}")
                try:
                    env.get_template(relative)
                except Exception as exc:  # a syntax error, a refused include: one line
                    raise TemplateError(describe(exc, templates_dir, relative)) from None


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
    return facts_reader(store, inputs.contacts, "", from_accounts)


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
    store: StateStore | None,
    inputs_points: Sequence[ContactPoint],
    batch_id: str,
    from_accounts: dict[str, list[ContactPoint]],
) -> FactsOf:
    """A debtor's e-mail facts: contact points (the accounts file's first, then the state's,
    then this run's contacts file: later rows win, an opt-out stays), what stopped an address,
    and the messages already live in other batches. Without a state (a dry run with none), the
    files' contact points alone."""
    run_points: dict[str, list[ContactPoint]] = {}
    for point in inputs_points:
        run_points.setdefault(point.customer_id, []).append(point)

    def facts_of(customer_id: str) -> ChannelFacts:
        if store is None:
            files = (*from_accounts.get(customer_id, ()), *run_points.get(customer_id, ()))
            return ChannelFacts(points=files)
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
            recent=tuple(_went_or_may_go(m) for m in live),
        )

    return facts_of


def _went_or_may_go(message: MessageRecord) -> date:
    """When a live message went (its local send date, near enough), or the last day it may go:
    what the weekly cap counts."""
    if message.sent_at:
        return date.fromisoformat(message.sent_at[:10])
    return SendWindow.from_json(message.window_json).last_day


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

    def attaches(self, spec: MessageSpec) -> bool:
        """True when the message carries the letter this batch mailed for the same stage (the
        policy attaches letters; none for an e-mail-only stage or a letter the lint held)."""
        letter = self.letters.get(spec.attach_letter_key)
        return (
            self.ctx.request.policy.email.encrypt and letter is not None and bool(letter.pdf_path)
        )

    def write(self, spec: MessageSpec, record: MessageRecord) -> MessageRecord:
        """Render, lint and queue a pending message; one that fails the lint, needs a state
        notice the e-mail does not carry, or cannot be built is cancelled with the reason."""
        ctx = self.ctx
        letter = self.letters.get(spec.attach_letter_key)
        pdf = None
        if self.attaches(spec) and letter is not None and letter.pdf_path:
            pdf = (ctx.batch_dir / letter.pdf_path).read_bytes()
        inputs = MessageInputs(
            spec=spec,
            policy=ctx.request.policy,
            as_of=ctx.request.as_of,
            references=ctx.references,
            message_id=record.message_id,
            rfc_message_id=record.rfc_message_id,
            attachment_pdf=pdf,
            attachment_name=f"letter-{letter.piece_id}.pdf" if letter else "letter.pdf",
        )
        try:
            built = build_message(inputs, ctx.request.templates_dir)
            problems = [
                *state_notice_problems(spec, ctx.request.policy),
                *lint_message(built, inputs),
            ]
        except (MessageError, TemplateError) as exc:
            built, problems = None, [f"message_error: {exc}"]
        if problems or built is None:
            error = "; ".join(problems)
            error = error if error.startswith("message_error") else f"message_lint: {error}"
            ctx.store.move_message(record.message_id, ("pending",), "cancelled", ctx.stamp(), error)
        else:
            make_private_dir(self.folder)
            path = self.folder / f"{record.message_id}.eml"
            write_bytes_atomic(path, built.eml)
            stamp, digest = ctx.stamp(), sha256_bytes(built.eml)
            ctx.store.queue_message(record.message_id, str(path.resolve()), digest, stamp)
        written = ctx.store.message(record.message_id)
        assert written is not None
        return written


def state_notices_for(spec: MessageSpec, policy: Policy) -> list[str]:
    """The state notices a letter to this debtor would carry (the e-mail templates carry none)."""
    time_barred = any(a.time_barred for a in spec.accounts)
    creditor = spec.accounts[0].creditor
    return notices_for(spec.state, policy.sender.kind, spec.first_contact, time_barred, creditor)


def state_notice_problems(spec: MessageSpec, policy: Policy) -> list[str]:
    """A message to a debtor whose letter must carry a state notice is held: it goes by mail."""
    if state_notices_for(spec, policy):
        return [f"state_notice: a letter to {spec.state} carries a state notice; it goes by mail"]
    return []


# Decisions that leave an earlier batch's queued message alone; any other (a cease, a dispute, a
# payment, an opt-out, doubt about the address, a stage that no longer e-mails) cancels it
# before `letters send` can take it.
KEEPS_QUEUED = frozenset({"message_due", "already_sent", "weekly_cap"})


def cancel_stopped(ctx: BatchContext, decisions: Sequence[ChannelDecision], inputs: Inputs) -> int:
    """Cancel the messages earlier batches queued that must not go now: for a debtor every one
    of whose e-mail decisions tonight is a stop, a debtor no longer in the accounts file (paid,
    recalled), or an address this run's contacts file marks opted out. How many it cancelled."""
    codes: dict[str, set[str]] = {}
    for decision in decisions:
        codes.setdefault(decision.customer_id, set()).add(decision.reason_code)
    opted = {(p.customer_id, p.value) for p in inputs.contacts if p.opted_out_at is not None}
    cancelled = 0
    for message in ctx.store.messages(("queued",)):
        if message.batch_id == ctx.batch_id:
            continue
        found = codes.get(message.customer_id)
        if (message.customer_id, message.recipient) in opted:
            why = "the contacts file marks the address opted out"
        elif found is None:
            why = "the debtor is not in the accounts file any more"
        elif not found & KEEPS_QUEUED:
            why = f"e-mail to this debtor stopped: {', '.join(sorted(found))}"
        else:
            continue
        cancelled += ctx.store.move_message(
            message.message_id,
            ("queued",),
            "cancelled",
            ctx.stamp(),
            f"batch {ctx.batch_id}: {why}",
        )
    return cancelled


def queue_messages(ctx: BatchContext, plan: Plan, inputs: Inputs) -> None:
    """Cancel what tonight's gates stop, render and queue the plan's messages, then write
    messages.csv and messages.jsonl."""
    if not ctx.request.policy.uses_email:
        return
    cancelled = cancel_stopped(ctx, plan.channel_decisions, inputs)
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
        if record.status == "pending":
            record = queue.write(spec, record)
        if record.status == "cancelled":  # held by the lint, or a message that cannot be built
            code, _, detail = record.last_error.partition(": ")
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
        rows.append(_row(decision, record, queue.attaches(spec)))
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
