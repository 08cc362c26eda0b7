"""Decisions: every gate, stage boundaries, frequency cap, consolidation, variants, dates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta

import pytest

from addresses.model import AddressChoice, ChoiceStatus
from letters.decide.gates import Outcome, decide_customer
from letters.errors import UsageError
from letters.intake.calendar import MailCalendar, add_business_days, validation_end_date
from letters.intake.policy import Policy, Sender, default_policy_text, load_policy, parse_policy
from letters.model import Account, History
from tests.helpers import AS_OF, account, chosen

POLICY = load_policy(None)
COLLECTOR = replace(POLICY, sender=replace(POLICY.sender, kind="debt_collector"))
DUE_SINCE = {days: (AS_OF - timedelta(days=days)).isoformat() for days in range(-2, 200)}


def _spanish_only(name: str) -> bool:
    return name.startswith("es/")


def _decide(accounts: list[Account], policy: Policy = POLICY, choice: AddressChoice | None = None,
            history: History | None = None,
            exists: Callable[[str], bool] = _spanish_only) -> Outcome:  # fmt: skip
    return decide_customer(
        accounts, choice or chosen(), policy, AS_OF, history or History(), exists
    )


def _codes(outcome: Outcome) -> list[tuple[str, str]]:
    return [(d.status.value, d.reason_code) for d in outcome.decisions]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, ("generated", "letter_due")),
        ({"balance": "0.00", "amount_at_itemization": "62.66"}, ("suppressed", "zero_balance")),
        ({"balance": "4.99", "amount_at_itemization": "67.65"}, ("suppressed", "below_minimum")),
        ({"dispute_open": "yes"}, ("suppressed", "dispute_open")),
        ({"bankruptcy": "yes"}, ("suppressed", "bankruptcy")),
        ({"cease_communication": "yes"}, ("suppressed", "cease_communication")),
        ({"deceased": "yes"}, ("suppressed", "deceased")),
        ({"due_date": DUE_SINCE[0]}, ("suppressed", "not_past_due")),
        ({"due_date": DUE_SINCE[-2]}, ("suppressed", "not_past_due")),
    ],
)
def test_each_gate_has_its_reason_code(
    overrides: dict[str, str], expected: tuple[str, str]
) -> None:
    assert _codes(_decide([account(**overrides)])) == [expected]


def test_attorney_gate_suppresses_or_redirects_by_policy() -> None:
    represented = account(attorney_name="Dana Whitfield, Esq.",
                          attorney_address="77 W Wacker Dr Ste 4100, Chicago IL 60601")  # fmt: skip
    suppress = replace(POLICY, rules=replace(POLICY.rules, attorney="suppress"))
    assert _codes(_decide([represented], suppress)) == [("suppressed", "attorney_represented")]
    outcome = _decide([represented])
    (letter,) = outcome.letters
    assert letter.recipient.role == "attorney"
    assert letter.recipient.name == "Dana Whitfield, Esq."
    assert letter.recipient.address is not None
    assert letter.recipient.address.lines() == ["77 W WACKER DR STE 4100", "CHICAGO IL 60601"]
    assert letter.key.role == "attorney"
    assert letter.key.text.endswith("|attorney")


def test_attorney_and_own_accounts_never_share_a_letter() -> None:
    own = account()
    represented = account(account_id="A2", attorney_name="Dana Whitfield",
                          attorney_address="77 W Wacker Dr, Chicago IL 60601")  # fmt: skip
    letters = _decide([own, represented]).letters
    assert sorted((lt.recipient.role, [d.account.account_id for d in lt.decisions]) for lt in letters) == [
        ("attorney", ["A2"]), ("debtor", ["A1"]),
    ]  # fmt: skip


def test_deceased_with_a_representative_goes_to_the_representative() -> None:
    estate = account(deceased="yes", representative_name="Pat Lovelace, Executor",
                     representative_address="18 S Michigan Ave Ste 300, Chicago IL 60603")  # fmt: skip
    (letter,) = _decide([estate]).letters
    assert (letter.recipient.role, letter.recipient.name) == (
        "representative",
        "Pat Lovelace, Executor",
    )


def test_time_barred_follows_the_policy() -> None:
    barred = account(time_barred="yes")
    (letter,) = _decide([barred]).letters
    assert letter.time_barred
    suppress = replace(POLICY, rules=replace(POLICY.rules, time_barred="suppress"))
    assert _codes(_decide([barred], suppress)) == [("suppressed", "time_barred")]


@pytest.mark.parametrize(
    ("days", "stage", "mail_class"),
    [
        (0, None, None), (1, "reminder", "first_class"), (2, "reminder", "first_class"),
        (29, "reminder", "first_class"), (30, "reminder", "first_class"), (31, "notice", "first_class"),
        (59, "notice", "first_class"), (60, "notice", "first_class"), (61, "final", "certified"),
        (62, "final", "certified"), (180, "final", "certified"),
    ],
)  # fmt: skip
def test_stage_boundaries(days: int, stage: str | None, mail_class: str | None) -> None:
    outcome = _decide([account(due_date=DUE_SINCE[days])])
    if stage is None:
        assert _codes(outcome) == [("suppressed", "not_past_due")]
        return
    (letter,) = outcome.letters
    assert (letter.stage.name, letter.mail_class, letter.template) == (
        stage,
        mail_class,
        f"{stage}.html",
    )


@pytest.mark.parametrize(("days_ago", "allowed"), [(13, False), (14, True), (20, True), (3, False)])
def test_frequency_cap_counts_from_the_last_mail_date(days_ago: int, allowed: bool) -> None:
    mail_date = POLICY.calendar.mail_date(AS_OF)
    history = History(last_mail_date=mail_date - timedelta(days=days_ago))
    outcome = _decide([account(due_date=DUE_SINCE[10])], history=history)  # reminder: 14 days
    assert bool(outcome.letters) is allowed
    if not allowed:
        assert _codes(outcome) == [("suppressed", "too_soon")]


def test_already_sent_names_the_earlier_piece() -> None:
    first = _decide([account()]).letters[0]
    history = History(
        sent={first.key.text: "piece P-1 in batch B-1"}, last_mail_date=date(2026, 1, 1)
    )
    outcome = _decide([account()], history=history)
    assert [(d.reason_code, d.reason_detail) for d in outcome.decisions] == [
        ("already_sent", "piece P-1 in batch B-1")
    ]


def test_a_debtors_accounts_share_one_letter_at_the_most_advanced_stage() -> None:
    accounts = [account(due_date=DUE_SINCE[10]), account(account_id="A2", due_date=DUE_SINCE[70]),
                account(account_id="A3", dispute_open="yes")]  # fmt: skip
    outcome = _decide(accounts)
    (letter,) = outcome.letters
    assert letter.stage.name == "final"
    assert [d.account.account_id for d in letter.decisions] == ["A1", "A2"]
    assert ("suppressed", "dispute_open") in _codes(outcome)


def test_different_names_under_one_customer_are_held() -> None:
    outcome = _decide([account(), account(account_id="A2", full_name="Bob Smith")])
    assert _codes(outcome) == [("held", "name_mismatch")] * 2


def test_address_not_selected_holds_the_letter() -> None:
    review = AddressChoice("C1", ChoiceStatus.REVIEW, None, 0.3, reasons=("ambiguous: two",))
    assert _codes(_decide([account()], choice=review)) == [("held", "address_review")]
    nothing = AddressChoice("C1", ChoiceStatus.NONE, None, 0.0, reasons=("no_address: none",))
    assert _codes(_decide([account()], choice=nothing)) == [("held", "no_address")]


def test_variants_hardship_spanish_large_print_and_abroad() -> None:
    (hardship,) = _decide([account(hardship="yes")]).letters
    assert (hardship.kind, hardship.template) == ("hardship", "hardship.html")
    (spanish,) = _decide([account(language="es")]).letters
    assert (spanish.template, spanish.language) == ("es/notice.html", "es")
    (french,) = _decide([account(language="fr")]).letters
    assert (french.template, french.language) == ("notice.html", "en")
    assert "no fr version of notice.html: sent in English" in french.decisions[0].reason_detail
    (large,) = _decide([account(large_print="yes")]).letters
    assert large.large_print
    abroad = chosen("10 Downing Street", "", "London", "", "SW1A 2AA", "United Kingdom")
    (foreign,) = _decide([account()], choice=abroad).letters
    assert foreign.mail_class == "registered"


def test_a_debt_collector_starts_with_a_validation_notice() -> None:
    (first,) = _decide([account()], COLLECTOR).letters
    assert (first.kind, first.template, first.stage.name) == (
        "validation",
        "validation.html",
        "validation",
    )
    assert first.validation_end_date == validation_end_date(first.mail_date)
    assert first.first_contact
    history = History(validation_sent=True, last_mail_date=date(2026, 9, 1))
    (later,) = _decide([account()], COLLECTOR, history=history).letters
    assert later.kind == "demand" and not later.first_contact and later.validation_end_date is None


@pytest.mark.parametrize(
    ("as_of", "mail_date"),
    [
        (date(2026, 11, 24), date(2026, 11, 25)),  # Tuesday -> Wednesday
        (date(2026, 11, 25), date(2026, 11, 27)),  # Wednesday before Thanksgiving -> Friday
        (date(2026, 11, 21), date(2026, 11, 23)),  # Saturday -> Monday (no Sunday mail)
        (date(2026, 12, 24), date(2026, 12, 26)),  # Christmas Day closed; Saturday open
        (date(2027, 7, 2), date(2027, 7, 3)),  # Saturday July 3 open; observed holiday is Monday
        (date(2027, 7, 3), date(2027, 7, 6)),  # Sunday, then Independence Day observed
    ],
)
def test_mail_date_is_the_next_day_the_post_office_takes_mail(as_of: date, mail_date: date) -> None:
    assert MailCalendar().mail_date(as_of) == mail_date


@pytest.mark.parametrize(
    ("mail_date", "receipt", "end"),
    [
        # mailed the Wednesday before Thanksgiving: Thu holiday, Fri 1, Mon 2, Tue 3, Wed 4, Thu 5
        (date(2026, 11, 25), date(2026, 12, 3), date(2027, 1, 2)),
        # mailed Thursday Dec 23 2027: Fri Dec 24 observed Christmas, Mon 27 .. Thu 30, Fri 31 observed New Year
        (date(2027, 12, 23), date(2028, 1, 3), date(2028, 2, 2)),
        # an ordinary Monday: Tue..Mon
        (date(2026, 3, 2), date(2026, 3, 9), date(2026, 4, 8)),
    ],
)
def test_validation_end_date_skips_weekends_and_federal_holidays(
    mail_date: date, receipt: date, end: date
) -> None:
    assert add_business_days(mail_date, 5) == receipt
    assert validation_end_date(mail_date) == end


def test_policy_file_errors_name_the_key() -> None:
    text = POLICY_TEXT.replace(
        'intended_actions = ["collection_agency"]', 'intended_actions = ["jail"]'
    )
    with pytest.raises(UsageError, match=r"\[rules\]: intended_actions: unknown \['jail'\]"):
        parse_policy(text, "policy.toml")
    assert isinstance(POLICY.sender, Sender)


POLICY_TEXT = default_policy_text()


@pytest.mark.parametrize(
    ("days_since_notice", "allowed"), [(20, False), (36, False), (38, True), (45, True)]
)
def test_no_demand_overshadows_a_running_validation_period(
    days_since_notice: int, allowed: bool
) -> None:
    mail_date = POLICY.calendar.mail_date(AS_OF)
    notice = mail_date - timedelta(days=days_since_notice)
    history = History(validation_sent=True, validation_mail_date=notice, last_mail_date=notice)
    outcome = _decide([account()], COLLECTOR, history=history)
    assert bool(outcome.letters) is allowed
    if not allowed:
        assert _codes(outcome) == [("suppressed", "validation_period")]
