"""E-mail rendering: the shipped templates as a real MIME message (headers, parts, the opt-out
line, a neutral subject and preview, no account number), the letter attached as an AES-256 PDF,
and the lint that holds a message that breaks a rule."""

from __future__ import annotations

import email.policy
import io
import shutil
from collections.abc import Callable
from dataclasses import replace
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from weasyprint import HTML

from letters.errors import TemplateError
from letters.intake.policy import Policy, load_policy
from letters.model import Account, MessageSpec
from letters.render.email import (
    ATTACHMENT_NOTICE,
    COLLECTOR_NOTICE,
    OPT_OUT,
    BuiltMessage,
    MessageInputs,
    attachment_password,
    build_message,
    encrypt_pdf,
    lint_message,
)
from tests.helpers import AS_OF, account

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
MULTI = load_policy(ROOT / "examples" / "policy-multichannel.toml")
COLLECTOR = replace(MULTI, sender=replace(MULTI.sender, kind="debt_collector"))
STAGES = {stage.name: stage for stage in MULTI.stages}
MESSAGE_ID = "20261120-021502-a3f9-E000001"
RFC_ID = "<20261120-021502-a3f9-E000001.0a1b2c3d4e5f@lakeside-cu.example>"
REFERENCE = "4821-0937-551"
LAST4 = "1234"  # GOOD_ACCOUNT's account number ends so


def small_pdf() -> bytes:
    document = pikepdf.new()
    document.add_blank_page()
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


PDF = small_pdf()


def spec(kind: str = "demand", stage: str = "notice", language: str = "en",
         accounts: tuple[Account, ...] | None = None, zip5: str = "60614") -> MessageSpec:  # fmt: skip
    chosen = accounts or (account(language=language),)
    return MessageSpec(
        customer_id="C1", key=f"C1|{stage}|2026-10-01|email", channel="email", kind=kind,
        stage=STAGES[stage], template="email/message", language=language, to="ada@example.com",
        name=chosen[0].full_name, accounts=chosen, zip5=zip5, attach_letter_key="C1|notice|2026-10-01",
    )  # fmt: skip


def inputs(message: MessageSpec | None = None, policy: Policy = MULTI, pdf: bytes | None = PDF,
           references: dict[str, str] | None = None) -> MessageInputs:  # fmt: skip
    message = message or spec()
    refs = (
        references
        if references is not None
        else {a.account_id: REFERENCE for a in message.accounts}
    )
    return MessageInputs(
        spec=message, policy=policy, as_of=AS_OF, references=refs, message_id=MESSAGE_ID,
        rfc_message_id=RFC_ID, attachment_pdf=pdf, attachment_name="letter-20261120-000001.pdf",
    )  # fmt: skip


def parse(built: BuiltMessage) -> EmailMessage:
    parsed = BytesParser(policy=email.policy.default).parsebytes(built.eml)
    assert isinstance(parsed, EmailMessage)
    return parsed


def parts(parsed: EmailMessage) -> tuple[str, str, list[EmailMessage]]:
    body = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert body is not None and html is not None
    attachments = [p for p in parsed.iter_attachments() if isinstance(p, EmailMessage)]
    crlf = ("\r\n", "\n")  # the file has SMTP line ends
    return (
        str(body.get_content()).replace(*crlf),
        str(html.get_content()).replace(*crlf),
        attachments,
    )


def test_an_english_message_has_the_headers_both_parts_and_the_opt_out_line() -> None:
    built = build_message(inputs(), TEMPLATES)
    parsed = parse(built)
    assert parsed["From"] == "Lakeside Community Credit Union <accounts@lakeside-cu.example>"
    assert parsed["To"] == "Ada Lovelace <ada@example.com>"
    assert parsed["Reply-To"] == "optout@lakeside-cu.example"
    assert parsed["Subject"] == "An important message from Lakeside Community Credit Union"
    assert parsed["Message-ID"] == RFC_ID
    assert parsed["List-Unsubscribe"] == "<mailto:optout@lakeside-cu.example?subject=STOP>"
    assert parsed["X-Letters-Message-Id"] == MESSAGE_ID
    assert parsed["Date"] is None and b"\nDate:" not in built.eml
    assert parsed.get_content_type() == "multipart/mixed"
    text, html, attachments = parts(parsed)
    assert (text, html.rstrip("\n")) == (built.text, built.html.rstrip("\n"))
    opt_out = (
        "To stop e-mail from us at this address, reply STOP or write to optout@lakeside-cu.example."
    )
    assert text.rstrip().endswith(opt_out) and opt_out in html
    assert text.startswith(
        "Hello Ada Lovelace,\n\nThis message from Lakeside Community Credit Union is meant"
    )
    assert "As of November 20, 2026, $937.34 is past due" in text
    assert f"payment reference {REFERENCE}" in text and REFERENCE in html
    assert "(312) 555-0142" in text and "www.lakeside-cu.example" in html
    for part in (built.subject, text, html):
        assert LAST4 not in part and "4111111111111234" not in part
    assert COLLECTOR_NOTICE["en"] not in text  # a creditor collecting its own debts
    assert ATTACHMENT_NOTICE["en"] in text and ATTACHMENT_NOTICE["en"] in html
    assert [a.get_filename() for a in attachments] == ["letter-20261120-000001.pdf"]
    assert built.attached and lint_message(built, inputs()) == []


