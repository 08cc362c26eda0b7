"""The policy file: sender, rules, mailing calendar and escalation stages, as readable TOML."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

from letters.errors import UsageError
from letters.intake.calendar import MailCalendar, parse_closed_weekdays
from letters.intake.channels import EmailConfig, parse_channels, parse_email
from letters.intake.envelope import DEFAULT_PROFILE, OutputConfig, Rect, WindowProfile

MAIL_CLASSES = ("first_class", "certified", "certified_return_receipt", "registered")
SENDER_KINDS = ("creditor", "debt_collector")
ACTIONS = ("credit_reporting", "lawsuit", "collection_agency")
ATTORNEY_MODES = ("send_to_attorney", "suppress")
TIME_BARRED_MODES = ("no_suit", "suppress")


@dataclass(frozen=True, slots=True)
class Sender:
    """Who the letters come from."""

    name: str
    kind: str
    address: tuple[str, ...]
    dispute_address: tuple[str, ...]
    payment_address: tuple[str, ...]
    phone: str
    hours: str
    website: str
    email: str
    signatory: str
    hours_es: str = ""  # Spanish letters print these hours; none when empty (never the English)
    signatory_es: str = ""  # Spanish letters sign with this; default: `signatory` (a name)

    @property
    def is_debt_collector(self) -> bool:
        """True when Regulation F's debt-collector rules apply."""
        return self.kind == "debt_collector"


@dataclass(frozen=True, slots=True)
class Rules:
    """What may go, and when."""

    min_balance: Decimal = Decimal("5.00")
    frequency_cap_days: int = 7
    attorney: str = "send_to_attorney"
    time_barred: str = "no_suit"
    intended_actions: tuple[str, ...] = ("collection_agency",)
    validation_extra_days: int = 0


@dataclass(frozen=True, slots=True)
class Stage:
    """One step of the escalation: a days-past-due range, a template and a mail class."""

    name: str
    min_days: int
    max_days: int | None
    template: str
    mail_class: str
    min_days_since_previous: int = 0
    channels: tuple[str, ...] = ("letter",)  # how this stage reaches the debtor
    email_template: str = ""  # this stage's e-mail template (default: [email] template)

    def holds(self, days_past_due: int) -> bool:
        """True if an account this many days past due is at this stage."""
        return self.min_days <= days_past_due and (
            self.max_days is None or days_past_due <= self.max_days
        )


@dataclass(frozen=True, slots=True)
class TemplateNames:
    """Templates used instead of the stage's for some letters."""

    hardship: str = "hardship.html"
    validation: str = "validation.html"
    spanish_folder: str = "es"
    require_approval: bool = False  # a run refuses templates that differ from the latest approval


@dataclass(frozen=True, slots=True)
class ArticleConfig:
    """Where accountable-mail numbers come from: a file of numbers, or a range from a mailer ID."""

    file: Path | None = None
    channel: str = "92"
    service_type: str = "070"
    mailer_id: str = ""
    first_serial: int = 1
    last_serial: int = 9_999_999
    registered_prefix: str = "RR"
    registered_first: int = 1
    registered_last: int = 99_999_999


@dataclass(frozen=True, slots=True)
class ImbConfig:
    """The Intelligent Mail barcode under the address; off without a mailer ID."""

    mailer_id: str = ""
    barcode_id: str = "00"
    service_type: str = "270"


@dataclass(frozen=True, slots=True)
class MailingBookConfig:
    """Postage and fees for the firm mailing book (check them against current USPS prices)."""

    postage: Decimal = Decimal("0.78")
    postage_international: Decimal = Decimal("1.70")
    certified_fee: Decimal = Decimal("5.30")
    return_receipt_fee: Decimal = Decimal("4.40")
    registered_fee: Decimal = Decimal("18.25")
    lines_per_page: int = 12


