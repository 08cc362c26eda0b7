"""The bundled ZIP table (from the `zipcodes` package): ZIP -> state and accepted city names."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import zipcodes

_NON_WORD = re.compile(r"[^A-Z0-9 ]+")
CITY_WORDS = {"ST": "SAINT", "STE": "SAINTE", "MT": "MOUNT", "FT": "FORT", "PT": "POINT"}


@dataclass(frozen=True, slots=True)
class ZipInfo:
    """What the table knows of one ZIP code."""

    state: str
    city: str  # the USPS preferred city name, upper case
    cities: frozenset[str]  # every accepted name, normalized with `city_key`
    kind: str  # STANDARD, PO BOX, UNIQUE or MILITARY


@functools.lru_cache(maxsize=65_536)
def city_key(city: str) -> str:
    """A city name reduced for comparison: upper case, no punctuation, ST -> SAINT and the like."""
    words = _NON_WORD.sub(" ", city.upper()).split()
    return " ".join(CITY_WORDS.get(word, word) for word in words)


Place = tuple[str, str]  # a state and the city_key of a USPS preferred city name


@functools.cache
def _load() -> tuple[dict[str, ZipInfo], dict[str, frozenset[Place]]]:
    """The ZIP table, and for every city name the table lists (preferred, acceptable or not
    acceptable, like `NEW YORK CITY` or `NYC`) the preferred cities it names, by state.

    `filter_by()` gives fresh rows that are dropped once read (`list_all()` would keep all 42,000
    full records, about 150 MiB, alive in the zipcodes module for the life of the process).
    """
    table: dict[str, ZipInfo] = {}
    places: dict[str, set[Place]] = {}
    for row in zipcodes.filter_by():  # type: ignore[no-untyped-call]
        if not row["active"]:
            continue
        names = {city_key(row["city"]), *(city_key(c) for c in row["acceptable_cities"])}
        table[row["zip_code"]] = ZipInfo(
            state=row["state"],
            city=row["city"].upper(),
            cities=frozenset(names),
            kind=row["zip_code_type"],
        )
        place = (row["state"], city_key(row["city"]))
        for name in names | {city_key(c) for c in row["unacceptable_cities"]}:
            places.setdefault(name, set()).add(place)
    return table, {name: frozenset(found) for name, found in places.items()}


def zip_table() -> dict[str, ZipInfo]:
    """ZIP5 -> `ZipInfo` for every active ZIP in the bundled table (loaded once per process)."""
    return _load()[0]


def _places(city: str, state: str) -> frozenset[Place]:
    key = city_key(city)
    found = _load()[1].get(key, frozenset())
    if state:
        found = frozenset(p for p in found if p[0] == state)
    return found or frozenset({(state, key)})


@functools.lru_cache(maxsize=65_536)
def cities_agree(city_a: str, state_a: str, city_b: str, state_b: str) -> bool:
    """True when two city names may name one place: equal, either missing, or names the ZIP
    table lists for the same preferred city (`NEW YORK CITY` and `NEW YORK`; `HOLLYWOOD` and
    `LOS ANGELES`, CA), in the same state where both are known."""
    key_a, key_b = city_key(city_a), city_key(city_b)
    if not key_a or not key_b or key_a == key_b:
        return True
    if state_a and state_b and state_a != state_b:
        return False
    return not _places(city_a, state_a).isdisjoint(_places(city_b, state_b))
