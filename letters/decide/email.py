"""Decide e-mail per debtor, through the same gates as the letter, then the channel's own.

Every gate that stops a letter stops an e-mail: the person gates (deceased, bankruptcy, cease),
the account gates (dispute, attorney, ...), the validation period, and doubt about the debtor's
address or identity. Then the e-mail gates, each with its reason code (12 CFR 1006):

- `no_time_zone`: the debtor's local time is unknown (a foreign or military address);
- `stage_without_email`: the debtor's stage does not list e-mail in its `channels`;
- `no_email_address`: no e-mail address is known for the debtor;
- `opted_out`: the consumer opted out of e-mail to the address (1006.6(e), 1006.14(h));
- `bounced_address`: mail to the address bounced for good;
- `employer_address`: an address the employer provides, without the consumer's own use or
  consent (1006.22(f)(3));
- `no_consent_basis`: no safe-harbour basis (1006.6(d)(4)): the consumer used it, consented, the
  creditor's notice is 35 days old, or a prior collector met one of these;
- `no_esign_consent`: the validation notice goes electronically only with E-SIGN consent
  (1006.42); it goes by mail;
- `already_sent`: this stage's e-mail of this cycle was sent (or is queued);
- `weekly_cap`: `[channels.email] max_per_7_days` messages already went in the last 7 days.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from addresses.model import AddressChoice, ChoiceStatus
from addresses.ziptable import time_zone
from letters.decide.steps import Step, validation_period
from letters.intake.policy import Policy, Stage
from letters.model import Account, ChannelDecision, ContactPoint, History, MessageSpec, Status

EMAIL = "email"
CREDITOR_NOTICE_DAYS = 35  # 1006.6(d)(4)(ii): the notice leaves at least 35 days to opt out
# Consent or the consumer's own use excuses an employer's address (1006.22(f)(3)).
EXCUSES_WORK = frozenset({"consumer_used", "consent", "prior_collector"})


@dataclass(frozen=True, slots=True)
class ChannelFacts:
    """What the state and this run's files say of a debtor's e-mail: contact points, what
    happened to them, and the messages already live (never the batch being run)."""

    points: tuple[ContactPoint, ...] = ()
    stopped: Mapping[str, str] = field(default_factory=dict)  # address -> opted_out / bounced
    live_keys: Mapping[str, str] = field(default_factory=dict)  # message key -> "message M"
    recent: tuple[date, ...] = ()  # when each live e-mail went, or the last day it may go


def _basis_problem(point: ContactPoint, as_of: date) -> str:
    """Why a contact point has no safe-harbour basis, or "" when it has one."""
    basis = point.consent_basis
    if not basis:
        return "no consent basis is recorded for this address (12 CFR 1006.6(d)(4))"
    if basis == "creditor_notice":
        if point.consent_date is None:
            return "the creditor's notice has no date"
        open_until = point.consent_date + timedelta(days=CREDITOR_NOTICE_DAYS)
        if as_of < open_until:
            return f"the creditor's notice of {point.consent_date} leaves 35 days to opt out"
    return ""


def _refusal(point: ContactPoint, facts: ChannelFacts, as_of: date) -> tuple[str, str] | None:
    """The gate that refuses one address, or None when it may be used."""
    if point.opted_out_at is not None or facts.stopped.get(point.value) == "opted_out":
        return "opted_out", "the consumer opted out of e-mail to this address"
    if facts.stopped.get(point.value) == "bounced":
        return "bounced_address", "e-mail to this address bounced"
    if point.is_work and point.consent_basis not in EXCUSES_WORK:
        return "employer_address", "the employer provides this address (12 CFR 1006.22(f)(3))"
    problem = _basis_problem(point, as_of)
    return ("no_consent_basis", problem) if problem else None


GATE_ORDER = ("opted_out", "bounced_address", "employer_address", "no_consent_basis")


def choose_address(
    facts: ChannelFacts, as_of: date
) -> tuple[ContactPoint | None, tuple[str, str] | None]:
    """The newest usable e-mail address, or the weightiest refusal among them (an opt-out
    first). A later row for the same address overrides an earlier one, but an opt-out stays."""
    latest: dict[str, ContactPoint] = {}
    opted = {p.value: p.opted_out_at for p in facts.points if p.opted_out_at is not None}
    for point in facts.points:
        if point.channel == EMAIL:
            latest[point.value] = point
    refusals = []
    for point in reversed(list(latest.values())):
        if point.value in opted and point.opted_out_at is None:
            point = replace(point, opted_out_at=opted[point.value])
        refusal = _refusal(point, facts, as_of)
        if refusal is None:
            return point, None
        refusals.append(refusal)
    if not refusals:
        return None, ("no_email_address", "no e-mail address is known for this debtor")
    return None, min(refusals, key=lambda r: GATE_ORDER.index(r[0]))


@dataclass(frozen=True, slots=True)
class EmailAsk:
    """A debtor group's e-mail as the letter path sees it: stage, kind, cycle, accounts."""

    customer_id: str
    stage: Stage
    kind: str
    cycle: str
    accounts: tuple[Account, ...]
    choice: AddressChoice
    letter_key: str  # the letter of this stage and cycle (attached when it goes this batch)
    first_contact: bool = True


