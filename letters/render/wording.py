"""Wording true to the record and right for the recipient and language: the facts a template gets
about earlier letters, the Spanish validation notice's data, and the lint rules that check them.

Rules (a failure holds the letter with reason `lint:<rule>`; phrases in `data/wording.toml`):
- `false_history`: a claim of earlier contact when the state holds no earlier letter to this
  recipient in this cycle;
- `attorney_demand`: a demand on the debtor's attorney (a validation notice keeps the model form's
  words to the consumer, under a "Re: <client>, your client" line);
- `representative_liability`: words that make the estate's representative personally liable;
- `english_in_spanish`: an English word in a Spanish page, beyond names, addresses, creditor
  names, required notices, the USPS endorsement and codes (a token with a digit); the English
  pages of a combined English + Spanish validation notice are not Spanish pages.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import Any, Protocol

from letters.model import EarlierLetter, LetterSpec

_SPACES = re.compile(r"\s+")
# a word is a token of letters only: a token with a digit in it is a code (a piece id like
# `…-3be9-000001`, an article number like `RE123456785US`), never prose
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_ADDRESSES = re.compile(r"\S*@\S*|\S*www\.\S*|\S+\.(com|org|gov|net|example)\S*")
STAGE_NAMES_ES = {
    "reminder": "recordatorio",
    "notice": "aviso de cuenta vencida",
    "final": "último requerimiento",
    "validation": "aviso de validación",
    "hardship": "carta de ayuda",
}


class Run(Protocol):
    """A laid-out piece of text (`letters.render.renderer.TextRun`)."""

    @property
    def page(self) -> int: ...
    @property
    def text(self) -> str: ...


@dataclass(frozen=True, slots=True)
class WordingRules:
    """The phrase lists of `data/wording.toml`, compiled."""

    false_history: tuple[re.Pattern[str], ...]
    attorney_demand: tuple[re.Pattern[str], ...]
    representative_liability: tuple[re.Pattern[str], ...]
    representative_statement: dict[str, str]
    english_words: frozenset[str]


def _compiled(table: dict[str, list[str]]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.IGNORECASE) for lang in ("en", "es") for p in table[lang])


@functools.cache
def wording_rules() -> WordingRules:
    """The shipped wording rules."""
    text = resources.files("letters").joinpath("data/wording.toml").read_text("utf-8")
    data = tomllib.loads(text)
    return WordingRules(
        false_history=_compiled(data["false_history"]),
        attorney_demand=_compiled(data["attorney_demand"]),
        representative_liability=_compiled(data["representative_liability"]),
        representative_statement=dict(data["representative_statement"]),
        english_words=frozenset(w.casefold() for w in data["english_in_spanish"]["words"]),
    )


def representative_statement(language: str) -> str:
    """That the estate's representative is not personally obligated, in the letter's language."""
    statements = wording_rules().representative_statement
    return statements.get(language, statements["en"])


def earlier_context(
    earlier: Sequence[EarlierLetter], language: str, long_date: Callable[[date, str], str]
) -> list[dict[str, str]]:
    """The earlier letters of the cycle as a template sees them: date, stage, kind, channel."""
    return [
        {
            "date": long_date(e.mail_date, language) if e.mail_date else "",
            "date_iso": e.mail_date.isoformat() if e.mail_date else "",
            "stage": STAGE_NAMES_ES.get(e.stage, e.stage) if language == "es" else e.stage,
            "kind": e.kind,
            "channel": e.channel,
        }
        for e in earlier
    ]


def spanish_initial_notice(sender_name: str, creditor: str) -> str:
    """The disclosure of the CFPB's Spanish model notice ("collectar" corrected to "cobrar")."""
    return (
        f"{sender_name} es un cobrador de deudas. Estamos tratando de cobrar una deuda que usted "
        f"tiene con {creditor}. Usaremos cualquier información que nos brinde para ayudar a "
        "cobrar la deuda."
    )


