"""`letters addresses resolve|explain|dedupe` through the CLI, with good and bad input."""

from __future__ import annotations

import csv
from pathlib import Path

from typer.testing import CliRunner

from letters.cli.app import app
from letters.errors import ExitCode
from tests.helpers import WriteCsv, error_lines, only_batch, run_in_process, write_rows

runner = CliRunner()


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_resolve_writes_one_row_per_person(tmp_path: Path, write_sources: WriteCsv) -> None:
    internal = write_sources(
        {},
        {"customer_id": "C2", "line1": "9 Oak Ave", "line2": "", "observed_at": "2026-01-01"},
        {"customer_id": "C3", "state": "ZZ"},
    )
    third = write_sources({"source": "third_party", "line1": "123 N Main St Apt 4"}, name="tp.csv")
    out = tmp_path / "resolved.csv"
    result = runner.invoke(app, ["addresses", "resolve", str(internal), str(third),
                                 "--out", str(out), "--as-of", "2026-11-20"])  # fmt: skip
    assert result.exit_code == ExitCode.DONE, result.output
    rows = {r["customer_id"]: r for r in _read(out)}
    assert list(rows) == ["C1", "C2", "C3"]
    c1 = rows["C1"]
    assert (c1["status"], c1["line1"], c1["line2"], c1["sources"]) == (
        "selected", "123 N MAIN ST", "APT 4", "internal;third_party",
    )  # fmt: skip
    assert rows["C3"]["status"] == "review"
    assert rows["C3"]["reasons"].startswith("invalid_address: state_code")
    lines = result.output.splitlines()
    # the whole line: every failed check, in order, and never the address's own values
    assert "flagged: internal.csv:4: state_code, zip_state" in lines
    assert "1 rows failed a hard check" in result.output


def test_resolve_reports_bad_rows_and_exits_3(tmp_path: Path, write_sources: WriteCsv) -> None:
    path = write_sources({}, {"line1": ""}, {"observed_at": "yesterday"})
    result = runner.invoke(
        app, ["addresses", "resolve", str(path), "--out", str(tmp_path / "r.csv")]
    )
    assert result.exit_code == ExitCode.REJECTED_ROWS
    assert [line for line in result.stderr.splitlines() if line.startswith("rejected: ")] == [
        "rejected: internal.csv:3: line1: no street address",
        "rejected: internal.csv:4: observed_at: not a date (YYYY-MM-DD)",
    ]


def test_resolve_refuses_unusable_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("name,street\nAda,1 Main St\n", encoding="utf-8")
    for path, message in ((empty, "empty.csv: empty file: no header row"),
                          (wrong, "wrong.csv:1: missing required column(s): customer_id, line1, city, state, zip, observed_at")):  # fmt: skip
        result = runner.invoke(
            app, ["addresses", "resolve", str(path), "--out", str(tmp_path / "r.csv")]
        )
        assert result.exit_code == ExitCode.FATAL
        assert result.stderr.splitlines() == [f"Error: {message}"]


def test_explain_shows_factors_and_the_decision(write_sources: WriteCsv) -> None:
    path = write_sources(
        {}, {"source": "third_party", "line1": "123 north main street", "line2": "#4"}
    )
    result = runner.invoke(app, ["addresses", "explain", "C1", str(path), "--as-of", "2026-11-20"])
    assert result.exit_code == 0, result.output
    for text in ("source_trust", "agreement", "recency", "validity", "internal.csv:2",
                 "internal.csv:3", "decision: selected"):  # fmt: skip
        assert text in result.output


def test_dedupe_clusters_any_csv(tmp_path: Path) -> None:
    source = write_rows(
        tmp_path / "sites.csv", ("Id", "Address", "Zip"),
        [{"Id": "1", "Address": "221 E. 51st St.", "Zip": "60615"},
         {"Id": "2", "Address": "221 East 51st Street", "Zip": ""},
         {"Id": "3", "Address": "223 E 51st St", "Zip": "60615"},
         {"Id": "4", "Address": "", "Zip": ""}],
    )  # fmt: skip
    out = tmp_path / "clusters.csv"
    result = runner.invoke(app, ["addresses", "dedupe", str(source), "--out", str(out),
                                 "--id-column", "Id", "--address-column", "Address",
                                 "--zip-column", "Zip", "--default-city", "Chicago",
                                 "--default-state", "IL"])  # fmt: skip
    assert result.exit_code == ExitCode.REJECTED_ROWS, result.output
    rows = _read(out)
    assert [r["id"] for r in rows] == ["1", "2", "3", "4"]
    assert rows[0]["cluster_id"] == rows[1]["cluster_id"] != rows[2]["cluster_id"]
    assert rows[0]["line1"] == "221 E 51ST ST" and rows[0]["city"] == "CHICAGO"
    assert (rows[3]["cluster_id"], rows[3]["problem"]) == ("", "no address")
    assert "sites.csv:5: Address: no address" in result.output
    assert error_lines(result.output) == []


def test_dedupe_names_a_missing_column(tmp_path: Path) -> None:
    source = write_rows(tmp_path / "x.csv", ("id", "street"), [{"id": "1", "street": "1 Main St"}])
    result = runner.invoke(
        app, ["addresses", "dedupe", str(source), "--out", str(tmp_path / "o.csv")]
    )
    assert result.exit_code == ExitCode.FATAL
    assert result.stderr.splitlines() == ["Error: x.csv:1: no column named 'address'"]


def test_run_holds_an_ambiguous_debtor_and_lists_candidates_in_review_csv(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    accounts = write_accounts({}, {"account_id": "A2", "customer_id": "C2"})
    sources = write_sources(
        {},
        {"customer_id": "C2", "source": "customer_updated", "line1": "12 Oak Ave", "line2": ""},
        {"customer_id": "C2", "source": "customer_updated", "line1": "900 Elm St", "line2": ""},
    )
    result = run_in_process(accounts, [sources], tmp_path / "out")
    assert result.exit_code == ExitCode.DONE, result.summary()
    batch_dir = only_batch(tmp_path / "out")
    manifest = {r["account_id"]: r for r in _read(batch_dir / "manifest.csv")}
    assert manifest["A1"]["status"] == "generated"
    assert float(manifest["A1"]["address_confidence"]) > 0.45
    assert (manifest["A2"]["status"], manifest["A2"]["reason_code"]) == ("held", "address_review")
    assert manifest["A2"]["reason_detail"].startswith("ambiguous:")
    review = _read(batch_dir / "review.csv")
    assert [(r["customer_id"], r["candidate"]) for r in review] == [("C2", "1"), ("C2", "2")]
    assert {r["line1"] for r in review} == {"12 OAK AVE", "900 ELM ST"}
    assert all("source_trust" in r["factors"] for r in review)
