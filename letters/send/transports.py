"""How a message leaves: SMTP with STARTTLS required, or a Maildir folder (tests, demos, a
local mail system that picks it up).

A transport sorts every failure by what it means for the message:

- `TransportError`: nothing was sent (no connection, no TLS, login refused, the envelope
  sender refused, the connection gone before the message's data, or a refusal that is about us,
  not the message: relaying denied or a login wanted, 530 or an enhanced code 5.7.x, at any
  step): it may be tried again as it is, and every other message would fare the same;
- `TransientError`: the server said "try again later" (4xx): nothing was delivered;
- `PermanentError`: the server refused the message for good (5xx): nothing was delivered. Its
  `about_recipient` says the refusal was about the address (a hard bounce): at RCPT TO, with an
  enhanced code 5.1.x, or 550, 551 or 553 without one. Anything else (552 or 554 at DATA, other
  enhanced codes, an address smtplib cannot encode) fails the message and says nothing of the
  address;
- `UnknownOutcome`: the connection died or timed out after the message's data began: it may or
  may not have been delivered, and it must never be sent again without a person checking.

Error texts name the server and the reply, never an e-mail address (see `scrub`).
"""

from __future__ import annotations

import contextlib
import mailbox
import os
import re
import smtplib
import ssl
import stat
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self
from urllib.parse import urlsplit

from letters.errors import ExitCode, LettersError, UsageError, os_error_text
from letters.intake.channels import EmailConfig

DEFAULT_TIMEOUT = 60.0  # seconds for each step of the SMTP conversation
CRLF = re.compile(rb"(?<!\r)\n")  # SMTP lines end in CRLF; bytes go as they are
ADDRESS = re.compile(r"<?[^\s<>@\"',;:()\[\]]+@[^\s<>@\"',;:()\[\]]+>?")
ENHANCED = re.compile(r"\s*[245]\.(\d{1,3})\.\d{1,3}\b")  # RFC 3463: class.subject.detail
RECIPIENT_CODES = frozenset({550, 551, 553})  # at RCPT, without an enhanced code
NOT_ASCII = "the address is not ASCII and cannot be sent (nothing was sent)"


class TransportError(LettersError):
    """The transport cannot be used (connect, TLS, login); nothing was sent."""

    exit_code = ExitCode.FATAL


class TransientError(Exception):
    """The server said to try again later (4xx); the message was not delivered."""


class PermanentError(Exception):
    """The server refused the message for good (5xx); the message was not delivered.
    `about_recipient`: the refusal was about the address (a hard bounce to record)."""

    def __init__(self, text: str, about_recipient: bool = False) -> None:
        super().__init__(text)
        self.about_recipient = about_recipient


class UnknownOutcome(Exception):
    """The connection died inside the transaction: the message may or may not have arrived."""


def scrub(text: str) -> str:
    """Text fit for a log line: e-mail addresses replaced by `<address>`, on one line."""
    return " ".join(ADDRESS.sub("<address>", text).split())


def reply_text(code: int, message: bytes | str) -> str:
    """An SMTP reply as one scrubbed line, e.g. `550 5.1.1 mailbox unavailable`."""
    words = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    return scrub(f"{code} {words}")


def refusal(code: int, message: bytes | str, at_rcpt: bool = False, name: str = "") -> Exception:
    """The error a refusal earns: 4xx transient; 530 or 5.7.x (relaying, a login: about us) a
    `TransportError`; other 5xx (and anything odd) permanent, about the recipient only at RCPT
    with 5.1.x (or 550/551/553 without an enhanced code)."""
    text = reply_text(code, message)
    if 400 <= code < 500:
        return TransientError(text)
    words = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    enhanced = ENHANCED.match(words)
    subject = enhanced.group(1) if enhanced else ""
    if code == 530 or subject == "7":
        prefix = f"{name}: " if name else ""
        return TransportError(f"{prefix}the server refuses us, not the address: {text}")
    about = at_rcpt and (subject == "1" if enhanced else code in RECIPIENT_CODES)
    return PermanentError(text, about_recipient=about)


