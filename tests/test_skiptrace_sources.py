"""A reviewer's choice stands until contradicted; a fresh report after returned mail is mailed with
Address Service Requested; feeds map to sources by file-name glob; resolve writes every customer."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pdfplumber
import pytest
from typer.testing import CliRunner

from addresses.batch import resolve_files
from addresses.config import ConfigError, EngineConfig, load_config, parse_config
from addresses.engine import address_key, build_candidates, resolve_person
from addresses.model import ChoiceStatus
from addresses.records import COLUMNS as SOURCE_COLUMNS
from addresses.records import KNOWN_STATUSES, SourceRecord, read_sources, unknown_sources
from addresses.score import NEGATIVE_STATUSES, Candidate, Observation
from addresses.standardize import standardize
from letters.cli.app import app
from letters.errors import ExitCode
from letters.intake.envelope import DEFAULT_PROFILE
from letters.ops.accuracy import address_accuracy, knowable, read_truth
from letters.ops.feeds import write_feed_sample
from tests.helpers import (
    AS_OF,
    CERTIFIED,
    GOOD_SOURCE,
    RecordingReporter,
    WriteCsv,
    manifest,
    only_batch,
    read_rows,
    run_in_process,
    write_rows,
)

runner = CliRunner()
OLD = ("9 Oak Ave", "", "Springfield", "IL", "62704")
NEW = ("123 N Main St", "Apt 4", "Chicago", "IL", "60614")
OTHER = ("77 Elm St", "", "Evanston", "IL", "60201")
FEED_COLUMNS = tuple(c for c in SOURCE_COLUMNS if c != "source")


def _record(source: str, address: tuple[str, ...], days_ago: int, status: str = "",
            file_name: str = "feed.csv", line: int = 2) -> SourceRecord:  # fmt: skip
    line1, line2, city, state, zip_code = address
    return SourceRecord("C1", source, line1, line2, city, state, zip_code, "US",
                        AS_OF - timedelta(days=days_ago), status, file_name, line)  # fmt: skip


def _reviewer(address: tuple[str, ...], days_ago: int, decision: int = 7) -> SourceRecord:
    return _record("reviewer", address, days_ago, "verified_by_reviewer", "review", decision)


def _factor(candidate: Candidate, name: str) -> str:
    (detail,) = [f.detail for f in candidate.factors if f.name == name]
    return detail


def _scored(records: list[SourceRecord], line1: str) -> Candidate:
    """The scored candidate at `line1`, usable or not."""
    observations = [
        Observation(r.source, r.observed_at, r.status, standardize(*address_key(r)), f"{r.file_name}:{r.line}")
        for r in records
    ]  # fmt: skip
    (found,) = [
        c for c in build_candidates(observations, EngineConfig(), AS_OF)
        if c.standardized.line1 == line1
    ]  # fmt: skip
    return found


# Two addresses no rule can tell apart: an internal one and a customer's update, neither ahead.
AMBIGUOUS = [_record("internal", OLD, 40), _record("customer_updated", NEW, 300)]


def test_a_reviewers_choice_is_selected_even_when_scoring_would_hold_it() -> None:
    held = resolve_person("C1", AMBIGUOUS, EngineConfig(), AS_OF)
    assert held.status is ChoiceStatus.REVIEW  # without the decision: ambiguous
    decided = AS_OF - timedelta(days=10)
    # the reviewer chose the address that scores lower
    choice = resolve_person("C1", [*AMBIGUOUS, _reviewer(NEW, 10)], EngineConfig(), AS_OF)
    assert choice.status is ChoiceStatus.SELECTED
    assert choice.address is not None and choice.address.line1 == "123 N MAIN ST"
    assert choice.reasons == (f"selected: chosen by a reviewer on {decided} (review:7)",)
    assert "reviewer" in choice.sources
    assert not choice.address_service_requested


def test_the_latest_of_two_reviewer_decisions_stands() -> None:
    records = [*AMBIGUOUS, _reviewer(NEW, 10, decision=9), _reviewer(OLD, 10, decision=12)]
    choice = resolve_person("C1", records, EngineConfig(), AS_OF)
    assert choice.address is not None and choice.address.line1 == "9 OAK AVE"
    assert choice.reasons[0].endswith("(review:12)")


def test_returned_mail_after_the_decision_contradicts_it() -> None:
    records = [*AMBIGUOUS, _reviewer(NEW, 10), _record("returned_mail", NEW, 10, "returned")]
    choice = resolve_person("C1", records, EngineConfig(), AS_OF)
    assert not choice.reasons[0].startswith("selected: chosen by a reviewer")
    assert choice.address is None or choice.address.line1 != "123 N MAIN ST"
    returned_on = AS_OF - timedelta(days=10)
    detail = _factor(_scored(records, "123 N MAIN ST"), "reviewer_chosen")
    assert (
        detail
        == f"chosen by a reviewer on {returned_on} (review:7); contradicted: returned on {returned_on}"
    )


def test_a_newer_report_of_another_address_contradicts_it_an_older_one_does_not() -> None:
    older = [*AMBIGUOUS, _reviewer(NEW, 10), _record("third_party", OTHER, 20)]
    assert (
        resolve_person("C1", older, EngineConfig(), AS_OF)
        .reasons[0]
        .startswith("selected: chosen by a reviewer")
    )
    newer = [*AMBIGUOUS, _reviewer(NEW, 10), _record("third_party", OTHER, 5)]
    choice = resolve_person("C1", newer, EngineConfig(), AS_OF)
    assert not choice.reasons[0].startswith("selected: chosen by a reviewer")  # ordinary scoring
    detail = _factor(_scored(newer, "123 N MAIN ST"), "reviewer_chosen")
    assert detail.endswith(
        f"contradicted: third_party reports another address on {AS_OF - timedelta(days=5)}"
    )


def test_a_reviewer_never_gets_an_invalid_address_mailed() -> None:
    bad = ("123 N Main St", "Apt 4", "Chicago", "ZZ", "60614")
    choice = resolve_person("C1", [_reviewer(bad, 10)], EngineConfig(), AS_OF)
    assert choice.status is ChoiceStatus.REVIEW
    assert choice.reason_codes == ("invalid_address",)


# Mail to the old address came back; a third-party feed reports a newer address since.
SKIP_TRACED = [
    _record("internal", OLD, 400),
    _record("returned_mail", OLD, 60, "returned"),
    _record("third_party", NEW, 30),
]


def test_a_fresh_sole_report_after_returned_mail_is_selected_with_address_service() -> None:
    choice = resolve_person("C1", SKIP_TRACED, EngineConfig(), AS_OF)
    assert choice.status is ChoiceStatus.SELECTED
    assert choice.confidence < EngineConfig().select_threshold  # the rule, not the score
    assert choice.reason_codes == ("selected",)
    assert choice.reasons[0].startswith("selected: sole_candidate_after_return: ")
    assert choice.address_service_requested
    assert _factor(choice.candidates[0], "sole_candidate_after_return")


def test_after_return_review_keeps_the_careful_behaviour() -> None:
    config = parse_config({"choice": {"after_return": "review"}}, "addresses.toml")
    choice = resolve_person("C1", SKIP_TRACED, config, AS_OF)
    assert choice.status is ChoiceStatus.REVIEW
    assert choice.reason_codes == ("low_confidence",)
    assert not choice.address_service_requested


@pytest.mark.parametrize(
    "records",
    [
        # a source below third-party trust
        [*SKIP_TRACED[:2], _record("marketing_list", NEW, 30)],
        # a live contradicting candidate: another address reported since the return
        [*SKIP_TRACED, _record("internal", OTHER, 20)],
        # not fresh: older than the source's half-life
        [*SKIP_TRACED[:2], _record("third_party", NEW, 200)],
        # no returned mail at all
        [_record("third_party", NEW, 30)],
    ],
    ids=["low_trust", "contradicted", "stale", "no_return"],
)
def test_the_after_return_rule_needs_every_condition(records: list[SourceRecord]) -> None:
    choice = resolve_person("C1", records, EngineConfig(), AS_OF)
    assert not choice.address_service_requested
    assert not choice.reasons[0].startswith("selected: sole_candidate_after_return")


def test_file_names_map_to_sources_by_glob() -> None:
    config = parse_config(
        {"sources": {"skip_trace": {"weight": 0.6, "match": ["skiptrace_*.csv"]}}}, "a.toml"
    )
    assert config.source_for_file("customer_updated_20261120.csv") == "customer_updated"
    assert config.source_for_file("third_party.csv") == "third_party"
    assert config.source_for_file("SkipTrace_Acme_1115.CSV") == "skip_trace"
    assert config.source_for_file("reviewer.csv") == "reviewer"  # an exact name still maps
    assert config.source_for_file("mystery_feed.csv") == "mystery_feed"
    assert EngineConfig().trust("reviewer").weight >= 0.9


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"choice": {"after_return": "maybe"}}, 'a.toml: after_return: must be "select" or "review"'),
        ({"sources": {"x": {"match": "ok.csv"}}}, ""),
        ({"sources": {"x": {"match": [1]}}}, "a.toml: sources.x: match: must be a list of file-name patterns"),
    ],
)  # fmt: skip
def test_bad_configuration_names_the_key(data: dict[str, object], message: str) -> None:
    if not message:
        assert parse_config(data, "a.toml").sources["x"].match == ("ok.csv",)
        return
    with pytest.raises(ConfigError) as raised:
        parse_config(data, "a.toml")
    assert str(raised.value) == message


def _feed(tmp_path: Path, name: str, *rows: dict[str, str]) -> Path:
    full = [{**GOOD_SOURCE, **row} for row in rows]
    return write_rows(
        tmp_path / name, FEED_COLUMNS, [{c: r[c] for c in FEED_COLUMNS} for r in full]
    )


def test_a_renamed_feed_keeps_its_source_and_an_unknown_one_is_listed(tmp_path: Path) -> None:
    renamed = _feed(tmp_path, "customer_updated_20261120.csv", {})
    mystery = _feed(tmp_path, "mystery_feed.csv", {}, {"customer_id": "C2"})
    config = EngineConfig()
    records, _ = read_sources([renamed, mystery], config)
    assert [r.source for r in records] == ["customer_updated", "mystery_feed", "mystery_feed"]
    (unknown,) = unknown_sources(records, config)
    assert (unknown.file, unknown.source, unknown.rows) == ("mystery_feed.csv", "mystery_feed", 2)


def test_a_run_warns_of_an_unknown_source_in_its_log_and_summary(
    tmp_path: Path, write_accounts: WriteCsv
) -> None:
    mystery = _feed(tmp_path, "mystery_feed.csv", {})
    reporter = RecordingReporter()
    result = run_in_process(write_accounts({}), [mystery], tmp_path / "out", reporter=reporter)
    batch = only_batch(tmp_path / "out")
    summary = json.loads((batch / "summary.json").read_text(encoding="utf-8"))
    assert summary["unknown_sources"] == [
        {"file": "mystery_feed.csv", "source": "mystery_feed", "rows": 1}
    ]
    warnings = [line for line in reporter.lines if line.startswith("warning: ")]
    assert warnings == [
        "warning: mystery_feed.csv: source 'mystery_feed' is not a configured source (1 rows);"
        " name it in the address configuration ([sources.NAME] match = [...])"
    ]
    assert warnings[0] in (batch / "run.log").read_text(encoding="utf-8")
    assert result.summary()["unknown_sources"] == summary["unknown_sources"]
    # named by a glob in the configuration, the same feed is no warning
    config = tmp_path / "addresses.toml"
    config.write_text('[sources.internal]\nmatch = ["mystery_*.csv"]\n', encoding="utf-8")
    again = run_in_process(write_accounts({}), [mystery], tmp_path / "out2", address_config=config)
    assert again.summary()["unknown_sources"] == []


def _skip_traced_feeds(tmp_path: Path) -> list[Path]:
    def day(days_ago: int) -> str:
        return (AS_OF - timedelta(days=days_ago)).isoformat()

    old = {"line1": OLD[0], "line2": "", "city": OLD[2], "zip": OLD[4]}
    return [
        _feed(tmp_path, "internal.csv", {**old, "observed_at": day(400)}),
        _feed(tmp_path, "returned_mail.csv", {**old, "observed_at": day(60), "status": "returned"}),
        _feed(tmp_path, "third_party_20261101.csv", {"observed_at": day(30)}),
    ]


def _service_window_text(pdf_path: Path) -> str:
    window = DEFAULT_PROFILE.service_window
    box = (window.x * 72, window.y * 72, (window.x + window.width) * 72,
           (window.y + window.height) * 72)  # fmt: skip
    with pdfplumber.open(pdf_path) as pdf:
        return pdf.pages[0].crop(box).extract_text() or ""


@pytest.mark.parametrize("overrides", [{}, CERTIFIED], ids=["first_class", "certified"])
def test_the_letter_to_a_skip_traced_address_asks_for_address_service(
    tmp_path: Path, write_accounts: WriteCsv, overrides: dict[str, str]
) -> None:
    result = run_in_process(
        write_accounts(overrides), _skip_traced_feeds(tmp_path), tmp_path / "out"
    )
    assert result.exit_code == ExitCode.DONE, result.summary()
    batch = only_batch(tmp_path / "out")
    (row,) = manifest(batch)
    assert (row["status"], row["address_line1"], row["address_sources"]) == (
        "generated", "123 N MAIN ST", "third_party",
    )  # fmt: skip
    text = _service_window_text(batch / row["pdf_path"])
    assert "ADDRESS SERVICE REQUESTED" in text
    assert ("CERTIFIED MAIL" in text) == bool(overrides)


def test_after_return_review_holds_the_skip_traced_debtor_and_ordinary_letters_ask_nothing(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    config = tmp_path / "addresses.toml"
    config.write_text('[choice]\nafter_return = "review"\n', encoding="utf-8")
    held = run_in_process(write_accounts({}), _skip_traced_feeds(tmp_path), tmp_path / "out",
                          address_config=config)  # fmt: skip
    (row,) = manifest(only_batch(tmp_path / "out"))
    assert (row["status"], row["reason_code"]) == ("held", "address_review"), held.summary()
    plain = run_in_process(write_accounts({}), [write_sources({})], tmp_path / "plain")
    assert plain.exit_code == ExitCode.DONE
    batch = only_batch(tmp_path / "plain")
    (letter,) = manifest(batch)
    assert "ADDRESS SERVICE REQUESTED" not in _service_window_text(batch / letter["pdf_path"])


def test_resolve_writes_a_row_for_a_customer_whose_every_row_was_rejected(
    tmp_path: Path, write_sources: WriteCsv
) -> None:
    path = write_sources(
        {}, {"customer_id": "C2", "line1": ""}, {"customer_id": "C0", "observed_at": "soon"}
    )
    mystery = _feed(tmp_path, "mystery_feed.csv", {"customer_id": "C3"})
    out = tmp_path / "resolved.csv"
    result = runner.invoke(app, ["addresses", "resolve", str(path), str(mystery), "--out", str(out),
                                 "--as-of", "2026-11-20"])  # fmt: skip
    assert result.exit_code == ExitCode.REJECTED_ROWS
    rows = read_rows(out)
    assert [(r["customer_id"], r["status"]) for r in rows] == [
        ("C0", "none"), ("C1", "selected"), ("C2", "none"), ("C3", "review"),
    ]  # fmt: skip
    assert rows[2]["reasons"].startswith("no_address: ")
    assert "warning: mystery_feed.csv: source 'mystery_feed' is not a configured source" in (
        result.stderr
    )


def test_a_reviewer_decision_is_a_positive_known_status(tmp_path: Path) -> None:
    assert "verified_by_reviewer" in KNOWN_STATUSES
    assert "verified_by_reviewer" not in NEGATIVE_STATUSES
    path = _feed(tmp_path, "reviewer.csv", {"status": "Verified by reviewer"})
    ((record,), rejects) = read_sources([path])
    assert (record.source, record.status, rejects) == ("reviewer", "verified_by_reviewer", [])
    choice = resolve_person("C1", [_reviewer(NEW, 1)], EngineConfig(), AS_OF)
    assert choice.status is ChoiceStatus.SELECTED
    assert choice.reasons == (
        f"selected: chosen by a reviewer on {AS_OF - timedelta(days=1)} (review:7)",
    )


def test_the_multi_source_sample_is_named_by_globs_and_measured(tmp_path: Path) -> None:
    sample = write_feed_sample(tmp_path / "feeds", 400, seed=11, as_of=AS_OF)
    config = load_config(sample.config_path)
    records, rejects = read_sources(list(sample.files.source_paths), config)
    assert rejects == [] and unknown_sources(records, config) == []
    assert {r.source for r in records} == {
        "internal", "customer_updated", "change_of_address", "skip_trace", "third_party",
        "returned_mail",
    }  # fmt: skip
    out = tmp_path / "resolved.csv"
    resolve_files(sample.files.source_paths, out, config, AS_OF, jobs=1)
    truth = read_truth(sample.files.truth_path)
    figures = address_accuracy(
        out, sample.files.truth_path, knowable(sample.files.source_paths, truth, config, AS_OF)
    )
    assert figures["people"] == 400
    assert figures["after_return_selected_rate"] > 0.05  # the skip-trace case is mailed
    assert figures["wrong_selected_knowable_rate"] == 0.0
    assert figures["knowable_review_rate"] < 0.1
