"""The bundled ZIP table (from the `zipcodes` package): ZIP -> state, accepted city names and time
zone."""

from __future__ import annotations

import functools
import json
import os
import re
import tempfile
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zipcodes

_NON_WORD = re.compile(r"[^A-Z0-9 ]+")
CACHE_FORMAT = 2  # raise when what `_build` writes changes
CITY_WORDS = {"ST": "SAINT", "STE": "SAINTE", "MT": "MOUNT", "FT": "FORT", "PT": "POINT"}


@dataclass(frozen=True, slots=True)
class ZipInfo:
    """What the table knows of one ZIP code."""

    state: str
    city: str  # the USPS preferred city name, upper case
    cities: frozenset[str]  # every accepted name, normalized with `city_key`
    kind: str  # STANDARD, PO BOX, UNIQUE or MILITARY
    timezone: str = ""  # the IANA zone of the ZIP (`America/Chicago`); empty when unknown


# entries per memo of the address code: the repeats that pay are near each other (one person's
# reports are grouped), so 4,096 resolve as fast as 65,536 did, and a batch's memos stay a few MB
# instead of growing with it (193,000 records: 278 MB at peak instead of 334)
MEMO_SIZE = 4_096


@functools.lru_cache(maxsize=MEMO_SIZE)
def city_key(city: str) -> str:
    """A city name reduced for comparison: upper case, no punctuation, ST -> SAINT and the like."""
    words = _NON_WORD.sub(" ", city.upper()).split()
    return " ".join(CITY_WORDS.get(word, word) for word in words)


Place = tuple[str, str]  # a state and the city_key of a USPS preferred city name


def _cache_path() -> Path:
    """Where the table, as this module builds it, is kept between processes: the user's cache,
    named by the zipcodes release and this format (a new release builds it again)."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    version = getattr(zipcodes, "__version__", "unknown")
    return root / "letters" / f"ziptable-{version}-{CACHE_FORMAT}.json"


def _build() -> dict[str, Any]:
    """The table from the zipcodes package (about half a second): ZIPs and city names.

    `filter_by()` gives fresh rows that are dropped once read (`list_all()` would keep all 42,000
    full records, about 150 MiB, alive in the zipcodes module for the life of the process).
    """
    zips: dict[str, list[Any]] = {}
    places: dict[str, set[tuple[str, str]]] = {}
    for row in zipcodes.filter_by():  # type: ignore[no-untyped-call]
        if not row["active"]:
            continue
        names = {city_key(row["city"]), *(city_key(c) for c in row["acceptable_cities"])}
        zips[row["zip_code"]] = [
            row["state"],
            row["city"].upper(),
            sorted(names),
            row["zip_code_type"],
            row.get("timezone") or "",
        ]
        place = (row["state"], city_key(row["city"]))
        for name in names | {city_key(c) for c in row["unacceptable_cities"]}:
            places.setdefault(name, set()).add(place)
    return {
        "zips": zips,
        "places": {name: [list(p) for p in sorted(found)] for name, found in places.items()},
    }


def _cached() -> dict[str, Any]:
    """The built table, read from the cache when it is there and sound, else built and saved
    (owner-only, written whole or not at all); a cache that cannot be written is no error."""
    path = _cache_path()
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data.get("zips"), dict) and isinstance(data.get("places"), dict):
            return data
    except (OSError, ValueError):
        pass
    data = _build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, encoding="utf-8",
                                         prefix=".tmp-", suffix=".json") as handle:  # fmt: skip
            json.dump(data, handle, separators=(",", ":"))
        os.replace(handle.name, path)
    except OSError:
        pass
    return data


@functools.cache
def _load() -> tuple[dict[str, ZipInfo], dict[str, list[list[str]]]]:
    """The ZIP table, and for every city name the table lists (preferred, acceptable or not
    acceptable, like `NEW YORK CITY` or `NYC`) the preferred cities it names, as [state, city]
    pairs, made into sets only when a name is looked up (`_places`): few of the 40,000 ever
    are, and building them all made a process that loads the table 13 MB larger."""
    data = _cached()
    table = {
        zip5: ZipInfo(state, city, frozenset(names), kind, zone)
        for zip5, (state, city, names, kind, zone) in data["zips"].items()
    }
    return table, data["places"]


def zip_table() -> dict[str, ZipInfo]:
    """ZIP5 -> `ZipInfo` for every active ZIP in the bundled table (loaded once per process)."""
    return _load()[0]


def _places(city: str, state: str) -> frozenset[Place]:
    key = city_key(city)
    found = frozenset(
        (named_state, named_city)
        for named_state, named_city in _load()[1].get(key, ())
        if not state or named_state == state
    )
    return found or frozenset({(state, key)})


@functools.lru_cache(maxsize=MEMO_SIZE)
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


@functools.cache
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def time_zone(zip_code: str) -> str:
    """The IANA time zone of a ZIP (`America/Chicago`), or "" when the table has none that this
    system knows (military ZIPs have none; the table names a few zones no database does)."""
    info = zip_table().get(zip_code[:5])
    zone = info.timezone if info is not None else ""
    return zone if zone in _zone_names() else ""