@dataclass(frozen=True, slots=True)
class Policy:
    """The whole policy as read from TOML."""

    sender: Sender
    stages: tuple[Stage, ...]
    source_name: str
    rules: Rules = field(default_factory=Rules)
    calendar: MailCalendar = field(default_factory=MailCalendar)
    templates: TemplateNames = field(default_factory=TemplateNames)
    envelope: WindowProfile = DEFAULT_PROFILE
    articles: ArticleConfig = field(default_factory=ArticleConfig)
    imb: ImbConfig = field(default_factory=ImbConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    mailing_book: MailingBookConfig = field(default_factory=MailingBookConfig)
    seal_key_file: Path | None = None
    seal_require_signature: bool = False  # every run signs, every verify demands it
    email: EmailConfig = field(default_factory=EmailConfig)

    @property
    def uses_email(self) -> bool:
        """True when some stage sends e-mail."""
        return any("email" in stage.channels for stage in self.stages)

    def stage_for(self, days_past_due: int) -> Stage | None:
        """The first stage whose range holds `days_past_due`, or None."""
        return next((stage for stage in self.stages if stage.holds(days_past_due)), None)

    def all_templates(self) -> list[str]:
        """Every template a batch may use (for checking them before the run)."""
        names = {stage.template for stage in self.stages}
        names |= {self.templates.hardship}
        if self.sender.is_debt_collector:
            names.add(self.templates.validation)
        return sorted(names)


def _require(table: dict[str, Any], key: str, where: str, kind: type) -> Any:
    value = table.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise UsageError(f"{where}: {key}: required, a {kind.__name__}")
    return value


def _optional(table: dict[str, Any], key: str, where: str, kind: type, default: Any) -> Any:
    return default if key not in table else _require(table, key, where, kind)


def _choice(
    table: dict[str, Any], key: str, where: str, allowed: tuple[str, ...], default: str
) -> str:
    value = _optional(table, key, where, str, default)
    if value not in allowed:
        raise UsageError(f"{where}: {key}: must be one of {', '.join(allowed)}")
    return str(value)


def _lines(
    table: dict[str, Any], key: str, where: str, default: tuple[str, ...]
) -> tuple[str, ...]:
    value = _optional(table, key, where, list, list(default))
    return tuple(str(line) for line in value)


def _sender(table: dict[str, Any], where: str) -> Sender:
    address = _lines(table, "address", where, ())
    if not address:
        raise UsageError(f"{where}: address: required, a list of lines")
    return Sender(
        name=_require(table, "name", where, str),
        kind=_choice(table, "kind", where, SENDER_KINDS, "creditor"),
        address=address,
        dispute_address=_lines(table, "dispute_address", where, address),
        payment_address=_lines(table, "payment_address", where, address),
        phone=_require(table, "phone", where, str),
        hours=_optional(table, "hours", where, str, ""),
        website=_optional(table, "website", where, str, ""),
        email=_optional(table, "email", where, str, ""),
        signatory=_optional(table, "signatory", where, str, ""),
        hours_es=_optional(table, "hours_es", where, str, ""),
        signatory_es=_optional(table, "signatory_es", where, str, ""),
    )


def _rules(table: dict[str, Any], where: str) -> Rules:
    try:
        min_balance = Decimal(str(table.get("min_balance", "5.00")))
    except InvalidOperation:
        raise UsageError(f"{where}: min_balance: not an amount") from None
    actions = tuple(_optional(table, "intended_actions", where, list, ["collection_agency"]))
    unknown = [a for a in actions if a not in ACTIONS]
    if unknown:
        raise UsageError(
            f"{where}: intended_actions: unknown {unknown}; known: {', '.join(ACTIONS)}"
        )
    return Rules(
        min_balance=min_balance,
        frequency_cap_days=_optional(table, "frequency_cap_days", where, int, 7),
        attorney=_choice(table, "attorney", where, ATTORNEY_MODES, "send_to_attorney"),
        time_barred=_choice(table, "time_barred", where, TIME_BARRED_MODES, "no_suit"),
        intended_actions=actions,
        validation_extra_days=_optional(table, "validation_extra_days", where, int, 0),
    )


def _calendar(table: dict[str, Any], where: str) -> MailCalendar:
    try:
        weekdays = parse_closed_weekdays(
            _optional(table, "closed_weekdays", where, list, ["sunday"])
        )
        closed = frozenset(
            date.fromisoformat(str(d)) for d in _optional(table, "closed_dates", where, list, [])
        )
    except ValueError as exc:
        raise UsageError(f"{where}: {exc}") from None
    return MailCalendar(weekdays, closed)


def _rect(table: dict[str, Any], key: str, where: str, default: Rect) -> Rect:
    value = table.get(key)
    if value is None:
        return default
    if not (
        isinstance(value, list)
        and len(value) == 4
        and all(isinstance(v, int | float) for v in value)
    ):
        raise UsageError(f"{where}: {key}: must be [x, y, width, height] in inches")
    return Rect(*(float(v) for v in value))


def _envelope(table: dict[str, Any], where: str) -> WindowProfile:
    base = DEFAULT_PROFILE
    return WindowProfile(
        name=_optional(table, "name", where, str, base.name),
        return_window=_rect(table, "return_window", where, base.return_window),
        recipient_window=_rect(table, "recipient_window", where, base.recipient_window),
        service_window=_rect(table, "service_window", where, base.service_window),
        play=float(_optional(table, "play", where, float, base.play)),
        clearance=float(_optional(table, "clearance", where, float, base.clearance)),
        fold_marks=_optional(table, "fold_marks", where, bool, base.fold_marks),
    )


def _digits(
    table: dict[str, Any], key: str, where: str, default: str, lengths: tuple[int, ...]
) -> str:
    value = str(_optional(table, key, where, str, default))
    if value and not (value.isdigit() and len(value) in lengths):
        raise UsageError(f"{where}: {key}: must be {' or '.join(map(str, lengths))} digits")
    return value


def _articles(table: dict[str, Any], where: str, base_dir: Path | None) -> ArticleConfig:
    file_name = _optional(table, "file", where, str, "")
    registered = table.get("registered") or {}
    return ArticleConfig(
        file=((base_dir or Path.cwd()) / file_name) if file_name else None,
        channel=_digits(table, "channel", where, "92", (2,)),
        service_type=_digits(table, "service_type", where, "070", (3,)),
        mailer_id=_digits(table, "mailer_id", where, "", (6, 9)),
        first_serial=_optional(table, "first_serial", where, int, 1),
        last_serial=_optional(table, "last_serial", where, int, 9_999_999),
        registered_prefix=_optional(registered, "prefix", f"{where}.registered", str, "RR"),
        registered_first=_optional(registered, "first_serial", f"{where}.registered", int, 1),
        registered_last=_optional(
            registered, "last_serial", f"{where}.registered", int, 99_999_999
        ),
    )


def _imb(table: dict[str, Any], where: str) -> ImbConfig:
    return ImbConfig(
        mailer_id=_digits(table, "mailer_id", where, "", (6, 9)),
        barcode_id=_digits(table, "barcode_id", where, "00", (2,)),
        service_type=_digits(table, "service_type", where, "270", (3,)),
    )


def _output(table: dict[str, Any], where: str) -> OutputConfig:
    variant = _optional(table, "pdf_variant", where, str, "")
    if variant not in ("", "pdf/a-3b"):
        raise UsageError(f'{where}: pdf_variant: must be "" or "pdf/a-3b"')
    base = OutputConfig()
    limits = {
        key: _optional(table, key, where, int, getattr(base, key))
        for key in ("render_timeout_seconds", "render_memory_mb", "helper_processes_from")
    }
    if any(value < 1 for value in limits.values()):
        raise UsageError(f"{where}: render limits and helper_processes_from must be at least 1")
    return OutputConfig(
        pdf_variant=variant,
        duplex=_optional(table, "duplex", where, bool, False),
        split_print_file_by_pages=_optional(table, "split_print_file_by_pages", where, bool, False),
        **limits,
    )


def _money_setting(table: dict[str, Any], key: str, where: str, default: Decimal) -> Decimal:
    try:
        return Decimal(str(table.get(key, default)))
    except InvalidOperation:
        raise UsageError(f"{where}: {key}: not an amount") from None


def _mailing_book(table: dict[str, Any], where: str) -> MailingBookConfig:
    base = MailingBookConfig()
    return MailingBookConfig(
        postage=_money_setting(table, "postage", where, base.postage),
        postage_international=_money_setting(
            table, "postage_international", where, base.postage_international
        ),
        certified_fee=_money_setting(table, "certified_fee", where, base.certified_fee),
        return_receipt_fee=_money_setting(
            table, "return_receipt_fee", where, base.return_receipt_fee
        ),
        registered_fee=_money_setting(table, "registered_fee", where, base.registered_fee),
        lines_per_page=_optional(table, "lines_per_page", where, int, base.lines_per_page),
    )


def _stage(table: dict[str, Any], where: str) -> Stage:
    max_days = table.get("max_days")
    if max_days is not None and not isinstance(max_days, int):
        raise UsageError(f"{where}: max_days: must be a whole number")
    return Stage(
        name=_require(table, "name", where, str),
        min_days=_require(table, "min_days", where, int),
        max_days=max_days,
        template=_require(table, "template", where, str),
        mail_class=_choice(table, "mail_class", where, MAIL_CLASSES, "first_class"),
        min_days_since_previous=_optional(table, "min_days_since_previous", where, int, 0),
        channels=parse_channels(table, where),
        email_template=_optional(table, "email_template", where, str, ""),
    )


def parse_policy(text: str, source_name: str, base_dir: Path | None = None) -> Policy:
    """Parse policy TOML; a mistake raises `UsageError` naming the file and key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{source_name}: not valid TOML: {exc}") from None
    sender = _sender(_require(data, "sender", source_name, dict), f"{source_name}: [sender]")
    stage_tables = _require(data, "stages", source_name, list)
    stages = tuple(
        _stage(table, f"{source_name}: [[stages]] #{number}")
        for number, table in enumerate(stage_tables, start=1)
    )
    if not stages:
        raise UsageError(f"{source_name}: stages: at least one stage is needed")
    names = data.get("templates") or {}
    return Policy(
        sender=sender,
        stages=stages,
        source_name=source_name,
        rules=_rules(data.get("rules") or {}, f"{source_name}: [rules]"),
        calendar=_calendar(data.get("mailing") or {}, f"{source_name}: [mailing]"),
        templates=TemplateNames(
            hardship=_optional(names, "hardship", source_name, str, "hardship.html"),
            validation=_optional(names, "validation", source_name, str, "validation.html"),
            spanish_folder=_optional(names, "spanish_folder", source_name, str, "es"),
            require_approval=_optional(names, "require_approval", source_name, bool, False),
        ),
        envelope=_envelope(data.get("envelope") or {}, f"{source_name}: [envelope]"),
        articles=_articles(data.get("articles") or {}, f"{source_name}: [articles]", base_dir),
        imb=_imb(data.get("imb") or {}, f"{source_name}: [imb]"),
        output=_output(data.get("output") or {}, f"{source_name}: [output]"),
        mailing_book=_mailing_book(
            data.get("mailing_book") or {}, f"{source_name}: [mailing_book]"
        ),
        seal_key_file=_key_file(data.get("seal") or {}, f"{source_name}: [seal]", base_dir),
        seal_require_signature=_optional(
            data.get("seal") or {}, "require_signature", f"{source_name}: [seal]", bool, False
        ),
        email=parse_email(
            (data.get("channels") or {}).get("email") or {},
            data.get("email") or {},
            source_name,
            base_dir,
        ),
    )


def _key_file(table: dict[str, Any], where: str, base_dir: Path | None) -> Path | None:
    name = _optional(table, "hmac_key_file", where, str, "")
    return ((base_dir or Path.cwd()) / name) if name else None


def default_policy_text() -> str:
    """The shipped default policy, commented, as text."""
    return resources.files("letters").joinpath("default_policy.toml").read_text(encoding="utf-8")


def load_policy(policy_path: Path | None) -> Policy:
    """Load a policy file, or the shipped default when `policy_path` is None."""
    if policy_path is None:
        return parse_policy(default_policy_text(), "default policy")
    try:
        text = policy_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{policy_path}: cannot read policy: {exc}") from None
    return parse_policy(text, policy_path.name, policy_path.parent)
