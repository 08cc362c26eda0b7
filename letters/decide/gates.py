"""Decide per debtor: which letter, in which tone, to whom, or why none may go. Pure functions.

Every outcome carries a reason code. The order matters and is the order below:
person gates (deceased, bankruptcy, cease), data consistency (names), account gates (balance,
minimum, dispute, attorney, time-barred, not past due), then per letter: already sent, frequency
cap, address.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from addresses.model import AddressChoice, ChoiceStatus, PostalAddress
from addresses.standardize import standardize
from letters.decide.email import ChannelFacts, email_for_group, stopped_by
from letters.decide.steps import (
    Step,
    days_past_due,
    step_for,
    validation_period,
)
from letters.intake.calendar import validation_end_date
from letters.intake.policy import Policy
from letters.model import (
    Account,
    ChannelDecision,
    Decision,
    EarlierLetter,
    History,
    LetterKey,
    LetterSpec,
    MessageSpec,
    Recipient,
    Status,
)


@dataclass(slots=True)
class Outcome:
    """Everything decided for one debtor: each account's decision and the letters to produce,
    and on the other channels (when the policy uses them) the decisions and the messages."""

    decisions: list[Decision] = field(default_factory=list)
    letters: list[LetterSpec] = field(default_factory=list)
    channel_decisions: list[ChannelDecision] = field(default_factory=list)
    messages: list[MessageSpec] = field(default_factory=list)
    grouped: bool = False  # some accounts passed the person and account gates

    def stop_email(
        self, accounts: Sequence[Account], code: str, detail: str, status: Status, stage: str = ""
    ) -> None:
        """Record that no e-mail goes either, for the letter's reason."""
        customer_id = accounts[0].customer_id
        self.channel_decisions.append(
            stopped_by(customer_id, stage, accounts, code, detail, status)
        )


NO_HISTORY = History()
NOT_MAILABLE = "not_mailable"  # the reason code of a debtor a reviewer marked not mailable

PERSON_GATES = (
    ("bankruptcy", "bankruptcy", "bankruptcy recorded: collection is stayed"),
    (
        "cease_communication",
        "cease_communication",
        "the debtor asked us to stop; only the permitted notices may go",
    ),
)


def _all(
    accounts: Sequence[Account], status: Status, code: str, detail: str, as_of: date
) -> list[Decision]:
    return [Decision(a, status, code, detail, None, days_past_due(a, as_of)) for a in accounts]


def _account_gate(account: Account, policy: Policy, days: int) -> tuple[str, str] | None:
    rules = policy.rules
    if account.balance <= 0:
        return "zero_balance", f"balance is {account.balance}"
    if account.balance < rules.min_balance:
        return "below_minimum", f"balance {account.balance} is below {rules.min_balance}"
    if account.dispute_open:
        return "dispute_open", "the debtor disputes this account"
    if account.attorney_name and rules.attorney == "suppress":
        return "attorney_represented", "the debtor has an attorney for this debt"
    if account.time_barred and rules.time_barred == "suppress":
        return "time_barred", "the debt is time-barred"
    if policy.stage_for(days) is None:
        return "not_past_due", f"{days} days past due: no stage applies"
    return None


def _third_party_address(text: str) -> tuple[PostalAddress | None, str]:
    """An attorney's or representative's address from one free-text field."""
    form = standardize(text)
    if form.hard_failures:
        return None, "; ".join(f"{c.name}: {c.detail}" for c in form.hard_failures)
    return form.postal_address(), ""


def _recipients(
    eligible: Sequence[Account],
    choice: AddressChoice,
    representative: Account | None,
    policy: Policy,
) -> dict[tuple[str, str, str], list[Account]]:
    """Group the eligible accounts by who receives their letter."""
    groups: dict[tuple[str, str, str], list[Account]] = {}
    for account in eligible:
        if account.attorney_name and policy.rules.attorney == "send_to_attorney":
            target = ("attorney", account.attorney_name, account.attorney_address)
        elif representative is not None:
            target = (
                "representative",
                representative.representative_name,
                representative.representative_address,
            )
        else:  # one group, whatever the case of the name (the names agree, casefolded)
            target = ("debtor", eligible[0].full_name, "")
        groups.setdefault(target, []).append(account)
    return groups


