"""Decide per account: which stage and template, or why no letter may go (with a reason code)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from letters.accounts import Account
from letters.policy import Policy, Stage


class Status(StrEnum):
    """An account's outcome in the manifest."""

    GENERATED = "generated"
    HELD = "held"
    SUPPRESSED = "suppressed"
    REJECTED = "rejected"


# Flags about the person, not one debt: any account carrying one stops every letter to the debtor.
PERSON_GATES = (
    ("deceased", "deceased", "debtor recorded as deceased"),
    ("bankruptcy", "bankruptcy", "bankruptcy recorded: collection stayed"),
    ("cease_communication", "cease_communication", "debtor asked us to stop communicating"),
)


@dataclass(frozen=True, slots=True)
class Decision:
    """What happens to one account, and why."""

    account: Account
    status: Status
    reason_code: str
    reason_detail: str
    stage: Stage | None
    days_past_due: int


def _account_gate(account: Account, policy: Policy, days: int) -> tuple[str, str] | None:
    if account.balance <= 0:
        return "zero_balance", f"balance is {account.balance}"
    if account.dispute_open:
        return "dispute_open", "the debtor disputes this account"
    if account.attorney_name:
        return "attorney_represented", "debtor is represented by an attorney for this debt"
    if policy.stage_for(days) is None:
        return "not_past_due", f"{days} days past due: no stage applies"
    return None


def decide_customer(accounts: Sequence[Account], policy: Policy, as_of: date) -> list[Decision]:
    """Decide every account of one debtor together, so person-level gates apply to all of them."""
    for flag, code, detail in PERSON_GATES:
        flagged = [a.account_id for a in accounts if getattr(a, flag)]
        if flagged:
            return [
                Decision(
                    a,
                    Status.SUPPRESSED,
                    code,
                    f"{detail} (account {flagged[0]})",
                    None,
                    (as_of - a.due_date).days,
                )
                for a in accounts
            ]
    names = {a.full_name.casefold() for a in accounts}
    decisions: list[Decision] = []
    for account in accounts:
        days = (as_of - account.due_date).days
        if len(names) > 1:
            decisions.append(
                Decision(
                    account,
                    Status.HELD,
                    "name_mismatch",
                    "accounts of this customer_id carry different names",
                    None,
                    days,
                )
            )
            continue
        gate = _account_gate(account, policy, days)
        if gate:
            decisions.append(Decision(account, Status.SUPPRESSED, *gate, None, days))
        else:
            decisions.append(
                Decision(account, Status.GENERATED, "", "", policy.stage_for(days), days)
            )
    return decisions
