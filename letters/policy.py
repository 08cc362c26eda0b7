"""The policy file: the sender and the escalation stages, as readable TOML."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from letters.errors import UsageError

MAIL_CLASSES = ("first_class", "certified", "certified_return_receipt", "registered")
SENDER_KINDS = ("creditor", "debt_collector")


@dataclass(frozen=True, slots=True)
class Sender:
    """Who the letters come from."""

    name: str
    kind: str
    address: tuple[str, ...]
    phone: str
    hours: str
    website: str
    signatory: str


@dataclass(frozen=True, slots=True)
class Stage:
    """One step of the escalation: a days-past-due range, a template and a mail class."""

    name: str
    min_days: int
    max_days: int | None
    template: str
    mail_class: str

    def holds(self, days_past_due: int) -> bool:
        """True if an account this many days past due is at this stage."""
        return self.min_days <= days_past_due and (
            self.max_days is None or days_past_due <= self.max_days
        )


@dataclass(frozen=True, slots=True)
class Policy:
    """The whole policy as read from TOML."""

    sender: Sender
    stages: tuple[Stage, ...]
    source_name: str

    def stage_for(self, days_past_due: int) -> Stage | None:
        """The first stage whose range holds `days_past_due`, or None."""
        return next((stage for stage in self.stages if stage.holds(days_past_due)), None)


def _require(table: dict[str, Any], key: str, where: str, kind: type) -> Any:
    value = table.get(key)
    if not isinstance(value, kind):
        raise UsageError(f"{where}: {key}: required, a {kind.__name__}")
    return value


def _sender(table: dict[str, Any], where: str) -> Sender:
    kind = _require(table, "kind", where, str)
    if kind not in SENDER_KINDS:
        raise UsageError(f"{where}: kind: must be one of {', '.join(SENDER_KINDS)}")
    address = _require(table, "address", where, list)
    return Sender(
        name=_require(table, "name", where, str),
        kind=kind,
        address=tuple(str(line) for line in address),
        phone=_require(table, "phone", where, str),
        hours=str(table.get("hours", "")),
        website=str(table.get("website", "")),
        signatory=str(table.get("signatory", "")),
    )


def _stage(table: dict[str, Any], where: str) -> Stage:
    mail_class = _require(table, "mail_class", where, str)
    if mail_class not in MAIL_CLASSES:
        raise UsageError(f"{where}: mail_class: must be one of {', '.join(MAIL_CLASSES)}")
    max_days = table.get("max_days")
    if max_days is not None and not isinstance(max_days, int):
        raise UsageError(f"{where}: max_days: must be a whole number")
    return Stage(
        name=_require(table, "name", where, str),
        min_days=_require(table, "min_days", where, int),
        max_days=max_days,
        template=_require(table, "template", where, str),
        mail_class=mail_class,
    )


def parse_policy(text: str, source_name: str) -> Policy:
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
    return Policy(sender=sender, stages=stages, source_name=source_name)


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
    return parse_policy(text, policy_path.name)
