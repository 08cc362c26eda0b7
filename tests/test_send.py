"""Issue 16: `letters send` delivers each queued e-mail at most once, in the debtor's daytime,
through a real SMTP server (aiosmtpd, STARTTLS required) or a Maildir folder.

Most tests call `deliver_due` directly; the CLI is run through `CliRunner` where its exit codes
matter, and one real process is killed inside the SMTP transaction.
"""

from __future__ import annotations

import email
import email.policy
import os
import signal
import stat
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date, datetime, time
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from letters.cli.app import app
from letters.errors import ExitCode, UsageError
from letters.fsutil import sha256_bytes
from letters.intake.channels import EmailConfig
from letters.model import ContactPoint
from letters.send.deliver import SendReport, deliver_due, settle_unknown
from letters.send.transports import Transport, TransportError, transport_for
from letters.send.window import SendWindow
from letters.state import open_store
from letters.state.lock import RunLock
from letters.state.protocol import StateStore
from letters.state.records import BatchRecord, ContactEvent, MessageRecord
from tests.helpers import start_process
from tests.smtpserver import (
    PASSWORD,
    USER,
    Certificates,
    RecordingHandler,
    free_port,
    make_certificates,
    smtp_server,
)

CHICAGO = ZoneInfo("America/Chicago")
AFTERNOON = datetime(2026, 11, 20, 14, 0, tzinfo=CHICAGO)  # a Friday, 14:00 in Chicago
NIGHT = datetime(2026, 11, 20, 2, 0, tzinfo=CHICAGO)
WEEK_LATER = datetime(2026, 11, 27, 14, 0, tzinfo=CHICAGO)
WINDOW = SendWindow(
    zones=("America/Chicago",),
    first_day=date(2026, 11, 20),
    last_day=date(2026, 11, 26),
    send_from=time(8, 0),
    send_until=time(21, 0),
    closed=frozenset(),
)
ADA = "ada@example.com"
SENDER = "accounts@lakeside-cu.example"
runner = CliRunner()


def clock(moment: datetime) -> Callable[[], datetime]:
    """A stopped clock."""
    return lambda: moment


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """The session's throw-away CA and server certificate."""
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def handler() -> RecordingHandler:
    """A fresh handler for each test."""
    return RecordingHandler()


@pytest.fixture
def server(certificates: Certificates, handler: RecordingHandler) -> Iterator[str]:
    """A STARTTLS-only server on 127.0.0.1; yields its URL."""
    with smtp_server(certificates, handler) as url:
        yield url


@pytest.fixture
def config(certificates: Certificates) -> EmailConfig:
    """The policy's [email]: trust the test CA."""
    return EmailConfig(tls_ca_file=certificates.ca_path)


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    """The state folder."""
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


@pytest.fixture
def store(out_dir: Path) -> Iterator[StateStore]:
    """The state in `out_dir`."""
    opened = open_store(out_dir / "letters.db")
    yield opened
    opened.close()


def batch(store: StateStore, batch_id: str = "B1", status: str = "complete") -> None:
    """Record a batch (once) as a nightly run leaves it: `complete` (sealed), `running`, ..."""
    if store.batch(batch_id) is None:
        store.begin_batch(BatchRecord(batch_id, "2026-11-20", "2026-11-20T01:00:00", None,
                                      "running", "", {}, None, None, {}))  # fmt: skip
    if status != "running":
        store.finish_batch(batch_id, status, "2026-11-20T01:30:00", {})


def queue(store: StateStore, folder: Path, n: int = 1, customer: str = "C1",
          recipient: str = ADA, window: SendWindow = WINDOW, batch_id: str = "B1") -> MessageRecord:  # fmt: skip
    """Write a small message (a Message-ID, no Date) and queue it as the nightly run would, in a
    sealed batch `B1` unless `batch_id` names another one (recorded with `batch` beforehand)."""
    if batch_id == "B1":
        batch(store)
    message_id = f"{batch_id}-E{n:06d}"
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = SENDER
    message["To"] = recipient if recipient.isascii() else ADA
    message["Subject"] = "Your account"
    message["Message-ID"] = f"<{message_id}@lakeside-cu.example>"
    message.set_content("Your account is past due.\n.\nA line that starts with a dot.\n")
    data = message.as_bytes()
    eml_path = folder / f"{message_id}.eml"
    eml_path.write_bytes(data)
    record = MessageRecord(
        message_id, f"{customer}|notice|{batch_id}.{n}|email", batch_id, customer, "email", "notice", "notice",
        recipient, f"<{message_id}@lakeside-cu.example>", "ignored", window.to_json(),
        created_at="2026-11-20T01:00:00",
    )  # fmt: skip
    store.reserve_message(record)
    store.queue_message(message_id, str(eml_path), sha256_bytes(data), "2026-11-20T01:00:00")
    queued = store.message(message_id)
    assert queued is not None and queued.status == "queued"
    return queued


