"""The review queue: a held debtor goes from `held` to `generated` (or stays out) by a person's
decision, from the command line, the library and a filled-in review.csv, through real runs."""

from __future__ import annotations

import csv
import re
from datetime import date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from letters.cli.app import app
from letters.errors import ExitCode
from letters.review.queue import DecisionRequest, ReviewError, decide, list_queue, review_item
from letters.state import open_store
from tests.helpers import WriteCsv, at, batch_dirs, manifest, read_rows, run_in_process

runner = CliRunner()
NEXT_DAY = date(2026, 11, 21)
DECIDED = datetime(2026, 11, 20, 15, 0)


def _next_run(
    held: tuple[Path, Path, Path], day: date = NEXT_DAY, *sources: Path
) -> dict[str, dict[str, str]]:
    accounts, source, out = held
    result = run_in_process(accounts, [source, *sources], out, as_of=day, now=at("09:00:00", day))
    assert result.exit_code == ExitCode.DONE, result.summary()
    return {row["account_id"]: row for row in manifest(batch_dirs(out)[-1])}


def _state(out: Path):  # type: ignore[no-untyped-def]
    return open_store(out / "letters.db")


def test_the_run_puts_held_debtors_in_the_queue_oldest_first(held: tuple[Path, Path, Path]) -> None:
    store = _state(held[2])
    try:
        items = list_queue(store)
        assert [item.customer_id for item in items] == ["C2", "C3"]
        c2 = review_item(store, "C2")
        assert c2.entry.first_held == "2026-11-20"
        assert c2.entry.reasons.startswith("ambiguous:")
        assert {c.address.line1 for c in c2.candidates} == {"12 OAK AVE", "900 ELM ST"}
        assert all(any(name == "source_trust" for name, _v, _d in c.factors) for c in c2.candidates)
        assert [a.account_id for a in c2.accounts] == ["A2"]
    finally:
        store.close()


def test_an_accepted_candidate_is_mailed_by_the_next_run(held: tuple[Path, Path, Path]) -> None:
    store = _state(held[2])
    try:
        second = review_item(store, "C2").candidates[1]
        applied = decide(
            store, DecisionRequest("C2", "accept", "J. Doe", candidate=2, note="phoned"), DECIDED
        )
        assert applied.changed and applied.decision.address == second.address
        again = decide(
            store, DecisionRequest("C2", "accept", "J. Doe", candidate=2, note="phoned"), DECIDED
        )
        assert not again.changed
        assert [item.customer_id for item in list_queue(store)] == ["C3"]
    finally:
        store.close()
    rows = _next_run(held)
    assert rows["A2"]["status"] == "generated", rows["A2"]
    assert rows["A2"]["address_line1"] == second.address.line1
    assert "reviewer" in rows["A2"]["address_sources"].split(";")
    store = _state(held[2])
    try:  # mailed: out of the queue; C3 still waits, since the day it was first held
        assert [(i.customer_id, i.entry.first_held) for i in list_queue(store, True)] == [
            ("C3", "2026-11-20")
        ]
    finally:
        store.close()


def test_a_corrected_address_is_standardized_and_mailed(held: tuple[Path, Path, Path]) -> None:
    out = held[2]
    args = ["review", "decide", "C3", "--out", str(out), "--by", "J. Doe"]
    bad = runner.invoke(app, [*args, "--address", "somewhere over the rainbow"])
    assert bad.exit_code == ExitCode.USAGE
    assert bad.stderr.startswith("Error: address: not a deliverable address")
    both = runner.invoke(app, [*args, "--accept", "1", "--leave"])
    assert both.exit_code == ExitCode.USAGE
    good = runner.invoke(
        app, [*args, "--address", "500 w madison street suite 1200, chicago, il 60661"]
    )
    assert good.exit_code == ExitCode.DONE, good.output
    rows = _next_run(held)
    assert (rows["A3"]["status"], rows["A3"]["address_line1"], rows["A3"]["address_line2"]) == (
        "generated",
        "500 W MADISON ST",
        "STE 1200",
    )
    assert rows["A3"]["address_sources"] == "reviewer"


