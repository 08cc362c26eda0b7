"""Standardization to Pub 28 form: a table of messy inputs, checks, and never a crash."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from addresses.model import PostalAddress
from addresses.standardize import standardize

# (line1, line2, city, state, zip, country) -> (line1, line2, city, state, zip, country)
CASES = [
    (("123 north main street apartment 4", "", "chicago", "il", "60614", ""),
     ("123 N MAIN ST", "APT 4", "CHICAGO", "IL", "60614", "US")),
    (("123 N. Main St.", "Apt #4", "Chicago", "Illinois", "60614-1234", "USA"),
     ("123 N MAIN ST", "APT 4", "CHICAGO", "IL", "60614-1234", "US")),
    (("241 OAK ST E LOT 20", "", "Chicago", "IL", "60614", ""),
     ("241 OAK ST E", "LOT 20", "CHICAGO", "IL", "60614", "US")),
    (("794 Prospect Road E Rm 18", "", "", "IL", "60614", ""),
     ("794 PROSPECT RD E", "RM 18", "CHICAGO", "IL", "60614", "US")),
    (("P.O. Box 83135", "", "Chicago", "IL", "60690", ""),
     ("PO BOX 83135", "", "CHICAGO", "IL", "60690", "US")),
    (("Post Office Box 83", "", "Chicago", "IL", "60690", ""),
     ("PO BOX 83", "", "CHICAGO", "IL", "60690", "US")),
    (("PSC 1234 Box 5678", "", "APO", "AE", "09001", ""),
     ("PSC 1234 BOX 5678", "", "APO", "AE", "09001", "US")),
    (("3630 S. Wells", "Rm. 105", "Chicago", "IL", "60609", ""),
     ("3630 S WELLS", "RM 105", "CHICAGO", "IL", "60609", "US")),
    (("1350 N St NW", "", "Washington", "DC", "20005", ""),
     ("1350 N ST NW", "", "WASHINGTON", "DC", "20005", "US")),
    (("124 E. 113 St.", "", "Chicago", "IL", "60628", ""),
     ("124 E 113TH ST", "", "CHICAGO", "IL", "60628", "US")),
    (("4314 S. Cottage Grove", "", "Chicago", "IL", "60653", ""),
     ("4314 S COTTAGE GROVE", "", "CHICAGO", "IL", "60653", "US")),
    (("142 East 154th Street\nHarvey", "", "", "IL", "60426", ""),
     ("142 E 154TH ST", "", "HARVEY", "IL", "60426", "US")),
    (("c/o Jane Doe", "123 Main St", "Chicago", "IL", "60614", ""),
     ("123 MAIN ST", "C/O JANE DOE", "CHICAGO", "IL", "60614", "US")),
    (("12 Main St", "", "Chicgo", "IL", "60614", ""),  # a city typo is corrected from the table
     ("12 MAIN ST", "", "CHICAGO", "IL", "60614", "US")),
    (("9 Elm St", "", "Boston", "MA", "2134", ""),  # a spreadsheet dropped the leading zero
     ("9 ELM ST", "", "BOSTON", "MA", "02134", "US")),
    (("123 N Main St Apt 4", "Apt 4", "Chicago", "IL", "60614", ""),  # the unit on both lines
     ("123 N MAIN ST", "APT 4", "CHICAGO", "IL", "60614", "US")),
    (("Friedrichstraße 43", "", "Berlin", "", "10117", "Germany"),
     ("FRIEDRICHSTRASSE 43", "", "BERLIN", "", "10117", "GERMANY")),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "expected"), CASES)
def test_messy_inputs_reach_pub28_form(raw: tuple[str, ...], expected: tuple[str, ...]) -> None:
    form = standardize(*raw)
    assert (form.line1, form.line2, form.city, form.state, form.zip, form.country) == expected
    assert form.hard_failures == ()


@pytest.mark.parametrize(
    ("raw", "failed"),
    [
        (("123 Main St", "", "Boston", "ZZ", "02134", ""), "state_code"),
        (("123 Main St", "", "Chicago", "IL", "6061", ""), "zip_format"),
        (("123 Main St", "", "Chicago", "IL", "00000", ""), "zip_known"),
        (("123 Main St", "", "Chicago", "CA", "60614", ""), "zip_state"),
        (("hello world", "", "Chicago", "IL", "60614", ""), "parse"),
    ],
)
def test_impossible_addresses_fail_a_hard_check(raw: tuple[str, ...], failed: str) -> None:
    form = standardize(*raw)
    assert failed in {c.name for c in form.hard_failures}
    assert form.validity == 0.0


def test_every_check_is_recorded() -> None:
    names = [c.name for c in standardize("123 Main St", "", "Chicago", "IL", "60614").checks]
    assert names == [
        "parse", "characters", "state_code", "zip_format", "zip_known", "zip_state",
        "city_matches_zip", "line_length",
    ]  # fmt: skip


def test_city_mismatch_is_a_soft_failure() -> None:
    form = standardize("123 Main St", "", "Springfield", "IL", "60614")
    assert form.hard_failures == ()
    assert form.validity < 1.0


def test_pub28_print_order() -> None:
    short = PostalAddress("123 N MAIN ST", "APT 4", "CHICAGO", "IL", "60614", "US")
    assert short.lines() == ["123 N MAIN ST APT 4", "CHICAGO IL 60614"]
    long = PostalAddress("12345 N MARTIN LUTHER KING JR BLVD", "STE 1200", "A", "IL", "1", "US")
    assert long.lines()[:2] == ["STE 1200", "12345 N MARTIN LUTHER KING JR BLVD"]
    abroad = PostalAddress("10 DOWNING STREET", "", "LONDON", "", "SW1A 2AA", "UNITED KINGDOM")
    assert abroad.lines() == ["10 DOWNING STREET", "LONDON SW1A 2AA", "UNITED KINGDOM"]


@settings(max_examples=300, deadline=None)
@given(st.tuples(*(st.text(max_size=30) for _ in range(6))))
def test_arbitrary_text_never_crashes(raw: tuple[str, ...]) -> None:
    form = standardize(*raw)
    assert all(len(line) <= 400 for line in (form.line1, form.line2))