def status(store: StateStore, message_id: str) -> str:
    """A message's status now."""
    record = store.message(message_id)
    assert record is not None
    return record.status


def send_now(store: StateStore, transport: Transport, moment: datetime = AFTERNOON,
             limit: int | None = None) -> SendReport:  # fmt: skip
    """`deliver_due` at a stopped clock."""
    return deliver_due(store, transport, clock(moment), SENDER, limit)


def no_address_in(report: SendReport) -> None:
    """Report lines name message ids, never an address."""
    assert all("@" not in line for line in [*report.problems, report.failure])


# --- delivery -----------------------------------------------------------------------------------


def test_due_messages_go_once_with_a_date_and_our_message_id(
    store: StateStore, tmp_path: Path, server: str, handler: RecordingHandler, config: EmailConfig
) -> None:
    first, second = queue(store, tmp_path, 1), queue(store, tmp_path, 2, "C2", "bo@example.org")
    report = send_now(store, transport_for(server, config))
    assert (report.sent, report.failure, report.problems) == (2, "", [])
    assert [r.recipients for r in handler.received] == [(ADA,), ("bo@example.org",)]
    assert {r.mail_from for r in handler.received} == {SENDER}
    parsed = email.message_from_bytes(handler.received[0].content, policy=email.policy.SMTP)
    assert parsed["Message-ID"] == first.rfc_message_id
    assert parsed["Date"].datetime == AFTERNOON
    assert "A line that starts with a dot." in parsed.get_body().get_content()  # type: ignore[union-attr]
    sent = store.message(second.message_id)
    assert sent is not None and (sent.status, sent.attempts) == ("sent", 1)
    assert sent.sent_at == AFTERNOON.isoformat(timespec="seconds")
    again = send_now(store, transport_for(server, config))
    assert (again.sent, len(handler.received)) == (0, 2)


def test_a_closed_window_waits_for_the_debtors_morning(
    store: StateStore, tmp_path: Path, server: str, handler: RecordingHandler, config: EmailConfig
) -> None:
    record = queue(store, tmp_path)
    night = send_now(store, transport_for(server, config), NIGHT)
    assert (night.sent, night.waiting) == (0, 1)
    assert night.next_opening == datetime(2026, 11, 20, 8, 0, tzinfo=CHICAGO)
    assert handler.received == [] and status(store, record.message_id) == "queued"
    day = send_now(store, transport_for(server, config), AFTERNOON)
    assert (day.sent, day.waiting, len(handler.received)) == (1, 0, 1)


def test_an_expired_window_expires_and_nothing_connects(store: StateStore, tmp_path: Path) -> None:
    record = queue(store, tmp_path)
    closed = transport_for(f"smtp://127.0.0.1:{free_port()}", EmailConfig())  # never opened
    report = send_now(store, closed, WEEK_LATER)
    assert (report.expired, report.failure) == (1, "")
    assert status(store, record.message_id) == "expired"
    assert report.problems == [f"{record.message_id}: expired: its send window ended "
                               "(08:00-21:00 America/Chicago, 2026-11-20 to 2026-11-26)"]  # fmt: skip


def _event(kind: str, detail: str = "", value: str = "Ada@Example.com") -> ContactEvent:
    return ContactEvent("C1", "email", value, kind, "2026-11-20T09:00:00", "", detail)


