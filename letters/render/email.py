"""E-mail messages: three templates (subject, plain text, HTML) to one MIME message, the stage's
letter attached as a PDF encrypted with AES-256, and the lint that holds a message before it is
queued.

The subject and the first lines are what anyone near the inbox sees, so they never say what the
message is about (12 CFR 1006.22(f)(2) by analogy); every message states how to opt out
(1006.6(e)); a debt collector's carries its disclosure; no message shows the account number, not
even its last four digits, which are half of the attachment's password. The message has no
`Date:` header: the sender adds it when it goes, so the stored file's hash stays valid.
"""

from __future__ import annotations

import email.policy
import functools
import io
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from html import unescape
from pathlib import Path
from typing import Any

import jinja2
import pikepdf
from pikepdf.models import EncryptionMethod

from letters.errors import LettersError, TemplateError
from letters.intake.policy import Policy
from letters.model import MessageSpec, format_money
from letters.render.content import long_date
from letters.render.lint import normalize, prohibited_phrases
from letters.render.sandbox import FolderLoader, LimitedSandbox, describe, render_limited

PARTS = ("subject.txt", "txt", "html")  # templates/<template>.<part>
PREVIEW_CHARS = 100  # what an inbox shows of a message before it is opened
TONES = ("reminder", "notice", "final")
PERMISSIONS = ("accessibility", "extract", "modify_annotation", "modify_assembly", "modify_form",
               "modify_other", "print_lowres", "print_highres")  # fmt: skip
