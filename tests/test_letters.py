"""Letters as a reader and a lawyer read them: the validation notice, variants, and the lint."""

from __future__ import annotations

import io
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pdfplumber
import pytest

from letters.intake.envelope import DEFAULT_PROFILE
from letters.intake.policy import load_policy
from letters.render.lint import lint_letter
from letters.render.renderer import Renderer, default_templates_dir, pdf_text
from tests.helpers import account, chosen, letter_for

POLICY = load_policy(None)
COLLECTOR = replace(POLICY, sender=replace(POLICY.sender, kind="debt_collector"))


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(default_templates_dir())


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def test_validation_notice_contains_every_regulation_f_item(renderer: Renderer) -> None:
    debtor = account(interest_since="12.34", fees_since="25.00", payments_since="100.00")
    letter, content = letter_for([debtor], COLLECTOR)
    pdf = renderer.render(letter.template, content.context, "P-000001")
    text = _flat(pdf_text(pdf.data))
    end = content.context["letter"]["validation_end_date"]
    items = [
        # 1 debt collector disclosure
        "Lakeside Community Credit Union is a debt collector. We are trying to collect a debt that you owe to Lakeside Community Credit Union. We will use any information you give us to help collect the debt.",
        # 2 collector name and dispute address
        "PO BOX 4410",
        "CHICAGO IL 60680",
        # 3 consumer name and mailing address
        "Ada Lovelace",
        "123 N MAIN ST APT 4",
        "CHICAGO IL 60614",
        # 4 creditor on the itemization date, 5 account number (truncated)
        "You had an account with Lakeside Community Credit Union with account number ending 1234",
        # 6 current creditor
        "The creditor to whom the debt is currently owed: Lakeside Community Credit Union",
        # 7 itemization date, 8 amount then
        "As of August 1, 2026, you owed: $1,000.00",  # B-1 spells the date out
        # 9 itemization since then
        "You were charged this amount in interest: + $12.34",
        "You were charged this amount in fees: + $25.00",
        "You paid or were credited this amount toward the debt: \u2013 $100.00",
        # 10 current amount
        "Total amount of the debt now: $937.34",
        # 11 validation period end date and rights
        f"Call or write to us by {end}, to dispute all or part of the debt.",
        "we must stop collection on any amount you dispute",
        "name and address of the original creditor",
        "we will assume that our information is correct",
        # 12 CFPB pointer
        "www.cfpb.gov/debt-collection",
        # 13 the response section
        "How do you want to respond?",
        "Check all that apply:",
        "This is not my debt.",
        "The amount is wrong.",
        "Other (please describe on reverse or attach additional information).",
        "I want you to send me the name and address of the original creditor.",
        "I enclosed this amount: $",
    ]
    missing = [item for item in items if _flat(item) not in text]
    assert missing == []
    # mailed Saturday 2026-11-21; 5 business days (Thanksgiving skipped) end Monday 11-30; + 30
    assert end == "December 30, 2026"
    assert lint_letter(pdf.runs, content.lint, DEFAULT_PROFILE) == []


@pytest.mark.parametrize(
    "overrides",
    [
        {}, {"due_date": "2026-11-10"}, {"due_date": "2026-08-01"}, {"hardship": "yes"},
        {"language": "es"}, {"language": "es", "hardship": "yes"}, {"language": "es", "due_date": "2026-08-01"},
        {"large_print": "yes"}, {"time_barred": "yes", "due_date": "2026-08-01"},
        {"attorney_name": "Dana Whitfield, Esq.", "attorney_address": "77 W Wacker Dr Ste 4100, Chicago IL 60601"},
    ],
)  # fmt: skip
def test_every_default_letter_passes_its_lint(
    renderer: Renderer, overrides: dict[str, str]
) -> None:
    for policy in (POLICY, COLLECTOR):
        letter, content = letter_for([account(**overrides)], policy)
        pdf = renderer.render(letter.template, content.context, "P-000001")
        assert lint_letter(pdf.runs, content.lint, DEFAULT_PROFILE) == [], (
            letter.template,
            policy.sender.kind,
        )


def test_spanish_and_large_print_letters_read_as_intended(renderer: Renderer) -> None:
    letter, content = letter_for([account(language="es", large_print="yes")])
    pdf = renderer.render(letter.template, content.context, "P-000001")
    text = pdf_text(pdf.data)
    assert "Su cuenta está vencida" in text and "Atentamente" in text
    with pdfplumber.open(io.BytesIO(pdf.data)) as document:
        sizes = [round(c["size"], 1) for c in document.pages[0].chars if c["top"] > 3.5 * 72]
    assert max(set(sizes), key=sizes.count) >= 16.0  # body text at least 16 pt