@pytest.mark.parametrize(
    ("event", "goes"),
    [
        (_event("opted_out"), False),
        (_event("complained"), False),
        (_event("bounced", "550 5.1.1 no such mailbox"), False),
        (_event("replied", "STOP please"), False),
        (_event("bounced", "451 4.2.2 mailbox full"), True),  # a soft bounce stops nothing
        (_event("replied", "I will pay on Friday"), True),
        (_event("opted_out", value="other@example.com"), True),  # another address
    ],
    ids=["opt-out", "complaint", "hard-bounce", "stop-reply", "soft-bounce", "reply", "other"],
)
def test_an_opt_out_or_bounce_cancels(
    store: StateStore, tmp_path: Path, server: str, handler: RecordingHandler,
    config: EmailConfig, event: ContactEvent, goes: bool,
) -> None:  # fmt: skip
    record = queue(store, tmp_path)
    store.add_contact_event(event, "2026-11-20T09:00:00")
    report = send_now(store, transport_for(server, config))
    assert (report.sent, report.cancelled, len(handler.received)) == (
        int(goes),
        int(not goes),
        int(goes),
    )
    assert status(store, record.message_id) == ("sent" if goes else "cancelled")
    no_address_in(report)


def test_an_opted_out_contact_point_cancels(
    store: StateStore, tmp_path: Path, server: str, config: EmailConfig
) -> None:
    record = queue(store, tmp_path)
    point = ContactPoint("C1", "email", ADA, "consent", date(2026, 1, 2), False,
                         date(2026, 11, 19), False, "contacts.csv:2")  # fmt: skip
    store.record_contacts([point], "B2", "2026-11-20T09:00:00")
    report = send_now(store, transport_for(server, config))
    assert report.cancelled == 1 and status(store, record.message_id) == "cancelled"
    cancelled = store.message(record.message_id)
    assert cancelled is not None and "opted out on 2026-11-19" in cancelled.last_error


def test_a_changed_or_missing_file_fails(
    store: StateStore, tmp_path: Path, server: str, handler: RecordingHandler, config: EmailConfig
) -> None:
    changed, missing = queue(store, tmp_path, 1), queue(store, tmp_path, 2)
    Path(changed.eml_path).write_bytes(Path(changed.eml_path).read_bytes() + b"P.S. pay now\r\n")
    Path(missing.eml_path).unlink()
    report = send_now(store, transport_for(server, config))
    assert (report.failed, handler.received) == (2, [])
    assert report.problems == [
        f"{changed.message_id}: failed: its file changed since it was queued",
        f"{missing.message_id}: failed: its file is missing or unreadable since it was queued",
    ]


def test_a_4xx_stays_queued_and_goes_next_time(
    store: StateStore, tmp_path: Path, server: str, handler: RecordingHandler, config: EmailConfig
) -> None:
    record, other = queue(store, tmp_path, 1), queue(store, tmp_path, 2, "C2", "bo@example.org")
    handler.refuse[ADA] = f"451 4.7.1 <{ADA}>: greylisted, try again later"
    report = send_now(store, transport_for(server, config))
    assert (report.deferred, report.sent, report.failure) == (1, 1, "")
    assert report.problems == [f"{record.message_id}: deferred, still queued: "
                               "451 4.7.1 <address>: greylisted, try again later"]  # fmt: skip
    deferred = store.message(record.message_id)
    assert deferred is not None and (deferred.status, deferred.attempts) == ("queued", 1)
    assert status(store, other.message_id) == "sent"
    handler.refuse.clear()
    later = send_now(store, transport_for(server, config))
    assert later.sent == 1 and status(store, record.message_id) == "sent"
    assert len(handler.received) == 2


def test_a_5xx_fails_and_records_a_bounce(
    store: StateStore, tmp_path: Path, server: str, handler: RecordingHandler, config: EmailConfig
) -> None:
    first, second = queue(store, tmp_path, 1), queue(store, tmp_path, 2)  # both to Ada
    handler.refuse[ADA] = f"550 5.1.1 <{ADA}>: mailbox unavailable"
    report = send_now(store, transport_for(server, config))
    assert (report.failed, report.cancelled, report.sent) == (1, 1, 0)
    assert status(store, first.message_id) == "failed"
    assert status(store, second.message_id) == "cancelled"  # the bounce stops the next one
    (bounce,) = store.contact_events("C1")
    assert (bounce.event, bounce.value, bounce.message_id) == ("bounced", ADA, first.message_id)
    assert bounce.detail == "550 5.1.1 <address>: mailbox unavailable"
    no_address_in(report)


BO = "bo@example.org"


