"""The nightly run's plan: choose addresses, then decide every account of every debtor.

Nothing here reads files, renders or writes; `letters.ops.batch` carries the plan out under the
state lock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from addresses.csvio import Reject
from addresses.engine import resolve_all
from addresses.model import AddressChoice, ChoiceStatus
from addresses.records import SourceRecord
from addresses.score import NEGATIVE_STATUSES
from letters.decide.email import ChannelFacts
from letters.decide.gates import NOT_MAILABLE, decide_customer
from letters.intake.request import NotMailable, RunRequest
from letters.intake.sources import Inputs
from letters.model import (
    Account,
    ChannelDecision,
    Decision,
    History,
    LetterSpec,
    MessageSpec,
    Status,
)

Notify = Callable[[str], None]
HistoryOf = Callable[[str], History]
FactsOf = Callable[[str], ChannelFacts]


@dataclass(slots=True)
class Plan:
    """Everything decided before anything is rendered."""

    settled: list[tuple[Decision, AddressChoice]]  # accounts that get no letter, and their choice
    letters: list[LetterSpec]
    choices: dict[str, AddressChoice]
    held_choices: list[AddressChoice]  # debtors held for their address, for review.csv
    rejects: list[Reject]
    accounts_file_name: str
    flagged_address_rows: int
    channel_decisions: list[ChannelDecision] = field(default_factory=list)  # e-mail, per debtor
    messages: list[MessageSpec] = field(default_factory=list)

    def for_the_end(self) -> Plan:
        """What the end of the batch reads of the plan (rejects, debtors held for an address):
        the decided letters and choices are done with once produced (10 MB at 10,000 accounts,
        room for the end's own work)."""
        return Plan([], [], {}, self.held_choices, self.rejects, self.accounts_file_name,
                    self.flagged_address_rows)  # fmt: skip


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


def apply_not_mailable(
    choices: dict[str, AddressChoice],
    records: Sequence[SourceRecord],
    holds: Sequence[NotMailable],
) -> dict[str, AddressChoice]:
    """A debtor a reviewer marked not mailable gets no address, until a source reports one (any
    address, not returned mail) dated after the decision."""
    for hold in holds:
        if hold.customer_id not in choices:
            continue
        newer = any(
            r.customer_id == hold.customer_id
            and r.observed_at > hold.since
            and r.status not in NEGATIVE_STATUSES
            for r in records
        )
        if not newer:
            reason = f"{NOT_MAILABLE}: marked not mailable by a reviewer ({hold.detail})"
            choices[hold.customer_id] = AddressChoice(
                hold.customer_id,
                ChoiceStatus.NONE,
                None,
                0.0,
                reasons=(reason,),
            )
    return choices


def plan_batch(
    request: RunRequest,
    inputs: Inputs,
    notify: Notify,
    history_of: HistoryOf = lambda _customer: History(),
    template_exists: Callable[[str], bool] = lambda _name: False,
    facts_of: FactsOf | None = None,
) -> Plan:
    """Resolve addresses and decide every account; the letters come out in input order. With
    `facts_of` (the policy sends e-mail) every debtor gets an e-mail decision too."""
    groups = _group_by_customer(inputs.accounts)
    records = [*inputs.records, *request.extra_records]
    choices = apply_not_mailable(
        resolve_addresses(request, records, set(groups)), records, request.not_mailable
    )
    flagged = sum(len(choice.flagged) for choice in choices.values())
    notify(f"resolved addresses for {len(choices)} debtors; {flagged} address rows failed a check")
    plan = Plan(
        settled=[],
        letters=[],
        choices=choices,
        held_choices=[],
        rejects=inputs.rejects,
        accounts_file_name=request.accounts_path.name,
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
            facts_of(customer_id) if facts_of is not None else None,
        )
        plan.letters.extend(outcome.letters)
        plan.channel_decisions.extend(outcome.channel_decisions)
        plan.messages.extend(outcome.messages)
        plan.settled.extend(
            (d, choice) for d in outcome.decisions if d.status is not Status.GENERATED
        )
        if any(d.reason_code in ("address_review", "no_address") for d in outcome.decisions):
            plan.held_choices.append(choice)
    return plan