def test_not_mailable_stops_every_letter_until_a_newer_report(
    held: tuple[Path, Path, Path], write_sources: WriteCsv
) -> None:
    out = held[2]
    result = runner.invoke(app, ["review", "decide", "C3", "--not-mailable", "wrong_person",
                                 "--by", "J. Doe", "--out", str(out)])  # fmt: skip
    assert result.exit_code == ExitCode.DONE, result.output
    unknown = runner.invoke(app, ["review", "decide", "C2", "--not-mailable", "moon",
                                  "--by", "J. Doe", "--out", str(out)])  # fmt: skip
    assert unknown.exit_code == ExitCode.USAGE
    rows = _next_run(held)
    assert (rows["A3"]["status"], rows["A3"]["reason_code"]) == ("suppressed", "not_mailable")
    assert "wrong_person" in rows["A3"]["reason_detail"]
    store = _state(out)
    try:
        assert "C3" not in [i.customer_id for i in list_queue(store, True)]
    finally:
        store.close()
    newer = write_sources({"customer_id": "C3", "source": "customer_updated", "line1": "5 Birch Rd",
                           "line2": "", "observed_at": "2026-11-25"}, name="update.csv")  # fmt: skip
    rows = _next_run(held, date(2026, 11, 26), newer)
    assert rows["A3"]["status"] == "generated" and rows["A3"]["address_line1"] == "5 BIRCH RD"


def test_returned_mail_after_the_decision_puts_the_debtor_back(
    held: tuple[Path, Path, Path], write_sources: WriteCsv
) -> None:
    store = _state(held[2])
    try:
        decide(store, DecisionRequest("C2", "accept", "J. Doe", candidate=1), DECIDED)
        chosen = review_item(store, "C2").candidates[0].address
    finally:
        store.close()
    assert _next_run(held)["A2"]["status"] == "generated"
    returned = write_sources({"customer_id": "C2", "source": "returned_mail", "status": "returned",
                              "line1": chosen.line1, "line2": "", "observed_at": "2026-12-01"},
                             name="returns.csv")  # fmt: skip
    rows = _next_run(held, date(2026, 12, 20), returned)
    assert rows["A2"]["status"] == "held", rows["A2"]
    store = _state(held[2])
    try:
        item = review_item(store, "C2")  # held anew, with the earlier decision on record
        assert (item.entry.status, item.entry.first_held) == ("open", "2026-12-20")
        assert [d.kind for d in item.decisions] == ["accept"]
        assert chosen not in [c.address for c in item.candidates]  # came back: not offered
    finally:
        store.close()


def test_leave_keeps_the_debtor_waiting_with_the_note(held: tuple[Path, Path, Path]) -> None:
    store = _state(held[2])
    try:
        decide(
            store,
            DecisionRequest("C3", "leave", "J. Doe", note="waiting for a skip trace"),
            DECIDED,
        )
        item = review_item(store, "C3")
        assert item.entry.status == "open"
        assert [(d.kind, d.note) for d in item.decisions] == [("leave", "waiting for a skip trace")]
        with pytest.raises(ReviewError, match="not in the review queue"):
            decide(store, DecisionRequest("C1", "leave", "J. Doe"), DECIDED)
        with pytest.raises(ReviewError, match="reviewer: required"):
            decide(store, DecisionRequest("C3", "leave", " "), DECIDED)
    finally:
        store.close()
    assert _next_run(held)["A3"]["status"] == "held"


def _fill(review_csv: Path, fills: dict[tuple[str, str], dict[str, str]]) -> Path:
    """review.csv as an operator saves it from a spreadsheet, with decisions in some rows."""
    rows = read_rows(review_csv)
    for row in rows:
        row.update(fills.get((row["customer_id"], row["candidate"]), {}))
    filled = review_csv.with_name("review-filled.csv")
    with filled.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return filled


