"""Merge decisions, scoring properties and order independence of the address engine."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from addresses.config import EngineConfig
from addresses.engine import build_candidates, resolve_all, resolve_person
from addresses.merge import merge_groups
from addresses.model import ChoiceStatus
from addresses.records import SourceRecord
from addresses.score import Observation
from addresses.standardize import standardize

AS_OF = date(2026, 11, 20)
CONFIG = EngineConfig()


def _same(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    groups = merge_groups([standardize(*a), standardize(*b)])
    return len(groups) == 1


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("123 N Main St", "Apt 4", "Chicago", "IL", "60614"), ("123 north main street #4", "", "chicago", "IL", "60614-2211")),
        (("123 N Main St", "Apt 4", "Chicago", "IL", "60614"), ("123 N Main St", "", "Chicago", "IL", "60614")),
        (("123 Chestnut St", "", "Chicago", "IL", "60614"), ("123 Chesnut St", "", "Chicago", "IL", "60614")),
        (("8316 S Ellis Ave", "", "Chicago", "IL", "60619"), ("8316 S. Ellis", "", "Chicago", "IL", "")),
        (("123 Main St", "", "Chicago", "IL", "60614"), ("123 Main St", "", "Chicago", "IL", "60641")),
        (("PO Box 12", "", "Chicago", "IL", "60690"), ("P.O. Box 12", "", "Chicago", "IL", "60690")),
    ],
)  # fmt: skip
def test_same_delivery_point_merges(a: tuple[str, ...], b: tuple[str, ...]) -> None:
    assert _same(a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("123 Main St", "", "Chicago", "IL", "60614"), ("125 Main St", "", "Chicago", "IL", "60614")),
        (("123 Main St", "Apt 4", "Chicago", "IL", "60614"), ("123 Main St", "Apt 5", "Chicago", "IL", "60614")),
        (("123 W 21st St", "", "Chicago", "IL", "60608"), ("123 W 31st St", "", "Chicago", "IL", "60608")),
        (("123 N Main St", "", "Chicago", "IL", "60614"), ("123 S Main St", "", "Chicago", "IL", "60614")),
        (("123 Oak St", "", "Chicago", "IL", "60614"), ("123 Elm St", "", "Chicago", "IL", "60614")),
        (("123 Main St", "", "Chicago", "IL", "60614"), ("123 Main St", "", "Boston", "MA", "02134")),
        (("PO Box 12", "", "Chicago", "IL", "60690"), ("PO Box 13", "", "Chicago", "IL", "60690")),
    ],
)  # fmt: skip
def test_different_delivery_points_do_not_merge(a: tuple[str, ...], b: tuple[str, ...]) -> None:
    assert not _same(a, b)


def test_units_never_chain_through_a_unitless_form() -> None:
    forms = [
        standardize("123 Main St", "Apt 1", "Chicago", "IL", "60614"),
        standardize("123 Main St", "", "Chicago", "IL", "60614"),
        standardize("123 Main St", "Apt 2", "Chicago", "IL", "60614"),
    ]
    groups = merge_groups(forms)
    assert all(not ({0, 2} <= set(group)) for group in groups)


def _obs(source: str, days_ago: int, status: str = "", line1: str = "123 Main St") -> Observation:
    form = standardize(line1, "", "Chicago", "IL", "60614")
    return Observation(
        source, AS_OF - timedelta(days=days_ago), status, form, f"{source}:{days_ago}"
    )


def _confidence(observations: list[Observation], line1: str = "123 MAIN ST") -> float:
    candidates = build_candidates(observations, CONFIG, AS_OF)
    return next(c.confidence for c in candidates if c.standardized.line1 == line1)


SOURCES = ["internal", "third_party", "customer_updated", "change_of_address", "vendor_x"]
observation_lists = st.lists(
    st.tuples(st.sampled_from(SOURCES), st.integers(0, 2000), st.sampled_from(["", "verified_by_customer"])),
    min_size=1, max_size=5,
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(base=observation_lists, extra=st.tuples(st.sampled_from(SOURCES), st.integers(0, 2000)))
def test_more_agreeing_sources_never_lower_confidence(
    base: list[tuple[str, int, str]], extra: tuple[str, int]
) -> None:
    observations = [_obs(s, d, status) for s, d, status in base]
    observations.append(_obs("third_party", 30, line1="900 Other Ave"))  # a rival address
    before = _confidence(observations)
    after = _confidence([*observations, _obs(*extra)])
    assert after >= before - 1e-9


@settings(max_examples=200, deadline=None)
@given(base=observation_lists, returned_days_ago=st.integers(0, 2000))
def test_returned_mail_always_lowers_confidence(
    base: list[tuple[str, int, str]], returned_days_ago: int
) -> None:
    observations = [_obs(s, d, status) for s, d, status in base]
    before = _confidence(observations)
    after = _confidence([*observations, _obs("returned_mail", returned_days_ago, "returned")])
    assert after < before


def _record(
    customer: str, source: str, line1: str, days: int, status: str = "", n: int = 0
) -> SourceRecord:
    return SourceRecord(customer, source, line1, "", "Chicago", "IL", "60614", "US",
                        AS_OF - timedelta(days=days), status, f"{source}.csv", n)  # fmt: skip


def test_a_newer_customer_update_wins_over_old_records() -> None:
    records = [
        _record("C1", "internal", "12 Old Rd", 700),
        _record("C1", "returned_mail", "12 Old Rd", 60, "returned"),
        _record("C1", "customer_updated", "900 New Ave", 20),
        _record("C1", "third_party", "900 New Avenue", 40),
    ]
    choice = resolve_person("C1", records, CONFIG, AS_OF)
    assert choice.status is ChoiceStatus.SELECTED
    assert choice.address is not None and choice.address.line1 == "900 NEW AVE"
    assert choice.sources == ("customer_updated", "third_party")


def test_two_equal_rivals_go_to_review_and_all_returned_is_none() -> None:
    rivals = [
        _record("C1", "third_party", "12 Old Rd", 10),
        _record("C1", "third_party", "900 New Ave", 10),
    ]
    assert resolve_person("C1", rivals, CONFIG, AS_OF).status is ChoiceStatus.REVIEW
    returned = [
        _record("C2", "internal", "12 Old Rd", 300),
        _record("C2", "returned_mail", "12 Old Rd", 10, "returned"),
    ]
    choice = resolve_person("C2", returned, CONFIG, AS_OF)
    assert choice.status is ChoiceStatus.NONE and choice.reason_codes == ("all_returned",)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_shuffling_input_rows_gives_the_same_result(seed: int) -> None:
    records = [
        _record(f"C{i % 7}", source, f"{100 + i % 5} {street}", days, status, i)
        for i, (source, street, days, status) in enumerate(
            [("internal", "Main St", 400, ""), ("third_party", "Main Street", 30, ""),
             ("customer_updated", "Mian St", 5, "verified_by_customer"),
             ("returned_mail", "Main St", 50, "returned"), ("third_party", "Oak Ave", 90, "")] * 6
        )
    ]  # fmt: skip
    shuffled = list(records)
    random.Random(seed).shuffle(shuffled)
    first = list(resolve_all(records, CONFIG, AS_OF, jobs=1))
    second = list(resolve_all(shuffled, CONFIG, AS_OF, jobs=1))
    assert first == second
