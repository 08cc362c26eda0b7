"""Payment references are unique per account and stable forever: the state registers each one
once (the next candidate when another account holds the hashed one), every letter and manifest
prints the registered one, the dry run reads it without writing, and a rebuild restores it."""

from __future__ import annotations

import io
import re
import sqlite3
from datetime import date
from pathlib import Path

import pdfplumber
import pytest
from typer.testing import CliRunner

from letters.cli.app import app
from letters.errors import ExitCode
from letters.model import luhn_digit, reference_candidate
from letters.ops.dryrun import decide_accounts
from letters.state import open_store
from tests.helpers import WriteCsv, at, manifest, run_in_process, run_request

REFERENCE = re.compile(r"\d{4}-\d{4}-\d{3}")


@pytest.fixture(scope="module")
def colliding_ids() -> tuple[str, str]:
    """Two account ids whose hashed (first) candidates are the same, found by search (about
    130,000 ids: the birthday bound of ten digits)."""
    seen: dict[str, str] = {}
    for n in range(1, 2_000_000):
        account_id = f"A{n}"
        candidate = reference_candidate(account_id)
        if candidate in seen:
            return seen[candidate], account_id
        seen[candidate] = account_id
    raise AssertionError("no colliding pair found")


def _luhn_holds(reference: str) -> bool:
    digits = reference.replace("-", "")
    return bool(REFERENCE.fullmatch(reference)) and luhn_digit(digits[:-1]) == digits[-1]


def _registry(db_path: Path) -> dict[str, str]:
    with sqlite3.connect(db_path) as db:
        rows = db.execute("SELECT account_id, reference FROM payment_references").fetchall()
    return {str(account): str(reference) for account, reference in rows}


def _page_text(pdf_path: Path) -> str:
    with pdfplumber.open(io.BytesIO(pdf_path.read_bytes())) as pdf:
        return "\n".join(page.extract_text() or "" for page in pdf.pages)


def test_accounts_whose_candidates_collide_get_different_references(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = reference_candidate
    constant = real("everyone")  # every account's first candidate is the same

    def candidate(account_id: str, attempt: int = 0) -> str:
        return constant if attempt == 0 else real(account_id, attempt)

    monkeypatch.setattr("letters.state.references.reference_candidate", candidate)
    store = open_store(tmp_path / "letters.db")
    try:
        looked_up = store.lookup_payment_references(["A1", "A2", "A3"])
        assert _registry(tmp_path / "letters.db") == {}  # the lookup writes nothing
        first = store.payment_reference("A1", "2026-11-20T02:00:00")
        issued = store.payment_references(["A2", "A3", "A2"], "2026-11-20T02:00:00")
        assert first == constant
        assert issued == {"A2": real("A2", 1), "A3": real("A3", 1)}
        assert looked_up == {"A1": first, **issued}  # the dry run foresees what a run registers
        assert store.payment_reference("A2", "2026-12-30T02:00:00") == issued["A2"]
    finally:
        store.close()
    reopened = open_store(tmp_path / "letters.db")
    try:  # the same forever: another process, another day, another order
        assert reopened.payment_references(["A3", "A1"], "2027-01-05T02:00:00") == {
            "A3": issued["A3"],
            "A1": first,
        }
    finally:
        reopened.close()
    references = _registry(tmp_path / "letters.db")
    assert len(set(references.values())) == len(references) == 3
    assert all(_luhn_holds(reference) for reference in references.values())


def test_restoring_keeps_what_the_state_holds(tmp_path: Path) -> None:
    store = open_store(tmp_path / "letters.db")
    try:
        mine = store.payment_reference("A1", "2026-11-20T02:00:00")
        other = reference_candidate("A9")
        restored = {"A1": reference_candidate("A1", 1), "A2": mine, "A3": other}
        assert store.restore_payment_references(restored, "2026-11-21T02:00:00") == 1
    finally:
        store.close()
    assert _registry(tmp_path / "letters.db") == {"A1": mine, "A3": other}


def test_a_real_collision_in_a_batch_survives_runs_and_a_rebuild(
    tmp_path: Path,
    write_accounts: WriteCsv,
    write_sources: WriteCsv,
    colliding_ids: tuple[str, str],
) -> None:
    first_id, second_id = colliding_ids
    assert reference_candidate(first_id) == reference_candidate(second_id)
    rows = [
        {"account_id": first_id, "customer_id": "C1"},
        {"account_id": second_id, "customer_id": "C2", "account_number": "4111111111115678"},
    ]
    accounts = write_accounts(*rows)
    reversed_accounts = write_accounts(*reversed(rows), name="reversed.csv")
    sources = [write_sources({"customer_id": "C1"}, {"customer_id": "C2"})]
    out_dir = tmp_path / "out"

    first = run_in_process(accounts, sources, out_dir, now=at("02:00:00"))
    assert first.exit_code == ExitCode.DONE, first.summary()
    expected = {
        first_id: reference_candidate(first_id),
        second_id: reference_candidate(second_id, 1),
    }
    assert expected[first_id] != expected[second_id]
    rows_by_account = {row["account_id"]: row for row in manifest(first.batch_dir)}
    assert {a: row["payment_reference"] for a, row in rows_by_account.items()} == expected
    for account_id, row in rows_by_account.items():  # the letter prints the registered one
        assert row["status"] == "generated"
        text = _page_text(first.batch_dir / row["pdf_path"])
        assert expected[account_id] in text
        other = next(r for a, r in expected.items() if a != account_id)
        assert other not in text
    assert _registry(out_dir / "letters.db") == expected

    # the dry run reads the registry, whatever the order, and writes nothing to it
    db_before = (out_dir / "letters.db").read_bytes()
    request = run_request(reversed_accounts, sources, tmp_path)
    decided = decide_accounts(request, out_dir / "letters.db", tmp_path / "decisions.csv")
    assert {row.account_id: row.payment_reference for row in decided.rows} == expected
    assert (out_dir / "letters.db").read_bytes() == db_before

    later = run_in_process(
        reversed_accounts, sources, out_dir, now=at("03:00:00", date(2026, 12, 30))
    )
    assert {row["account_id"]: row["payment_reference"] for row in manifest(later.batch_dir)} == (
        expected
    )

    for name in ("letters.db", "letters.db-wal", "letters.db-shm"):
        (out_dir / name).unlink(missing_ok=True)
    rebuilt = CliRunner().invoke(app, ["state", "rebuild", "--out", str(out_dir)])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert _registry(out_dir / "letters.db") == expected

    # the account now first in the file would draw the hashed candidate in a state without them
    again = run_in_process(
        reversed_accounts, sources, out_dir, now=at("04:00:00", date(2027, 2, 1))
    )
    assert {row["account_id"]: row["payment_reference"] for row in manifest(again.batch_dir)} == (
        expected
    )
    issued = _registry(out_dir / "letters.db")
    assert issued == expected
    assert all(_luhn_holds(reference) for reference in issued.values())