def test_review_csv_round_trip(held: tuple[Path, Path, Path]) -> None:
    out = held[2]
    review_csv = batch_dirs(out)[-1] / "review.csv"
    header = review_csv.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header[-5:] == ["decision", "corrected_address", "reviewer", "note", "reason"]
    filled = _fill(review_csv, {
        ("C2", "1"): {"decision": "maybe"},
        ("C2", "2"): {"decision": "accept", "note": "=HYPERLINK(\"x\")"},
        ("C3", "1"): {"decision": "address", "corrected_address": "5 Birch Rd, Chicago, IL 60614"},
    })  # fmt: skip
    args = ["review", "import", str(filled), "--out", str(out)]
    first = runner.invoke(app, [*args, "--by", "A. Reviewer"])
    assert first.exit_code == ExitCode.REJECTED_ROWS, first.output
    assert first.stderr.splitlines() == [
        "review-filled.csv:2: decision: 'maybe' is not one of accept, address, not_mailable, leave"
    ]
    assert "2 decisions applied, 0 already applied, 1 rows rejected" in first.stdout
    again = runner.invoke(app, [*args, "--by", "A. Reviewer"])
    assert "0 decisions applied, 2 already applied, 1 rows rejected" in again.stdout
    store = _state(out)
    try:
        decisions = store.review_decisions()
        assert [(d.customer_id, d.kind, d.candidate, d.reviewer, d.via) for d in decisions] == [
            ("C2", "accept", 2, "A. Reviewer", "csv"), ("C3", "address", None, "A. Reviewer", "csv"),
        ]  # fmt: skip
    finally:
        store.close()
    rows = _next_run(held)
    assert rows["A2"]["status"] == rows["A3"]["status"] == "generated"
    assert rows["A3"]["address_line1"] == "5 BIRCH RD"
    late = runner.invoke(app, [*args, "--by", "A. Reviewer"])  # the same file after the run
    assert "0 decisions applied, 2 already applied, 1 rows rejected" in late.stdout


def test_review_csv_without_a_reviewer_is_rejected_row_by_row(
    held: tuple[Path, Path, Path],
) -> None:
    review_csv = batch_dirs(held[2])[-1] / "review.csv"
    filled = _fill(review_csv, {("C3", "1"): {"decision": "not_mailable", "reason": "deceased"}})
    result = runner.invoke(app, ["review", "import", str(filled), "--out", str(held[2])])
    assert result.exit_code == ExitCode.REJECTED_ROWS
    (line,) = result.stderr.splitlines()
    assert re.fullmatch(r"review-filled\.csv:\d+: reviewer: required", line), line


def test_show_prints_candidates_and_writes_the_letter_that_would_go(
    held: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    result = runner.invoke(app, ["review", "show", "C2", "--out", str(held[2]),
                                 "--preview", str(tmp_path / "p"), "--candidate", "2"])  # fmt: skip
    assert result.exit_code == ExitCode.DONE, result.output
    assert "candidate 1:" in result.stdout and "candidate 2:" in result.stdout
    assert "source_trust" in result.stdout
    assert (tmp_path / "p" / "C2-would-go.pdf").is_file()
    assert (tmp_path / "p" / "C2-would-go-1.png").stat().st_size > 10_000
    listed = runner.invoke(app, ["review", "list", "--out", str(held[2])])
    assert listed.stdout.splitlines()[0].startswith("C2\theld since 2026-11-20\topen\t2 candidates")


def test_a_review_command_without_a_state_is_refused_and_makes_none(tmp_path: Path) -> None:
    missing = tmp_path / "typo"
    for args in (["list"], ["held"], ["decide", "C1", "--leave", "--by", "J. Doe"]):
        result = runner.invoke(app, ["review", *args, "--out", str(missing)])
        assert result.exit_code == ExitCode.USAGE, result.output
        assert result.stderr == f"Error: {missing / 'letters.db'}: no state database here\n"
    assert not missing.exists()