@pytest.mark.parametrize(
    ("reply", "bounce"),
    [
        ("550 No such user here", True),  # no enhanced code: 550, 551 and 553 are the address's
        ("551 User not local", True),
        ("553 5.1.3 Bad recipient address syntax", True),
        ("550 5.2.1 Mailbox disabled", False),  # other enhanced codes say nothing of the address
        ("552 5.2.2 Mailbox full", False),
        ("554 Transaction failed", False),
    ],
)
def test_a_5xx_at_rcpt_is_a_hard_bounce_only_when_about_the_address(
    store: StateStore, tmp_path: Path, server: str, handler: RecordingHandler,
    config: EmailConfig, reply: str, bounce: bool,
) -> None:  # fmt: skip
    record, other = queue(store, tmp_path, 1), queue(store, tmp_path, 2, "C2", BO)
    handler.refuse[ADA] = reply
    report = send_now(store, transport_for(server, config))
    assert (report.failed, report.sent, report.failure) == (1, 1, "")
    assert status(store, record.message_id) == "failed"
    assert [e.event for e in store.contact_events("C1")] == (["bounced"] if bounce else [])
    what = "the address was refused" if bounce else "refused by the server"
    assert report.problems == [f"{record.message_id}: failed, {what}: {reply}"]
    assert status(store, other.message_id) == "sent"


@pytest.mark.parametrize(
    "reply", ["554 5.6.0 Message content rejected", "552 5.3.4 Message too big", "554 No thanks"]
)
def test_a_5xx_at_data_fails_the_message_without_a_bounce(
    store: StateStore, tmp_path: Path, server: str, handler: RecordingHandler,
    config: EmailConfig, reply: str,
) -> None:  # fmt: skip
    first, second = queue(store, tmp_path, 1), queue(store, tmp_path, 2)  # both to Ada
    handler.refuse_data = reply
    report = send_now(store, transport_for(server, config))
    assert (report.failed, report.cancelled, report.failure) == (2, 0, "")
    assert [status(store, r.message_id) for r in (first, second)] == ["failed", "failed"]
    assert store.contact_events("C1") == []


@pytest.mark.parametrize(
    ("reply", "at_data"),
    [
        ("550 5.7.1 Relaying denied", False),
        ("554 5.7.1 Relay access denied", False),
        ("530 5.7.0 Authentication required", False),
        ("530 Authentication required", False),
        ("550 5.7.26 Unauthenticated mail from your domain is not accepted", True),
    ],
)
def test_a_refusal_about_us_stops_the_send_with_everything_queued(
    store: StateStore, tmp_path: Path, server: str, handler: RecordingHandler,
    config: EmailConfig, reply: str, at_data: bool,
) -> None:  # fmt: skip
    first, second = queue(store, tmp_path, 1), queue(store, tmp_path, 2, "C2", BO)
    later = queue(store, tmp_path, 3, window=replace(WINDOW, first_day=date(2026, 11, 21)))
    if at_data:
        handler.refuse_data = reply
    else:
        handler.refuse[ADA] = handler.refuse[BO] = reply
    report = send_now(store, transport_for(server, config))
    assert report.failure.endswith(f"the server refuses us, not the address: {reply}")
    assert (report.sent, report.failed, report.not_reached, report.waiting) == (0, 0, 2, 1)
    assert [status(store, r.message_id) for r in (first, second, later)] == ["queued"] * 3
    assert store.contact_events() == []