# The sentences every message carries where they apply; the lint looks for them word for word.
OPT_OUT = {  # 12 CFR 1006.6(e); STOP, ALTO and any other reasonable reply are honoured
    "en": "To stop e-mail from us at this address, reply STOP or write to {reply_to}.",
    "es": "Para dejar de recibir nuestros correos electrónicos en esta dirección, responda ALTO "
    "(o STOP) o escriba a {reply_to}.",
}
COLLECTOR_NOTICE = {
    "en": "This communication is from a debt collector. This is an attempt to collect a debt "
    "and any information obtained will be used for that purpose.",
    "es": "Esta comunicación es de un cobrador de deudas. Se trata de un intento de cobrar una "
    "deuda y cualquier información que se obtenga se utilizará con ese fin.",
}
ATTACHMENT_NOTICE = {  # says how the password is made, never the password
    "en": "The attached letter is a PDF protected by a password: your five-digit ZIP code "
    "followed by the last four digits of your account number.",
    "es": "La carta adjunta es un PDF protegido con una contraseña: su código postal (ZIP) de "
    "cinco dígitos seguido de los últimos cuatro dígitos de su número de cuenta.",
}
# Words that tell a third party a message is about a debt: never in the subject or the preview.
DEBT_WORDS = re.compile(
    r"\b(debts?|collect\w*|overdue|past[ -]due|due|owe[sd]?|owing|balances?|pay|paid|paying|"
    r"payments?|delinquen\w*|accounts?|arrears?|default\w*|unpaid|outstanding|late|bills?|"
    r"final notice|deudas?|deudor\w*|cobr\w*|vencid\w*|atrasad\w*|atrasos?|adeud\w*|debe|deben|"
    r"debo|saldos?|pag(?:os?|ar|u[eé]n?|ad[oa]s?|ando)|moros\w*|cuentas?|impag\w*|pendientes?|"
    r"facturas?|mora|aviso final)\b",
    re.IGNORECASE,
)
_MONEY = re.compile(r"(?<![\w$])-?\$\s?\d[\d,]*\.\d{2}\b")
_BLANKS = re.compile(r"[ \t\r\n]+")  # not U+00A0: a preheader's padding fills the preview
_HIDDEN = re.compile(r"<(head|style|script)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_BLOCK = re.compile(r"</?(p|div|br|hr|h\d|tr|td|th|li|ul|ol|table)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")


class MessageError(LettersError):
    """A message cannot be built (no sender address, an address no header can carry)."""


@dataclass(frozen=True)
class MessageInputs:
    """Everything one message is built from."""

    spec: MessageSpec
    policy: Policy
    as_of: date
    references: Mapping[str, str]  # account id -> registered payment reference
    message_id: str  # ours: `20261120-021502-a3f9-E000001`
    rfc_message_id: str  # `<...@domain>`
    attachment_pdf: bytes | None  # the letter's PDF, unencrypted; None: nothing to attach
    attachment_name: str = "letter.pdf"


@dataclass(frozen=True)
class BuiltMessage:
    """A rendered message: the file to queue and the parts the lint reads."""

    eml: bytes
    subject: str
    text: str
    html: str
    attached: bool
    language: str = "en"  # the language of the templates used (a Spanish debtor without them: en)


def attachment_password(spec: MessageSpec) -> str:
    """The attachment's password: the mailing ZIP's five digits and the last four of the first
    account's number (accounts in account-id order)."""
    first = min(spec.accounts, key=lambda a: a.account_id)
    return f"{spec.zip5}{first.account_number_last4}"


def encrypt_pdf(pdf: bytes, password: str) -> bytes:
    """The PDF encrypted with AES-256 (revision 6): every permission for whoever has the
    password, and an owner password nobody knows."""
    allow = pikepdf.Permissions(**dict.fromkeys(PERMISSIONS, True))
    encryption = pikepdf.Encryption(
        user=password, owner=secrets.token_urlsafe(32), R=6, allow=allow
    )
    out = io.BytesIO()
    try:
        with pikepdf.open(io.BytesIO(pdf)) as document:
            document.save(out, encryption=encryption)
    except pikepdf.PdfError as exc:
        raise MessageError(f"the letter's PDF cannot be read for encryption: {exc}") from None
    return out.getvalue()


@functools.lru_cache(maxsize=8)
def environment(root_dir: Path) -> LimitedSandbox:
    """One sandbox per templates folder; HTML escaped, plain text and subject as written."""
    return LimitedSandbox(
        loader=FolderLoader(root_dir),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def template_names(spec: MessageSpec, policy: Policy, templates_dir: Path) -> tuple[list[str], str]:
    """The subject, text and HTML templates of the message and their language: the Spanish set
    (`email/es/message.*`) for a Spanish debtor when the folder has it, else the English."""
    folder, _, base = spec.template.rpartition("/")
    prefix = f"{folder}/" if folder else ""
    if spec.language == "es":
        spanish = f"{prefix}{policy.templates.spanish_folder}/{base}"
        if any((templates_dir / f"{spanish}.{part}").is_file() for part in PARTS):
            return [f"{spanish}.{part}" for part in PARTS], "es"
    return [f"{prefix}{base}.{part}" for part in PARTS], "en"


def message_tone(spec: MessageSpec, policy: Policy) -> str:
    """reminder, notice, final, hardship or validation: what the wording follows. A stage named
    otherwise takes its place in the policy: the first a reminder, the last a final notice."""
    if spec.kind in ("validation", "hardship"):
        return spec.kind
    name = spec.stage.name
    if name in TONES:
        return name
    names = [stage.name for stage in policy.stages]
    if name in names and len(names) > 1:
        if names.index(name) == 0:
            return "reminder"
        if names.index(name) == len(names) - 1:
            return "final"
    return "notice"


def sender_addresses(policy: Policy) -> tuple[str, str]:
    """The From address (`[email] from`, else `[sender] email`) and where replies go."""
    sent_from = policy.email.from_address or policy.sender.email
    if not sent_from:
        raise MessageError(f"{policy.source_name}: [email] from (or [sender] email) is required")
    return sent_from, policy.email.reply_to or sent_from


def message_context(inputs: MessageInputs, language: str, attached: bool) -> dict[str, Any]:
    """What the message templates see (see the README's e-mail section)."""
    spec, sender = inputs.spec, inputs.policy.sender
    accounts = sorted(spec.accounts, key=lambda a: a.account_id)
    currency = accounts[0].currency
    total = sum((a.balance for a in accounts), Decimal("0"))
    reply_to = sender_addresses(inputs.policy)[1]
    spanish = language == "es"
    items = [
        {
            "creditor": a.creditor,
            "original_creditor": a.original_creditor if a.original_creditor != a.creditor else "",
            "balance": format_money(a.balance, a.currency),
            "reference": inputs.references.get(a.account_id, ""),  # lint: missing
            "due_date": long_date(a.due_date, language),
        }
        for a in accounts
    ]
    return {
        "sender": {
            "name": sender.name,
            "phone": sender.phone,
            "hours": sender.hours_es if spanish else sender.hours,  # never English hours in es
            "website": sender.website,
            "email": sender.email,
            "payment_address": list(sender.payment_address),
            "signatory": (sender.signatory_es or sender.signatory) if spanish else sender.signatory,
        },
        "recipient": {"name": spec.name, "email": spec.to},
        "message": {
            "id": inputs.message_id,
            "tone": message_tone(spec, inputs.policy),
            "kind": spec.kind,
            "stage": spec.stage.name,
            "language": language,
            "date": long_date(inputs.as_of, language),
            "date_iso": inputs.as_of.isoformat(),
            "attached": attached,
            "attachment_name": inputs.attachment_name if attached else "",
            "reply_to": reply_to,
            "opt_out": OPT_OUT[language].format(reply_to=reply_to),
            "collector_notice": COLLECTOR_NOTICE[language] if sender.is_debt_collector else "",
            "attachment_notice": ATTACHMENT_NOTICE[language] if attached else "",
        },
        "accounts": items,
        "creditor": accounts[0].creditor,
        "reference": items[0]["reference"],
        "total_due": format_money(total, currency),
    }


def _render(env: LimitedSandbox, root_dir: Path, name: str, context: dict[str, Any]) -> str:
    try:
        return render_limited(env.get_template(name), context)
    except Exception as exc:  # template code can raise anything; it is this message's error
        raise TemplateError(describe(exc, root_dir, name)) from None


def _will_attach(inputs: MessageInputs) -> bool:
    wanted = inputs.attachment_pdf is not None and inputs.policy.email.attachment == "letter"
    password = attachment_password(inputs.spec)  # five ZIP digits, then four of the account's
    return wanted and len(password) == 9 and password[:5].isdigit() and password[5:].isalnum()


def build_message(inputs: MessageInputs, templates_dir: Path) -> BuiltMessage:
    """Render the message's templates and build it as an RFC 5322 file (no `Date:` header).

    The letter's PDF goes attached, encrypted, when the policy attaches letters and a password
    can be formed; a template that fails raises `TemplateError` naming its file and line.
    """
    root_dir = templates_dir.resolve()
    env = environment(root_dir)
    names, language = template_names(inputs.spec, inputs.policy, root_dir)
    attached = _will_attach(inputs)
    context = message_context(inputs, language, attached)
    subject = " ".join(_render(env, root_dir, names[0], context).split())
    context["message"]["subject"] = subject
    text = _render(env, root_dir, names[1], context).strip() + "\n"
    html = _render(env, root_dir, names[2], context)
    sent_from, reply_to = sender_addresses(inputs.policy)
    message = EmailMessage(policy=email.policy.SMTP)
    try:
        message["From"] = Address(inputs.policy.sender.name, addr_spec=sent_from)
        message["Reply-To"] = Address(addr_spec=reply_to)
    except ValueError:
        raise MessageError(f"{inputs.policy.source_name}: [email]: not a usable address") from None
    try:
        message["To"] = Address(inputs.spec.name, addr_spec=inputs.spec.to)
    except ValueError:  # the address is personal data: never in the message
        raise MessageError(f"{inputs.message_id}: the recipient's address is not usable") from None
    message["Subject"] = subject
    message["Message-ID"] = inputs.rfc_message_id
    message["List-Unsubscribe"] = f"<mailto:{reply_to}?subject=STOP>"
    message["X-Letters-Message-Id"] = inputs.message_id
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    if attached:
        assert inputs.attachment_pdf is not None
        encrypted = encrypt_pdf(inputs.attachment_pdf, attachment_password(inputs.spec))
        name = inputs.attachment_name or "letter.pdf"
        message.add_attachment(encrypted, maintype="application", subtype="pdf", filename=name)
    try:
        eml = message.as_bytes()
    except ValueError:  # a header the policy cannot encode (e.g. a non-ASCII local part)
        raise MessageError(f"{inputs.message_id}: an address cannot be encoded") from None
    return BuiltMessage(eml, subject, text, html, attached, language)


def html_text(html: str) -> str:
    """The text an HTML part shows (the hidden preheader too; not its head, style or script),
    entities decoded, runs of blanks (not U+00A0) collapsed."""
    text = _TAG.sub("", _BLOCK.sub("\n", _HIDDEN.sub(" ", html)))
    return _BLANKS.sub(" ", unescape(text)).strip()


def preview(text: str) -> str:
    """What an inbox previews: the first PREVIEW_CHARS characters, blanks collapsed."""
    return _BLANKS.sub(" ", text).strip()[:PREVIEW_CHARS]


def _debt_words(what: str, text: str, name: str) -> list[str]:
    """Debt words in what a third party sees; the debtor's name is theirs (Ana Mora, Bill Due)."""
    if name:
        text = re.sub(re.escape(name), " ", text, flags=re.IGNORECASE)
    found = sorted({m.group(0).casefold() for m in DEBT_WORDS.finditer(text)})
    if not found:
        return []
    return [f"{what}_debt_word: {', '.join(found)} tells a third party what it is about"]


def _exempt(inputs: MessageInputs) -> list[str]:
    """Texts that may hold four digits by chance: money, references, contact details, dates."""
    sender, accounts = inputs.policy.sender, inputs.spec.accounts
    total = sum((a.balance for a in accounts), Decimal("0"))
    days = (inputs.as_of, *(a.due_date for a in accounts))
    texts = [
        format_money(total, accounts[0].currency),
        *(format_money(a.balance, a.currency) for a in accounts),
        *inputs.references.values(),
        *(name for a in accounts for name in (a.creditor, a.original_creditor)),
        *(sender.name, sender.phone, sender.hours, sender.hours_es, sender.website, sender.email),
        *sender.payment_address,
        *sender_addresses(inputs.policy),
        *(long_date(day, language) for day in days for language in ("en", "es")),
    ]
    return sorted((t for t in texts if t), key=len, reverse=True)


def _secret_problems(shown: str, inputs: MessageInputs) -> list[str]:
    """The account number, its last four or the password anywhere in the message's text."""
    problems = []
    password = attachment_password(inputs.spec)
    if password and password in shown:
        problems.append("password: the attachment's password is shown")
    remains = shown
    for text in _exempt(inputs):
        remains = remains.replace(text, " ")
    for n, account in enumerate(sorted(inputs.spec.accounts, key=lambda a: a.account_id), 1):
        number = account.account_number
        pieces = [re.escape(c) for c in number if c.isalnum()]
        if len(pieces) >= 6 and re.search(r"[\s.-]?".join(pieces), shown, re.IGNORECASE):
            problems.append(f"account_number: account {n}'s number is shown")
        last4 = account.account_number_last4
        pattern = rf"(?<![0-9A-Za-z]){re.escape(last4)}(?![0-9A-Za-z])"
        if last4 and re.search(pattern, remains, re.IGNORECASE):
            problems.append(f"account_number: account {n}'s last four are shown")
    return problems


def _required(inputs: MessageInputs, built: BuiltMessage, language: str) -> list[tuple[str, str]]:
    reply_to = sender_addresses(inputs.policy)[1]
    required = [("opt_out", OPT_OUT[language].format(reply_to=reply_to))]
    if inputs.policy.sender.is_debt_collector:
        required.append(("debt_collector_notice", COLLECTOR_NOTICE[language]))
    if built.attached:
        required.append(("attachment_notice", ATTACHMENT_NOTICE[language]))
    accounts = sorted(inputs.spec.accounts, key=lambda a: a.account_id)
    required += [
        (f"payment_reference_{n}", inputs.references.get(a.account_id, ""))
        for n, a in enumerate(accounts, 1)
    ]
    return required


def _attachment_problems(built: BuiltMessage, inputs: MessageInputs) -> list[str]:
    """The attachment as the policy wants it: the letter, and it opens only with the password."""
    parsed = BytesParser(policy=email.policy.default).parsebytes(built.eml)
    pdfs = [
        part.get_content()
        for part in parsed.iter_attachments()
        if part.get_content_type() == "application/pdf"
    ]
    wanted = inputs.attachment_pdf is not None and inputs.policy.email.attachment == "letter"
    if wanted and not pdfs:
        return ["attachment: the letter is not attached (no five-digit ZIP code for its password?)"]
    if pdfs and inputs.policy.email.attachment != "letter":
        return ["attachment: a PDF is attached, but the policy attaches nothing"]
    problems = []
    password = attachment_password(inputs.spec)
    for data in pdfs:
        try:
            with pikepdf.open(io.BytesIO(data)):
                problems.append("attachment: the PDF opens without a password")
                continue
        except pikepdf.PasswordError:
            pass
        except pikepdf.PdfError:
            problems.append("attachment: not a readable PDF")
            continue
        try:
            with pikepdf.open(io.BytesIO(data), password=password) as document:
                method = document.encryption
                if method.R < 6 or method.stream_method != EncryptionMethod.aesv3:
                    problems.append(f"attachment: not AES-256 (revision {method.R})")
        except pikepdf.PasswordError:
            problems.append("attachment: the PDF does not open with the expected password")
    return problems


def lint_message(built: BuiltMessage, inputs: MessageInputs) -> list[str]:
    """Every rule the message breaks, as `rule: detail` lines (never personal data); an empty list
    means it may be queued."""
    visible = html_text(built.html)
    problems = [] if built.subject.strip() else ["subject: empty"]
    name = inputs.spec.name
    problems += _debt_words("subject", built.subject, name)
    problems += _debt_words("preview", preview(built.text), name)
    problems += _debt_words("html_preview", preview(visible), name)
    for item, text in _required(inputs, built, built.language):
        if not text:
            problems.append(f"missing:{item}: none registered for the account")
            continue
        for part, shown in (("text", built.text), ("html", visible)):
            if normalize(text) not in normalize(shown):
                problems.append(f"missing:{item}: not in the {part} part")
    problems += _secret_problems(
        "\n".join((built.subject, built.text, built.html, visible)), inputs
    )
    problems += _phrase_problems(inputs, f"{built.subject}\n{built.text}\n{visible}")
    figures = {format_money(a.balance, a.currency) for a in inputs.spec.accounts}
    figures.add(format_money(sum((a.balance for a in inputs.spec.accounts), Decimal("0"))))
    printed = {m.group(0) for m in _MONEY.finditer(f"{built.text}\n{visible}")}
    strangers = sorted(printed - figures)
    if strangers:
        problems.append(f"amounts: {', '.join(strangers)} is not one of the account figures")
    return problems + _attachment_problems(built, inputs)


def _phrase_problems(inputs: MessageInputs, shown: str) -> list[str]:
    """The letters' prohibited phrases, in the message's own words (names left out)."""
    own = normalize(shown)
    sender = inputs.policy.sender
    names = [sender.name, inputs.spec.name, *(a.creditor for a in inputs.spec.accounts)]
    names += [a.original_creditor for a in inputs.spec.accounts]
    for name in sorted((n for n in names if n), key=len, reverse=True):
        own = own.replace(normalize(name), " ")
    time_barred = any(a.time_barred for a in inputs.spec.accounts)
    actions = inputs.policy.rules.intended_actions
    problems = []
    for phrase in prohibited_phrases():
        match = phrase.pattern.search(own)
        if not match:
            continue
        if phrase.suit and time_barred:
            problems.append(f"suit_time_barred: {match.group(0)!r} about a time-barred debt")
        elif not phrase.unless_action or phrase.unless_action not in actions:
            problems.append(f"prohibited:{phrase.id}: {match.group(0)!r}")
    return problems
