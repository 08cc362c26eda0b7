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
from dataclasses import dataclass, field, replace

import usaddress
from rapidfuzz import fuzz
from scourgify.address_constants import (
    DIRECTIONAL_REPLACEMENTS,
    OCCUPANCY_TYPE_ABBREVIATIONS,
    STATE_ABBREVIATIONS,
    STREET_TYPE_ABBREVIATIONS,
)

from addresses.hygiene import address_characters
from addresses.model import PostalAddress
from addresses.ziptable import city_key, zip_table

MAX_LINE = 40
DIRECTIONS: dict[str, str] = {
    **{v: v for v in DIRECTIONAL_REPLACEMENTS.values()},
    **DIRECTIONAL_REPLACEMENTS,
    "NORTH EAST": "NE",
}
SUFFIXES: dict[str, str] = {**STREET_TYPE_ABBREVIATIONS, "BL": "BLVD", "AV": "AVE"}
UNIT_WORDS: dict[str, str] = {
    **{v: v for v in OCCUPANCY_TYPE_ABBREVIATIONS.values()},
    **OCCUPANCY_TYPE_ABBREVIATIONS,
    "APPT": "APT",
    "APARTMENT": "APT",
    "STE": "STE",
    "NO": "#",
}
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
COMMON_SUFFIXES = frozenset(
    [
        "ST",
        "AVE",
        "RD",
        "BLVD",
        "DR",
        "LN",
        "CT",
        "PL",
        "WAY",
        "TER",
        "CIR",
        "PKWY",
        "HWY",
        "SQ",
        "TRL",
        "LOOP",
        "ALY",
        "PIKE",
    ]
)
# Checks whose failure means the address must not be mailed without a person looking at it.
HARD_CHECKS = frozenset(
    {"parse", "state_code", "zip_format", "zip_known", "zip_state", "characters"}
)

_PUNCT = re.compile(r"[^A-Z0-9/#\- ]+")
_NUMBER = re.compile(r"^\d+[A-Z]?$|^\d+-\d+[A-Z]?$|^[A-Z]?\d+$")
_FRACTION = re.compile(r"^\d/\d$")
_PO_BOX = re.compile(r"^(?:P ?O ?|POST OFFICE |POB )?BOX (?:NO |# ?)?([A-Z0-9-]+)$")
_ZIP = re.compile(r"^(\d{5})(?:-?(\d{4}))?$")
_DIGITS = re.compile(r"\d")


@dataclass(frozen=True, slots=True)
class Check:
    """One offline check: its name, whether it passed (None: not applicable), and what was seen."""

    name: str
    passed: bool | None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class StreetParts:
    """The components of a delivery line."""

    number: str = ""
    predir: str = ""
    name: str = ""
    suffix: str = ""
    postdir: str = ""
    unit_type: str = ""
    unit_id: str = ""
    po_box: str = ""

    def primary_line(self) -> str:
        """The delivery address line without the secondary unit."""
        if self.po_box:
            return f"PO BOX {self.po_box}"
        words = (self.number, self.predir, self.name, self.suffix, self.postdir)
        return " ".join(word for word in words if word)

    def unit_line(self) -> str:
        """The secondary unit, e.g. `APT 4` or `# 12`."""
        return f"{self.unit_type} {self.unit_id}".strip() if self.unit_id else ""


@dataclass(frozen=True, slots=True)
class Standardized:
    """An address in Pub 28 form with its parts, how it was parsed, and every check's result."""

    line1: str
    line2: str
    city: str
    state: str
    zip: str
    country: str
    parts: StreetParts
    parse: str  # fast, usaddress, po_box, military, foreign, failed
    checks: tuple[Check, ...] = field(default_factory=tuple)

    @property
    def zip5(self) -> str:
        """The five-digit ZIP, or '' when there is none."""
        return self.zip[:5] if self.country == "US" else ""

    @property
    def is_foreign(self) -> bool:
        """True outside the United States."""
        return self.country != "US"

    @property
    def hard_failures(self) -> tuple[Check, ...]:
        """Failed checks that forbid mailing without review."""
        return tuple(c for c in self.checks if c.passed is False and c.name in HARD_CHECKS)

    @property
    def validity(self) -> float:
        """1.0 when every check passed; less for each soft failure; 0.0 on any hard failure."""
        if self.hard_failures:
            return 0.0
        soft = sum(1 for c in self.checks if c.passed is False)
        return max(0.0, 1.0 - 0.25 * soft)

    def postal_address(self) -> PostalAddress:
        """The printable address."""
        return PostalAddress(self.line1, self.line2, self.city, self.state, self.zip, self.country)