def spanish_validation_items(
    initial_notice: str, items: Sequence[dict[str, Any]], end_date: str
) -> list[tuple[str, str]]:
    """What the Spanish validation notice must show (the CFPB Spanish model's headings)."""
    required = [
        ("es_1_debt_collector_disclosure", initial_notice),
        ("es_11_dispute", f"Llámenos o escríbanos antes del {end_date} para disputar la"),
        ("es_11_assumed_valid", "supondremos que nuestra información es correcta"),
        ("es_13_respond_heading", "¿Cómo desea responder?"),
        ("es_13_check_all", "Marque todo lo que corresponda:"),
        ("es_13_not_my_debt", "Esta no es mi deuda."),
        ("es_13_amount_wrong", "La cantidad es incorrecta."),
        ("es_13_enclosed", "Adjunto esta cantidad:"),
    ]
    for n, item in enumerate(items, start=1):
        required.append((f"es_10_current_amount_{n}", "Monto total de la deuda ahora:"))
        required.append((f"es_10_balance_{n}", item["balance"]))
    return required


def _fold(text: str) -> str:
    return _SPACES.sub(" ", text).strip().casefold()


def _without(text: str, exempt: Sequence[str]) -> str:
    for quoted in sorted((_fold(e) for e in exempt if e.strip()), key=len, reverse=True):
        text = text.replace(quoted, " ")
    return text


def _first_match(patterns: Sequence[re.Pattern[str]], text: str) -> str:
    for pattern in patterns:
        match = pattern.search(text)
        if match:
            return match.group(0)
    return ""


def spanish_pages(runs: Sequence[Run], start_marker: str) -> list[Run]:
    """The runs of the Spanish pages: every page, or those from the page where the Spanish notice
    of a combined English + Spanish envelope starts (`start_marker`)."""
    if not start_marker:
        return list(runs)
    marker = _fold(start_marker)
    pages = sorted({r.page for r in runs})
    first = next(
        (p for p in pages if marker in _fold(" ".join(r.text for r in runs if r.page == p))),
        None,
    )
    return [] if first is None else [r for r in runs if r.page >= first]


def wording_failures(
    runs: Sequence[Run],
    own_text: str,
    *,
    earlier_letters: int,
    role: str,
    kind: str,
    language: str,
    spanish_from: str,
    exempt: Sequence[str],
) -> list[str]:
    """The wording rules the letter breaks. `own_text` is its folded text without the exempt
    parts (names, addresses, required notices)."""
    rules = wording_rules()
    failures = []
    claim = _first_match(rules.false_history, own_text)
    if claim and earlier_letters == 0:
        failures.append(f"false_history: {claim!r} but the state holds no earlier letter")
    statement = _fold(representative_statement(language))
    checked = own_text.replace(statement, " ")
    if role == "attorney" and kind != "validation":
        demand = _first_match(rules.attorney_demand, checked)
        if demand:
            failures.append(f"attorney_demand: {demand!r} in a letter to the debtor's attorney")
    if role == "representative" and kind != "validation":
        liability = _first_match(rules.representative_liability, checked)
        if liability:
            failures.append(
                f"representative_liability: {liability!r} in a letter to the estate's "
                "representative"
            )
    if language == "es":
        text = _without(_fold(" ".join(r.text for r in spanish_pages(runs, spanish_from))), exempt)
        text = _ADDRESSES.sub(" ", text)  # e-mail and web addresses, even when wrapped
        words = (w for w in _TOKEN.findall(text) if w.isalpha())
        english = sorted({w for w in words if w in rules.english_words})
        if english:
            failures.append(f"english_in_spanish: {', '.join(english[:8])}")
    return failures


def letter_facts(letter: LetterSpec) -> dict[str, Any]:
    """The record's facts about the letter that a template may state."""
    return {
        "has_earlier_letters": bool(letter.earlier),
        "payment_plan_offered": letter.payment_plan_offered,
        "with_english_notice": (
            letter.kind == "validation"
            and letter.language == "es"
            and not letter.english_notice_before
        ),
    }
