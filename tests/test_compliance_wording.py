"""Wording true to the record, right for the recipient, Spanish end to end (issue 14, items 1-3).

Each letter is decided with the real rules, rendered through the real renderer and read back as a
reader would (the PDF's text, page by page); each lint rule is shown to hold a planted wording.
"""

from __future__ import annotations

import io
import shutil
from dataclasses import replace
from datetime import date
from importlib import resources
from pathlib import Path

import pdfplumber
import pytest

from letters.decide.gates import earlier_in_cycle, plan_offered
from letters.errors import TemplateError
from letters.intake.envelope import DEFAULT_PROFILE
from letters.intake.policy import Policy, load_policy
from letters.model import Account, EarlierLetter, History, LetterKey
from letters.render.articles import PostalMarks
from letters.render.barcodes import s10_number
from letters.render.check import check_templates
from letters.render.content import letter_content
from letters.render.lint import lint_letter, rule_of
from letters.render.renderer import RenderedPdf, Renderer, default_templates_dir, pdf_text
from letters.state import open_store
from tests.helpers import (
    AS_OF,
    WriteCsv,
    account,
    batch_dirs,
    chosen,
    letter_for,
    manifest,
    run_in_process,
)

POLICY = load_policy(None)
COLLECTOR = replace(POLICY, sender=replace(POLICY.sender, kind="debt_collector"))
FINAL = {"due_date": "2026-08-01"}  # 111 days past due at AS_OF: the final letter
ATTORNEY = {"attorney_name": "Grace Hopper",
            "attorney_address": "77 W Wacker Dr Ste 4100, Chicago IL 60601"}  # fmt: skip
ESTATE = {"deceased": "yes", "representative_name": "Charles Babbage",
          "representative_address": "77 W Wacker Dr Ste 4100, Chicago IL 60601"}  # fmt: skip


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    """The shipped templates."""
    return Renderer(default_templates_dir())


def _render(
    renderer: Renderer,
    accounts: list[Account],
    policy: Policy = POLICY,
    history: History | None = None,
) -> tuple[RenderedPdf, list[str]]:
    letter, content = letter_for(accounts, policy, history=history)
    pdf = renderer.render(letter.template, content.context, "P-000001")
    return pdf, lint_letter(pdf.runs, content.lint, DEFAULT_PROFILE)


def _pages(data: bytes) -> list[str]:
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        return [page.extract_text() or "" for page in pdf.pages]


def _flat(text: str) -> str:
    return " ".join(text.split())