def _language(
    template: str,
    accounts: Sequence[Account],
    policy: Policy,
    template_exists: Callable[[str], bool],
) -> tuple[str, str, tuple[str, ...]]:
    wanted = accounts[0].language
    if wanted == "en":
        return template, "en", ()
    localized = f"{policy.templates.spanish_folder}/{template}" if wanted == "es" else ""
    if localized and template_exists(localized):
        return localized, wanted, ()
    return template, "en", (f"no {wanted} version of {template}: sent in English",)


# What a letter may say about earlier contact comes from the state, never from its stage: the
# earlier letters of this cycle to the same recipient. A payment plan counts as offered when one
# of them was a hardship letter or a letter of a stage whose shipped template offers a plan.
PLAN_OFFERING_STAGES = frozenset({"reminder", "notice"})


def earlier_in_cycle(history: History, key: LetterKey) -> tuple[EarlierLetter, ...]:
    """The letters the state holds as sent to this recipient in this letter's cycle."""
    return tuple(e for e in history.earlier if e.cycle == key.cycle and e.role == key.role)


def plan_offered(earlier: Sequence[EarlierLetter]) -> bool:
    """True when an earlier letter of the cycle offered a payment plan (see above)."""
    return any(e.kind == "hardship" or e.stage in PLAN_OFFERING_STAGES for e in earlier)


def decide_customer(
    accounts: Sequence[Account],
    choice: AddressChoice,
    policy: Policy,
    as_of: date,
    history: History = NO_HISTORY,
    template_exists: Callable[[str], bool] = lambda _name: False,
    facts: ChannelFacts | None = None,
) -> Outcome:
    """Decide every account of one debtor together; return the decisions and letters, and with
    `facts` (the policy sends e-mail) the e-mail decision and message."""
    outcome = _decide_letters(accounts, choice, policy, as_of, history, template_exists, facts)
    if facts is not None and not outcome.grouped and outcome.decisions:
        first = outcome.decisions[0]  # every account stopped at a gate: no e-mail either
        outcome.stop_email(accounts, first.reason_code, first.reason_detail, first.status)
    return outcome


def _decide_letters(
    accounts: Sequence[Account],
    choice: AddressChoice,
    policy: Policy,
    as_of: date,
    history: History,
    template_exists: Callable[[str], bool],
    facts: ChannelFacts | None,
) -> Outcome:
    outcome = Outcome()
    customer_id = accounts[0].customer_id
    if any(a.deceased for a in accounts):
        representative = next(
            (a for a in accounts if a.representative_name and a.representative_address), None
        )
        if representative is None:
            outcome.decisions = _all(
                accounts,
                Status.SUPPRESSED,
                "deceased",
                "debtor recorded as deceased and no representative is named",
                as_of,
            )
            return outcome
    else:
        representative = None
    for flag, code, detail in PERSON_GATES:
        flagged = [a.account_id for a in accounts if getattr(a, flag)]
        if flagged:
            outcome.decisions = _all(
                accounts, Status.SUPPRESSED, code, f"{detail} (account {flagged[0]})", as_of
            )
            return outcome
    if len({a.full_name.casefold() for a in accounts}) > 1:
        outcome.decisions = _all(
            accounts,
            Status.HELD,
            "name_mismatch",
            "accounts of this customer_id carry different names",
            as_of,
        )
        return outcome
    eligible = []
    for account in accounts:
        days = days_past_due(account, as_of)
        gate = _account_gate(account, policy, days)
        if gate:
            outcome.decisions.append(Decision(account, Status.SUPPRESSED, *gate, None, days))
        else:
            eligible.append(account)
    mail_date = policy.calendar.mail_date(as_of)
    outcome.grouped = bool(eligible)
    for (role, name, address_text), group in _recipients(
        eligible, choice, representative, policy
    ).items():
        step = step_for(customer_id, group, role, policy, history, as_of)
        if facts is not None:
            decision, message = email_for_group(step, group, choice, policy, as_of, history, facts)
            outcome.channel_decisions.append(decision)
            outcome.messages.extend([message] if message else [])
        if "letter" not in step.stage.channels and step.kind != "validation":
            detail = f"stage {step.stage.name} reaches the debtor by e-mail only (messages.csv)"
            outcome.decisions.extend(
                Decision(
                    a,
                    Status.SUPPRESSED,
                    "no_letter_at_stage",
                    detail,
                    step.stage,
                    days_past_due(a, as_of),
                )
                for a in group
            )
            continue
        letter, decisions = _letter_for(
            step,
            group,
            name,
            address_text,
            choice,
            policy,
            as_of,
            mail_date,
            history,
            template_exists,
        )
        outcome.decisions.extend(decisions)
        if letter is not None:
            outcome.letters.append(letter)
    return outcome


