"""The policy's channels besides the letter: `[channels.email]` (caps and the hours a message may
go) and `[email]` (how it is sent, signed and what it carries)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Any

from letters.errors import UsageError

CHANNELS = ("letter", "email")
ATTACHMENTS = ("letter", "none")
PASSWORDS = ("zip5_last4",)
# 12 CFR 1006.6(b)(1)(i): before 8 a.m. or after 9 p.m. at the consumer's location is inconvenient
EARLIEST = time(8, 0)
LATEST = time(21, 0)


@dataclass(frozen=True, slots=True)
class EmailConfig:
    """E-mail: when it may go, how often, through what, and what it carries."""

    max_per_7_days: int = 1  # messages on this channel to one debtor in any 7 days
    send_from: time = EARLIEST  # local time at the debtor's address
    send_until: time = LATEST
    window_days: int = 7  # days a queued message may wait for an open hour; then it expires
    transport: str = ""  # smtp://HOST:PORT or maildir:PATH; `letters send --transport` wins
    from_address: str = ""  # default: [sender] email
    reply_to: str = ""  # where replies (and "STOP") go; default: from_address
    credentials_file: Path | None = None  # two lines: user name, password (owner-only)
    tls_ca_file: Path | None = None  # CA certificates to trust for STARTTLS (default: system)
    attachment: str = "letter"  # letter: the batch's letter PDF, encrypted; none
    password: str = "zip5_last4"  # the attachment's password: mailing ZIP + account last four
    template: str = "email/message"  # templates/<template>.subject.txt, .txt and .html

    @property
    def encrypt(self) -> bool:
        """True when messages carry the letter as an encrypted PDF."""
        return self.attachment == "letter"


def _clock(table: dict[str, Any], key: str, where: str, default: time) -> time:
    value = table.get(key)
    if value is None:
        return default
    if isinstance(value, time) and value.tzinfo is None:
        return value
    try:
        parsed = time.fromisoformat(str(value))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is not None:  # the debtor's local time: no zone of its own
        raise UsageError(f"{where}: {key}: not a time of day (HH:MM): {value!r}")
    return parsed


def _text(table: dict[str, Any], key: str, where: str, default: str = "") -> str:
    value = table.get(key, default)
    if not isinstance(value, str):
        raise UsageError(f"{where}: {key}: must be text")
    return value


def _number(table: dict[str, Any], key: str, where: str, default: int) -> int:
    value = table.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise UsageError(f"{where}: {key}: must be a whole number of at least 1")
    return value


def _path(table: dict[str, Any], key: str, where: str, base_dir: Path | None) -> Path | None:
    name = _text(table, key, where)
    return ((base_dir or Path.cwd()) / name) if name else None


def parse_email(
    rules: dict[str, Any], email: dict[str, Any], source_name: str, base_dir: Path | None
) -> EmailConfig:
    """`[channels.email]` and `[email]`; quiet hours wider than 08:00-21:00 are refused."""
    where = f"{source_name}: [channels.email]"
    send_from = _clock(rules, "send_from", where, EARLIEST)
    send_until = _clock(rules, "send_until", where, LATEST)
    if send_from < EARLIEST or send_until > LATEST or send_from >= send_until:
        raise UsageError(
            f"{where}: send_from and send_until must lie within 08:00-21:00, the consumer's "
            f"local time (12 CFR 1006.6(b)(1)(i)); got {send_from:%H:%M}-{send_until:%H:%M}"
        )
    where_email = f"{source_name}: [email]"
    attachment = _text(email, "attachment", where_email, "letter")
    if attachment not in ATTACHMENTS:
        raise UsageError(f"{where_email}: attachment: must be one of {', '.join(ATTACHMENTS)}")
    password = _text(email, "password", where_email, "zip5_last4")
    if password not in PASSWORDS:
        raise UsageError(f"{where_email}: password: must be one of {', '.join(PASSWORDS)}")
    transport = _text(email, "transport", where_email)
    if transport and not transport.startswith(("smtp://", "maildir:")):
        raise UsageError(f"{where_email}: transport: smtp://HOST:PORT or maildir:PATH")
    if transport.startswith("maildir:"):  # a relative folder is the policy file's neighbour
        transport = f"maildir:{(base_dir or Path.cwd()) / transport.removeprefix('maildir:')}"
    return EmailConfig(
        max_per_7_days=_number(rules, "max_per_7_days", where, 1),
        send_from=send_from,
        send_until=send_until,
        window_days=_number(rules, "window_days", where, 7),
        transport=transport,
        from_address=_text(email, "from", where_email),
        reply_to=_text(email, "reply_to", where_email),
        credentials_file=_path(email, "credentials_file", where_email, base_dir),
        tls_ca_file=_path(email, "tls_ca_file", where_email, base_dir),
        attachment=attachment,
        password=password,
        template=_text(email, "template", where_email, "email/message"),
    )


def parse_channels(table: dict[str, Any], where: str) -> tuple[str, ...]:
    """A stage's `channels`: a list of known channels, none twice (default: the letter)."""
    value = table.get("channels", ["letter"])
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise UsageError(f'{where}: channels: a list such as ["letter", "email"]')
    unknown = [v for v in value if v not in CHANNELS]
    if unknown or len(set(value)) != len(value):
        raise UsageError(
            f"{where}: channels: each of {', '.join(CHANNELS)} at most once; got {value}"
        )
    return tuple(value)


# What stops e-mail to an address, for the nightly run and for `letters send` alike.
STOPPING_EVENTS = {"opted_out": "opted_out", "complained": "opted_out", "bounced": "bounced"}
STOP_WORDS = frozenset({"stop", "end", "quit", "unsubscribe", "cancel", "revoke", "alto"})


STOP_PHRASES = ("opt out", "opt-out", "remove me", "take me off")


def stop_kind(event: str, detail: str) -> str:
    """`opted_out` or `bounced` when an e-mail event stops the channel to its address, else ""
    (a reply whose first line has a stop word anywhere, or asks to opt out or be removed, is an
    opt-out: 1006.6(e) honours any reasonable way; a soft bounce is no evidence)."""
    if event == "replied":
        first = (detail.strip().splitlines() or [""])[0].casefold()
        words = {word.strip(".,;:!?\"'()") for word in first.split()}
        return "opted_out" if words & STOP_WORDS or any(p in first for p in STOP_PHRASES) else ""
    if event == "bounced" and detail.strip().casefold().startswith(("soft", "4")):
        return ""
    return STOPPING_EVENTS.get(event, "")