def test_a_spanish_message_from_a_debt_collector() -> None:
    message = inputs(spec(language="es"), COLLECTOR)
    built = build_message(message, TEMPLATES)
    parsed = parse(built)
    assert parsed["Subject"] == "Un mensaje importante de Lakeside Community Credit Union"
    text, html, _ = parts(parsed)
    assert built.language == "es" and 'lang="es"' in html
    assert text.startswith(
        "Hola, Ada Lovelace:\n\nEste mensaje de Lakeside Community Credit Union es solo"
    )
    assert "Al 20 de noviembre de 2026, $937.34 está vencido" in text
    assert "de lunes a viernes, de 8 a. m. a 6 p. m., hora del Centro" in text  # hours_es
    for sentence in (
        COLLECTOR_NOTICE["es"],
        ATTACHMENT_NOTICE["es"],
        OPT_OUT["es"].format(reply_to="optout@lakeside-cu.example"),
    ):
        assert sentence in text and sentence in html
    assert "responda ALTO (o STOP)" in text
    assert LAST4 not in text + html + built.subject
    assert lint_message(built, message) == []


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize(
    ("kind", "stage", "subject", "wording"),
    [
        ("demand", "reminder", "A message from", {"en": "friendly reminder", "es": "recordatorio amable"}),
        ("demand", "notice", "An important message from", {"en": "contact us to arrange payment", "es": "acordar el pago"}),
        ("demand", "final", "An important message from", {"en": "within 30 days of this message", "es": "dentro de los 30 días"}),
        ("hardship", "notice", "A message from", {"en": "A payment plan:", "es": "Un plan de pagos:"}),
        ("validation", "reminder", "An important message from", {"en": "read the attached validation notice", "es": "aviso de validación adjunto"}),
    ],
)  # fmt: skip
def test_each_stage_and_kind_has_its_wording_and_passes_the_lint(
    language: str, kind: str, stage: str, subject: str, wording: dict[str, str]
) -> None:
    message = inputs(spec(kind, stage, language), COLLECTOR)
    built = build_message(message, TEMPLATES)
    assert wording[language] in built.text and wording[language] in built.html
    spanish = {
        "A message from": "Un mensaje de",
        "An important message from": "Un mensaje importante de",
    }
    assert built.subject.startswith(spanish[subject] if language == "es" else subject)
    assert lint_message(built, message) == []


def test_a_stage_named_otherwise_takes_its_place_in_the_policy() -> None:
    renamed = replace(STAGES["final"], name="last_call")
    policy = replace(MULTI, stages=(*MULTI.stages[:2], renamed))
    message = inputs(replace(spec(stage="final"), stage=renamed), policy)
    assert "within 30 days of this message" in build_message(message, TEMPLATES).text


def test_the_attachment_is_aes_256_and_opens_only_with_the_password() -> None:
    letter = HTML(string="<p>Validation notice for Ada Lovelace</p>").write_pdf()
    message = inputs(pdf=letter)
    built = build_message(message, TEMPLATES)
    [attachment] = parts(parse(built))[2]
    assert attachment.get_content_type() == "application/pdf"
    data = attachment.get_content()
    assert attachment_password(message.spec) == "60614" + LAST4
    with pytest.raises(pikepdf.PasswordError):
        pikepdf.open(io.BytesIO(data))
    with pikepdf.open(io.BytesIO(data), password="606141234") as document:
        assert document.encryption.R == 6 and document.encryption.V == 5
        assert str(document.encryption.stream_method).endswith("aesv3")
        assert len(document.pages) == 1 and document.allow.print_highres
    assert b"Validation notice" not in data and lint_message(built, message) == []


def test_the_password_is_the_first_account_by_id() -> None:
    second = account(account_id="A0", account_number="5500000000009876")
    message = spec(accounts=(account(), second))
    assert attachment_password(message) == "606149876"
    built = build_message(inputs(message), TEMPLATES)
    assert "Total: $1,874.68" in built.text and "9876" not in built.text + built.html
    assert lint_message(built, inputs(message)) == []


def test_no_attachment_when_the_policy_attaches_none_or_there_is_no_pdf() -> None:
    policy = replace(MULTI, email=replace(MULTI.email, attachment="none"))
    for message in (inputs(policy=policy), inputs(pdf=None)):
        built = build_message(message, TEMPLATES)
        assert not built.attached and parts(parse(built))[2] == []
        assert ATTACHMENT_NOTICE["en"] not in built.text and lint_message(built, message) == []


def test_a_spanish_debtor_gets_english_when_the_folder_has_no_spanish_set(tmp_path: Path) -> None:
    shutil.copytree(TEMPLATES / "email", tmp_path / "email", ignore=shutil.ignore_patterns("es"))
    message = inputs(spec(language="es"))
    built = build_message(message, tmp_path)
    assert built.language == "en" and built.text.startswith("Hello Ada Lovelace")
    assert lint_message(built, message) == []