def _custom(tmp_path: Path, body: str) -> Renderer:
    shutil.copytree(default_templates_dir(), tmp_path / "templates")
    template = (
        body
        if body.startswith("<html")
        else ('{% extends "base.html" %}{% block body %}' + body + "{% endblock %}")
    )
    (tmp_path / "templates" / "notice.html").write_text(template, encoding="utf-8")
    return Renderer(tmp_path / "templates")


GOOD_BODY = "<p>Dear {{ recipient.name }}, you owe {{ total_due }}. Call {{ sender.phone }}.</p>"


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        (GOOD_BODY + "<p>If you do not pay, we will sue you.</p>", "prohibited:lawsuit"),
        (GOOD_BODY + "<p>Failure to pay may lead to your arrest.</p>", "prohibited:arrest_or_jail"),
        (
            GOOD_BODY + "<p>Our legal department has your file.</p>",
            "prohibited:attorney_involvement",
        ),
        (
            GOOD_BODY + "<p>We will report you to the credit bureaus.</p>",
            "prohibited:credit_reporting",
        ),
        (GOOD_BODY + "<p>SUMMONS</p>", "prohibited:court_imitation"),
        (GOOD_BODY + "<p>A late fee of $35.00 applies.</p>", "amounts"),
        ("<p>Dear {{ recipient.name }}. Call {{ sender.phone }}.</p>", "amounts"),
        (
            "<html><body><p>Dear {{ recipient.name }}, you owe {{ total_due }}.</p></body></html>",
            "missing:contact_phone",
        ),
        (
            "<html><body><p>Dear {{ recipient.name }}, you owe {{ total_due }}.</p></body></html>",
            "missing:address_line_1",
        ),
        (
            GOOD_BODY + '<div style="position:absolute;top:1.95in;left:2.9in">PAST DUE</div>',
            "window",
        ),
    ],
)
def test_lint_rules_fire(tmp_path: Path, body: str, rule: str) -> None:
    letter, content = letter_for([account()])
    assert letter.template == "notice.html"
    pdf = _custom(tmp_path, body).render("notice.html", content.context, "P-000001")
    failures = lint_letter(pdf.runs, content.lint, DEFAULT_PROFILE)
    assert any(f.startswith(rule) for f in failures), failures


def test_lint_allows_what_the_policy_intends_but_never_suit_on_time_barred_debt(
    tmp_path: Path,
) -> None:
    body = GOOD_BODY + "<p>If the account stays unpaid, we may file a lawsuit.</p>"
    renderer = _custom(tmp_path, body)
    suing = replace(POLICY, rules=replace(POLICY.rules, intended_actions=("lawsuit",)))
    _letter, content = letter_for([account()], suing)
    pdf = renderer.render("notice.html", content.context, "P-000001")
    assert lint_letter(pdf.runs, content.lint, DEFAULT_PROFILE) == []
    _letter, content = letter_for([account(time_barred="yes")], suing)
    pdf = renderer.render("notice.html", content.context, "P-000001")
    assert [f.split(":")[0] for f in lint_letter(pdf.runs, content.lint, DEFAULT_PROFILE)] == [
        "suit_time_barred"
    ]


def test_required_state_notices_are_exempt_from_the_phrase_list(renderer: Renderer) -> None:
    california = chosen("1 Market St", "", "San Francisco", "CA", "94105")
    letter, content = letter_for([account(time_barred="yes")], COLLECTOR, california)
    text = " ".join(content.context["disclosures"])
    assert "Rosenthal" in text and "cannot sue you" in text and "arrest" in text
    pdf = renderer.render(letter.template, content.context, "P-000001")
    assert lint_letter(pdf.runs, content.lint, DEFAULT_PROFILE) == []


def test_state_notices_follow_the_state_and_sender_kind() -> None:
    new_york = chosen("1 Broadway", "", "New York", "NY", "10004")
    assert letter_for([account()], POLICY, new_york)[1].context["disclosures"] == []
    notices = letter_for([account()], COLLECTOR, new_york)[1].context["disclosures"]
    assert len(notices) == 1 and "exempt" not in notices[0] and "money judgment" in notices[0]
    boston = chosen("1 Main St", "", "Boston", "MA", "02108")
    assert (
        "NOTICE OF IMPORTANT RIGHTS"
        in letter_for([account()], POLICY, boston)[1].context["disclosures"][0]
    )


def test_a_foreign_address_of_two_street_lines_fits_its_window(renderer: Renderer) -> None:
    mexico = chosen(
        "Av. Paseo de la Reforma 222", "Col. Juárez", "Ciudad de México CDMX", "", "06600", "MEXICO"
    )
    letter, content = letter_for([account(due_date="2026-08-01")], POLICY, mexico)
    pdf = renderer.render(letter.template, content.context, "P-000001")
    assert letter.mail_class == "registered"
    assert lint_letter(pdf.runs, content.lint, DEFAULT_PROFILE) == []
