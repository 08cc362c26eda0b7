"""State and evidence agree (issue 13, defect 3): an emptied state next to sealed batches is
refused, and `letters state rebuild` restores letters, article numbers and counters from them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from letters.cli.app import app
from letters.intake.policy import default_policy_text
from letters.ops.recover import UnknownBatches
from tests.helpers import (
    AS_OF,
    CERTIFIED,
    WriteCsv,
    at,
    batch_dirs,
    cli_args,
    error_lines,
    manifest,
    run_in_process,
)


@pytest.fixture
def inputs(write_accounts: WriteCsv, write_sources: WriteCsv) -> tuple[Path, list[Path]]:
    """Three debtors with certified letters (article numbers) and one first-class letter."""
    accounts = write_accounts(
        *({"account_id": f"A{n}", "customer_id": f"C{n}", **CERTIFIED} for n in range(1, 4)),
        {"account_id": "A4", "customer_id": "C4"},
    )
    sources = write_sources(*({"customer_id": f"C{n}"} for n in range(1, 5)))
    return accounts, [sources]


def _lose_state(out_dir: Path, empty: bool = False) -> None:
    """Lose the state: the database file removed, or emptied in place, with its WAL files."""
    for name in ("letters.db", "letters.db-wal", "letters.db-shm"):
        (out_dir / name).unlink(missing_ok=True)
    if empty:
        (out_dir / "letters.db").write_bytes(b"")


def _articles(batch_dir: Path) -> set[str]:
    return {r["article_number"] for r in manifest(batch_dir) if r["article_number"]}


def test_an_emptied_state_next_to_sealed_batches_is_refused(
    inputs: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    out_dir = tmp_path / "out"
    first = run_in_process(*inputs, out_dir, now=at("02:00:00"))
    _lose_state(out_dir, empty=True)  # `: > OUT/letters.db`

    result = CliRunner().invoke(app, cli_args(*inputs, out_dir))

    assert result.exit_code == 1
    assert error_lines(result.output) == [
        f"Error: {out_dir / 'letters.db'}: the state does not know the sealed batches in "
        f"{out_dir}: {first.batch_id}; rebuild it first: letters state rebuild --out {out_dir}"
    ]
    assert [d.name for d in batch_dirs(out_dir)] == [first.batch_id]  # nothing was started


def test_a_missing_state_is_refused_in_process(
    inputs: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    out_dir = tmp_path / "out"
    first = run_in_process(*inputs, out_dir, now=at("02:00:00"))
    _lose_state(out_dir)
    with pytest.raises(UnknownBatches, match=first.batch_id):
        run_in_process(*inputs, out_dir, now=at("03:00:00"))


def test_rebuild_restores_letters_and_article_numbers(
    inputs: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    out_dir = tmp_path / "out"
    first = run_in_process(*inputs, out_dir, now=at("02:00:00"))
    sent_articles = _articles(first.batch_dir)
    assert len(sent_articles) == 3
    _lose_state(out_dir, empty=True)

    rebuilt = CliRunner().invoke(app, ["state", "rebuild", "--out", str(out_dir)])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "rebuilt 1 batches (0 known already), 4 letters, 3 article numbers" in rebuilt.output

    again = run_in_process(*inputs, out_dir, now=at("03:00:00"))
    rows = manifest(again.batch_dir)
    assert {r["reason_code"] for r in rows} == {"already_sent"}  # nothing goes twice
    assert again.letters == 0
    listing = CliRunner().invoke(app, ["batches", "--out", str(out_dir)])
    assert first.batch_id in listing.stdout and "complete" in listing.stdout

    db = sqlite3.connect(out_dir / "letters.db")
    used = {row[0] for row in db.execute("SELECT article_number FROM article_pool")}
    counters = dict(db.execute("SELECT name, value FROM counters").fetchall())
    db.close()
    assert sent_articles <= used
    assert counters[f"piece:{first.batch_id}"] == 4


def test_rebuild_then_forced_piece_gets_a_fresh_article_number(
    inputs: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    out_dir = tmp_path / "out"
    first = run_in_process(*inputs, out_dir, now=at("02:00:00"))
    sent_articles = _articles(first.batch_dir)
    _lose_state(out_dir)
    assert CliRunner().invoke(app, ["state", "rebuild", "--out", str(out_dir)]).exit_code == 0
    piece = next(r["piece_id"] for r in manifest(first.batch_dir) if r["article_number"])
    forced = run_in_process(
        *inputs, out_dir, now=at("03:00:00"), force=[piece], force_reason="returned, re-sent"
    )
    new_articles = _articles(forced.batch_dir)
    assert len(new_articles) == 1 and not new_articles & sent_articles


def test_rebuild_refuses_a_batch_whose_seal_fails(
    inputs: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    out_dir = tmp_path / "out"
    first = run_in_process(*inputs, out_dir, now=at("02:00:00"))
    _lose_state(out_dir)
    manifest_path = first.batch_dir / "manifest.csv"
    manifest_path.write_text(manifest_path.read_text().replace("letter_due", "letter_duE", 1))

    result = CliRunner().invoke(app, ["state", "rebuild", "--out", str(out_dir)])

    assert result.exit_code == 1
    assert error_lines(result.output) == [
        f"Error: seal does not verify, nothing rebuilt: {first.batch_id} (manifest.csv: changed "
        "since the batch was sealed) (see letters verify)"
    ]
    assert not (out_dir / "letters.db").exists()


def test_rebuild_checks_signed_seals_with_the_key(
    inputs: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    key = tmp_path / "seal.key"
    key.write_text("a-key-of-at-least-sixteen-bytes\n")
    out_dir = tmp_path / "out"
    first = run_in_process(*inputs, out_dir, now=at("02:00:00"), seal_key=key)
    _lose_state(out_dir)
    without = CliRunner().invoke(app, ["state", "rebuild", "--out", str(out_dir)])
    assert without.exit_code == 1 and first.batch_id in without.output
    with_key = ["state", "rebuild", "--out", str(out_dir), "--key", str(key)]
    db = tmp_path / "elsewhere.db"
    assert CliRunner().invoke(app, [*with_key, "--db", str(db)]).exit_code == 0
    assert json.loads(sqlite3.connect(db).execute("SELECT counts_json FROM batches").fetchone()[0])


def test_rebuild_restores_a_closed_batch(
    inputs: tuple[Path, list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_recovery import _disk_full, _stop_at

    out_dir = tmp_path / "out"
    _stop_at(monkeypatch, _disk_full, at_write=2)
    with pytest.raises(Exception, match="No space left"):
        run_in_process(*inputs, out_dir, now=at("02:00:00"))
    monkeypatch.undo()
    run_in_process(*inputs, out_dir, now=at("03:00:00"))
    _lose_state(out_dir)
    assert CliRunner().invoke(app, ["state", "rebuild", "--out", str(out_dir)]).exit_code == 0
    again = run_in_process(*inputs, out_dir, now=at("04:00:00"), as_of=AS_OF)
    assert {r["reason_code"] for r in manifest(again.batch_dir)} == {"already_sent"}
    listing = CliRunner().invoke(app, ["batches", "--out", str(out_dir)])
    assert "closed" in listing.stdout


def test_rebuild_restores_the_imb_serial_counter(
    inputs: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(
        default_policy_text().replace('# mailer_id = "123456"', 'mailer_id = "123456"'),
        encoding="utf-8",
    )
    out_dir = tmp_path / "out"
    first = run_in_process(*inputs, out_dir, now=at("02:00:00"), policy=policy)
    serials = _imb_serials(out_dir)
    assert len(serials) == 4
    _lose_state(out_dir)
    assert CliRunner().invoke(app, ["state", "rebuild", "--out", str(out_dir)]).exit_code == 0
    assert _imb_serials(out_dir) == serials
    piece = manifest(first.batch_dir)[0]["piece_id"]
    run_in_process(*inputs, out_dir, now=at("03:00:00"), policy=policy, force=[piece],
                   force_reason="returned, re-sent")  # fmt: skip
    after = _imb_serials(out_dir)
    assert len(after) == 5 and len(set(after)) == 5  # the new piece's serial was never used


def _imb_serials(out_dir: Path) -> list[int]:
    with sqlite3.connect(out_dir / "letters.db") as db:
        rows = db.execute("SELECT imb_serial FROM letters WHERE imb_serial IS NOT NULL").fetchall()
    return sorted(int(row[0]) for row in rows)


def test_the_sealed_letter_records_are_read_from_the_state_a_page_at_a_time(
    write_accounts: WriteCsv, write_sources: WriteCsv, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """letters.jsonl holds every letter once, in piece order, with its own accounts, when the
    state hands them over in pages smaller than the batch (a page boundary inside a customer)."""
    monkeypatch.setattr("letters.state.archive.ARCHIVE_PAGE", 2)
    accounts = write_accounts(
        *({"account_id": f"A{n}", "customer_id": f"C{n}"} for n in range(1, 6)),
        {"account_id": "A9", "customer_id": "C3"},  # one letter for both of C3's accounts
    )
    sources = write_sources(*({"customer_id": f"C{n}"} for n in range(1, 6)))
    done = run_in_process(accounts, [sources], tmp_path / "out", now=at("02:00:00"))

    lines = (done.batch_dir / "letters.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    expected: dict[str, list[str]] = {}
    for row in manifest(done.batch_dir):
        if row["piece_id"]:
            expected.setdefault(row["piece_id"], []).append(row["account_id"])
    assert [r["piece_id"] for r in records] == sorted(expected)
    assert {r["piece_id"]: r["accounts"] for r in records} == {
        piece: sorted(ids) for piece, ids in expected.items()
    }
    assert ["A3", "A9"] in [r["accounts"] for r in records]
    assert len(records) == 5
