"""Publication 28 forms the general parsers got wrong: highways and routes (§237), rural and
highway contract routes (§24-25), spelled ordinals (§235), directionals (§233), suffixes (C1),
units (C2), and text that is no part of the delivery address."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from addresses import ziptable
from addresses.merge import compatible, node_key
from addresses.standardize import standardize

CASES = [  # line1, line2 -> line1, line2, how it was parsed
    # §237: the route number is never an ordinal, never a unit
    ("US Highway 50", "", "US HIGHWAY 50", "", None),  # no house number: still no 50TH
    ("1200 US Hwy 50 E", "", "1200 US HIGHWAY 50 E", "", "highway"),
    ("701 U.S. Highway 1", "", "701 US HIGHWAY 1", "", "highway"),
    ("12 County Road 100", "", "12 COUNTY ROAD 100", "", "highway"),
    ("12 CR 100", "", "12 COUNTY ROAD 100", "", "highway"),
    ("5 FM 544", "", "5 FM 544", "", "highway"),
    ("5 Farm to Market Road 544", "", "5 FM 544", "", "highway"),
    ("9 State Route 590", "", "9 STATE ROUTE 590", "", "highway"),
    ("9 SR-590", "", "9 STATE ROUTE 590", "", "highway"),
    ("4 Highway 71 Business", "", "4 HIGHWAY 71 BUSINESS", "", "highway"),
    ("301 Highway 50 Apt 3", "", "301 HIGHWAY 50", "APT 3", "highway"),
    ("99 I-95", "", "99 INTERSTATE 95", "", "highway"),
    ("4079 U.S. 17 Business", "", "4079 US 17 BUSINESS", "", "highway"),
    ("519 PR 462", "", "519 PR 462", "", "highway"),
    ("55 Route 9 Plaza", "", "55 ROUTE 9 PLZ", "", "fast"),
    # §24-25: a rural or contract route box is not a PO Box
    ("RR 3 Box 212", "", "RR 3 BOX 212", "", "rural_route"),
    ("Rural Route 02, Box 7A", "", "RR 2 BOX 7A", "", "rural_route"),
    ("RFD 4 Box 10", "", "RR 4 BOX 10", "", "rural_route"),
    ("Box 212 RR 3", "", "RR 3 BOX 212", "", "rural_route"),
    ("HC 32 Box 5", "", "HC 32 BOX 5", "", "rural_route"),
    ("Star Route 68 Box 23A", "", "HC 68 BOX 23A", "", "rural_route"),
    ("rr # 1 box 54", "", "RR 1 BOX 54", "", "rural_route"),
    ("HC R 32 Box # e3", "", "HC 32 BOX E3", "", "rural_route"),
    ("HWY CONTRACT ROUTE 102 BOX 255A", "", "HC 102 BOX 255A", "", "rural_route"),
    ("PO Box 212", "", "PO BOX 212", "", "po_box"),
    # §235: spelled ordinals as numbers
    ("12 Seventh Avenue", "", "12 7TH AVE", "", "fast"),
    ("30 Twenty-Third Street", "", "30 23RD ST", "", "fast"),
    ("77 Twenty Third Ave", "", "77 23RD AVE", "", "fast"),
    ("1 First St", "", "1 1ST ST", "", "fast"),
    # §233: hyphenated and two-word directionals
    ("100 South-West Main St", "", "100 SW MAIN ST", "", "fast"),
    ("100 North East Main St", "", "100 NE MAIN ST", "", "fast"),
    # Appendix C1: a rare suffix is still a suffix
    ("10 Harbor Freeway", "", "10 HARBOR FWY", "", "fast"),
    ("10 Dallas Expressway", "", "10 DALLAS EXPY", "", "fast"),
    # Appendix C2: a bare number on line 2 is a unit
    ("123 Main St", "345", "123 MAIN ST", "# 345", None),
    ("123 Main St", "Apt 4", "123 MAIN ST", "APT 4", "fast"),
    # Appendix D: grid style addresses keep their numbers and significant periods
    ("842 E 1700 S", "", "842 E 1700 S", "", "fast"),
    ("100 N 200 W", "", "100 N 200 W", "", "fast"),
    ("1234 39.2 Rd", "", "1234 39.2 RD", "", "fast"),
    ("N6W23001 Bluemound Rd", "", "N6W23001 BLUEMOUND RD", "", None),
    # ordinary lines are as before
    ("123 I St", "", "123 I ST", "", "fast"),
    ("14 Ridge Rd", "", "14 RIDGE RD", "", "fast"),
    ("4200 S Cottage Grove Ave", "", "4200 S COTTAGE GROVE AVE", "", "fast"),
]


@pytest.mark.parametrize(("line1", "line2", "out1", "out2", "parse"), CASES)
def test_pub28_forms(line1: str, line2: str, out1: str, out2: str, parse: str | None) -> None:
    form = standardize(line1, line2, "Springfield", "IL", "62704")
    assert (form.line1, form.line2) == (out1, out2)
    if parse is not None:
        assert form.parse == parse


def test_a_route_box_keeps_its_route_and_is_no_po_box() -> None:
    rural = standardize("RR 3 Box 212", "", "Springfield", "IL", "62704")
    box = standardize("PO Box 212", "", "Springfield", "IL", "62704")
    other_route = standardize("RR 4 Box 212", "", "Springfield", "IL", "62704")
    assert not rural.hard_failures
    assert not any(c.name == "po_box" for c in rural.checks)
    assert not compatible(rural, box) and not compatible(rural, other_route)


def test_spelled_and_numbered_streets_are_one_address() -> None:
    spelled = standardize("12 Seventh Avenue", "", "New York", "NY", "10011")
    numbered = standardize("12 7th Ave", "", "New York", "NY", "10011")
    assert node_key(spelled) == node_key(numbered)


def test_cross_street_text_is_removed_and_recorded() -> None:
    form = standardize("2450 Broadway between 90th and 91st Sts", "", "New York", "NY", "10024")
    assert form.line1 == "2450 BROADWAY"
    (check,) = [c for c in form.checks if c.name == "cross_street"]
    assert check.detail == "removed: 'between 90th and 91st Sts'"
    noted = standardize("2450 Broadway (across from the park)", "", "New York", "NY", "10024")
    assert noted.line1 == "2450 BROADWAY"
    assert any(c.name == "cross_street" for c in noted.checks)
    near = standardize("57 Jane St. off Hudson St.", "", "New York", "NY", "10014")
    assert (near.line1, near.line2) == ("57 JANE ST", "")
    # a unit in brackets is kept, as line 2 (scourgify's case)
    unit = standardize("123 Nowhere Street (BLDG A1 RIGHT)", "", "Portland", "OR", "97203")
    assert (unit.line1, unit.line2) == ("123 NOWHERE ST", "BLDG A1 RIGHT")
    assert not any(c.name == "cross_street" for c in unit.checks)


@pytest.mark.parametrize(
    ("city_a", "city_b", "same"),
    [
        ("New York City", "New York", True),  # a name the ZIP table lists for New York's ZIPs
        ("Hollywood", "Los Angeles", True),  # an acceptable name of Los Angeles ZIPs
        ("Brooklyn", "New York", False),  # a preferred city of its own
        ("Evanston", "Chicago", False),
    ],
)
def test_cities_the_zip_table_lists_together_merge_without_a_zip(
    city_a: str, city_b: str, same: bool
) -> None:
    a = standardize("2450 Broadway", "", city_a, "", "")
    b = standardize("2450 Broadway", "", city_b, "", "")
    assert compatible(a, b) is same


def test_the_zip_table_is_kept_between_processes_and_a_bad_copy_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    built = ziptable._cached()
    (path,) = (tmp_path / "letters").glob("ziptable-*.json")
    assert path.stat().st_mode & 0o777 == 0o600
    assert ziptable._cached() == built  # read back as written
    path.write_text('{"zips": ', encoding="utf-8")  # a half-written or damaged copy
    assert ziptable._cached() == built
    assert json.loads(path.read_text(encoding="utf-8")) == built
    assert built["zips"]["10001"][:2] == ["NY", "NEW YORK"]


def test_words_the_parser_cannot_place_are_a_failed_soft_check_not_part_of_the_name() -> None:
    form = standardize("55 Walnut St Empire Building", "", "Chicago", "IL", "60614")
    assert (form.line1, form.line2) == ("55 WALNUT ST", "")
    (check,) = [c for c in form.checks if c.name == "unplaced"]
    assert (check.passed, check.detail) == (False, "words not placed: 'EMPIRE BUILDING'")
    assert not form.hard_failures and form.validity == 0.75
