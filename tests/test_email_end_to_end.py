"""The e-mail channel end to end on the demo data: the nightly run, a 2 a.m. send, the daytime
send to a real SMTP server (aiosmtpd, STARTTLS), then the next night and the next send."""

from __future__ import annotations

import csv
import email
import email.policy
import io
from collections.abc import Iterator
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path

import pikepdf
import pytest
from typer.testing import CliRunner

from letters.cli.app import app
from letters.render.email import DEBT_WORDS
from tests.helpers import batch_dirs, manifest, read_rows, run_in_process
from tests.smtpserver import Certificates, RecordingHandler, make_certificates, smtp_server

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SOURCES = [EXAMPLES / "sources" / f"{n}.csv"
           for n in ("internal", "customer_updated", "third_party", "returned_mail")]  # fmt: skip
AS_OF = date(2026, 11, 20)
runner = CliRunner()


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    return make_certificates(tmp_path)


@pytest.fixture
def smtp(certificates: Certificates) -> Iterator[tuple[str, RecordingHandler]]:
    handler = RecordingHandler()
    with smtp_server(certificates, handler) as url:
        yield url, handler


def _send(out: Path, policy: Path, url: str, now: str) -> str:
    result = runner.invoke(app, ["send", "--out", str(out), "--policy", str(policy),
                                 "--transport", url, "--now", now])  # fmt: skip
    assert result.exit_code == 0, result.output
    return result.output


def _parsed(content: bytes) -> EmailMessage:
    message = email.message_from_bytes(content, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_the_nightly_run_queues_and_the_daytime_send_delivers_each_email_once(
    tmp_path: Path, certificates: Certificates, smtp: tuple[str, RecordingHandler]
) -> None:
    url, handler = smtp
    text = (EXAMPLES / "policy-multichannel.toml").read_text(encoding="utf-8")
    policy = tmp_path / "policy.toml"
    policy.write_text(
        text.replace("[email]\n", f'[email]\ntls_ca_file = "{certificates.ca_path}"\n')
    )
    out = tmp_path / "out"
    contacts = EXAMPLES / "contacts.csv"
    run_in_process(
        EXAMPLES / "accounts.csv", SOURCES, out, policy=policy, contacts=contacts, as_of=AS_OF
    )
    [batch] = batch_dirs(out)
    rows = read_rows(batch / "messages.csv")
    queued = {r["customer_id"]: r for r in rows if r["status"] == "queued"}
    assert len(queued) >= 4

    # 2 a.m. in Chicago (3 a.m. in New York): before 8 a.m. for every debtor, so nothing goes
    assert "sent 0" in _send(out, policy, url, "2026-11-20T02:00:00-06:00")
    assert handler.received == []

    _send(out, policy, url, "2026-11-20T14:00:00-06:00")
    assert len(handler.received) == len(queued)
    accounts = list(csv.DictReader((EXAMPLES / "accounts.csv").open(encoding="utf-8")))
    zips = {r["customer_id"]: r["zip"] for r in manifest(batch)}
    for received in handler.received:
        message = _parsed(received.content)
        assert message["Date"] is not None and message["Message-ID"]
        subject = str(message["Subject"]).casefold()
        assert not DEBT_WORDS.search(subject), subject
        body = message.get_body(("plain",))
        assert body is not None and "reply STOP" in body.get_content()
        [customer] = [c for c, r in queued.items() if r["recipient"] == received.recipients[0]]
        for part in message.iter_attachments():
            data = part.get_payload(decode=True)
            assert isinstance(data, bytes)
            with pytest.raises(pikepdf.PasswordError):
                pikepdf.open(io.BytesIO(data))
            mine = sorted(
                (a for a in accounts if a["customer_id"] == customer), key=lambda a: a["account_id"]
            )
            with pikepdf.open(
                io.BytesIO(data), password=zips[customer][:5] + mine[0]["account_number"][-4:]
            ):
                pass
    # no e-mail to the debtor who asked us to stop, to one with an attorney, to one who opted
    # out, or to one without a consent basis
    stopped = {"cease_communication", "attorney_represented", "opted_out", "no_consent_basis"}
    assert stopped <= {r["reason_code"] for r in rows}
    stopped_only = {r["customer_id"] for r in rows if r["reason_code"] in stopped} - set(queued)
    contact_rows = list(csv.DictReader(contacts.open(encoding="utf-8")))
    sent_to = {r.recipients[0] for r in handler.received}
    assert stopped_only and not any(
        c["value"] in sent_to for c in contact_rows if c["customer_id"] in stopped_only
    )

    # the next night queues none of them again (a debtor first held for a state notice that
    # went with the first letter may now get one), and a second send sends nothing twice
    run_in_process(EXAMPLES / "accounts.csv", SOURCES, out, policy=policy, contacts=contacts,
                   as_of=AS_OF + timedelta(days=1))  # fmt: skip
    second = batch_dirs(out)[1]
    again = {
        r["customer_id"] for r in read_rows(second / "messages.csv") if r["status"] == "queued"
    }
    assert again.isdisjoint(queued)
    _send(out, policy, url, "2026-11-21T14:00:00-06:00")
    assert len(handler.received) == len(queued) + len(again)
    assert "sent 0" in _send(out, policy, url, "2026-11-21T14:05:00-06:00")
    assert len(handler.received) == len(queued) + len(again)