def test_a_refused_relay_exits_1_with_everything_queued(
    store: StateStore, tmp_path: Path, out_dir: Path, server: str, handler: RecordingHandler,
    certificates: Certificates,
) -> None:  # fmt: skip
    record = queue(store, tmp_path)
    handler.refuse[ADA] = "554 5.7.1 Relay access denied"
    args = ["send", "--out", str(out_dir), "--policy", str(_policy(tmp_path, certificates)),
            "--transport", server, "--now", "2026-11-20T14:00:00-06:00"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == ExitCode.FATAL, result.output
    assert "the server refuses us, not the address: 554 5.7.1 Relay access denied" in result.output
    assert status(store, record.message_id) == "queued" and store.contact_events() == []


def test_an_address_smtplib_cannot_encode_fails_alone_without_a_bounce(
    store: StateStore, tmp_path: Path, server: str, handler: RecordingHandler, config: EmailConfig
) -> None:
    record = queue(store, tmp_path, 1, recipient="josé@example.com")
    other = queue(store, tmp_path, 2, "C2", BO)
    report = send_now(store, transport_for(server, config))
    assert (report.failed, report.delivery_unknown, report.sent, report.failure) == (1, 0, 1, "")
    assert report.problems == [f"{record.message_id}: failed, refused by the server: the "
                               "address is not ASCII and cannot be sent (nothing was sent)"]  # fmt: skip
    assert status(store, record.message_id) == "failed"
    assert status(store, other.message_id) == "sent" and store.contact_events() == []
    assert [r.recipients for r in handler.received] == [(BO,)]


# --- only a sealed batch's messages go ------------------------------------------------------------


def test_only_a_sealed_batchs_messages_go(
    store: StateStore, tmp_path: Path, server: str, handler: RecordingHandler, config: EmailConfig
) -> None:
    for batch_id, state in (("B2", "running"), ("B3", "interrupted"), ("B4", "failed"),
                            ("B5", "closed")):  # fmt: skip
        batch(store, batch_id, state)
    sealed = queue(store, tmp_path, 1)
    waiting = [queue(store, tmp_path, n, batch_id="B2") for n in (1, 2)]
    waiting += [queue(store, tmp_path, 1, batch_id=b) for b in ("B3", "B4", "B9")]  # B9: unknown
    closed = queue(store, tmp_path, 1, batch_id="B5")
    report = send_now(store, transport_for(server, config))
    assert (report.sent, report.waiting, report.not_reached, report.next_opening) == (2, 5, 0, None)
    assert report.problems == [
        "B2: its messages wait: the batch is running, not sealed",
        "B3: its messages wait: the batch is interrupted, not sealed",
        "B4: its messages wait: the batch is failed, not sealed",
        "B9: its messages wait: the batch is not in the state, not sealed",
    ]
    assert {status(store, r.message_id) for r in (sealed, closed)} == {"sent"}
    assert {status(store, r.message_id) for r in waiting} == {"queued"}
    batch(store, "B2")  # the run ends: its messages go
    assert send_now(store, transport_for(server, config)).sent == 2


def test_an_unsealed_batchs_message_is_not_expired_or_cancelled(
    store: StateStore, tmp_path: Path
) -> None:
    batch(store, "B2", "running")
    record = queue(store, tmp_path, 1, batch_id="B2")
    store.add_contact_event(_event("opted_out"), "2026-11-20T09:00:00")
    report = send_now(store, transport_for(f"smtp://127.0.0.1:{free_port()}", EmailConfig()),
                      WEEK_LATER)  # fmt: skip
    assert (report.waiting, report.expired, report.cancelled, report.failure) == (1, 0, 0, "")
    assert status(store, record.message_id) == "queued"


def test_not_reached_counts_only_the_due_messages(store: StateStore, tmp_path: Path) -> None:
    batch(store, "B2", "running")
    due = [queue(store, tmp_path, n) for n in (1, 2)]
    queue(store, tmp_path, 3, window=replace(WINDOW, first_day=date(2026, 11, 21)))
    queue(store, tmp_path, 1, batch_id="B2")
    report = send_now(store, transport_for(f"smtp://127.0.0.1:{free_port()}", EmailConfig()))
    assert report.failure.endswith("cannot connect: Connection refused")
    assert (report.not_reached, report.waiting, report.sent) == (2, 2, 0)
    assert report.next_opening == datetime(2026, 11, 21, 8, 0, tzinfo=CHICAGO)
    assert {status(store, r.message_id) for r in due} == {"queued"}


# --- the transport cannot be used: nothing is marked --------------------------------------------


def test_a_server_without_starttls_is_refused(
    store: StateStore, tmp_path: Path, handler: RecordingHandler, config: EmailConfig
) -> None:
    record = queue(store, tmp_path)
    with smtp_server(None, handler) as plain:
        with pytest.raises(TransportError, match="refusing to send in clear"):
            transport_for(plain, config).open()
        report = send_now(store, transport_for(plain, config))
    assert "does not offer STARTTLS: refusing to send in clear" in report.failure
    assert (report.not_reached, handler.received) == (1, [])
    queued = store.message(record.message_id)
    assert queued is not None and (queued.status, queued.attempts) == ("queued", 0)


def test_a_closed_port_leaves_everything_queued(
    store: StateStore, tmp_path: Path, config: EmailConfig
) -> None:
    records = [queue(store, tmp_path, n) for n in (1, 2)]
    report = send_now(store, transport_for(f"smtp://127.0.0.1:{free_port()}", config))
    assert report.failure.endswith("cannot connect: Connection refused")
    assert (report.sent, report.not_reached) == (0, 2)
    assert [status(store, r.message_id) for r in records] == ["queued", "queued"]


def test_a_refused_envelope_sender_stops_with_the_message_queued(
    store: StateStore, tmp_path: Path, server: str, handler: RecordingHandler, config: EmailConfig
) -> None:
    first, second = queue(store, tmp_path, 1), queue(store, tmp_path, 2)
    handler.refuse_sender = f"553 5.7.1 <{SENDER}>: sender not allowed"
    report = send_now(store, transport_for(server, config))
    assert report.failure.endswith(
        "the envelope sender was refused: 553 5.7.1 <address>: sender not allowed"
    )
    assert (report.sent, report.failed, report.not_reached, handler.received) == (0, 0, 2, [])
    assert [status(store, r.message_id) for r in (first, second)] == ["queued", "queued"]
    assert store.contact_events("C1") == []  # not the debtor's address's fault


def test_an_untrusted_certificate_is_refused(
    store: StateStore, tmp_path: Path, server: str, handler: RecordingHandler
) -> None:
    record = queue(store, tmp_path)
    report = send_now(store, transport_for(server, EmailConfig()))  # the system's CAs only
    assert "certificate cannot be trusted" in report.failure
    assert handler.received == [] and status(store, record.message_id) == "queued"


def test_a_login_from_an_owner_only_credentials_file(
    store: StateStore, tmp_path: Path, certificates: Certificates, handler: RecordingHandler,
    config: EmailConfig,
) -> None:  # fmt: skip
    record = queue(store, tmp_path)
    credentials = tmp_path / "smtp-login"
    credentials.write_text(f"{USER}\nwrong\n", encoding="utf-8")
    credentials.chmod(0o644)
    with_login = replace(config, credentials_file=credentials)
    with pytest.raises(UsageError, match="readable by others"):
        transport_for("smtp://127.0.0.1:25", with_login)
    credentials.chmod(0o600)
    with smtp_server(certificates, handler, login=True) as url:
        refused = send_now(store, transport_for(url, with_login))
        assert "login refused: 535" in refused.failure
        assert status(store, record.message_id) == "queued"
        credentials.write_text(f"{USER}\n{PASSWORD}\n", encoding="utf-8")
        assert send_now(store, transport_for(url, with_login)).sent == 1


@pytest.mark.parametrize(
    "url",
    [
        "smtps://127.0.0.1:465",
        "smtp://127.0.0.1",
        "smtp://user:secret@127.0.0.1:587",
        "maildir:",
        "x",
    ],
)
def test_a_transport_url_must_be_smtp_or_maildir(url: str) -> None:
    with pytest.raises(UsageError) as caught:
        transport_for(url, EmailConfig())
    assert "secret" not in str(caught.value)


# --- lost inside the transaction: never sent twice ----------------------------------------------


def test_a_connection_lost_in_data_is_delivery_unknown_and_never_resent(
    store: StateStore, tmp_path: Path, server: str, handler: RecordingHandler, config: EmailConfig
) -> None:
    first, second = queue(store, tmp_path, 1), queue(store, tmp_path, 2)
    handler.hang = True
    report = send_now(store, transport_for(server, config, timeout=0.5))
    assert report.failure.endswith(
        "connection lost during DATA: Connection unexpectedly closed: The read operation timed out"
    )
    assert (report.delivery_unknown, report.not_reached) == (1, 1)
    assert status(store, first.message_id) == "delivery_unknown"
    assert status(store, second.message_id) == "queued"
    handler.hang = False
    handler.release.set()
    later = send_now(store, transport_for(server, config))
    assert (later.sent, later.delivery_unknown) == (1, 0)
    ids = [email.message_from_bytes(c)["Message-ID"] for c in handler.contents()]
    assert ids == [first.rfc_message_id, second.rfc_message_id]  # the first once, never again


def test_a_message_left_sending_becomes_delivery_unknown_then_is_settled(
    store: StateStore, tmp_path: Path, server: str, handler: RecordingHandler, config: EmailConfig,
    out_dir: Path,
) -> None:  # fmt: skip
    record, other = queue(store, tmp_path, 1), queue(store, tmp_path, 2)
    assert store.move_message(record.message_id, ("queued",), "sending", "2026-11-20T13:59:00")
    assert store.move_message(other.message_id, ("queued",), "sending", "2026-11-20T13:59:00")
    report = send_now(store, transport_for(server, config))
    assert (report.delivery_unknown, report.sent, handler.received) == (2, 0, [])
    assert report.problems[0].startswith(f"{record.message_id}: delivery unknown: the send stopped")
    settled = settle_unknown(store, other.message_id, "sent", "J. Operator", "in the log", "t1")
    assert (settled.status, settled.note) == (
        "sent",
        "settled as sent by J. Operator at t1: in the log",
    )
    resend = runner.invoke(app, ["send", "--out", str(out_dir), "--settle", record.message_id,
                                 "--outcome", "resend", "--by", "J. Operator"])  # fmt: skip
    assert resend.exit_code == 0, resend.output
    assert resend.output.startswith(
        f"{record.message_id}: queued (settled as resend by J. Operator"
    )
    again = runner.invoke(app, ["send", "--out", str(out_dir), "--settle", record.message_id,
                                "--outcome", "resend", "--by", "J. Operator"])  # fmt: skip
    assert again.exit_code == ExitCode.USAGE
    assert f"Error: {record.message_id}: is queued, not delivery_unknown" in again.output
    assert send_now(store, transport_for(server, config)).sent == 1
    assert len(handler.received) == 1


class InterruptedTransport:
    """A transport whose transaction is cut by Ctrl-C."""

    def __enter__(self) -> InterruptedTransport:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None

    def open(self) -> None:
        """Nothing to open."""

    def close(self) -> None:
        """Nothing to close."""

    def send(self, message: bytes, envelope_from: str, recipient: str) -> None:
        """Stopped in the middle."""
        raise KeyboardInterrupt


def test_ctrl_c_inside_a_transaction_leaves_delivery_unknown(
    store: StateStore, tmp_path: Path
) -> None:
    record, other = queue(store, tmp_path, 1), queue(store, tmp_path, 2)
    with pytest.raises(KeyboardInterrupt):
        send_now(store, InterruptedTransport())
    assert status(store, record.message_id) == "delivery_unknown"
    assert status(store, other.message_id) == "queued"


# --- Maildir, --limit -----------------------------------------------------------------------------


def test_the_maildir_transport(store: StateStore, tmp_path: Path) -> None:
    records = [queue(store, tmp_path, n) for n in (1, 2, 3)]
    maildir = tmp_path / "mail" / "out"
    report = send_now(store, transport_for(f"maildir:{maildir}", EmailConfig()), limit=2)
    assert (report.sent, report.not_reached) == (2, 1)
    files = sorted((maildir / "new").iterdir())
    assert len(files) == 2
    assert stat.S_IMODE(maildir.stat().st_mode) == 0o700
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}
    parsed = [email.message_from_bytes(f.read_bytes()) for f in files]
    assert {p["Return-Path"] for p in parsed} == {f"<{SENDER}>"}
    assert all(p["Date"] for p in parsed)
    assert [status(store, r.message_id) for r in records] == ["sent", "sent", "queued"]


