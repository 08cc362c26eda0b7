"""What a template sees for one letter (money formatted for print), and what its lint must find."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from addresses.model import AddressChoice
from letters.intake.policy import Policy
from letters.model import LetterSpec, format_money
from letters.render.articles import PostalMarks
from letters.render.lint import LintSpec
from letters.render.notices import CFPB_URL, mini_miranda, notices_for
from letters.render.wording import (
    earlier_context,
    letter_facts,
    representative_statement,
    spanish_initial_notice,
    spanish_validation_items,
)

# USPS service endorsements print in English in every letter: USPS reads them (DMM 503), and they
# show through the window; the lint exempts them from `english_in_spanish`.
ENDORSEMENTS = {
    "first_class": "",
    "certified": "CERTIFIED MAIL",
    "certified_return_receipt": "CERTIFIED MAIL RETURN RECEIPT REQUESTED",
    "registered": "REGISTERED MAIL",
}
# USPS ancillary service endorsement (DMM 507.1.5): forward, or return with the new address. A
# letter to an address chosen as the one live address after returned mail asks for it, so a
# wrong address comes back and feeds the engine; printed in the service window (left of the
# postage area), in addition to any accountable-mail endorsement.
ADDRESS_SERVICE = "ADDRESS SERVICE REQUESTED"
SPANISH_MONTHS = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
]


def long_date(day: date, language: str) -> str:
    """`November 20, 2026`, or `20 de noviembre de 2026` in Spanish."""
    if language == "es":
        return f"{day.day} de {SPANISH_MONTHS[day.month - 1]} de {day.year}"
    return f"{day:%B} {day.day}, {day.year}"


@dataclass(frozen=True, slots=True)
class LetterContent:
    """A letter's template data and what its lint must find."""

    context: dict[str, Any]
    lint: LintSpec