def stopped_by(
    customer_id: str,
    stage: str,
    accounts: Sequence[Account],
    code: str,
    detail: str,
    status: Status,
) -> ChannelDecision:
    """An e-mail stopped by a gate the letter shares (its code and detail, word for word)."""
    return ChannelDecision(
        customer_id, EMAIL, stage, status, code, detail, tuple(a.account_id for a in accounts)
    )


def decide_email(
    ask: EmailAsk, policy: Policy, as_of: date, facts: ChannelFacts
) -> tuple[ChannelDecision, MessageSpec | None]:
    """The e-mail decision for one debtor at one stage, and the message when one is due."""
    ids = tuple(a.account_id for a in ask.accounts)
    stage_name = "validation" if ask.kind == "validation" else ask.stage.name

    def decision(status: Status, code: str, detail: str, to: str = "") -> ChannelDecision:
        return ChannelDecision(ask.customer_id, EMAIL, stage_name, status, code, detail, ids, to)

    choice = ask.choice
    if choice.status is not ChoiceStatus.SELECTED or choice.address is None:
        code = "no_address" if choice.status is ChoiceStatus.NONE else "address_review"
        if any(r.startswith("not_mailable") for r in choice.reason_codes):
            code = "not_mailable"
        detail = "the debtor's address or identity is in doubt: " + (
            " | ".join(choice.reasons) or code
        )
        return decision(Status.HELD, code, detail), None
    if choice.address.is_foreign or not time_zone(choice.address.zip):
        detail = "the debtor's local time is unknown (foreign or military address): no e-mail"
        return decision(Status.SUPPRESSED, "no_time_zone", detail), None
    point, refusal = choose_address(facts, as_of)
    if point is None:
        assert refusal is not None
        return decision(Status.SUPPRESSED, *refusal), None
    if ask.kind == "validation" and not point.esign_consent:
        detail = "no E-SIGN consent: the validation notice goes by mail (12 CFR 1006.42)"
        return decision(Status.SUPPRESSED, "no_esign_consent", detail, point.value), None
    key = f"{ask.customer_id}|{stage_name}|{ask.cycle}|{EMAIL}"
    if key in facts.live_keys:
        return decision(Status.SUPPRESSED, "already_sent", facts.live_keys[key], point.value), None
    week = [d for d in facts.recent if d >= as_of - timedelta(days=6)]  # queued ones: may go late
    if len(week) >= policy.email.max_per_7_days:
        detail = f"{len(week)} e-mail(s) in the last 7 days; at most {policy.email.max_per_7_days}"
        return decision(Status.SUPPRESSED, "weekly_cap", detail, point.value), None
    detail = (
        f"{ask.kind} e-mail, stage {stage_name}, to an address with basis {point.consent_basis}"
    )
    chosen = decision(Status.GENERATED, "message_due", detail, point.value)
    spec = MessageSpec(
        customer_id=ask.customer_id,
        key=key,
        channel=EMAIL,
        kind=ask.kind,
        stage=ask.stage,
        template=ask.stage.email_template or policy.email.template,
        language=ask.accounts[0].language,
        to=point.value,
        name=ask.accounts[0].full_name,
        accounts=tuple(sorted(ask.accounts, key=lambda a: a.account_id)),
        zip5=choice.address.zip[:5],
        attach_letter_key=ask.letter_key,
        state=choice.address.state,
        first_contact=ask.first_contact,
        decision=chosen,
    )
    return chosen, spec


STOP = Status.SUPPRESSED


def email_for_group(
    step: Step,
    group: Sequence[Account],
    choice: AddressChoice,
    policy: Policy,
    as_of: date,
    history: History,
    facts: ChannelFacts,
) -> tuple[ChannelDecision, MessageSpec | None]:
    """The e-mail of one recipient group: the letter's shared gates, then the channel's."""
    stage_name = step.key.stage
    if step.key.role != "debtor":  # an attorney or an estate's representative: not by e-mail
        code = "attorney_represented" if step.key.role == "attorney" else "deceased"
        detail = f"the letter goes to the {step.key.role}; no e-mail goes to anyone"
        return stopped_by(group[0].customer_id, stage_name, group, code, detail, STOP), None
    if "email" not in step.stage.channels:
        detail = f"stage {step.stage.name} reaches the debtor by letter only"
        code = "stage_without_email"
        return stopped_by(group[0].customer_id, stage_name, group, code, detail, STOP), None
    waiting = validation_period(step, policy, as_of, history)  # an e-mail may go on as_of
    if waiting:
        code = "validation_period"
        return stopped_by(group[0].customer_id, stage_name, group, code, waiting, STOP), None
    ask = EmailAsk(
        group[0].customer_id,
        step.stage,
        step.kind,
        step.key.cycle,
        tuple(group),
        choice,
        step.key.text,
        history.last_mail_date is None,
    )
    return decide_email(ask, policy, as_of, facts)