# --- the command ----------------------------------------------------------------------------------


def _policy(tmp_path: Path, certificates: Certificates, transport: str = "") -> Path:
    default = Path(__file__).resolve().parent.parent / "letters" / "default_policy.toml"
    path = tmp_path / "policy.toml"
    extra = f'\n[email]\ntls_ca_file = "{certificates.ca_path}"\ntransport = "{transport}"\n'
    path.write_text(default.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return path


def test_the_command_sends_and_reports(
    store: StateStore, tmp_path: Path, out_dir: Path, certificates: Certificates
) -> None:
    record = queue(store, tmp_path)
    queue(store, tmp_path, 2, window=replace(WINDOW, first_day=date(2026, 11, 21)))
    policy = _policy(tmp_path, certificates, f"maildir:{tmp_path / 'mail'}")
    args = ["send", "--out", str(out_dir), "--policy", str(policy)]
    result = runner.invoke(app, [*args, "--now", "2026-11-20T14:00:00-06:00"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "sent 1, waiting 1, deferred 0, failed 0, expired 0, cancelled 0, delivery unknown 0,"
        " not reached 0",
        "next opening: 2026-11-21T08:00-06:00",
    ]
    assert status(store, record.message_id) == "sent"


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ([], "Error: no transport: give --transport or set [email] transport in the policy"),
        (["--transport", "maildir:m", "--now", "2026-11-20T14:00"],
         "Error: --now: give the zone offset too, e.g. 2026-11-20T14:00-06:00"),
        (["--transport", "ftp://x:1"], "Error: transport: not smtp://HOST:PORT or maildir:PATH: 'ftp://x:1'"),
        (["--settle", "B1-E000001", "--by", "J"], "Error: --settle needs --outcome sent|resend and --by NAME"),
        (["--outcome", "sent"], "Error: --outcome and --by go with --settle MESSAGE_ID"),
    ],
)  # fmt: skip
def test_usage_errors_exit_2(
    store: StateStore, out_dir: Path, extra: list[str], error: str
) -> None:
    result = runner.invoke(app, ["send", "--out", str(out_dir), *extra])
    assert result.exit_code == ExitCode.USAGE
    assert error in result.output.splitlines()


