"""E-mail in the nightly run: decided with the letters, rendered, queued, sealed, exactly once."""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta
from pathlib import Path

import pikepdf
import pytest

from letters.ops.dryrun import decide_accounts
from letters.ops.status import debtor_history, import_events
from letters.proof.seal import verify_batch
from letters.state import open_store
from tests.helpers import (
    AS_OF,
    WriteCsv,
    manifest,
    only_batch,
    read_rows,
    run_in_process,
    run_request,
    write_rows,
)

ROOT = Path(__file__).resolve().parent.parent
MULTI = ROOT / "examples" / "policy-multichannel.toml"
CONTACT_COLUMNS = ("customer_id", "channel", "value", "consent_basis", "consent_date",
                   "esign_consent", "opted_out_at", "is_work")  # fmt: skip
NOTICE = (AS_OF - timedelta(days=50)).isoformat()  # e-mail and letter
REMINDER = (AS_OF - timedelta(days=10)).isoformat()  # e-mail only


def _statuses(out: Path) -> dict[str, tuple[str, str]]:
    """Each debtor's message status and why, from the state."""
    store = open_store(out / "letters.db")
    try:
        return {m.customer_id: (m.status, m.last_error) for m in store.messages()}
    finally:
        store.close()


@pytest.fixture
def inputs(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> tuple[Path, Path, Path]:
    accounts = write_accounts(
        {"account_id": "A1", "customer_id": "C1", "due_date": NOTICE},
        {"account_id": "A2", "customer_id": "C2", "full_name": "Bo Chen", "due_date": REMINDER},
        {"account_id": "A3", "customer_id": "C3", "full_name": "Cy Diaz", "due_date": NOTICE,
         "cease_communication": "yes"},
        {"account_id": "A4", "customer_id": "C4", "full_name": "Di Evans", "due_date": NOTICE},
    )  # fmt: skip
    sources = write_sources(*({"customer_id": c} for c in ("C1", "C2", "C3", "C4")))
    contacts = write_rows(tmp_path / "contacts.csv", CONTACT_COLUMNS, [
        {"customer_id": "C1", "channel": "email", "value": "ada@example.com", "consent_basis": "consent", "consent_date": "2026-01-05"},
        {"customer_id": "C2", "channel": "email", "value": "bo@example.net", "consent_basis": "consumer_used"},
        {"customer_id": "C3", "channel": "email", "value": "cy@example.org", "consent_basis": "consent"},
        {"customer_id": "C4", "channel": "email", "value": "di@example.com", "consent_basis": ""},
    ])  # fmt: skip
    return accounts, sources, contacts


def test_a_run_queues_each_due_email_once_sealed_with_the_batch(
    tmp_path: Path, inputs: tuple[Path, Path, Path]
) -> None:
    accounts, sources, contacts = inputs
    out = tmp_path / "out"
    result = run_in_process(accounts, [sources], out, policy=MULTI, contacts=contacts)
    batch = only_batch(out)
    rows = {r["customer_id"]: r for r in read_rows(batch / "messages.csv")}
    assert {c: (r["status"], r["reason_code"]) for c, r in rows.items()} == {
        "C1": ("queued", "message_due"),
        "C2": ("queued", "message_due"),
        "C3": ("suppressed", "cease_communication"),
        "C4": ("suppressed", "no_consent_basis"),
    }
    assert result.messages == {"cease_communication": 1, "no_consent_basis": 1, "queued": 2}
    assert (rows["C1"]["attachment"], rows["C2"]["attachment"]) == ("encrypted pdf", "")
    # the reminder stage sends e-mail only; the notice stage both
    letters = {r["customer_id"]: r["reason_code"] for r in manifest(batch)}
    assert letters == {"C1": "letter_due", "C2": "no_letter_at_stage", "C3": "cease_communication",
                       "C4": "letter_due"}  # fmt: skip
    eml = batch / "messages" / f"{rows['C1']['message_id']}.eml"
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert message["To"].addresses[0].addr_spec == "ada@example.com"
    assert message["Date"] is None  # `letters send` dates it when it goes
    [pdf] = [p for p in message.walk() if p.get_content_type() == "application/pdf"]
    data = pdf.get_payload(decode=True)
    with pytest.raises(pikepdf.PasswordError):
        pikepdf.open(__import__("io").BytesIO(data))
    with pikepdf.open(__import__("io").BytesIO(data), password="60614" + "1234") as opened:
        assert len(opened.pages) >= 1
    assert oct(eml.stat().st_mode & 0o777) == "0o600"
    assert verify_batch(batch, None).intact  # messages.csv and every .eml are sealed
    store = open_store(out / "letters.db")
    try:
        queued = store.messages(("queued",))
        assert sorted(m.customer_id for m in queued) == ["C1", "C2"]
        assert all(m.eml_sha256 for m in queued)
    finally:
        store.close()

    # the next night: nothing new goes, and the manifest says why
    run_in_process(accounts, [sources], out, policy=MULTI, contacts=contacts,
                   as_of=AS_OF + timedelta(days=1))  # fmt: skip
    second = sorted(p for p in out.iterdir() if p.is_dir() and p != batch)[0]
    again = {r["customer_id"]: r["reason_code"] for r in read_rows(second / "messages.csv")}
    assert (again["C1"], again["C2"]) == ("already_sent", "already_sent")
    assert not (second / "messages").exists()


def test_an_opt_out_cancels_the_queued_email_and_stops_the_channel(
    tmp_path: Path, inputs: tuple[Path, Path, Path]
) -> None:
    accounts, sources, contacts = inputs
    out = tmp_path / "out"
    run_in_process(accounts, [sources], out, policy=MULTI, contacts=contacts)
    events = write_rows(tmp_path / "email-events.csv", ("customer_id", "address", "event", "timestamp", "detail"), [
        {"customer_id": "C2", "address": "bo@example.net", "event": "replied", "timestamp": "2026-11-20T10:00:00", "detail": "STOP"},
    ])  # fmt: skip
    report = import_events(events, None, out)
    assert (report.imported, report.evidence, report.rejects) == (1, 1, [])
    assert import_events(events, None, out).duplicates  # importing again changes nothing
    store = open_store(out / "letters.db")
    try:
        [c2] = store.messages(customer_id="C2")
        assert c2.status == "cancelled"
    finally:
        store.close()
    history = [e.what for e in debtor_history("C2", None, out).entries]
    assert any(
        w.startswith("e-mail ") and w.endswith("(demand, stage reminder, cancelled)")
        for w in history
    )
    assert "e-mail event replied" in history
    decisions = tmp_path / "decisions.csv"
    request = run_request(accounts, [sources], tmp_path, policy=MULTI, contacts=contacts,
                          as_of=AS_OF + timedelta(days=8))  # fmt: skip
    result = decide_accounts(request, out / "letters.db", decisions)
    codes = {d.customer_id: d.reason_code for d in result.channel_decisions}
    assert (codes["C1"], codes["C2"]) == ("already_sent", "opted_out")
    channels = read_rows(tmp_path / "decisions-channels.csv")
    assert {r["customer_id"]: r["reason_code"] for r in channels} == codes


def test_bad_contact_rows_are_rejected_and_the_rest_goes(
    tmp_path: Path, inputs: tuple[Path, Path, Path]
) -> None:
    accounts, sources, _ = inputs
    contacts = write_rows(tmp_path / "bad-contacts.csv", CONTACT_COLUMNS, [
        {"customer_id": "C1", "channel": "email", "value": "ada@example.com", "consent_basis": "consent"},
        {"customer_id": "C2", "channel": "email", "value": "bo at example.net", "consent_basis": "consent"},
    ])  # fmt: skip
    out = tmp_path / "out"
    result = run_in_process(accounts, [sources], out, policy=MULTI, contacts=contacts)
    assert result.exit_code == 3
    [reject] = read_rows(only_batch(out) / "rejects.csv")
    assert (reject["file"], reject["line"], reject["field"]) == ("bad-contacts.csv", "3", "value")
    rows = {r["customer_id"]: r["reason_code"] for r in read_rows(only_batch(out) / "messages.csv")}
    assert (rows["C1"], rows["C2"]) == ("message_due", "no_consent_basis")


def test_a_gate_the_next_night_cancels_an_email_still_queued(
    tmp_path: Path, inputs: tuple[Path, Path, Path], write_accounts: WriteCsv
) -> None:
    accounts, sources, contacts = inputs
    out = tmp_path / "out"
    run_in_process(accounts, [sources], out, policy=MULTI, contacts=contacts)
    # before the daytime send, C1 writes to ask us to stop; C2's e-mail stays queued
    ceased = write_accounts(
        {"account_id": "A1", "customer_id": "C1", "due_date": NOTICE, "cease_communication": "yes"},
        {"account_id": "A2", "customer_id": "C2", "full_name": "Bo Chen", "due_date": REMINDER},
        name="accounts-2.csv",
    )
    run_in_process(ceased, [sources], out, policy=MULTI, contacts=contacts,
                   as_of=AS_OF + timedelta(days=1))  # fmt: skip
    status = _statuses(out)
    assert status["C1"][0] == "cancelled" and "cease_communication" in status["C1"][1]
    assert status["C2"] == ("queued", "")


def test_a_debtor_gone_from_the_accounts_file_or_opted_out_in_the_contacts_file_gets_no_email(
    tmp_path: Path, inputs: tuple[Path, Path, Path], write_accounts: WriteCsv
) -> None:
    accounts, sources, contacts = inputs
    out = tmp_path / "out"
    run_in_process(accounts, [sources], out, policy=MULTI, contacts=contacts)
    only_c1 = write_accounts({"account_id": "A1", "customer_id": "C1", "due_date": NOTICE},
                             name="accounts-2.csv")  # fmt: skip
    opted = write_rows(tmp_path / "contacts-2.csv", CONTACT_COLUMNS, [
        {"customer_id": "C1", "channel": "email", "value": "ada@example.com", "consent_basis": "consent", "opted_out_at": "2026-11-20"},
    ])  # fmt: skip
    run_in_process(only_c1, [sources], out, policy=MULTI, contacts=opted,
                   as_of=AS_OF + timedelta(days=1))  # fmt: skip
    status = _statuses(out)
    assert status["C1"][0] == "cancelled" and "opted out" in status["C1"][1]
    assert status["C2"][0] == "cancelled" and "not in the accounts file" in status["C2"][1]
