"""Contacts intake (`--contacts`): strict rows, rejects with file, line, field and reason, and the
sample's contacts.csv (a seeded, realistic mix of consent) and the demo's examples/contacts.csv."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from addresses.csvio import RowError
from letters.cli.app import app
from letters.errors import ExitCode, InputFileError
from letters.intake.accounts import read_accounts
from letters.intake.contacts import (
    COLUMNS,
    NOT_ASCII,
    UNKNOWN_CUSTOMER,
    parse_email_address,
    read_contacts,
)
from letters.model import ContactPoint
from letters.ops.sample import write_sample
from letters.ops.samplecontacts import (
    SampleCustomer,
    Situation,
    contact_rows,
    customers_of,
)
from letters.proof.manifest import write_rejects
from tests.helpers import AS_OF, read_rows

ROOT = Path(__file__).resolve().parent.parent
GOOD = {
    "customer_id": "C1",
    "channel": "email",
    "value": "Ada.Lovelace@Example.COM",
    "consent_basis": "consent",
    "consent_date": "2026-01-05",
    "esign_consent": "yes",
    "opted_out_at": "",
    "is_work": "",
}


def write(tmp_path: Path, *overrides: dict[str, str], columns: tuple[str, ...] = COLUMNS) -> Path:
    """contacts.csv with one row per override of GOOD (only `columns` written)."""
    path = tmp_path / "contacts.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows({**GOOD, **override} for override in overrides)
    return path


def rejected(tmp_path: Path, override: dict[str, str]) -> tuple[str, str]:
    points, rejects = read_contacts(write(tmp_path, override))
    assert points == [] and len(rejects) == 1
    [reject] = rejects
    assert (reject.file_name, reject.line) == ("contacts.csv", 2)
    assert reject.key == override.get("customer_id", "C1")
    return reject.field, reject.reason


def test_a_good_row_becomes_a_contact_point_lower_cased_whole(tmp_path: Path) -> None:
    points, rejects = read_contacts(write(tmp_path, {}, {"customer_id": "C2", "consent_basis": "creditor_notice",
                                                         "esign_consent": "", "opted_out_at": "2026-03-01",
                                                         "is_work": "TRUE", "value": " bob@work.example.net "}))  # fmt: skip
    assert rejects == []
    assert points == [
        ContactPoint("C1", "email", "ada.lovelace@example.com", "consent", date(2026, 1, 5), True,
                     None, False, "contacts.csv:2"),
        ContactPoint("C2", "email", "bob@work.example.net", "creditor_notice", date(2026, 1, 5),
                     False, date(2026, 3, 1), True, "contacts.csv:3"),
    ]  # fmt: skip


def test_only_the_required_columns_are_needed(tmp_path: Path) -> None:
    path = write(tmp_path, {}, columns=("customer_id", "channel", "value"))
    [point], rejects = read_contacts(path)
    assert rejects == []
    assert (point.consent_basis, point.consent_date, point.esign_consent, point.opted_out_at,
            point.is_work) == ("", None, False, None, False)  # fmt: skip


@pytest.mark.parametrize(("spelling", "meaning"), [("true", True), ("yes", True), ("1", True), ("YES", True),
                                                ("false", False), ("no", False), ("0", False), ("", False)])  # fmt: skip
def test_yes_and_no_spellings(tmp_path: Path, spelling: str, meaning: bool) -> None:
    [point], _ = read_contacts(write(tmp_path, {"esign_consent": spelling, "is_work": spelling}))
    assert point.esign_consent is meaning and point.is_work is meaning


def test_channel_and_basis_are_read_case_insensitively(tmp_path: Path) -> None:
    [point], _ = read_contacts(
        write(tmp_path, {"channel": "E-mail", "consent_basis": "Consumer_Used"})
    )
    assert (point.channel, point.consent_basis) == ("email", "consumer_used")


@pytest.mark.parametrize("basis", ["consumer_used", "consent", "prior_collector", ""])
def test_only_a_creditor_notice_needs_a_date(tmp_path: Path, basis: str) -> None:
    [point], rejects = read_contacts(write(tmp_path, {"consent_basis": basis, "consent_date": ""}))
    assert rejects == [] and point.consent_date is None


@pytest.mark.parametrize("channel", ["sms", "phone", "fax"])
def test_other_channels_are_not_supported_yet(tmp_path: Path, channel: str) -> None:
    assert rejected(tmp_path, {"channel": channel}) == (
        "channel",
        "not a supported channel (email)",
    )


LOCAL = "not an e-mail address: the part before the @ has a character or dot it cannot have"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "required but empty"),
        ("ada.example.com", "not an e-mail address: no @ (exactly one is needed)"),
        ("ada@b@example.com", "not an e-mail address: 2 @ signs (exactly one is needed)"),
        ("@example.com", "not an e-mail address: nothing before the @"),
        ("ada@example", "not an e-mail address: the domain after the @ has no dot"),
        ("ada@example.", "not an e-mail address: the domain after the @ is not a host name"),
        ("ada@exa_mple.com", "not an e-mail address: the domain after the @ is not a host name"),
        ("ada@-example.com", "not an e-mail address: the domain after the @ is not a host name"),
        ("ada@10.0.0.1", "not an e-mail address: the domain after the @ does not end in a top-level domain"),
        ("ada lovelace@example.com", "not an e-mail address: contains U+0020 SPACE"),
        ("ada\t@example.com", "not an e-mail address: contains U+0009"),
        ("ada\u202e@example.com", "not an e-mail address: contains U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("ada\u200b@example.com", "not an e-mail address: contains U+200B ZERO WIDTH SPACE"),
        ("ada..l@example.com", LOCAL),
        (".ada@example.com", LOCAL),
        ("ada,bob@example.com", LOCAL),
        ('"ada"@example.com', LOCAL),
        ("<ada@example.com>", LOCAL),
        ("a" * 65 + "@example.com", "not an e-mail address: more than 64 characters before the @"),
        ("a" * 64 + "@" + "b" * 190 + ".com", "longer than 254 characters"),
        ("josé@example.com", NOT_ASCII),
        ("jose@bücher.example", NOT_ASCII),
        ("ада@пример.рф", NOT_ASCII),
    ],
)  # fmt: skip
def test_an_implausible_address_is_rejected_without_repeating_it(
    tmp_path: Path, value: str, reason: str
) -> None:
    assert rejected(tmp_path, {"value": value}) == ("value", reason)
    if value:
        assert value.strip() not in reason


@pytest.mark.parametrize(
    "value",
    ["ada+debts@example.org", "o'brien@example.com", "a@xn--bcher-kva.example",
     "=1+1@example.com", "d.w-x_y@mail.example.co.uk",
     "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 57 + ".com"],  # 254: the longest
)  # fmt: skip
def test_plausible_addresses_are_kept_as_given(value: str) -> None:
    assert parse_email_address(value) == value
    assert parse_email_address(value.upper()) == value  # lower-cased whole, local part too


@pytest.mark.parametrize(
    ("override", "field", "reason"),
    [
        ({"consent_date": "01/05/2026"}, "consent_date", "not a date (YYYY-MM-DD)"),
        ({"consent_date": "2026-02-30"}, "consent_date", "no such date"),
        ({"opted_out_at": "yesterday"}, "opted_out_at", "not a date (YYYY-MM-DD)"),
        ({"esign_consent": "maybe"}, "esign_consent", "not a yes/no value"),
        ({"is_work": "sometimes"}, "is_work", "not a yes/no value"),
        ({"customer_id": " "}, "customer_id", "required but empty"),
        ({"channel": ""}, "channel", "required but empty"),
        ({"consent_basis": "x" * 501}, "consent_basis", "longer than 500 characters"),
        ({"consent_basis": "verbal"}, "consent_basis", "not a consent basis (consumer_used, "
         "consent, creditor_notice, prior_collector or empty)"),
        ({"consent_basis": "creditor_notice", "consent_date": ""}, "consent_date",
         "required when consent_basis is creditor_notice: the 35 days to opt out count from it"),
    ],
)  # fmt: skip
def test_bad_fields_are_rejected_with_their_field(
    tmp_path: Path, override: dict[str, str], field: str, reason: str
) -> None:
    points, [reject] = read_contacts(write(tmp_path, override))
    assert points == [] and (reject.line, reject.field, reject.reason) == (2, field, reason)


def test_a_customer_not_in_the_accounts_is_rejected_when_they_are_known(tmp_path: Path) -> None:
    path = write(tmp_path, {}, {"customer_id": "C9"})
    points, [reject] = read_contacts(path, {"C1"})
    assert [p.customer_id for p in points] == ["C1"]
    assert reject.message == (
        "contacts.csv:3: customer_id: customer not in the accounts file (or all its rows there "
        "were rejected)"
    )
    assert reject.key == "C9"
    assert len(read_contacts(path)[0]) == 2  # no accounts given: nothing to check against


def test_an_opt_out_of_a_customer_not_in_the_accounts_is_kept(tmp_path: Path) -> None:
    path = write(tmp_path, {"customer_id": "C9", "opted_out_at": "2026-11-02"},
                 {"customer_id": "C9", "value": "other@example.org"})  # fmt: skip
    [point], [reject] = read_contacts(path, {"C1"})
    assert (point.customer_id, point.value, point.opted_out_at) == (
        "C9", "ada.lovelace@example.com", date(2026, 11, 2),
    )  # fmt: skip
    assert (reject.line, reject.field, reject.reason) == (3, "customer_id", UNKNOWN_CUSTOMER)


def test_every_row_of_the_same_customer_and_address_is_kept_lower_cased(tmp_path: Path) -> None:
    path = write(tmp_path,
                 {},
                 {"customer_id": "C2"},  # another debtor's same address
                 {"value": "Ada.Lovelace@example.com", "consent_basis": "consumer_used"},
                 {"value": "ada.lovelace@example.com", "opted_out_at": "2026-11-02"},
                 {"value": "ADA.LOVELACE@EXAMPLE.com"},
                 {"customer_id": "C3", "is_work": "perhaps"})  # fmt: skip
    points, rejects = read_contacts(path)
    assert [p.where for p in points] == [f"contacts.csv:{line}" for line in (2, 3, 4, 5, 6)]
    assert {p.value for p in points} == {"ada.lovelace@example.com"}
    assert [p.opted_out_at for p in points if p.customer_id == "C1"] == [
        None, None, date(2026, 11, 2), None,
    ]  # fmt: skip
    assert [r.message for r in rejects] == ["contacts.csv:7: is_work: not a yes/no value"]


@pytest.mark.parametrize("column", ["channel", "consent_basis", "consent_date", "opted_out_at",
                                    "esign_consent", "is_work"])  # fmt: skip
def test_a_reason_never_quotes_the_cell_a_shifted_row_put_an_address_in(
    tmp_path: Path, column: str
) -> None:
    field, reason = rejected(tmp_path, {column: "Eve.Shifted@example.net"})
    assert field == column
    assert "eve" not in reason.lower() and "@" not in reason and "'" not in reason


def test_every_bad_row_is_one_reject_and_nothing_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text(
        ",".join(COLUMNS) + "\n"
        "C1,email,ada@example.com,consent,2026-01-05,yes,,\n"
        "C2,email\n"
        "\n"
        "C3,sms,+13125550142,consent,,,,\n"
        'C4,email,"=HYPERLINK(""http://x.example"")@example.com",,,,,\n'
        "C5,email,eve@example.com,,,,,,extra\n",
        encoding="utf-8",
    )
    points, rejects = read_contacts(path)
    assert [p.customer_id for p in points] == ["C1"]
    assert [(r.line, r.field, r.reason) for r in rejects] == [
        (3, "", "expected 8 fields, found 2"),
        (5, "channel", "not a supported channel (email)"),
        (6, "value", LOCAL),
        (7, "", "expected 8 fields, found 9"),
    ]  # fmt: skip
    assert [r.key for r in rejects] == ["C2", "C3", "C4", "C5"]
    # rejects.csv is for people: the formula-like raw row is made inert there, kept as is here
    assert rejects[2].raw.startswith("C4,email,")
    write_rejects(tmp_path / "rejects.csv", [rejects[2]])
    [row] = read_rows(tmp_path / "rejects.csv")
    assert row["raw_row"] == 'C4,email,"=HYPERLINK(""http://x.example"")@example.com",,,,,'
    formula = tmp_path / "formula.csv"
    formula.write_text(",".join(COLUMNS) + "\n=cmd,email,x@example.com,,,,,\n", encoding="utf-8")
    [reject] = read_contacts(formula, {"C1"})[1]
    write_rejects(tmp_path / "rejects.csv", [reject])
    [row] = read_rows(tmp_path / "rejects.csv")
    assert (row["key"], row["raw_row"]) == ("'=cmd", "'=cmd,email,x@example.com,,,,,")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "contacts.csv: empty file: no header row"),
        (b"customer_id,channel\nC1,email\n", "contacts.csv:1: missing required column(s): value"),
        (b"customer_id;channel;value\n", "contacts.csv:1: missing required column(s): customer_id, "
         "channel, value (the file seems to use ';' as separator; use ',')"),
        (b"customer_id,value,value\n", "contacts.csv:1: header repeats column 'value'"),
        (b"customer_id,channel,value\nC1,email,jos\xe9@example.com\n", "contacts.csv:2: not UTF-8 "
         "text (byte 0xe9 at column 13); save the file as UTF-8"),
        (None, "contacts.csv: cannot read: No such file or directory"),
    ],
)  # fmt: skip
def test_a_file_that_cannot_be_used_raises(
    tmp_path: Path, data: bytes | None, message: str
) -> None:
    path = tmp_path / "contacts.csv"
    if data is not None:
        path.write_bytes(data)
    with pytest.raises(InputFileError) as caught:
        read_contacts(path)
    assert str(caught.value) == message


def test_a_byte_order_mark_and_spaced_header_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes(b"\xef\xbb\xbf Customer_ID , Channel , Value \r\nC1,email,ada@example.com\r\n")
    [point], rejects = read_contacts(path)
    assert rejects == [] and point.value == "ada@example.com"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80) | st.emails())
def test_an_address_is_either_refused_or_plausible_and_stable(text: str) -> None:
    try:
        value = parse_email_address(text)
    except RowError as exc:
        assert exc.field_name == "value"
        if "@" in text and len(text.strip()) > 5:
            assert text.strip() not in exc.reason  # the address stays out of logs
        return
    local, _, domain = value.partition("@")
    assert value.count("@") == 1 and local and "." in domain and len(value) <= 254
    assert value == value.lower() and value.isascii() and not any(c.isspace() for c in value)
    assert parse_email_address(value) == value


def test_the_sample_writes_contacts_for_its_customers(tmp_path: Path) -> None:
    files = write_sample(tmp_path / "s", accounts=300, seed=5, as_of=AS_OF)
    assert files.contacts_path == tmp_path / "s" / "contacts.csv"
    assert files.contacts_path.stat().st_mode & 0o777 == 0o600
    accounts = read_accounts(files.accounts_path)
    customers = {a.customer_id for a in accounts.accounts}
    points, rejects = read_contacts(files.contacts_path, customers)
    assert 0.6 * len(customers) < len(points) < 0.9 * len(customers)
    reasons = Counter(r.field for r in rejects)
    assert set(reasons) <= {"value", "consent_basis", "customer_id"}  # customer_id: rows broke
    # the accounts' international addresses are never reused (refused for now): only the rows
    # broken on purpose are rejected
    assert not any(r.reason == NOT_ASCII for r in rejects)
    rows = len(points) + reasons["customer_id"]  # before breaking some
    assert reasons["value"] + reasons["consent_basis"] == max(1, rows // 100)
    domains = {".".join(p.value.rpartition("@")[2].split(".")[-2:]) for p in points}
    assert domains == {"example.com", "example.net", "example.org"}
    same = write_sample(tmp_path / "t", accounts=300, seed=5, as_of=AS_OF).contacts_path
    other = write_sample(tmp_path / "u", accounts=300, seed=6, as_of=AS_OF).contacts_path
    assert (
        same
        and other
        and same.read_bytes() == files.contacts_path.read_bytes() != other.read_bytes()
    )


def test_the_sample_command_writes_contacts_next_to_the_accounts(tmp_path: Path) -> None:
    args = ["sample", "--accounts", "30", "--out", str(tmp_path), "--as-of", "2026-11-20"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == ExitCode.DONE, result.output
    assert (tmp_path / "contacts.csv").read_text(encoding="utf-8").startswith(",".join(COLUMNS))


def _read_rows(tmp_path: Path, rows: list[list[str]]) -> tuple[list[ContactPoint], list[str]]:
    path = tmp_path / "contacts.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([list(COLUMNS), *rows])
    points, rejects = read_contacts(path)
    return points, [r.field for r in rejects]


def test_the_sample_mix_is_realistic(tmp_path: Path) -> None:
    customers = [SampleCustomer(f"C{n:07d}", "Zoë O'Brien-Peña", "") for n in range(4000)]
    points, rejects = _read_rows(tmp_path, contact_rows(customers, seed=3, as_of=AS_OF, broken=0))
    assert rejects == []
    assert 0.72 < len(points) / len(customers) < 0.78
    bases = Counter(p.consent_basis for p in points)
    share = {basis: count / len(points) for basis, count in bases.items()}
    expected = {"consumer_used": 0.35, "consent": 0.25, "creditor_notice": 0.15,
                "prior_collector": 0.05, "": 0.20}  # fmt: skip
    assert all(abs(share[b] - expected[b]) < 0.03 for b in expected), share
    notices = [p for p in points if p.consent_basis == "creditor_notice"]
    assert all(p.consent_date is not None for p in notices)
    recent = [p for p in notices if p.consent_date and (AS_OF - p.consent_date).days < 35]
    assert 0.25 < len(recent) / len(notices) < 0.45
    with_basis = [p for p in points if p.consent_basis]
    assert 0.25 < sum(p.esign_consent for p in with_basis) / len(with_basis) < 0.35
    assert not any(p.esign_consent for p in points if not p.consent_basis)
    opted = [p for p in points if p.opted_out_at is not None]
    assert 0.03 < len(opted) / len(points) < 0.07
    assert all(p.opted_out_at and p.opted_out_at < AS_OF for p in opted)
    assert all(p.consent_date is None or (p.opted_out_at and p.consent_date <= p.opted_out_at)
               for p in opted)  # fmt: skip
    work = [p for p in points if p.is_work]
    assert 0.05 < len(work) / len(points) < 0.09
    assert {"creditor_notice", ""} & {p.consent_basis for p in work}  # some not excused
    assert all(p.value.endswith(".example.com") for p in work)
    assert all(p.value.startswith(("zoe.obrienpena@", "zoeobrienpena", "zobrienpena", "zoe_obrienpena"))
               for p in points)  # fmt: skip


def test_the_sample_reuses_the_accounts_email_mostly_and_breaks_rows_on_purpose(
    tmp_path: Path,
) -> None:
    customers = [
        SampleCustomer(f"C{n:07d}", "Ada Lovelace", f"ada{n}@example.com") for n in range(500)
    ]
    rows = contact_rows(customers, seed=1, as_of=AS_OF)
    points, rejects = _read_rows(tmp_path, rows)
    assert sorted(rejects) == ["consent_basis", "value", "value"]  # 1 in 100, in turn
    reused = [p for p in points if p.value == f"ada{int(p.customer_id[1:])}@example.com"]
    assert 0.65 < len(reused) / len(points) < 0.85  # not work, and 4 in 5 of the others
    assert contact_rows(customers, seed=1, as_of=AS_OF) == rows
    few = customers[:10]  # a handful of debtors: no broken rows
    assert contact_rows(few, seed=1, as_of=AS_OF) == contact_rows(
        few, seed=1, as_of=AS_OF, broken=0
    )


def test_customers_of_takes_each_customer_once_with_an_email_when_any() -> None:
    with (ROOT / "examples" / "accounts.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    customers = customers_of(rows)
    assert len(customers) == 31 and len({c.customer_id for c in customers}) == 31
    by_id = {c.customer_id: c for c in customers}
    assert by_id["C0000010"].email == "joshua327@example.com"  # from its second account
    assert by_id["C0000002"] == SampleCustomer("C0000002", "José Pérez", "")


# Who is in which situation in examples/contacts.csv (as of 2026-11-20, the demo's date). The
# debtors with an account at an e-mail stage of examples/policy-multichannel.toml (reminder,
# notice) get the situations worth seeing; the rest are drawn. Regenerate the file with
# `make_demo_contacts()` after changing this.
DEMO_AS_OF = date(2026, 11, 20)
DEMO_SITUATIONS: dict[str, Situation | None] = {
    "C0000001": Situation("consent"),  # deceased (A00000003): the person gate stops e-mail
    "C0000006": Situation("consumer_used"),  # dispute open: stopped like the letter
    "C0000007": Situation("consumer_used", esign=True),  # queued
    "C0000010": Situation("consent", work=True),  # a work address, excused by consent
    "C0000011": Situation("consent", esign=True),  # hardship
    "C0000013": Situation("consent", esign=True),  # for a cease_communication flag
    "C0000014": Situation("creditor_notice", work=True),  # employer_address: not excused
    "C0000017": Situation("consumer_used"),  # for an attorney on A00000020
    "C0000020": None,  # its only account row is broken in the accounts file
    "C0000021": Situation("prior_collector"),
    "C0000022": Situation("consent"),
    "C0000025": Situation("prior_collector", esign=True),
    "C0000027": Situation("creditor_notice"),  # older than 35 days: usable
    "C0000028": Situation("creditor_notice", recent_notice=True),  # not yet: no_consent_basis
    "C0000029": Situation(""),  # no basis
    "C0000030": Situation("consent", opted_out=True),
    "C0000031": Situation("consumer_used"),  # hardship
}


def make_demo_contacts() -> str:
    """examples/contacts.csv as the generator makes it (two rows broken on purpose)."""
    with (ROOT / "examples" / "accounts.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    contacts = contact_rows(customers_of(rows), 1, DEMO_AS_OF, DEMO_SITUATIONS, broken=2)
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows([list(COLUMNS), *contacts])
    return text.getvalue()


def test_the_demo_contacts_file_is_what_the_generator_makes() -> None:
    assert (ROOT / "examples" / "contacts.csv").read_text(encoding="utf-8") == make_demo_contacts()


def test_the_demo_contacts_show_every_situation() -> None:
    accounts = read_accounts(ROOT / "examples" / "accounts.csv")
    points, rejects = read_contacts(ROOT / "examples" / "contacts.csv",
                                    {a.customer_id for a in accounts.accounts})  # fmt: skip
    assert sorted(r.field for r in rejects) == ["consent_basis", "value"]
    by_id = {p.customer_id: p for p in points}
    notice_age = {c: (DEMO_AS_OF - p.consent_date).days for c, p in by_id.items()
                  if p.consent_basis == "creditor_notice" and p.consent_date}  # fmt: skip
    assert notice_age["C0000027"] >= 35 > notice_age["C0000028"]
    assert by_id["C0000007"].esign_consent and by_id["C0000007"].consent_basis == "consumer_used"
    assert by_id["C0000029"].consent_basis == ""
    assert by_id["C0000030"].opted_out_at is not None
    assert by_id["C0000014"].is_work and by_id["C0000010"].is_work
    assert "C0000020" not in by_id
