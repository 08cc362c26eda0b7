"""A real SMTP server for the send tests: aiosmtpd on 127.0.0.1, STARTTLS required, with a
throw-away certificate authority made once per session.

The handler keeps every message it is given and can answer chosen recipients with a refusal
(451, 550), refuse every message at the end of DATA (552, 554), hang inside DATA until released,
or ask for a login.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

USER, PASSWORD = "letters", "correct horse battery staple"


@dataclass(frozen=True, slots=True)
class Certificates:
    """A test CA and a server certificate it signed, for 127.0.0.1 and localhost."""

    ca_path: Path
    cert_path: Path
    key_path: Path

    def server_context(self) -> ssl.SSLContext:
        """The server's side of STARTTLS."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_certificates(folder: Path) -> Certificates:
    """Write a CA certificate, and a server certificate and key it signed, into `folder`."""
    now = datetime.now(UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("letters test CA"))
        .issuer_name(_name("letters test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = Certificates(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    files.ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


def _usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=not cert_sign,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


@dataclass(frozen=True, slots=True)
class Received:
    """One message the server took: its envelope and its bytes."""

    mail_from: str
    recipients: tuple[str, ...]
    content: bytes


@dataclass
class RecordingHandler:
    """Keeps what it is given; refuses, hangs or asks for a login as a test sets it up."""

    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # recipient -> reply, `451 4.7.1 ...`
    refuse_sender: str = ""  # a reply to every MAIL FROM, `553 5.7.1 ...`
    refuse_data: str = ""  # a reply to every message's data (kept nonetheless), `554 5.6.0 ...`
    hang: bool = False  # hold every DATA until `release` is set
    in_data: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    async def handle_MAIL(
        self, server: object, session: object, envelope: object, address: str, options: object
    ) -> str:
        """Take the envelope sender, or refuse it when set up to."""
        if self.refuse_sender:
            return self.refuse_sender
        envelope.mail_from = address  # type: ignore[attr-defined]
        envelope.mail_options.extend(options)  # type: ignore[attr-defined]
        return "250 OK"

    async def handle_RCPT(
        self, server: object, session: object, envelope: object, address: str, options: object
    ) -> str:
        """Accept the recipient, or give the refusal set up for it."""
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)  # type: ignore[attr-defined]
        return "250 OK"

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        """Keep the message; hang first when asked to; refuse it when set up to."""
        content = envelope.original_content  # type: ignore[attr-defined]
        rcpts = tuple(envelope.rcpt_tos)  # type: ignore[attr-defined]
        self.received.append(Received(envelope.mail_from, rcpts, content))  # type: ignore[attr-defined]
        if self.hang:
            self.in_data.set()
            while not self.release.is_set():
                await asyncio.sleep(0.02)
        return self.refuse_data or "250 2.0.0 Message accepted for delivery"

    def contents(self) -> list[bytes]:
        """The bytes of every message received, in order."""
        return [r.content for r in self.received]


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on (just now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _authenticate(
    server: object, session: object, envelope: object, mechanism: str, auth_data: object
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)  # handled=False: the server says 535 itself


@contextmanager
def smtp_server(
    certificates: Certificates | None, handler: RecordingHandler, login: bool = False
) -> Iterator[str]:
    """Run a server on a free port and yield its URL; STARTTLS required with `certificates`,
    plain text only without them, and a login required when `login`."""
    options: dict[str, Any] = {}
    if certificates is not None:
        options = {"tls_context": certificates.server_context(), "require_starttls": True}
    if login:
        options |= {"authenticator": _authenticate, "auth_require_tls": True}
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10, **options)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}"
    finally:
        handler.release.set()
        controller.stop()