def test_a_missing_state_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["send", "--out", str(tmp_path / "typo"), "--transport", "maildir:m"]
    )
    assert result.exit_code == ExitCode.USAGE
    assert f"Error: {tmp_path / 'typo' / 'letters.db'}: no state database here" in result.output


def test_a_transport_failure_exits_1_with_everything_queued(
    store: StateStore, tmp_path: Path, out_dir: Path, certificates: Certificates
) -> None:
    record = queue(store, tmp_path)
    url = f"smtp://127.0.0.1:{free_port()}"
    args = ["send", "--out", str(out_dir), "--policy", str(_policy(tmp_path, certificates)),
            "--transport", url, "--now", "2026-11-20T14:00:00-06:00"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == ExitCode.FATAL
    assert (f"Error: {url}: cannot connect: Connection refused; the messages not sent stay queued"
            in result.output.splitlines())  # fmt: skip
    assert status(store, record.message_id) == "queued"


def test_a_send_may_overlap_a_nightly_run_but_not_another_send(
    store: StateStore, tmp_path: Path, out_dir: Path
) -> None:
    args = ["send", "--out", str(out_dir), "--transport", f"maildir:{tmp_path / 'mail'}"]
    nightly, other_send = (
        RunLock(out_dir / "letters.db"),
        RunLock(out_dir / "letters.db", ".send-lock"),
    )
    nightly.acquire("B2")
    try:
        assert runner.invoke(app, args).exit_code == ExitCode.DONE
        other_send.acquire("send")
        try:
            result = runner.invoke(app, args)
        finally:
            other_send.release()
    finally:
        nightly.release()
    assert result.exit_code == ExitCode.LOCKED
    assert (
        "Error: another run holds the lock on letters.db.send-lock: batch send (pid"
        in result.output
    )


def test_a_send_killed_inside_data_never_sends_twice(
    store: StateStore, tmp_path: Path, out_dir: Path, server: str, handler: RecordingHandler,
    certificates: Certificates,
) -> None:  # fmt: skip
    record = queue(store, tmp_path)
    handler.hang = True
    letters = Path(sys.executable).with_name("letters")
    args = ["send", "--out", str(out_dir), "--policy", str(_policy(tmp_path, certificates)),
            "--transport", server, "--now", "2026-11-20T14:00:00-06:00"]  # fmt: skip
    process = start_process([str(letters), *args])
    try:
        assert handler.in_data.wait(30), process.communicate(timeout=5)
        assert status(store, record.message_id) == "sending"
        second = runner.invoke(app, args)  # meanwhile: the lock is held
        assert second.exit_code == ExitCode.LOCKED, second.output
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=10)
    after = runner.invoke(app, args)
    assert after.exit_code == 0, after.output
    assert f"{record.message_id}: delivery unknown: the send stopped" in after.output
    assert status(store, record.message_id) == "delivery_unknown"
    assert len(handler.received) == 1  # the server saw it once; nobody sends it again blindly
