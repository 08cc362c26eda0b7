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


@functools.cache
def zip_table() -> dict[str, ZipInfo]:
    """ZIP5 -> `ZipInfo` for every active ZIP in the bundled table (loaded once per process).

    `filter_by()` gives fresh rows that are dropped once read (`list_all()` would keep all 42,000
    full records, about 150 MiB, alive in the zipcodes module for the life of the process).
    """
    table: dict[str, ZipInfo] = {}
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
    return table