def test_a_broken_template_names_its_file_and_line(tmp_path: Path) -> None:
    shutil.copytree(TEMPLATES / "email", tmp_path / "email")
    body = tmp_path / "email" / "message.txt"
    body.write_text(body.read_text(encoding="utf-8") + "{{ account_number }}\n", encoding="utf-8")
    lines = body.read_text(encoding="utf-8").count("\n")
    with pytest.raises(
        TemplateError, match=rf"^email/message\.txt:{lines}: template error: .*account_number"
    ):
        build_message(inputs(), tmp_path)


def test_a_name_with_a_debt_word_is_not_a_debt_word() -> None:
    message = inputs(spec(accounts=(account(full_name="Bill Mora"),)))
    assert lint_message(build_message(message, TEMPLATES), message) == []


Change = Callable[[str], str]
BAD: list[tuple[str, Change, str]] = [
    ("subject", lambda _: "Your overdue payment", "subject_debt_word: overdue, payment tells"),
    ("subject", lambda _: "Aviso de su deuda", "subject_debt_word: deuda tells"),
    ("subject", lambda _: " ", "subject: empty"),
    ("text", lambda t: "Your debt is past due.\n" + t, "preview_debt_word: debt, past due tells"),
    ("html", lambda h: h.replace("A personal message", "Your balance"), "html_preview_debt_word: balance tells"),
    ("text", lambda t: t.replace("To stop e-mail", "To pause e-mail"), "missing:opt_out: not in the text part"),
    ("html", lambda h: h.replace("To stop e-mail", ""), "missing:opt_out: not in the html part"),
    ("text", lambda t: t + "Your account number is 4111 1111 1111 1234.\n", "account_number: account 1's number is shown"),
    ("html", lambda h: h + "<p>Card ending 1234</p>", "account_number: account 1's last four are shown"),
    ("subject", lambda s: s + " 1234", "account_number: account 1's last four are shown"),
    ("text", lambda t: t + "Password: 606141234\n", "password: the attachment's password is shown"),
    ("text", lambda t: t.replace(REFERENCE, ""), "missing:payment_reference_1: not in the text part"),
    ("text", lambda t: t + "Pay $1,000.00 now.\n", "amounts: $1,000.00 is not one of the account figures"),
    ("text", lambda t: t + "We will garnish your wages.\n", "prohibited:garnishment_or_seizure: 'garnish'"),
]  # fmt: skip


@pytest.mark.parametrize(("field", "change", "problem"), BAD)
def test_the_lint_catches(field: str, change: Change, problem: str) -> None:
    message = inputs()
    built = build_message(message, TEMPLATES)
    changes: dict[str, Any] = {field: change(getattr(built, field))}
    bad = replace(built, **changes)
    problems = lint_message(bad, message)
    assert any(p.startswith(problem) for p in problems), problems
    assert all("4111" not in p and "606141234" not in p for p in problems)  # never the secrets


def test_the_lint_catches_a_missing_disclosure_and_a_missing_reference() -> None:
    message = inputs(policy=COLLECTOR)
    built = build_message(message, TEMPLATES)
    stripped = replace(built, text=built.text.replace(COLLECTOR_NOTICE["en"], ""))
    assert lint_message(stripped, message) == [
        "missing:debt_collector_notice: not in the text part"
    ]
    unregistered = inputs(policy=COLLECTOR, references={})
    problems = lint_message(build_message(unregistered, TEMPLATES), unregistered)
    assert problems == ["missing:payment_reference_1: none registered for the account"]


def with_attachment(built: BuiltMessage, pdf: bytes) -> BuiltMessage:
    parsed = parse(built)
    for part in parsed.walk():
        if isinstance(part, EmailMessage) and part.get_content_type() == "application/pdf":
            part.set_content(pdf, maintype="application", subtype="pdf", filename="letter.pdf")
    return replace(built, eml=parsed.as_bytes(policy=email.policy.SMTP))


def test_the_lint_catches_an_attachment_that_is_not_encrypted_or_not_aes_256() -> None:
    message = inputs()
    built = build_message(message, TEMPLATES)
    assert lint_message(with_attachment(built, PDF), message) == [
        "attachment: the PDF opens without a password"
    ]
    other = encrypt_pdf(PDF, "000000000")
    assert lint_message(with_attachment(built, other), message) == [
        "attachment: the PDF does not open with the expected password"
    ]
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(PDF)) as document:
        document.save(out, encryption=pikepdf.Encryption(user="606141234", owner="x", R=4))
    assert lint_message(with_attachment(built, out.getvalue()), message) == [
        "attachment: not AES-256 (revision 4)"
    ]


def test_without_a_zip_code_the_letter_is_not_attached_and_the_lint_holds_it() -> None:
    message = inputs(spec(zip5=""))
    built = build_message(message, TEMPLATES)
    assert not built.attached and ATTACHMENT_NOTICE["en"] not in built.text
    assert lint_message(built, message) == [
        "attachment: the letter is not attached (no five-digit ZIP code for its password?)"
    ]
