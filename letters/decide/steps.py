"""Where a debtor's recipient group stands: its stage, the kind of contact due, and its key.

Shared by the letter and the other channels, so both see the same stage, kind and cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from letters.intake.calendar import validation_end_date
from letters.intake.policy import Policy, Stage
from letters.model import Account, History, LetterKey


def days_past_due(account: Account, as_of: date) -> int:
    """Days from the due date to the run's date."""
    return (as_of - account.due_date).days


def letter_key(
    customer_id: str, stage_name: str, accounts: Sequence[Account], role: str
) -> LetterKey:
    """The letter's identity across runs; the cycle is the oldest due date of its accounts."""
    cycle = min(a.due_date for a in accounts).isoformat()
    return LetterKey(customer_id, stage_name, cycle, role)


def validation_forced(history: History) -> bool:
    """An operator forced a validation notice to go again (e.g. the consumer asked for it in
    Spanish: 1006.34(d)(3)(vi))."""
    return any(key.split("|")[1:2] == ["validation"] for key in history.forced)


def kind_and_template(
    policy: Policy, history: History, accounts: Sequence[Account], stage: Stage
) -> tuple[str, str]:
    if policy.sender.is_debt_collector and (
        not history.validation_sent or validation_forced(history)
    ):
        return "validation", policy.templates.validation
    if any(a.hardship for a in accounts):
        return "hardship", policy.templates.hardship
    return "demand", stage.template


@dataclass(frozen=True, slots=True)
class Step:
    """Where a recipient group stands: its stage, the kind of contact due, and its key."""

    stage: Stage
    kind: str
    template: str
    key: LetterKey


def step_for(
    customer_id: str,
    group: Sequence[Account],
    role: str,
    policy: Policy,
    history: History,
    as_of: date,
) -> Step:
    stage = max(
        (policy.stage_for(days_past_due(a, as_of)) for a in group),
        key=lambda s: s.min_days if s else -1,
    )
    assert stage is not None
    kind, template = kind_and_template(policy, history, group, stage)
    stage_name = "validation" if kind == "validation" else stage.name
    return Step(stage, kind, template, letter_key(customer_id, stage_name, group, role))


def validation_period(step: Step, policy: Policy, mail_date: date, history: History) -> str | None:
    """Why nothing but the validation notice may go yet (1006.38(b)), or None."""
    if step.kind == "validation" or history.validation_mail_date is None:
        return None
    ends = validation_end_date(history.validation_mail_date, policy.rules.validation_extra_days)
    if mail_date <= ends:
        return f"the validation period runs until {ends}; no demand may go before it ends"
    return None