@functools.lru_cache(maxsize=65_536)
def clean(text: str) -> str:
    """Upper case ASCII, Pub 28 punctuation rules (keep # / -), single spaces."""
    ascii_text = text
    if not text.isascii():
        ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    upper = _PUNCT.sub(" ", ascii_text.upper().replace("#", " # "))
    tokens = (token.strip("-") for token in upper.split())
    return " ".join(token for token in tokens if token)


def _unit_at_end(tokens: list[str]) -> tuple[list[str], str, str]:
    if len(tokens) >= 3 and tokens[-3] in UNIT_WORDS and tokens[-2] == "#":
        return tokens[:-3], UNIT_WORDS[tokens[-3]], tokens[-1]
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
    if len(rest) >= 2 and rest[0] in DIRECTIONS:
        predir, rest = DIRECTIONS[rest[0]], rest[1:]
    if any(SUFFIXES.get(token) in COMMON_SUFFIXES for token in rest[1:]):
        return None  # words after a suffix ("154TH STREET HARVEY"): a city or more; ask usaddress
    for token in rest:
        if (
            token in UNIT_WORDS
            or token in ("#", "BOX", "PO")
            or (token in US_STATES and token == rest[-1])
        ):
            return None
        if len(token) == 5 and token.isdigit():
            return None
    if not rest:
        return None
    return StreetParts(number, predir, street_name(rest), suffix, postdir, unit_type, unit_id)


def _ordinal(number: str) -> str:
    value = int(number)
    if value % 100 in (11, 12, 13):
        return f"{number}TH"
    return number + {1: "ST", 2: "ND", 3: "RD"}.get(value % 10, "TH")


def street_name(words: list[str]) -> str:
    """Join a street name's words; a bare numbered street gets its ordinal (113 -> 113TH)."""
    return " ".join(_ordinal(w) if w.isdigit() and len(w) <= 3 else w for w in words)


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


def parse_usaddress(text: str) -> tuple[StreetParts, dict[str, str], bool]:
    """Parse with usaddress; returns the parts, any place/state/ZIP found, and a repeat flag."""
    labels, repeated = _labels(text)
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
    return parts, place, repeated


def _street(line1: str, line2: str) -> tuple[StreetParts, str, str, dict[str, str], list[Check]]:
    """Parse the delivery lines: parts, parse method, any other line, place words, checks."""
    first, second = clean(line1), clean(line2)
    if second and not first[:1].isdigit() and second[:1].isdigit():
        first, second = second, first  # the delivery line is the one with the number
    checks: list[Check] = []
    unit = parse_unit(second) if second else None
    street_text = f"{first} {second}" if unit else first
    if unit:
        head = parse_fast(first)
        if head is not None and head.unit_id == unit[1]:
            street_text = first  # the unit is written on both lines: read it once
    box = _PO_BOX.match(street_text)
    if box:
        return StreetParts(po_box=box[1]), "po_box", "", {}, [Check("parse", True, "PO Box")]
    parts = parse_fast(street_text)
    method, place = "fast", dict[str, str]()
    if parts is None:
        parts, place, repeated = parse_usaddress(street_text)
        method = "usaddress"
        if repeated:
            checks.append(Check("parse", False, "usaddress: a label repeats (ambiguous order)"))
    if not parts.po_box and not (parts.number and parts.name):
        checks.append(Check("parse", False, f"no house number and street name in {first!r}"))
    elif not checks:
        checks.append(Check("parse", True, method))
    extra = second if second and not unit else ""
    if extra:
        checks.append(Check("extra_line", None, f"kept as written: {extra!r}"))
    return parts, method, extra, place, checks


def _zip_checks(zip_text: str, state: str) -> tuple[str, str, list[Check]]:
    """Read a ZIP or ZIP+4, restoring a leading zero a spreadsheet dropped; returns zip5, zip4."""
    raw = zip_text.strip().replace(" ", "")
    if len(raw) == 4 and raw.isdigit():
        info = zip_table().get("0" + raw)
        if info and info.state == state:
            return "0" + raw, "", [Check("zip_format", True, f"leading zero restored to {raw!r}")]
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


@functools.lru_cache(maxsize=65_536)
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
    if state in MILITARY_STATES or city in MILITARY_CITIES:
        return Check(
            "military_form",
            state in MILITARY_STATES and city in MILITARY_CITIES,
            "APO/FPO/DPO with AA, AE or AP",
        )
    return None


@functools.lru_cache(maxsize=65_536)
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
    if parts.po_box:
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