def _letter_for(
    step: Step,
    group: list[Account],
    name: str,
    address_text: str,
    choice: AddressChoice,
    policy: Policy,
    as_of: date,
    mail_date: date,
    history: History,
    template_exists: Callable[[str], bool],
) -> tuple[LetterSpec | None, list[Decision]]:
    stage, kind, template, key = step.stage, step.kind, step.template, step.key
    customer_id, role, stage_name = key.customer_id, key.role, key.stage

    def every(status: Status, code: str, detail: str) -> list[Decision]:
        return [Decision(a, status, code, detail, stage, days_past_due(a, as_of)) for a in group]

    if key.text in history.sent:
        return None, every(Status.SUPPRESSED, "already_sent", history.sent[key.text])
    gap = max(policy.rules.frequency_cap_days, stage.min_days_since_previous)
    waiting = validation_period(step, policy, mail_date, history)
    if waiting:  # §1006.38(b): nothing may overshadow the consumer's rights
        return None, every(Status.SUPPRESSED, "validation_period", waiting)
    recent = history.last_mail_date is not None and (mail_date - history.last_mail_date).days < gap
    if recent and key.text not in history.forced:
        detail = f"last letter mailed {history.last_mail_date}; at least {gap} days must pass"
        return None, every(Status.SUPPRESSED, "too_soon", detail)
    if role == "debtor":
        if NOT_MAILABLE in choice.reason_codes:  # a reviewer decided: nothing goes
            return None, every(Status.SUPPRESSED, NOT_MAILABLE, " | ".join(choice.reasons))
        if choice.status is not ChoiceStatus.SELECTED or choice.address is None:
            code = "no_address" if choice.status is ChoiceStatus.NONE else "address_review"
            return None, every(Status.HELD, code, " | ".join(choice.reasons) or code)
        recipient = Recipient(name, role, choice.address, choice.confidence, choice.sources)
    else:
        address, problem = _third_party_address(address_text)
        if address is None:
            return None, every(Status.HELD, "address_review", f"{role} address: {problem}")
        recipient = Recipient(name, role, address, 1.0, (f"{role}_address",))
    template, language, notes = _language(template, group, policy, template_exists)
    if role == "debtor":  # a person's choice, or the skip-trace rule, is said in the manifest
        ruled = ("selected: chosen by a reviewer", "selected: sole_candidate_after_return")
        notes = (
            *notes,
            *(r.removeprefix("selected: ") for r in choice.reasons if r.startswith(ruled)),
        )
    mail_class = (
        "registered" if recipient.address and recipient.address.is_foreign else stage.mail_class
    )
    if mail_class != stage.mail_class:
        notes = (*notes, "foreign address: registered mail")
    letter = LetterSpec(
        customer_id=customer_id,
        key=key,
        kind=kind,
        stage=replace(stage, name=stage_name),
        template=template,
        language=language,
        mail_class=mail_class,
        mail_date=mail_date,
        validation_end_date=(
            validation_end_date(mail_date, policy.rules.validation_extra_days)
            if kind == "validation"
            else None
        ),
        first_contact=history.last_mail_date is None,
        large_print=any(a.large_print for a in group),
        time_barred=any(a.time_barred for a in group),
        recipient=recipient,
        decisions=(),
        notes=notes,
        earlier=earlier_in_cycle(history, key),
        payment_plan_offered=plan_offered(earlier_in_cycle(history, key)),
        # every validation notice this tool mails holds the English notice (alone or first)
        english_notice_before=history.validation_sent,
    )
    detail = "; ".join((f"{kind} letter, stage {stage_name}", *notes))
    decisions = every(Status.GENERATED, "letter_due", detail)
    decisions = [
        replace(d, reason_detail=f"{d.days_past_due} days past due; {detail}") for d in decisions
    ]
    return replace(letter, decisions=tuple(decisions)), decisions