def _planted(tmp_path: Path, name: str, old: str, new: str) -> Renderer:
    """A copy of the shipped templates with one wording changed."""
    folder = tmp_path / "templates"
    shutil.copytree(default_templates_dir(), folder)
    path = folder / name
    text = path.read_text(encoding="utf-8")
    assert old in text, (name, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return Renderer(folder)


def _rules(failures: list[str]) -> set[str]:
    return {rule_of(f) for f in failures}


# 1. Wording true to the record


def test_a_first_letter_at_final_claims_no_earlier_letters(renderer: Renderer) -> None:
    pdf, failures = _render(renderer, [account(**FINAL)])
    text = _flat(pdf_text(pdf.data))
    assert "earlier letter" not in text
    assert "is now 111 days past due and remains unpaid" in text
    assert "a payment plan is possible" in text  # none was offered before
    assert failures == []


@pytest.mark.parametrize(
    ("name", "old", "new", "language"),
    [
        ("final.html", "{% if letter.has_earlier_letters %}", "{% if true %}", "en"),
        ("es/final.html", "{% if letter.has_earlier_letters %}", "{% if true %}", "es"),
        ("reminder.html", "We have not yet received your payment.",
         "As we told you in our previous letter, we have not received your payment.", "en"),
    ],
)  # fmt: skip
def test_a_claim_of_earlier_letters_without_one_in_the_state_is_held(
    tmp_path: Path, name: str, old: str, new: str, language: str
) -> None:
    planted = _planted(tmp_path, name, old, new)
    overrides = FINAL if "final" in name else {"due_date": "2026-11-01"}  # final; reminder
    letter, content = letter_for([account(language=language, **overrides)])
    pdf = planted.render(letter.template, content.context, "P-000001")
    failures = lint_letter(pdf.runs, content.lint, DEFAULT_PROFILE)
    assert "false_history" in _rules(failures), failures


def test_the_same_claim_passes_when_the_state_holds_the_letter(renderer: Renderer) -> None:
    earlier = EarlierLetter("B-000001", date(2026, 10, 21), "notice", "demand", "debtor",
                            "2026-08-01")  # fmt: skip
    history = History(last_mail_date=date(2026, 10, 21), earlier=(earlier,))
    pdf, failures = _render(renderer, [account(**FINAL)], history=history)
    text = _flat(pdf_text(pdf.data))
    assert "Despite our earlier letter of October 21, 2026, the amount of $937.34" in text
    assert "a payment plan remains possible" in text  # the notice stage offered one
    assert failures == []


def test_earlier_letters_count_only_in_the_same_cycle_and_for_the_same_recipient() -> None:
    key = LetterKey("C1", "final", "2026-08-01")
    mine = EarlierLetter("P1", date(2026, 9, 1), "reminder", "demand", "debtor", "2026-08-01")
    other_cycle = replace(mine, piece_id="P0", cycle="2025-01-01")
    to_attorney = replace(mine, piece_id="P2", role="attorney")
    history = History(earlier=(other_cycle, mine, to_attorney))
    assert earlier_in_cycle(history, key) == (mine,)
    assert plan_offered([mine])
    assert not plan_offered([replace(mine, stage="final")])
    assert plan_offered([replace(mine, stage="final", kind="hardship")])


def test_a_second_letter_after_a_reminder_names_the_reminder_and_its_date(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    accounts = write_accounts({"due_date": "2026-11-01"})  # 19 days past due: a reminder
    sources = [write_sources({})]
    out = tmp_path / "out"
    run_in_process(accounts, sources, out, as_of=AS_OF)
    run_in_process(accounts, sources, out, as_of=date(2027, 1, 11))  # 71 days: the final letter
    first, second = (manifest(b)[0] for b in batch_dirs(out))
    assert (first["stage"], second["stage"]) == ("reminder", "final")
    assert second["status"] == "generated", second["reason_detail"]
    store = open_store(out / "letters.db")
    try:
        earlier = store.history("C1", "").earlier
    finally:
        store.close()
    assert [(e.stage, e.channel, e.mail_date) for e in earlier] == [
        ("reminder", "letter", date.fromisoformat(first["mail_date"])),
        ("final", "letter", date.fromisoformat(second["mail_date"])),
    ]
    text = _flat(pdf_text((batch_dirs(out)[1] / second["pdf_path"]).read_bytes()))
    assert "Despite our earlier letter of November 21, 2026, the amount of" in text
    assert "a payment plan remains possible" in text


# 2. The right letter for the recipient


def test_a_letter_to_the_attorney_makes_no_demand_on_the_attorney(renderer: Renderer) -> None:
    pdf, failures = _render(renderer, [account(**FINAL, **ATTORNEY)])
    text = _flat(pdf_text(pdf.data))
    assert "Re: Ada Lovelace, your client" in text
    assert "Dear Grace Hopper," in text
    assert "on your client's account, 111 days past due" in text
    for demand in ("you owe", "pay this amount", "If you believe you do not owe", "Despite"):
        assert demand.casefold() not in text.casefold(), demand
    assert failures == []


@pytest.mark.parametrize("language", ["en", "es"])
def test_a_planted_demand_in_the_attorney_letter_is_held(tmp_path: Path, language: str) -> None:
    old, new = (
        ("If you no longer represent", "We ask you to pay this amount now. If you no longer represent")
        if language == "en"
        else ("Si ya no representa", "Le pedimos que pague este monto. Si ya no representa")
    )  # fmt: skip
    planted = _planted(tmp_path, "partials/attorney_body.html", old, new)
    letter, content = letter_for([account(language=language, **FINAL, **ATTORNEY)])
    pdf = planted.render(letter.template, content.context, "P-000001")
    failures = lint_letter(pdf.runs, content.lint, DEFAULT_PROFILE)
    assert "attorney_demand" in _rules(failures), failures


@pytest.mark.parametrize("language", ["en", "es"])
def test_a_letter_to_the_estate_representative_implies_no_personal_liability(
    renderer: Renderer, language: str
) -> None:
    pdf, failures = _render(renderer, [account(language=language, **FINAL, **ESTATE)])
    text = _flat(pdf_text(pdf.data))
    if language == "en":
        assert "To: Charles Babbage, representative of the estate of Ada Lovelace" in text
        assert "You are not personally obligated to pay this debt from your own assets." in text
        assert "payment only from the assets of the estate" in text
    else:
        assert "Para: Charles Babbage, representante de la sucesión de Ada Lovelace" in text
        assert "Usted no está obligado/a personalmente a pagar esta deuda" in text
    assert "you owe" not in text.casefold()
    assert failures == []


def test_the_representative_lint_holds_liability_and_a_missing_statement(tmp_path: Path) -> None:
    letter, content = letter_for([account(**FINAL, **ESTATE)])
    planted = _planted(tmp_path, "partials/representative_body.html",
                       "We are sorry for your loss.", "You owe this amount.")  # fmt: skip
    pdf = planted.render(letter.template, content.context, "P-000001")
    assert "representative_liability" in _rules(
        lint_letter(pdf.runs, content.lint, DEFAULT_PROFILE)
    )
    quiet = _planted(tmp_path / "b", "base.html",
                     "<strong>{{ letter.estate_statement }}</strong>", "")  # fmt: skip
    pdf = quiet.render(letter.template, content.context, "P-000001")
    failures = lint_letter(pdf.runs, content.lint, DEFAULT_PROFILE)
    assert "missing:estate_statement" in _rules(failures), failures


# 3. Spanish end to end


def test_a_spanish_letter_is_spanish_throughout(renderer: Renderer) -> None:
    pdf, failures = _render(renderer, [account(language="es", **FINAL)])
    text = _flat(pdf_text(pdf.data))
    assert "de lunes a viernes, de 8 a. m. a 6 p. m., hora del Centro" in text
    assert "Monday" not in text
    assert "21 de noviembre de 2026" in text
    assert "Página 1 de 1" in text
    assert "Equipo de Cuentas de Socios" in text
    assert "tiene 111 días de atraso y sigue impago" in text  # no earlier letter: no claim
    assert failures == []


def test_a_spanish_letter_by_registered_mail_abroad_is_not_held_for_its_article_number(
    renderer: Renderer,
) -> None:
    # the S10 number ends in `US` (`RE123456785US`), which is no English word in the letter
    abroad = chosen("Calle de Alcala 42", "", "Madrid", "", "28014", "ES")
    letter, _content = letter_for([account(language="es")], choice=abroad)
    assert letter.mail_class == "registered"
    marks = PostalMarks(article_number=s10_number("RE", 12345678))
    content = letter_content("P-000001", POLICY, letter, abroad, marks)
    pdf = renderer.render(letter.template, content.context, "P-000001")
    assert "RE123456785US" in _flat(pdf_text(pdf.data))
    assert lint_letter(pdf.runs, content.lint, DEFAULT_PROFILE) == []


def test_a_spanish_letter_is_not_held_for_the_letters_its_piece_id_happens_to_spell(
    renderer: Renderer,
) -> None:
    # a batch id's last part is random hex: `3be9` (1 batch in 200 spells an English word)
    # printed at the foot of every page once held every Spanish letter of that batch
    piece = "20261125-153329-3be9-000001"
    letter, _content = letter_for([account(language="es", **FINAL)])
    content = letter_content(piece, POLICY, letter, chosen(), None)
    pdf = renderer.render(letter.template, content.context, piece)
    assert piece in _flat(pdf_text(pdf.data))
    assert lint_letter(pdf.runs, content.lint, DEFAULT_PROFILE) == []


def test_without_spanish_hours_a_spanish_letter_prints_none(renderer: Renderer) -> None:
    policy = replace(POLICY, sender=replace(POLICY.sender, hours_es=""))
    pdf, failures = _render(renderer, [account(language="es")], policy)
    text = _flat(pdf_text(pdf.data))
    assert "Llame al (312) 555-0142 o visite" in text
    assert failures == []


@pytest.mark.parametrize(
    ("name", "old", "new"),
    [
        ("es/final.html", "Queremos ayudarle,", "Please call us today. Queremos ayudarle,"),
        ("base.html", "{{ 'Atentamente,' if es else 'Sincerely,' }}", "Sincerely,"),
    ],
)
def test_an_english_sentence_in_a_spanish_letter_is_held(
    tmp_path: Path, name: str, old: str, new: str
) -> None:
    planted = _planted(tmp_path, name, old, new)
    letter, content = letter_for([account(language="es", **FINAL)])
    pdf = planted.render(letter.template, content.context, "P-000001")
    failures = lint_letter(pdf.runs, content.lint, DEFAULT_PROFILE)
    assert "english_in_spanish" in _rules(failures), failures


def test_english_hours_in_a_spanish_letter_are_held(renderer: Renderer) -> None:
    policy = replace(POLICY, sender=replace(POLICY.sender, hours_es="Monday to Friday"))
    _pdf, failures = _render(renderer, [account(language="es")], policy)
    assert "english_in_spanish" in _rules(failures), failures


def test_a_first_spanish_validation_notice_comes_with_the_english_one(renderer: Renderer) -> None:
    letter, content = letter_for([account(language="es")], COLLECTOR)
    assert (letter.template, letter.language) == ("es/validation.html", "es")
    pdf = renderer.render(letter.template, content.context, "P-000001")
    pages = [_flat(page) for page in _pages(pdf.data)]
    first, last = pages[0], pages[-1]
    assert "is a debt collector" in first and "How do you want to respond?" in first
    assert "Quiero este formulario en español." in first  # the optional disclosures stay here
    assert "es un cobrador de deudas. Estamos tratando de cobrar una deuda" in last
    assert "¿Cómo desea responder?" in last and "Marque todo lo que corresponda:" in last
    assert "How do you want to respond?" not in last
    assert f"Página {len(pages)} de {len(pages)}" in last
    assert f"Page 1 of {len(pages)}" in first
    assert lint_letter(pdf.runs, content.lint, DEFAULT_PROFILE) == []


def test_after_an_english_notice_the_spanish_notice_goes_alone(renderer: Renderer) -> None:
    # the consumer asked for the Spanish form after the English notice; the operator forced it
    history = History(validation_sent=True, last_mail_date=date(2026, 10, 1),
                      forced=frozenset({"C1|validation|2026-10-01"}))  # fmt: skip
    letter, content = letter_for([account(language="es")], COLLECTOR, history=history)
    assert letter.kind == "validation" and letter.english_notice_before
    pdf = renderer.render(letter.template, content.context, "P-000001")
    text = _flat(pdf_text(pdf.data))
    assert "¿Cómo desea responder?" in text and "La cantidad es incorrecta." in text
    assert "How do you want to respond?" not in text and "is a debt collector" not in text
    assert lint_letter(pdf.runs, content.lint, DEFAULT_PROFILE) == []


def test_the_english_pages_of_a_combined_notice_are_not_held_but_the_spanish_ones_are(
    tmp_path: Path,
) -> None:
    planted = _planted(tmp_path, "partials/validation_es.html",
                       "Contáctenos acerca de sus opciones de pago.",
                       "Contact us about your payment options.")  # fmt: skip
    letter, content = letter_for([account(language="es")], COLLECTOR)
    pdf = planted.render(letter.template, content.context, "P-000001")
    failures = lint_letter(pdf.runs, content.lint, DEFAULT_PROFILE)
    assert _rules(failures) == {"english_in_spanish"}, failures


def test_a_template_stating_a_fact_the_record_lacks_fails_the_check(tmp_path: Path) -> None:
    planted = _planted(tmp_path, "final.html", "{% if letter.has_earlier_letters %}",
                       "{% if letter.last_phone_call_date %}")  # fmt: skip
    with pytest.raises(
        TemplateError, match=r"^final\.html:7: template error: .*last_phone_call_date"
    ):
        check_templates(planted, POLICY, AS_OF, ["final.html"])


def test_a_forced_notice_after_an_english_one_goes_in_spanish_alone(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    text = resources.files("letters").joinpath("default_policy.toml").read_text("utf-8")
    policy = tmp_path / "policy.toml"
    policy.write_text(text.replace('kind = "creditor"', 'kind = "debt_collector"', 1), "utf-8")
    sources = [write_sources({})]
    out = tmp_path / "out"
    run_in_process(write_accounts({}), sources, out, policy=policy)
    (first,) = manifest(batch_dirs(out)[0])
    assert (first["template"], first["language"]) == ("validation.html", "en")
    # the debtor asks for the Spanish form; the operator records it and forces the notice again
    spanish = write_accounts({"language": "es"})
    run_in_process(spanish, sources, out, policy=policy, as_of=date(2026, 11, 25),
                   force=[first["piece_id"]], force_reason="asked for the Spanish form")  # fmt: skip
    (second,) = manifest(batch_dirs(out)[1])
    assert (second["template"], second["language"], second["status"]) == (
        "es/validation.html",
        "es",
        "generated",
    ), second["reason_detail"]
    pages = _pages((batch_dirs(out)[1] / second["pdf_path"]).read_bytes())
    assert "¿Cómo desea responder?" in _flat(pages[0])
    assert not any("How do you want to respond?" in page for page in pages)