class Transport(Protocol):
    """Something that delivers messages; open it (or use `with`) before `send`."""

    def open(self) -> None:
        """Connect (and log in); raises `TransportError`."""

    def close(self) -> None:
        """Let go of the connection; never raises."""

    def send(self, message: bytes, envelope_from: str, recipient: str) -> None:
        """Deliver one message or raise a classified error (see the module's docstring)."""

    def __enter__(self) -> Self:
        """Open."""

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Close."""


class _Opened:
    """`with transport:` opens it and closes it."""

    def open(self) -> None:
        """Nothing to open."""

    def close(self) -> None:
        """Nothing to close."""

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def read_credentials(credentials_path: Path) -> tuple[str, str]:
    """The user name and password, the file's first two lines; the file must be owner-only."""
    try:
        mode = credentials_path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise UsageError(
                f"{credentials_path}: readable by others: make it owner-only (chmod 600)"
            )
        lines = credentials_path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"{credentials_path}: cannot read: {os_error_text(exc)}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{credentials_path}: not UTF-8 text") from None
    if len(lines) < 2 or not lines[0].strip() or not lines[1]:
        raise UsageError(f"{credentials_path}: two lines expected: user name, then password")
    return lines[0].strip(), lines[1]


def tls_context(ca_path: Path | None) -> ssl.SSLContext:
    """A client context that verifies the server's certificate and name (against `ca_path`, or
    the system's certificates)."""
    try:
        context = ssl.create_default_context(cafile=str(ca_path) if ca_path else None)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"{ca_path}: not a usable CA certificate file ({exc})") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class SmtpTransport(_Opened):
    """SMTP submission with STARTTLS required and the certificate verified."""

    def __init__(
        self,
        host: str,
        port: int,
        context: ssl.SSLContext,
        credentials: tuple[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.context, self.credentials = context, credentials
        self.name = f"smtp://{host}:{port}"
        self._smtp: smtplib.SMTP | None = None

    def open(self) -> None:
        """Connect, STARTTLS (required), log in when credentials are given."""
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        except (OSError, smtplib.SMTPException) as exc:
            raise TransportError(f"{self.name}: cannot connect: {_why(exc)}") from None
        self._smtp = smtp
        try:
            self._secure(smtp)
        except BaseException:
            self.close()
            raise

    def _secure(self, smtp: smtplib.SMTP) -> None:
        try:
            smtp.ehlo()
            if not smtp.has_extn("starttls"):
                raise TransportError(
                    f"{self.name}: the server does not offer STARTTLS: refusing to send in clear"
                )
            smtp.starttls(context=self.context)
            smtp.ehlo()
            if self.credentials is not None:
                smtp.login(*self.credentials)
        except ssl.SSLCertVerificationError as exc:
            raise TransportError(
                f"{self.name}: the server's certificate cannot be trusted: "
                f"{exc.verify_message or exc.reason} (set [email] tls_ca_file)"
            ) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise TransportError(
                f"{self.name}: login refused: {reply_text(exc.smtp_code, exc.smtp_error)}"
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise TransportError(f"{self.name}: the server offers no login (AUTH)") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise TransportError(f"{self.name}: cannot start TLS or log in: {_why(exc)}") from None

    def close(self) -> None:
        """Say goodbye if the connection still lives; never raises."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()

    def send(self, message: bytes, envelope_from: str, recipient: str) -> None:
        """One SMTP transaction: MAIL, RCPT, DATA. A connection lost before DATA is a
        `TransportError` (nothing sent); after DATA began, an `UnknownOutcome`."""
        smtp = self._smtp
        if smtp is None:
            raise TransportError(f"{self.name}: not connected")
        in_data = False
        try:
            try:
                code, reply = smtp.mail(envelope_from)
            except UnicodeEncodeError:  # raised before a byte went: ours, every message's
                raise TransportError(f"{self.name}: the envelope sender is not ASCII") from None
            if code != 250:
                self._reset(smtp)
                raise TransportError(
                    f"{self.name}: the envelope sender was refused: {reply_text(code, reply)}"
                )
            try:
                code, reply = smtp.rcpt(recipient)
            except UnicodeEncodeError:  # raised before a byte of RCPT went: this message only
                self._reset(smtp)
                raise PermanentError(NOT_ASCII) from None
            if code not in (250, 251):
                self._reset(smtp)
                raise refusal(code, reply, at_rcpt=True, name=self.name)
            in_data = True
            code, reply = smtp.data(CRLF.sub(b"\r\n", message))
        except smtplib.SMTPDataError as exc:  # DATA itself refused: no data was sent
            self._reset(smtp)
            raise refusal(exc.smtp_code, exc.smtp_error, name=self.name) from None
        except (OSError, smtplib.SMTPException) as exc:
            self._smtp = None
            smtp.close()
            if in_data:
                raise UnknownOutcome(
                    f"{self.name}: connection lost during DATA: {_why(exc)}"
                ) from None
            raise TransportError(f"{self.name}: connection lost: {_why(exc)}") from None
        if code != 250:
            raise refusal(code, reply, name=self.name)

    @staticmethod
    def _reset(smtp: smtplib.SMTP) -> None:
        # After a refusal the next message starts clean; a dead connection shows at the next MAIL
        with contextlib.suppress(OSError, smtplib.SMTPException):
            smtp.rset()


class MaildirTransport(_Opened):
    """Deliver into a Maildir folder (created owner-only): `new/` holds one file per message."""

    def __init__(self, maildir_path: Path) -> None:
        self.maildir_path = maildir_path
        self.name = f"maildir:{maildir_path}"
        self._box: mailbox.Maildir | None = None

    def open(self) -> None:
        """Create the folder (owner-only) if need be."""
        try:
            self.maildir_path.parent.mkdir(parents=True, exist_ok=True)
            self._box = mailbox.Maildir(self.maildir_path, factory=None, create=True)
            for sub in ("tmp", "new", "cur"):  # an existing, empty folder lacks them
                (self.maildir_path / sub).mkdir(mode=0o700, exist_ok=True)
        except OSError as exc:
            raise TransportError(
                f"{self.name}: cannot use the folder: {os_error_text(exc)}"
            ) from None

    def close(self) -> None:
        """Nothing stays open."""
        self._box = None

    def send(self, message: bytes, envelope_from: str, recipient: str) -> None:
        """Add the message, with a `Return-Path:` for its envelope sender."""
        if self._box is None:
            raise TransportError(f"{self.name}: not open")
        data = f"Return-Path: <{envelope_from}>\r\n".encode() + message
        try:
            key = self._box.add(data.replace(b"\r\n", b"\n"))
            os.chmod(self.maildir_path / "new" / key, 0o600)
        except OSError as exc:
            raise TransportError(f"{self.name}: cannot write: {os_error_text(exc)}") from None


def _why(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return reply_text(exc.smtp_code, exc.smtp_error)
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return scrub(str(exc)) or exc.__class__.__name__


def transport_for(url: str, config: EmailConfig, timeout: float = DEFAULT_TIMEOUT) -> Transport:
    """The transport a URL names: `smtp://HOST:PORT` (STARTTLS required, `config`'s CA file
    and credentials) or `maildir:PATH`; anything else is a `UsageError`."""
    if url.startswith("maildir:"):
        folder = url.removeprefix("maildir:")
        if not folder:
            raise UsageError("transport: maildir:PATH needs a folder")
        return MaildirTransport(Path(folder))
    parts = urlsplit(url)
    if "@" in parts.netloc:  # a password in a URL ends up in shell histories and error lines
        raise UsageError("transport: give the login in [email] credentials_file, not the URL")
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "smtp" or not parts.hostname or port is None or parts.path not in ("", "/"):
        raise UsageError(f"transport: not smtp://HOST:PORT or maildir:PATH: {url!r}")
    credentials = read_credentials(config.credentials_file) if config.credentials_file else None
    return SmtpTransport(
        parts.hostname, port, tls_context(config.tls_ca_file), credentials, timeout
    )