def letter_content(
    piece_id: str,
    policy: Policy,
    letter: LetterSpec,
    consumer: AddressChoice,
    marks: PostalMarks | None = None,
    references: Mapping[str, str] | None = None,
) -> LetterContent:
    """The data a template sees for one letter (money formatted for print), and its lint spec.

    `references` holds each account's registered payment reference (account id -> reference);
    without it (sample letters) an account's first candidate is printed.
    """
    accounts = [d.account for d in letter.decisions]
    reference = {
        a.account_id: references[a.account_id] if references is not None else a.payment_reference
        for a in accounts
    }
    currency = accounts[0].currency
    total = sum((a.balance for a in accounts), Decimal("0"))
    sender = policy.sender
    recipient = letter.recipient
    assert recipient.address is not None
    address_lines = recipient.address.lines()
    facts = letter_facts(letter)
    # a combined English + Spanish validation notice opens in English (1006.34(e))
    language = "en" if facts["with_english_notice"] else letter.language

    def money(amount: Decimal) -> str:
        return format_money(amount, currency)

    items = [
        {
            "account_last4": a.account_number_last4,
            "creditor": a.creditor,
            "original_creditor": a.original_creditor,
            "due_date": a.due_date.isoformat(),
            "due_date_long": long_date(a.due_date, language),
            "itemization_date": a.itemization_date.isoformat(),
            "amount_at_itemization": money(a.amount_at_itemization),
            "interest_since": money(a.interest_since),
            "fees_since": money(a.fees_since),
            "payments_since": money(a.payments_since),
            "balance": money(a.balance),
            "payment_reference": reference[a.account_id],
            "itemization_long": long_date(a.itemization_date, language),  # B-1 spells dates out
            "has_changes": bool(a.interest_since or a.fees_since or a.payments_since),
        }
        for a in accounts
    ]
    creditor = accounts[0].creditor
    collector = sender.is_debt_collector
    disclosures = notices_for(
        recipient.address.state, sender.kind, letter.first_contact, letter.time_barred, creditor
    )
    initial = mini_miranda(sender.name, creditor, True, language) if collector else ""
    later = mini_miranda(sender.name, creditor, letter.first_contact, language) if collector else ""
    endorsement = ENDORSEMENTS[letter.mail_class]
    to_chosen = consumer.address_service_requested and recipient.address == consumer.address
    address_service = ADDRESS_SERVICE if to_chosen else ""
    marks = marks or PostalMarks()
    postal = marks.context(recipient.address.zip if not recipient.address.is_foreign else "")
    consumer_lines = consumer.address.lines() if consumer.address else address_lines
    context: dict[str, Any] = {
        "sender": {
            "name": sender.name,
            "address": sender.address,
            "dispute_address": sender.dispute_address,
            "payment_address": sender.payment_address,
            "phone": sender.phone,
            # a Spanish letter never prints the English hours: `hours_es`, else none
            "hours": sender.hours_es if language == "es" else sender.hours,
            "website": sender.website,
            "email": sender.email,
            "signatory": (sender.signatory_es or sender.signatory)
            if language == "es"
            else sender.signatory,
        },
        "recipient": {
            "name": recipient.name,
            "role": recipient.role,
            "address_lines": address_lines,
            "debtor_name": accounts[0].full_name,
        },
        "consumer": {"name": accounts[0].full_name, "address_lines": consumer_lines},
        "letter": {
            "piece_id": piece_id,
            "reference": reference[accounts[0].account_id],  # the first account's: see README
            "language": language,
            "kind": letter.kind,
            "mail_date": long_date(letter.mail_date, language),
            "mail_date_iso": letter.mail_date.isoformat(),
            "stage": letter.stage.name,
            "endorsement": endorsement,
            "address_service": address_service,
            "days_past_due": max(d.days_past_due for d in letter.decisions),
            "large_print": letter.large_print,
            "time_barred": letter.time_barred,
            "intended_actions": policy.rules.intended_actions,
            "mention_suit": "lawsuit" in policy.rules.intended_actions and not letter.time_barred,
            "validation_end_date": (
                long_date(letter.validation_end_date, language)
                if letter.validation_end_date
                else ""
            ),
            "first_contact": letter.first_contact,
            "earlier_letters": earlier_context(letter.earlier, language, long_date),
            **facts,
            "estate_statement": representative_statement(language),
            **postal,
            "initial_notice": initial,
            "collector_notice": later if letter.kind != "validation" else "",
        },
        "accounts": items,
        "total_due": money(total),
        "disclosures": disclosures,
        "cfpb_url": CFPB_URL,
        # where the Spanish notice of a combined envelope starts (the renderer's `notice_pages`)
        "layout_marker": "cobrador" if facts["with_english_notice"] else "",
        "spanish": {
            "initial_notice": spanish_initial_notice(sender.name, creditor),
            "hours": sender.hours_es,
            "mail_date": long_date(letter.mail_date, "es"),
            "validation_end_date": (
                long_date(letter.validation_end_date, "es") if letter.validation_end_date else ""
            ),
            "itemization_dates": [long_date(a.itemization_date, "es") for a in accounts],
        },
    }
    figures = ("amount_at_itemization", "interest_since", "fees_since", "payments_since", "balance")
    amounts = {money(total)} | {str(item[key]) for item in items for key in figures}
    required: list[tuple[str, str]] = [
        ("recipient_name", recipient.name),
        *((f"address_line_{n}", line) for n, line in enumerate(address_lines, start=1)),
        ("amount_due", money(total)),
        *((f"payment_reference_{n}", reference[a.account_id]) for n, a in enumerate(accounts, 1)),
        ("contact_phone", sender.phone),
        *((f"state_notice_{n}", text) for n, text in enumerate(disclosures, start=1)),
    ]
    if endorsement:
        required.append(("endorsement", endorsement))
    if address_service:
        required.append(("address_service", address_service))
    if marks.article_number:
        required.append(("article_number", str(postal["article_number_display"])))
    if collector and letter.kind != "validation":
        required.append(("debt_collector_notice", later))
    if letter.kind == "hardship":
        required.append(
            ("payment_plan_offer", "plan de pagos" if language == "es" else "payment plan")
        )
    if recipient.role == "representative":
        required.append(("estate_statement", representative_statement(language)))
    if letter.kind == "validation" and letter.language == "es":
        spanish = context["spanish"]
        required += spanish_validation_items(
            spanish["initial_notice"], items, spanish["validation_end_date"]
        )
    if letter.kind == "validation" and language == "en":
        required += validation_items(
            sender.name,
            sender.dispute_address,
            initial,
            items,
            context["letter"]["validation_end_date"],
            consumer_lines,
            accounts[0].full_name,
        )
    lint = LintSpec(
        required=tuple(required),
        amounts=frozenset(amounts),
        total=money(total),
        intended_actions=policy.rules.intended_actions,
        time_barred=letter.time_barred,
        earlier_letters=len(letter.earlier),
        role=recipient.role,
        kind=letter.kind,
        language=letter.language,
        spanish_from=context["spanish"]["initial_notice"] if facts["with_english_notice"] else "",
        exempt=(
            *disclosures,
            sender.name,
            *sender.address,
            *sender.dispute_address,
            *sender.payment_address,
            *(t for t in (sender.website, sender.email, endorsement, address_service) if t),
            *((sender.signatory,) if sender.signatory and not sender.signatory_es else ()),
            CFPB_URL,
            recipient.name,
            accounts[0].full_name,
            *address_lines,
            *(a.creditor for a in accounts),
            *(a.original_creditor for a in accounts),
        ),
        window_text={
            "return": (sender.name, *sender.address),
            "recipient": (recipient.name, *address_lines),
            "service": (address_service, endorsement, str(postal["article_number_display"])),
        },
    )
    return LetterContent(context, lint)


