"""Standardize addresses to USPS Publication 28 form and record every offline check made.

US street lines go through a fast token parser for the ordinary shapes ("123 N Main St Apt 4") and
through usaddress for everything else; PO Boxes and military addresses have their own forms; foreign
addresses keep their own lines and country. Abbreviation tables come from usaddress-scourgify.
Nothing here raises on bad data: a problem becomes a failed `Check` on the result.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import replace

import usaddress
from rapidfuzz import fuzz
from scourgify.address_constants import (
    DIRECTIONAL_REPLACEMENTS,
    OCCUPANCY_TYPE_ABBREVIATIONS,
    STATE_ABBREVIATIONS,
    STREET_TYPE_ABBREVIATIONS,
)

from addresses import pub28
from addresses.forms import Check, Standardized, StreetParts
from addresses.hygiene import address_characters
from addresses.ziptable import MEMO_SIZE, cities_agree, city_key, zip_table

MAX_LINE = 40
DIRECTIONS: dict[str, str] = {
    **{v: v for v in DIRECTIONAL_REPLACEMENTS.values()},
    **DIRECTIONAL_REPLACEMENTS,
}  # fmt: skip  (two-word and hyphenated forms: pub28.directionals)
SUFFIXES: dict[str, str] = {
    **STREET_TYPE_ABBREVIATIONS,
    "BL": "BLVD",
    "BLV": "BLVD",
    "AV": "AVE",
    "PY": "PKWY",
}  # fmt: skip  (Appendix C1, and variants seen in peers' data)
UNIT_WORDS: dict[str, str] = {
    **{v: v for v in OCCUPANCY_TYPE_ABBREVIATIONS.values()}, **OCCUPANCY_TYPE_ABBREVIATIONS,
    "APPT": "APT", "APARTMENT": "APT", "STE": "STE", "NO": "#",
}  # fmt: skip
US_STATES = frozenset(STATE_ABBREVIATIONS.values()) | {"DC", "PR", "VI", "GU", "AS", "MP"}
MILITARY_STATES = frozenset({"AA", "AE", "AP"})
MILITARY_CITIES = frozenset({"APO", "FPO", "DPO"})
US_NAMES = frozenset({"", "US", "USA", "UNITED STATES", "UNITED STATES OF AMERICA", "U S A", "U S"})
COUNTRY_NAMES = {
    "CA": "CANADA", "CAN": "CANADA", "MX": "MEXICO", "MEX": "MEXICO", "GB": "UNITED KINGDOM",
    "UK": "UNITED KINGDOM", "GBR": "UNITED KINGDOM", "DE": "GERMANY", "DEU": "GERMANY",
    "FR": "FRANCE", "FRA": "FRANCE",
}  # fmt: skip
# Suffixes split off by the fast parser; rarer suffix words ("GROVE", "WELLS") stay in the name.
# Highway-like ones are Appendix C1's (FREEWAY -> FWY, EXPRESSWAY -> EXPY, TURNPIKE -> TPKE, ...).
COMMON_SUFFIXES = frozenset([
    "ST", "AVE", "RD", "BLVD", "DR", "LN", "CT", "PL", "WAY", "TER", "CIR", "PKWY", "HWY", "SQ",
    "TRL", "LOOP", "ALY", "PIKE", "FWY", "EXPY", "TPKE", "BYP", "XING", "CSWY", "PLZ", "CTR",
])  # fmt: skip

_PUNCT = re.compile(r"[^A-Z0-9/#\-. ]+")
_STRAY_DOT = re.compile(r"\.(?!\d)|(?<!\d)\.")  # a period stays only in a number (39.2 RD, D2)
_POUND_UNIT = re.compile(
    r"# (?=(?:"
    + "|".join(sorted((w for w in UNIT_WORDS if w.isalpha()), key=len, reverse=True))
    + r") )"
)  # "# APT 3": the pound sign before a designator says nothing more
_COMMA_MARK = " ZZCOMMAZZ "  # survives `clean`, then becomes the comma again
_STATE_NAMES = frozenset(name for name in STATE_ABBREVIATIONS if " " not in name)
_NUMBER = re.compile(r"^\d+[A-Z]?$|^\d+-\d+[A-Z]?$|^[A-Z]?\d+$")
_FRACTION = re.compile(r"^\d/\d$")
_PO_BOX = re.compile(r"^(?:P ?O ?|POST OFFICE |POB )?BOX (?:NO |# ?)?([A-Z0-9-]+)$")
_ZIP = re.compile(r"^(\d{5})(?:-?(\d{4}))?$")
_DIGITS = re.compile(r"\d")
PLACE_LABELS = ("PlaceName", "StateName", "ZipCode")
_PLACED_LABELS = frozenset({
    "AddressNumberPrefix", "AddressNumber", "AddressNumberSuffix", "StreetNamePreModifier",
    "StreetNamePreDirectional", "StreetNamePreType", "StreetName", "StreetNamePostType",
    "StreetNamePostDirectional", "OccupancyType", "OccupancyIdentifier", "USPSBoxType",
    "USPSBoxID", "PlaceName", "StateName", "ZipCode", "CountryName",
})  # fmt: skip
_SHORT_DIRECTIONS = frozenset({"N", "S", "E", "W", "NE", "NW", "SE", "SW"})
_BARE_UNIT = re.compile(r"^[A-Z]?\d{1,6}[A-Z]?$")


@functools.lru_cache(maxsize=MEMO_SIZE)
def clean(text: str) -> str:
    """Upper case ASCII, Pub 28 punctuation rules (keep # / -), single spaces."""
    ascii_text = text
    if not text.isascii():
        ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    upper = _PUNCT.sub(" ", ascii_text.upper().replace("#", " # "))
    if "." in upper:
        upper = _STRAY_DOT.sub(" ", upper)
    tokens = (token.strip("-") for token in upper.split())
    return " ".join(token for token in tokens if token)


def _with_commas(line: str) -> str:
    """A line cleaned like `clean` but keeping its commas (`200 EAST ELM, DENVER, COLORADO`)."""
    return clean(line.replace(",", _COMMA_MARK)).replace(_COMMA_MARK.rstrip(), ",")


def _unit_at_end(tokens: list[str]) -> tuple[list[str], str, str]:
    if len(tokens) >= 3 and tokens[-3] in UNIT_WORDS and tokens[-2] == "#":
        return tokens[:-3], UNIT_WORDS[tokens[-3]], tokens[-1]
    if len(tokens) >= 3 and tokens[-3] == "#" and tokens[-2] in UNIT_WORDS:  # "# APT 3"
        return tokens[:-3], UNIT_WORDS[tokens[-2]], tokens[-1]
    if len(tokens) >= 2 and (tokens[-2] in UNIT_WORDS or tokens[-2] == "#"):
        unit_type = UNIT_WORDS.get(tokens[-2], "#")
        if _DIGITS.search(tokens[-1]) or len(tokens[-1]) <= 2:
            return tokens[:-2], unit_type, tokens[-1]
    return tokens, "", ""


def parse_unit(text: str) -> tuple[str, str] | None:
    """Read a line that is only a secondary unit (`Apt 4`, `#12`, `Suite 200`), else None."""
    tokens = clean(text).split()
    rest, unit_type, unit_id = _unit_at_end(tokens)
    return (unit_type, unit_id) if unit_id and not rest else None


def parse_fast(text: str) -> StreetParts | None:
    """Parse the ordinary shapes of a cleaned street line; None when unsure (use usaddress)."""
    tokens = text.split()
    if len(tokens) < 2 or not _NUMBER.match(tokens[0]):
        return None
    number, rest = tokens[0], tokens[1:]
    if rest and _FRACTION.match(rest[0]):
        number, rest = f"{number} {rest[0]}", rest[1:]
    rest, unit_type, unit_id = _unit_at_end(rest)
    postdir = suffix = predir = ""
    if len(rest) >= 3 and rest[-1] in DIRECTIONS and rest[-2] in SUFFIXES:
        postdir, rest = DIRECTIONS[rest[-1]], rest[:-1]
    # Only common suffixes are split off: in "COTTAGE GROVE" or "STONY ISLAND" the word is the name.
    if len(rest) >= 2 and SUFFIXES.get(rest[-1]) in COMMON_SUFFIXES:
        suffix, rest = SUFFIXES[rest[-1]], rest[:-1]
        if not postdir and len(rest) >= 3 and rest[-1] in _SHORT_DIRECTIONS:
            postdir, rest = rest[-1], rest[:-1]  # "SAINT JOHN W ST": a postdirectional
    if len(rest) >= 2 and rest[0] in DIRECTIONS:
        predir, rest = DIRECTIONS[rest[0]], rest[1:]
    if predir and not suffix and len(rest) == 2 and rest[0].isdigit() and rest[1] in DIRECTIONS:
        # Appendix D2, grid style: in 842 E 1700 S the number is the name, S a postdirectional
        return StreetParts(number, predir, rest[0], "", DIRECTIONS[rest[1]], unit_type, unit_id)
    if any(SUFFIXES.get(token) in COMMON_SUFFIXES for token in rest[1:]):
        return None  # words after a suffix ("154TH STREET HARVEY"): a city or more; ask usaddress
    for token in rest:
        if (
            token in UNIT_WORDS
            or token in ("#", "BOX", "PO")
            or (token == rest[-1] and (token in US_STATES or token in _STATE_NAMES))
        ):
            return None
        if len(token) == 5 and token.isdigit():
            return None
    if not rest:
        return None
    return StreetParts(number, predir, street_name(rest), suffix, postdir, unit_type, unit_id)


def street_name(words: list[str]) -> str:
    """Join a street name's words; a bare numbered street gets its ordinal (113 -> 113TH), a
    spelled one its number (SEVENTH -> 7TH, Pub 28 §235)."""
    words = pub28.spelled_ordinals(words)
    return " ".join(
        pub28.ordinal(w) if w.isdigit() and len(w) <= 3 and not pub28.route_number(words, i) else w
        for i, w in enumerate(words)
    )


def _route_form(text: str) -> tuple[StreetParts, str] | None:
    """A rural or highway contract route box (§24-25) or a line on a highway (§237): the forms
    the general parsers get wrong; None for any other line, or one with words left over."""
    rural = pub28.rural_route(text)
    if rural is not None:
        return StreetParts(po_box=rural[1], route=rural[0]), "rural_route"
    road = pub28.highway(text.split(), DIRECTIONS)
    if road is None:
        return None
    rest, unit_type, unit_id = _unit_at_end(road.rest)
    if rest:
        return None
    parts = StreetParts(road.number, road.predir, road.name, "", road.postdir, unit_type, unit_id)
    return parts, "highway"


def _special(text: str) -> tuple[StreetParts, str, dict[str, str]] | None:
    """A route form (`_route_form`), also with its city, state and ZIP written after it on the
    same line (only then is usaddress asked where the place begins)."""
    found = _route_form(text)
    if found is not None:
        return found[0], found[1], {}
    tokens = text.split()
    if not (pub28.rural_head(text) or pub28.highway(tokens, DIRECTIONS)):
        return None
    head, place = _without_place(text)
    found = _route_form(head) if place else None
    return (found[0], found[1], place) if found else None


def _without_place(text: str) -> tuple[str, dict[str, str]]:
    """The line without the city, state, ZIP and country usaddress finds at its end."""
    labels, _repeated = _labels(text)
    place: dict[str, str] = {k: labels[k] for k in PLACE_LABELS if k in labels}
    first = next((labels[k] for k in (*PLACE_LABELS, "CountryName") if k in labels), "")
    at = text.rfind(first) if first else -1
    return (text[:at].strip(), place) if at > 0 else (text, {})


def _labels(text: str) -> tuple[dict[str, str], bool]:
    """usaddress labels for a street string; a repeated label is kept as data, not raised."""
    try:
        tagged, _kind = usaddress.tag(text)
        return dict(tagged), False
    except usaddress.RepeatedLabelError as exc:
        labels: dict[str, str] = {}
        for token, label in exc.parsed_string:
            labels.setdefault(label, token)
        return labels, True


def parse_usaddress(text: str) -> tuple[StreetParts, dict[str, str], bool, str]:
    """Parse with usaddress; returns the parts, any place/state/ZIP found, a repeat flag, and
    the words it labelled as nothing a delivery line holds (a landmark, a second street...)."""
    labels, repeated = _labels(text)
    unplaced = " ".join(value for key, value in labels.items() if key not in _PLACED_LABELS)
    name = street_name(
        [
            word
            for key in ("StreetNamePreModifier", "StreetNamePreType", "StreetName")
            if key in labels
            for word in labels[key].split()
        ]
    )
    unit_id = labels.get("OccupancyIdentifier", "").lstrip("#").strip()
    unit_type = labels.get("OccupancyType", "#" if unit_id else "")
    number = " ".join(
        labels[key] for key in ("AddressNumberPrefix", "AddressNumber", "AddressNumberSuffix")
        if key in labels
    )  # fmt: skip
    parts = StreetParts(
        number=number,
        predir=DIRECTIONS.get(labels.get("StreetNamePreDirectional", ""), ""),
        name=name,
        suffix=SUFFIXES.get(
            labels.get("StreetNamePostType", ""), labels.get("StreetNamePostType", "")
        ),
        postdir=DIRECTIONS.get(labels.get("StreetNamePostDirectional", ""), ""),
        unit_type=UNIT_WORDS.get(unit_type, unit_type),
        unit_id=unit_id,
        po_box=labels.get("USPSBoxID", ""),
    )
    place: dict[str, str] = {
        key: labels[key] for key in ("PlaceName", "StateName", "ZipCode") if key in labels
    }
    return parts, place, repeated, unplaced


def _street(line1: str, line2: str) -> tuple[StreetParts, str, str, dict[str, str], list[Check]]:
    """Parse the delivery lines: parts, parse method, any other line, place words, checks."""
    line1, removed = pub28.without_cross_streets(line1)
    for remark in [r for r in removed if r.startswith("(") and not line2]:
        if clean(remark).split()[:1] and clean(remark).split()[0] in UNIT_WORDS:
            line2 = remark.strip("()")  # "(BLDG A1 RIGHT)": a unit in brackets is line 2
            removed.remove(remark)
    first, second = pub28.tidy(clean(line1)), pub28.tidy(clean(line2)) if line2 else ""
    if "# " in first:
        first = _POUND_UNIT.sub("", first)
    if second and not first[:1].isdigit() and second[:1].isdigit() and " " in second:
        first, second = second, first  # the delivery line is the one with the number
    checks: list[Check] = []
    note = [Check("cross_street", None, f"removed: {'; '.join(removed)!r}")] if removed else []
    unit = parse_unit(second) if second else None
    if unit is None and _BARE_UNIT.match(second):
        unit = ("#", second)  # a bare number on line 2 is a unit (Pub 28 Appendix C2)
    street_text = f"{first} {second}" if unit else first
    if unit:
        head = parse_fast(first)
        if head is not None and head.unit_id == unit[1]:
            street_text = first  # the unit is written on both lines: read it once
    special = _special(street_text)
    if special is not None:
        return special[0], special[1], "", special[2], [*note, Check("parse", True, special[1])]
    box = _PO_BOX.match(street_text)
    if box:
        return (
            StreetParts(po_box=box[1]),
            "po_box",
            "",
            {},
            [*note, Check("parse", True, "PO Box")],
        )
    parts = parse_fast(street_text)
    method, place = "fast", dict[str, str]()
    if parts is None:
        commas = "," in line1 and not unit  # they tell usaddress where the street ends
        parts, place, repeated, unplaced = parse_usaddress(
            _with_commas(line1) if commas else street_text
        )
        method = "usaddress"
        if repeated:
            checks.append(Check("parse", False, "usaddress: a label repeats (ambiguous order)"))
    if not parts.po_box and not (parts.number and parts.name):
        checks.append(Check("parse", False, f"no house number and street name in {first!r}"))
    elif not checks:
        checks.append(Check("parse", True, method))
    if method == "usaddress" and unplaced:  # never silently dropped, never kept in the name
        checks.append(Check("unplaced", False, f"words not placed: {unplaced!r}"))
    extra = second if second and not unit else ""
    if extra:
        checks.append(Check("extra_line", None, f"kept as written: {extra!r}"))
    return parts, method, extra, place, checks + note


def _zip_checks(zip_text: str, state: str) -> tuple[str, str, list[Check]]:
    """Read a ZIP or ZIP+4, restoring a leading zero a spreadsheet dropped; returns zip5, zip4."""
    raw = zip_text.strip().replace(" ", "")
    head, _, tail = raw.partition("-")
    if 3 <= len(head) <= 4 and head.isdigit() and len(raw) <= 9:
        info = zip_table().get(head.zfill(5))
        if info and info.state == state:  # zeros a spreadsheet dropped; a +4 is then unsure
            return (
                head.zfill(5),
                "",
                [Check("zip_format", True, f"leading zeros restored to {raw!r}")],
            )
    if len(head) == 5 and head.isdigit() and tail and not (len(tail) == 4 and tail.isdigit()):
        return head, "", [Check("zip_format", True, f"ZIP; a malformed +4 dropped: {raw!r}")]
    match = _ZIP.match(raw)
    if not match:
        problem = f"not a ZIP or ZIP+4: {zip_text!r}" if raw else "no ZIP"
        return "", "", [Check("zip_format", False, problem)]
    return match[1], match[2] or "", [Check("zip_format", True, "ZIP+4" if match[2] else "ZIP")]


@functools.lru_cache(maxsize=1_024)
def _state(state_text: str) -> tuple[str, Check]:
    state = clean(state_text)
    state = STATE_ABBREVIATIONS.get(state, state)
    if state in US_STATES or state in MILITARY_STATES:
        return state, Check("state_code", True, state)
    return state, Check("state_code", False, f"unknown state {state_text!r}")


@functools.lru_cache(maxsize=MEMO_SIZE)
def _city(city_text: str, zip5: str, state: str) -> tuple[str, tuple[Check, ...]]:
    """Check the city against the ZIP table; fill it or fix a typo from the table."""
    info = zip_table().get(zip5) if zip5 else None
    city = clean(city_text)
    if info is None:
        unknown = (Check("zip_known", False, f"ZIP {zip5} not in the ZIP table"),) if zip5 else ()
        return city, unknown
    checks: tuple[Check, ...] = (Check("zip_known", True, f"{zip5} ({info.kind.lower()})"),)
    if state:
        agrees = info.state == state
        checks += (Check("zip_state", agrees, f"ZIP {zip5} is in {info.state}"),)
    preferred = clean(info.city)
    if not city:
        return preferred, (*checks, Check("city_matches_zip", True, "filled from the ZIP table"))
    key = city_key(city)
    if key in info.cities:
        return city, (*checks, Check("city_matches_zip", True, city))
    best = max(info.cities, key=lambda name: fuzz.ratio(key, name))
    if fuzz.ratio(key, best) >= 85:
        return preferred, (*checks, Check("city_matches_zip", True, f"corrected from {city!r}"))
    return city, (*checks, Check("city_matches_zip", False, f"{city!r} is not a name of {zip5}"))


def _country(country_text: str) -> str:
    country = clean(country_text)
    if country in US_NAMES:
        return "US"
    return COUNTRY_NAMES.get(country, country)


def _foreign(
    line1: str, line2: str, city: str, state: str, postcode: str, country: str
) -> Standardized:
    def tidy(text: str) -> str:
        return " ".join(text.upper().split())

    lines = [tidy(line1), tidy(line2)]
    checks = [Check("foreign", None, f"{country}: no US checks apply")]
    too_long = [line for line in lines if len(line) > MAX_LINE]
    checks.append(Check("line_length", not too_long, f"at most {MAX_LINE} characters"))
    parts = StreetParts(name=lines[0])
    return Standardized(
        lines[0], lines[1], tidy(city), tidy(state), tidy(postcode), country, parts, "foreign",
        tuple(checks),
    )  # fmt: skip


def _military(parts: StreetParts, city: str, state: str) -> Check | None:
    if state not in MILITARY_STATES and city not in MILITARY_CITIES:
        return None
    both = state in MILITARY_STATES and city in MILITARY_CITIES
    return Check("military_form", both, "APO/FPO/DPO with AA, AE or AP")


@functools.lru_cache(maxsize=MEMO_SIZE)
def standardize(
    line1: str, line2: str = "", city: str = "", state: str = "", zip_code: str = "",
    country: str = "", default_city: str = "", default_state: str = "",
) -> Standardized:  # fmt: skip
    """Standardize one address; never raises on bad data.

    City and state come from the given fields, else from the address text itself, else from the
    defaults; only then is a missing city filled from the ZIP table.
    """
    characters = Check(
        "characters", *address_characters({"line1": line1, "line2": line2, "city": city})
    )
    country_name = _country(country)
    if country_name != "US":
        form = _foreign(line1, line2, city, state, zip_code, country_name)
        return replace(form, checks=(*form.checks, characters))
    parts, method, extra, place, checks = _street(line1, line2)
    checks.append(characters)
    city = city or place.get("PlaceName", "") or default_city
    state_code, state_check = _state(state or place.get("StateName", "") or default_state)
    zip5, zip4, zip_checks = _zip_checks(zip_code or place.get("ZipCode", ""), state_code)
    city_name, city_checks = _city(city, zip5, state_code)
    checks += [state_check, *zip_checks, *city_checks]
    military = _military(parts, city_name, state_code)
    if military:
        checks.append(military)
        method = "military"
    if parts.po_box and not parts.route:
        info = zip_table().get(zip5)
        checks.append(
            Check("po_box", True, f"PO Box in a {info.kind.lower()} ZIP" if info else "PO Box")
        )
    line1_out = parts.primary_line()
    unparsed = any(c.name == "parse" and c.passed is False for c in checks)
    if unparsed or method == "military":
        line1_out = clean(line1)  # never reorder words we could not parse, nor PSC/UNIT forms
    line2_out = parts.unit_line() or extra
    zip_out = f"{zip5}-{zip4}" if zip4 else zip5
    last_line = f"{city_name} {state_code} {zip_out}"
    too_long = [text for text in (line1_out, line2_out, last_line) if len(text) > MAX_LINE]
    checks.append(Check("line_length", not too_long, f"at most {MAX_LINE} characters"))
    return Standardized(
        line1_out, line2_out, city_name, state_code, zip_out, "US", parts, method, tuple(checks)
    )


# what standardizing memoizes (up to `MEMO_SIZE` entries each): it serves one resolution
MEMOS = (clean, _state, _city, standardize, city_key, cities_agree)
