"""E-mail decisions: every letter gate stops e-mail too, then the channel's own gates (Reg F)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from addresses.model import AddressChoice, ChoiceStatus
from letters.decide.email import ChannelFacts
from letters.decide.gates import Outcome, decide_customer
from letters.errors import UsageError
from letters.intake.channels import stop_kind
from letters.intake.policy import Policy, load_policy, parse_policy
from letters.model import Account, ContactPoint, History
from tests.helpers import AS_OF, account, chosen

ROOT = Path(__file__).resolve().parent.parent
MULTI = load_policy(ROOT / "examples" / "policy-multichannel.toml")
COLLECTOR = replace(MULTI, sender=replace(MULTI.sender, kind="debt_collector"))
REMINDER = {"due_date": (AS_OF - timedelta(days=10)).isoformat()}  # e-mail only
NOTICE = {"due_date": (AS_OF - timedelta(days=50)).isoformat()}  # e-mail and letter
FINAL = {"due_date": (AS_OF - timedelta(days=100)).isoformat()}  # letter only


def point(basis: str = "consent", **changes: object) -> ContactPoint:
    base = ContactPoint("C1", "email", "ada@example.com", basis, date(2026, 1, 5), False, None,
                        False, "contacts.csv:2")  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def decide(accounts: list[Account], *points: ContactPoint, policy: Policy = MULTI,
           choice: AddressChoice | None = None, history: History | None = None,
           **facts: Any) -> Outcome:  # fmt: skip
    channel = ChannelFacts(points=points, **facts)
    return decide_customer(accounts, choice or chosen(), policy, AS_OF, history or History(),
                           lambda _name: False, channel)  # fmt: skip


def email_code(outcome: Outcome) -> tuple[str, str]:
    [decision] = outcome.channel_decisions
    return decision.status.value, decision.reason_code


def test_a_consented_address_gets_the_stage_email_and_the_letter_where_the_stage_has_both() -> None:
    outcome = decide([account(**NOTICE)], point())
    assert email_code(outcome) == ("generated", "message_due")
    [message] = outcome.messages
    assert (message.key, message.to, message.zip5) == (
        "C1|notice|2026-10-01|email",
        "ada@example.com",
        "60614",
    )
    assert message.attach_letter_key == "C1|notice|2026-10-01"
    assert [d.reason_code for d in outcome.decisions] == ["letter_due"]


def test_an_email_only_stage_sends_no_letter_and_a_letter_only_stage_no_email() -> None:
    reminder = decide([account(**REMINDER)], point())
    assert email_code(reminder) == ("generated", "message_due")
    assert [(d.status.value, d.reason_code) for d in reminder.decisions] == [
        ("suppressed", "no_letter_at_stage")
    ]
    final = decide([account(**FINAL)], point())
    assert email_code(final) == ("suppressed", "stage_without_email") and final.messages == []
    assert [d.reason_code for d in final.decisions] == ["letter_due"]


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"cease_communication": "yes"}, "cease_communication"),
        ({"bankruptcy": "yes"}, "bankruptcy"),
        ({"deceased": "yes"}, "deceased"),
        ({"dispute_open": "yes"}, "dispute_open"),
        (
            {
                "attorney_name": "Dana Whitfield, Esq.",
                "attorney_address": "77 W Wacker Dr Ste 4100, Chicago IL 60601",
            },
            "attorney_represented",
        ),
    ],
)
def test_every_gate_that_stops_a_letter_stops_the_email(
    overrides: dict[str, str], code: str
) -> None:
    outcome = decide([account(**NOTICE, **overrides)], point())
    assert email_code(outcome) == ("suppressed", code)
    assert outcome.messages == []


def test_address_or_identity_doubt_holds_the_email() -> None:
    doubt = AddressChoice(
        "C1", ChoiceStatus.REVIEW, None, 0.3, reasons=("conflict: two addresses",)
    )
    outcome = decide([account(**NOTICE)], point(), choice=doubt)
    assert email_code(outcome) == ("held", "address_review")


@pytest.mark.parametrize(
    ("points", "facts", "code"),
    [
        ((), {}, "no_email_address"),
        ((point(opted_out_at=date(2026, 11, 1)),), {}, "opted_out"),
        ((point(),), {"stopped": {"ada@example.com": "opted_out"}}, "opted_out"),
        ((point(),), {"stopped": {"ada@example.com": "bounced"}}, "bounced_address"),
        ((point("creditor_notice", is_work=True),), {}, "employer_address"),
        ((point(""),), {}, "no_consent_basis"),
        (
            (point("creditor_notice", consent_date=AS_OF - timedelta(days=34)),),
            {},
            "no_consent_basis",
        ),
        (
            (point(),),
            {"live_keys": {"C1|notice|2026-10-01|email": "message M in batch B (sent)"}},
            "already_sent",
        ),
        ((point(),), {"recent": (AS_OF - timedelta(days=6),)}, "weekly_cap"),
        ((point(),), {"recent": (AS_OF + timedelta(days=5),)}, "weekly_cap"),  # still queued
    ],
)
def test_each_email_gate_has_its_reason_code(
    points: tuple[ContactPoint, ...], facts: dict[str, Any], code: str
) -> None:
    outcome = decide([account(**NOTICE)], *points, **facts)
    assert email_code(outcome) == ("suppressed", code)
    assert [d.reason_code for d in outcome.decisions] == ["letter_due"]  # the letter still goes


@pytest.mark.parametrize(
    "usable",
    [
        point("consumer_used"),
        point("prior_collector"),
        point("consent", is_work=True),  # the consumer's own consent excuses a work address
        point("creditor_notice", consent_date=AS_OF - timedelta(days=35)),
    ],
)
def test_each_safe_harbour_basis_lets_the_email_go(usable: ContactPoint) -> None:
    assert email_code(decide([account(**NOTICE)], usable)) == ("generated", "message_due")


def test_a_week_old_email_no_longer_counts_against_the_cap() -> None:
    outcome = decide([account(**NOTICE)], point(), recent=(AS_OF - timedelta(days=7),))
    assert email_code(outcome) == ("generated", "message_due")


def test_a_later_row_wins_but_an_opt_out_stays() -> None:
    opted = point(opted_out_at=date(2026, 10, 1))
    assert email_code(decide([account(**NOTICE)], opted, point())) == ("suppressed", "opted_out")
    other = point(value="ada.work@example.org", is_work=True, consent_basis="creditor_notice")
    assert decide([account(**NOTICE)], other, point()).messages[0].to == "ada@example.com"


def test_the_validation_notice_goes_by_email_only_with_esign_consent() -> None:
    without = decide([account(**REMINDER)], point(), policy=COLLECTOR)
    assert email_code(without) == ("suppressed", "no_esign_consent")
    assert [d.reason_code for d in without.decisions] == ["letter_due"]  # by mail, at any stage
    assert without.letters[0].kind == "validation"
    with_esign = decide([account(**REMINDER)], point(esign_consent=True), policy=COLLECTOR)
    assert email_code(with_esign) == ("generated", "message_due")
    assert with_esign.messages[0].kind == "validation"


def test_the_validation_period_stops_a_demand_email() -> None:
    history = History(validation_sent=True, validation_mail_date=AS_OF - timedelta(days=10))
    outcome = decide([account(**NOTICE)], point(), policy=COLLECTOR, history=history)
    assert email_code(outcome) == ("suppressed", "validation_period")


def test_a_policy_without_email_decides_no_email() -> None:
    outcome = decide_customer([account(**NOTICE)], chosen(), load_policy(None), AS_OF)
    assert outcome.channel_decisions == [] and outcome.messages == []


@pytest.mark.parametrize(
    ("event", "detail", "kind"),
    [
        ("opted_out", "", "opted_out"),
        ("complained", "", "opted_out"),
        ("replied", "Stop. Please.", "opted_out"),
        ("replied", "ALTO", "opted_out"),
        ("replied", "I will pay on Friday", ""),
        ("replied", "Please STOP, thank you\nRe: A message from us", "opted_out"),
        ("replied", "I want to opt out", "opted_out"),
        ("bounced", "550 5.1.1 no such user", "bounced"),
        ("bounced", "soft: mailbox full", ""),
        ("delivered", "", ""),
    ],
)
def test_which_events_stop_the_channel(event: str, detail: str, kind: str) -> None:
    assert stop_kind(event, detail) == kind


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[channels.email]\nsend_until = "21:30"', "within 08:00-21:00"),
        ('[channels.email]\nsend_from = "07:00"', "within 08:00-21:00"),
        ("[channels.email]\nmax_per_7_days = 0", "at least 1"),
        ('[email]\ntransport = "ftp://x"', "smtp://HOST:PORT or maildir:PATH"),
        ('[email]\nattachment = "plain"', "attachment"),
    ],
)
def test_the_policy_refuses_wider_quiet_hours_and_unknown_settings(
    table: str, message: str
) -> None:
    text = (ROOT / "examples" / "policy-multichannel.toml").read_text(encoding="utf-8")
    text = text.replace("[channels.email]", "[old_channels_email]").replace(
        "[email]", "[old_email]"
    )
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse_policy(f"{table}\n{text}", "policy.toml")


def test_a_stage_with_an_unknown_channel_is_refused() -> None:
    text = (ROOT / "examples" / "policy-multichannel.toml").read_text(encoding="utf-8")
    with pytest.raises(UsageError, match="channels"):
        parse_policy(text.replace('channels = ["email"]', 'channels = ["sms"]'), "policy.toml")


@pytest.mark.parametrize(
    "where",
    [
        chosen("10 Downing St", "", "London", "", "SW1A 2AA", "GB"),  # foreign
        chosen("Unit 2050 Box 4190", "", "APO", "AP", "96278"),  # military: no zone
    ],
)
def test_no_email_where_the_debtors_local_time_is_unknown(where: AddressChoice) -> None:
    outcome = decide([account(**NOTICE)], point(), choice=where)
    assert email_code(outcome) == ("suppressed", "no_time_zone")
