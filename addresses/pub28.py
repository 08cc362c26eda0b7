"""USPS Publication 28 rules the general parser gets wrong, as data tables and small rules.

Each table or rule names its section of Pub 28 (June 2020 / October 2023 editions). They work on
cleaned text (`standardize.clean`: upper case, no punctuation but `# / -`) and are tried before
the fast parser and usaddress, so a route number never becomes an ordinal or an apartment and a
rural route never becomes a PO Box.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# §237 Highways: the highway's designator and number are the street name, written out; the number
# never takes an ordinal (`US HIGHWAY 50`, not `50TH`). Variants as written -> the form printed.
HIGHWAYS: dict[str, str] = {
    "US HIGHWAY": "US HIGHWAY", "US HWY": "US HIGHWAY", "US HY": "US HIGHWAY",
    "USHWY": "US HIGHWAY", "U S HIGHWAY": "US HIGHWAY", "U S HWY": "US HIGHWAY",
    "UNITED STATES HIGHWAY": "US HIGHWAY", "US": "US", "U S": "US",
    "US ROUTE": "US ROUTE", "US RTE": "US ROUTE",
    "U S ROUTE": "US ROUTE", "US RT": "US ROUTE",
    "STATE HIGHWAY": "STATE HIGHWAY", "STATE HWY": "STATE HIGHWAY", "ST HWY": "STATE HIGHWAY",
    "STATE ROUTE": "STATE ROUTE", "STATE RTE": "STATE ROUTE", "ST RTE": "STATE ROUTE",
    "ST RT": "STATE ROUTE", "SR": "STATE ROUTE", "STATE ROAD": "STATE ROAD",
    "STATE RD": "STATE ROAD", "ST RD": "STATE ROAD",
    "COUNTY ROAD": "COUNTY ROAD", "COUNTY RD": "COUNTY ROAD", "CO RD": "COUNTY ROAD",
    "CNTY RD": "COUNTY ROAD", "CR": "COUNTY ROAD", "COUNTY HIGHWAY": "COUNTY HIGHWAY",
    "COUNTY HWY": "COUNTY HIGHWAY", "CO HWY": "COUNTY HIGHWAY",
    "FARM TO MARKET ROAD": "FM", "FARM TO MARKET RD": "FM", "FARM TO MARKET": "FM",
    "FARM ROAD": "FM", "FM ROAD": "FM", "FM RD": "FM", "F M": "FM", "FM": "FM",
    "RANCH ROAD": "RANCH ROAD", "RANCH RD": "RANCH ROAD", "RANCH TO MARKET ROAD": "RANCH ROAD",
    "INTERSTATE HIGHWAY": "INTERSTATE", "INTERSTATE": "INTERSTATE", "IH": "INTERSTATE",
    "I": "INTERSTATE",
    "HIGHWAY": "HIGHWAY", "HWY": "HIGHWAY", "HY": "HIGHWAY", "HIWAY": "HIGHWAY",
    "ROUTE": "ROUTE", "RTE": "ROUTE", "RT": "ROUTE", "PR": "PR",  # PR: a Puerto Rico road
    "BUSINESS": "BUSINESS",  # "BUSINESS 150": a business route, named by its highway's number
}  # fmt: skip
# §237 (and Appendix C1 for the words): a highway's business, bypass, alternate or spur route
HIGHWAY_MODIFIERS = {
    "BUSINESS": "BUSINESS", "BUS": "BUSINESS", "BYPASS": "BYPASS", "BYP": "BYPASS",
    "ALTERNATE": "ALTERNATE", "ALT": "ALTERNATE", "SPUR": "SPUR", "LOOP": "LOOP",
    "TRUCK": "TRUCK", "EXTENSION": "EXTENSION", "EXT": "EXTENSION",
}  # fmt: skip
_LONGEST_HIGHWAY = max(len(k.split()) for k in HIGHWAYS)
_HIGHWAY_WORDS = frozenset(word for k in HIGHWAYS for word in k.split())
# the last word of a designator, whose number stays bare wherever the line is parsed
_ROUTE_WORDS = frozenset(k.split()[-1] for k in HIGHWAYS if k not in ("I", "RD", "ROAD")) | {
    "INTERSTATE"
}
_ROUTE_NUMBER = re.compile(r"^\d{1,4}[A-Z]?$")

# §24 Rural routes: `RR 2 BOX 152`; RFD, RD, RURAL ROUTE and the like become RR (§244-245), the
# route number loses its leading zeros (§242) and no hyphen joins route and box (§243).
# §25 Highway contract routes: `HC 68 BOX 23A`; HCR, STAR ROUTE and the like become HC (§254-255).
RURAL: dict[str, str] = {
    "RR": "RR", "R R": "RR", "RURAL ROUTE": "RR", "RURAL RTE": "RR", "RURAL RT": "RR",
    "RFD": "RR", "R F D": "RR", "RFD ROUTE": "RR", "RURAL FREE DELIVERY": "RR", "RD": "RR",
    "RT": "RR", "RTE": "RR", "ROUTE": "RR",
    "HC": "HC", "H C": "HC", "HCR": "HC", "HC R": "HC", "HC ROUTE": "HC", "HC RTE": "HC",
    "HIGHWAY CONTRACT": "HC", "HIGHWAY CONTRACT ROUTE": "HC", "HIGHWAY CONTRACT RTE": "HC",
    "HIGHWAY CONTRACT RT": "HC", "HWY CONTRACT": "HC", "HWY CONTRACT ROUTE": "HC",
    "HWY CONTRACT RTE": "HC", "STAR ROUTE": "HC", "STAR RTE": "HC", "STAR RT": "HC",
}  # fmt: skip
_RURAL = re.compile(
    r"^(?P<kind>" + "|".join(sorted(map(re.escape, RURAL), key=len, reverse=True)) + r")"
    r" ?(?:# ?)?(?P<route>\d{1,4}[A-Z]?)(?: ?- ?| BOX # ?| BOX | # | )"
    r"(?P<box>[A-Z]?\d+[A-Z]?(?:-[A-Z0-9]+)?)$"
)
_RURAL_HEAD = re.compile(_RURAL.pattern.removesuffix("$") + r"\b")
_BOX_FIRST = re.compile(r"^(?:BOX|#) ?(?P<box>[A-Z]?\d+[A-Z]?) (?P<rest>.+)$")

# §235 Numeric street names: a spelled ordinal is written as a number with its ending.
UNITS_ORDINAL = {
    "FIRST": 1, "SECOND": 2, "THIRD": 3, "FOURTH": 4, "FIFTH": 5, "SIXTH": 6, "SEVENTH": 7,
    "EIGHTH": 8, "NINTH": 9, "TENTH": 10, "ELEVENTH": 11, "TWELFTH": 12, "THIRTEENTH": 13,
    "FOURTEENTH": 14, "FIFTEENTH": 15, "SIXTEENTH": 16, "SEVENTEENTH": 17, "EIGHTEENTH": 18,
    "NINETEENTH": 19, "TWENTIETH": 20, "THIRTIETH": 30, "FORTIETH": 40, "FIFTIETH": 50,
    "SIXTIETH": 60, "SEVENTIETH": 70, "EIGHTIETH": 80, "NINETIETH": 90,
}  # fmt: skip
TENS = {
    "TWENTY": 20, "THIRTY": 30, "FORTY": 40, "FIFTY": 50, "SIXTY": 60, "SEVENTY": 70,
    "EIGHTY": 80, "NINETY": 90,
}  # fmt: skip

_SPELLED = frozenset(UNITS_ORDINAL) | frozenset(TENS)

# §233 Directionals: hyphenated and two-word forms are one directional (`SOUTH-WEST` -> `SW`).
_COMPASS = {"NORTH": "N", "SOUTH": "S", "EAST": "E", "WEST": "W", "N": "N", "S": "S"}
TWO_WORD_DIRECTIONALS = {
    f"{a}{sep}{b}": _COMPASS[a] + {"EAST": "E", "WEST": "W"}[b]
    for a in ("NORTH", "SOUTH")
    for b in ("EAST", "WEST")
    for sep in ("-", " ")
}
TWO_WORD_DIRECTIONALS |= {"N-E": "NE", "N-W": "NW", "S-E": "SE", "S-W": "SW"}

# Text that is clearly no part of the delivery address: cross streets ("BETWEEN 90TH AND 91ST
# STS", "BTWN ...") and anything in parentheses; removed and recorded, never kept in the name.
_CROSS_STREET = re.compile(r"\s+\b(?:BETWEEN|BTWN|BTW|BET)\b\s+\S.*\b(?:AND|&)\b.*$", re.IGNORECASE)
_NEAR = re.compile(
    r"\s+\b(?:NEAR|OFF|AT)\b\s+\S.*\b(?:ST|STS|STREET|AVE|AVENUE|RD|ROAD|BLVD|DR|PL|WAY|PKWY)\.?$",
    re.IGNORECASE,
)
_PARENTHESES = re.compile(r"\s*\([^)]*\)")


@dataclass(frozen=True, slots=True)
class Highway:
    """A street line on a highway: its house number, directionals, name, and unit words left."""

    number: str
    predir: str
    name: str
    postdir: str
    rest: list[str]  # what follows (a unit, or nothing)


def without_cross_streets(text: str) -> tuple[str, list[str]]:
    """The line without cross-street text or parenthesized remarks, and what was removed."""
    upper = text.upper()
    hints = ("(", "BET", "BTW", " NEAR ", " OFF ", " AT ")
    if not any(hint in upper for hint in hints):
        return text, []  # the common case, without a regular expression
    removed = []
    for pattern in (_PARENTHESES, _CROSS_STREET, _NEAR):
        found = pattern.search(text)
        if found and len(text[: found.start()].split()) >= 2:  # a number and a name stay
            removed.append(found.group(0).strip())
            text = (text[: found.start()] + text[found.end() :]).strip()
    return text, removed


def tidy(text: str) -> str:
    """A cleaned line with its directionals joined (§233) and `I-95` split (§237)."""
    if "-" not in text and "EAST" not in text and "WEST" not in text:
        return text  # the common case, untouched
    return " ".join(directionals(split_route_token(text.split())))


def directionals(tokens: list[str]) -> list[str]:
    """Tokens with hyphenated and two-word directionals joined (§233)."""
    out: list[str] = []
    for token in tokens:
        if "-" in token and token in TWO_WORD_DIRECTIONALS:
            out.append(TWO_WORD_DIRECTIONALS[token])
        elif out and f"{out[-1]} {token}" in TWO_WORD_DIRECTIONALS:
            out[-1] = TWO_WORD_DIRECTIONALS[f"{out[-1]} {token}"]
        else:
            out.append(token)
    return out


def spelled_ordinals(words: list[str]) -> list[str]:
    """Words with a spelled ordinal street name written as a number (§235): `SEVENTH` -> `7TH`,
    `TWENTY THIRD` or `TWENTY-THIRD` -> `23RD`."""
    if _SPELLED.isdisjoint(words) and not any("-" in word for word in words):
        return words  # the common case
    out: list[str] = []
    for word in words:
        tens, _, unit = word.partition("-")
        if unit and tens in TENS and UNITS_ORDINAL.get(unit, 10) < 10:
            out.append(ordinal(str(TENS[tens] + UNITS_ORDINAL[unit])))
        elif word in UNITS_ORDINAL:
            value = UNITS_ORDINAL[word]
            if out and out[-1] in TENS and value < 10:
                value += TENS[out.pop()]
            out.append(ordinal(str(value)))
        else:
            out.append(word)
    return out


def ordinal(number: str) -> str:
    """A number with its ordinal ending: 1ST, 2ND, 3RD, 11TH, 113TH."""
    value = int(number)
    if value % 100 in (11, 12, 13):
        return f"{number}TH"
    return number + {1: "ST", 2: "ND", 3: "RD"}.get(value % 10, "TH")


def rural_route(text: str) -> tuple[str, str] | None:
    """`RR 3 BOX 212` / `HC 32 BOX 5` in their Pub 28 form (§24-25): the route (`RR 3`) and the
    box; None when the line is no rural or highway contract route."""
    if text[:1] not in ("R", "H", "S", "B", "#"):
        return None  # a street line starts with its number
    first = _BOX_FIRST.match(text)
    if first:  # "BOX 212 RR 3"
        text = f"{first['rest']} BOX {first['box']}"
    text = re.sub(r"^(RR|HC|HCR|RFD)(\d)", r"\1 \2", text)
    found = _RURAL.match(text)
    if found is None:
        return None
    kind = RURAL[found["kind"]]
    if kind == "RR" and found["kind"] in ("RT", "RTE", "ROUTE", "RD") and "BOX" not in text:
        return None  # "ROUTE 9 12" is no rural route box
    return f"{kind} {found['route'].lstrip('0') or '0'}", found["box"]


def rural_head(text: str) -> bool:
    """True when the line starts as a rural or contract route box, with more words after it."""
    return text[:1] in ("R", "H", "S") and _RURAL_HEAD.match(text) is not None


def highway(tokens: list[str], directions: dict[str, str]) -> Highway | None:
    """A line on a highway (§237), e.g. `701 U S HIGHWAY 1`, `100 COUNTY ROAD 100 N`; None when
    the line is not one."""
    if len(tokens) < 3 or not tokens[0][:1].isdigit() or _HIGHWAY_WORDS.isdisjoint(tokens[1:4]):
        return None
    number, at = tokens[0], 1
    predir = ""
    if tokens[at] in directions and len(tokens) > at + 2:
        predir, at = directions[tokens[at]], at + 1
    for size in range(min(_LONGEST_HIGHWAY, len(tokens) - at - 1), 0, -1):
        words = " ".join(tokens[at : at + size])
        if words not in HIGHWAYS:
            continue
        route = tokens[at + size]
        if not _ROUTE_NUMBER.match(route):
            continue
        name = f"{HIGHWAYS[words]} {route}"
        rest = tokens[at + size + 1 :]
        if rest and rest[0] in HIGHWAY_MODIFIERS:
            name, rest = f"{name} {HIGHWAY_MODIFIERS[rest[0]]}", rest[1:]
        postdir = ""
        if rest and rest[0] in directions:
            postdir, rest = directions[rest[0]], rest[1:]
        return Highway(number, predir, name, postdir, rest)
    return None


def route_number(words: list[str], at: int) -> bool:
    """True when `words[at]` is a highway's number (it follows a designator: `ROUTE 9`)."""
    return at > 0 and words[at - 1] in _ROUTE_WORDS


def split_route_token(tokens: list[str]) -> list[str]:
    """`I-95` or `SR-50` as two tokens, so the highway rule sees the designator and number."""
    out: list[str] = []
    for token in tokens:
        head, _, tail = token.partition("-")
        if tail and head in HIGHWAYS and _ROUTE_NUMBER.match(tail):
            out += [head, tail]
        else:
            out.append(token)
    return out