def validation_items(
    collector: str,
    dispute_address: Sequence[str],
    initial_notice: str,
    items: Sequence[dict[str, Any]],
    end_date: str,
    consumer_lines: Sequence[str],
    consumer_name: str,
) -> list[tuple[str, str]]:
    """Every item of 12 CFR 1006.34(c) as text the validation notice must show."""
    required = [
        ("1_debt_collector_disclosure", initial_notice),
        ("2_collector_name", collector),
        *((f"2_dispute_address_{n}", line) for n, line in enumerate(dispute_address, start=1)),
        ("3_consumer_name", consumer_name),
        *((f"3_consumer_address_{n}", line) for n, line in enumerate(consumer_lines, start=1)),
        (
            "11_validation_end_date",
            f"Call or write to us by {end_date}, to dispute all or part of the debt.",
        ),
        ("11_dispute_stops_collection", "we must stop collection on any amount you dispute"),
        ("11_original_creditor_request", "name and address of the original creditor"),
        ("11_assumed_valid", "we will assume that our information is correct"),
        ("12_cfpb", CFPB_URL),
        ("13_respond_heading", "How do you want to respond?"),
        ("13_check_all", "Check all that apply:"),
        ("13_not_my_debt", "This is not my debt."),
        ("13_amount_wrong", "The amount is wrong."),
        ("13_other", "Other (please describe on reverse or attach additional information)."),
        (
            "13_original_creditor",
            "I want you to send me the name and address of the original creditor.",
        ),
        ("13_enclosed", "I enclosed this amount:"),
        # Model Form B-1's own words around the items (its layout: see validation.html)
        ("12_rights", "to learn more about your rights under federal law."),
        ("13_mail_to", "Mail this form to:"),
        ("13_dispute_because", "I want to dispute the debt because I think:"),
        ("13_payable", f"Make your check payable to {collector}"),
    ]
    for n, item in enumerate(items, start=1):
        required += [
            (
                f"4_creditor_on_itemization_date_{n}",
                f"You had an account with {item['original_creditor']}",
            ),
            (f"5_account_number_{n}", f"account number ending {item['account_last4']}"),
            (
                f"6_current_creditor_{n}",
                f"The creditor to whom the debt is currently owed: {item['creditor']}",
            ),
            (f"7_itemization_date_{n}", f"As of {item['itemization_long']}, you owed:"),
            (f"8_amount_on_itemization_date_{n}", item["amount_at_itemization"]),
            (
                f"9_interest_{n}",
                f"You were charged this amount in interest: + {item['interest_since']}",
            ),
            (f"9_fees_{n}", f"You were charged this amount in fees: + {item['fees_since']}"),
            (f"9_payments_{n}", f"toward the debt: \u2013 {item['payments_since']}"),
            (f"10_current_amount_{n}", f"Total amount of the debt now: {item['balance']}"),
        ]
    return required
