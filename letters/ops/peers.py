"""Peer suites: test data other projects wrote, run through our address engine.

- usaddress-scourgify's own unit-test expectations (`scourgify_cases.csv`): our Pub 28 lines
  against theirs, less the deliberate differences (`deliberate_differences.csv`, each with the
  Pub 28 section that says we are right);
- usaddress's labelled test addresses (`usaddress_labeled.xml`): our parsed parts against the
  labels, one component at a time, both sides normalized the same way;
- the Fodors-Zagat restaurants (`fodors_zagat.csv`): dedupe on the street address alone (no ZIP,
  no city), as `letters bench` runs it on the Chicago sites, against the labelled pairs, beside
  an exact-match baseline; and once more with the city column, which without a ZIP must agree.

The data and their source notes are in `tests/data/peers/`.
"""

from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scourgify.address_constants import STATE_ABBREVIATIONS, STREET_TYPE_ABBREVIATIONS

from addresses.batch import DedupeColumns, dedupe_file, pair_scores
from addresses.forms import Standardized
from addresses.standardize import standardize
from addresses.ziptable import city_key, zip_table

PEERS_DIR = Path(__file__).resolve().parents[2] / "tests" / "data" / "peers"
SCOURGIFY_CASES = "scourgify_cases.csv"
DELIBERATE = "deliberate_differences.csv"
USADDRESS_XML = "usaddress_labeled.xml"
FODORS_ZAGAT = "fodors_zagat.csv"
FIELDS = ("line1", "line2", "city", "state", "zip")
DELIBERATE_COLUMNS = ("case_id", "ours", "theirs", "pub28_section", "why")
COMPONENTS = ("house_number", "street_name", "unit", "po_box", "city", "state", "zip")
# Components scored wherever either side has a value (an invented unit is an error); the others
# only where the label has one (filling a missing city from the ZIP table is no error).
EITHER_SIDE = frozenset({"house_number", "street_name", "unit", "po_box"})
NAME_LABELS = frozenset({"StreetNamePreModifier", "StreetNamePreType", "StreetName"})
NUMBER_LABELS = frozenset({"AddressNumberPrefix", "AddressNumber", "AddressNumberSuffix"})

_NOT_WORD = re.compile(r"[^A-Z0-9]+")
_ORDINAL = re.compile(r"^(\d+)(?:ST|ND|RD|TH)$")
_BOX_LINE = re.compile(r"^(?:PO BOX|RR|HC)\b")
_ZIP = re.compile(r"^(\d{5})(?:-?\d{4})?$")
_SPELLED: dict[str, int] = {
    word: n
    for n, word in enumerate(
        ["FIRST", "SECOND", "THIRD", "FOURTH", "FIFTH", "SIXTH", "SEVENTH", "EIGHTH", "NINTH",
         "TENTH", "ELEVENTH", "TWELFTH", "THIRTEENTH", "FOURTEENTH", "FIFTEENTH", "SIXTEENTH",
         "SEVENTEENTH", "EIGHTEENTH", "NINETEENTH"],
        start=1,
    )
}  # fmt: skip
_TENS = {
    word: 10 * n
    for n, word in enumerate(
        ["TWENTY", "THIRTY", "FORTY", "FIFTY", "SIXTY", "SEVENTY", "EIGHTY", "NINETY"], start=2
    )
}
_TENS_ORDINAL = {word[:-1] + "IETH": n for word, n in _TENS.items()}


# ---- shared normalization (applied the same way to our side and to theirs) ----


def plain(text: str) -> str:
    """Upper case, periods dropped (`U.S.` -> `US`), other punctuation a space, single spaces."""
    return " ".join(_NOT_WORD.sub(" ", text.upper().replace(".", "")).split())


def _numbered(tokens: list[str]) -> list[str]:
    """Ordinals as bare numbers: `7TH`, `SEVENTH` and `TWENTY THIRD` -> `7`, `7`, `23`."""
    out: list[str] = []
    for token in tokens:
        ordinal = _ORDINAL.match(token)
        if ordinal:
            out.append(ordinal[1])
        elif token in _SPELLED or token in _TENS_ORDINAL:
            value = _SPELLED.get(token) or _TENS_ORDINAL[token]
            if out and out[-1] in _TENS and token in _SPELLED and value < 10:
                value += _TENS[out.pop()]
            out.append(str(value))
        else:
            out.append(token)
    return out


def name_key(name: str) -> str:
    """A street name for comparison: `plain`, ordinals as numbers, suffix words abbreviated."""
    words = _numbered(plain(name).split())
    return " ".join(STREET_TYPE_ABBREVIATIONS.get(word, word) for word in words)


def state_key(state: str) -> str:
    """A state name or code as its two-letter code."""
    text = plain(state)
    return str(STATE_ABBREVIATIONS.get(text, text))


# ---- usaddress-scourgify's unit-test expectations ----


@dataclass(frozen=True, slots=True)
class PeerCase:
    """One scourgify assertion: the address given and the five fields it expects back."""

    case_id: str
    given: tuple[str, str, str, str, str]
    expected: tuple[str, str, str, str, str]
    source_test: str


@dataclass(frozen=True, slots=True)
class Difference:
    """A case where our fields differ from the expected ones (`joined` form: `a | b | ...`)."""

    case_id: str
    given: str
    ours: str
    theirs: str


@dataclass(frozen=True, slots=True)
class ScourgifyResult:
    """Agreement with scourgify's expectations, the deliberate differences left out."""

    cases: int
    agreeing: int
    deliberate: int
    differences: tuple[Difference, ...]

    @property
    def agreement(self) -> float:
        return self.agreeing / self.cases if self.cases else 1.0


def joined(fields: Iterable[str]) -> str:
    """Fields as one comparable text: `123 NOWHERE ST | STE 0 | BORING | OR | 97009`."""
    return " | ".join(fields)


def _five(row: dict[str, str], prefix: str = "") -> tuple[str, str, str, str, str]:
    line1, line2, city, state, zip_code = (row[prefix + name] for name in FIELDS)
    return line1, line2, city, state, zip_code


def read_scourgify_cases(data_dir: Path = PEERS_DIR) -> list[PeerCase]:
    """The scourgify cases, in file order."""
    with (data_dir / SCOURGIFY_CASES).open(encoding="utf-8", newline="") as handle:
        return [
            PeerCase(row["case_id"], _five(row), _five(row, "expected_"), row["source_test"])
            for row in csv.DictReader(handle)
        ]


def read_deliberate(data_dir: Path = PEERS_DIR) -> list[dict[str, str]]:
    """The table of deliberate differences from scourgify (columns `DELIBERATE_COLUMNS`)."""
    with (data_dir / DELIBERATE).open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != DELIBERATE_COLUMNS:
            raise ValueError(f"{DELIBERATE}: columns must be {', '.join(DELIBERATE_COLUMNS)}")
        return list(reader)


def our_fields(case: PeerCase) -> tuple[str, str, str, str, str]:
    """Our five fields for a case's input (the ZIP as its five digits, like theirs)."""
    form = standardize(*case.given)
    return form.line1, form.line2, form.city, form.state, form.zip[:5]


def expected_fields(case: PeerCase) -> tuple[str, str, str, str, str]:
    """Scourgify's five fields for a case (the ZIP as its five digits)."""
    line1, line2, city, state, zip_code = case.expected
    return line1, line2, city, state, zip_code[:5]


def run_scourgify(data_dir: Path = PEERS_DIR) -> ScourgifyResult:
    """Every scourgify case through `standardize`; the deliberate differences left out."""
    deliberate = {row["case_id"] for row in read_deliberate(data_dir)}
    scored = [case for case in read_scourgify_cases(data_dir) if case.case_id not in deliberate]
    differences = tuple(
        Difference(case.case_id, joined(case.given), joined(ours), joined(theirs))
        for case in scored
        if (ours := our_fields(case)) != (theirs := expected_fields(case))
    )
    return ScourgifyResult(
        len(scored), len(scored) - len(differences), len(deliberate), differences
    )


# ---- usaddress's labelled addresses ----


@dataclass(frozen=True, slots=True)
class Labelled:
    """One labelled address: its text and its tokens in order, each with its label."""

    text: str
    tokens: tuple[tuple[str, str], ...]

    def words(self, labels: Iterable[str]) -> str:
        """The words of the given labels, in the order written."""
        wanted = set(labels)
        return " ".join(token for label, token in self.tokens if label in wanted)

    def has(self, label: str) -> bool:
        return any(tag == label for tag, _ in self.tokens)


@dataclass(frozen=True, slots=True)
class Miss:
    """A component where we and the label disagree (both as compared)."""

    component: str
    address: str
    ours: str
    theirs: str


@dataclass(slots=True)
class UsaddressResult:
    """Per component: addresses compared and agreeing; every miss; routes given an ordinal."""

    addresses: int = 0
    compared: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COMPONENTS, 0))
    agreeing: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COMPONENTS, 0))
    misses: list[Miss] = field(default_factory=list)
    routes: int = 0
    route_ordinalized: int = 0

    def score(self, component: str) -> float:
        compared = self.compared[component]
        return self.agreeing[component] / compared if compared else 1.0


def read_labelled(data_dir: Path = PEERS_DIR) -> list[Labelled]:
    """The labelled addresses of usaddress's XML, in file order."""
    root = ET.parse(data_dir / USADDRESS_XML).getroot()
    return [
        Labelled(
            " ".join("".join(element.itertext()).split()),
            tuple((child.tag, (child.text or "").strip()) for child in element),
        )
        for element in root
    ]


def _box_truth(address: Labelled) -> str:
    """The Pub 28 box line the labels describe: `PO BOX 12`, `RR 3 BOX 212`, `HC 32 BOX 5`."""
    box = plain(address.words(["USPSBoxID"]))
    if not box:
        return ""
    group = plain(address.words(["USPSBoxGroupType"])).replace(" ", "")
    if not group:
        return f"PO BOX {box}"
    route = plain(address.words(["USPSBoxGroupID"]))
    kind = "RR" if group.startswith(("RR", "RURAL", "RFD", "RT", "ROUTE")) else "HC"
    return f"{kind} {route} BOX {box}"


def route_number(address: Labelled) -> str:
    """The number of a labelled highway or route (`US Hwy 50` -> `50`), else ''."""
    if not address.has("StreetNamePreType"):
        return ""
    numbers = [w for w in plain(address.words(["StreetName"])).split() if w.isdigit()]
    return numbers[0] if numbers else ""


def ordinalized(number: str, our_name: str) -> bool:
    """Our street name gives this route number an ordinal (`50` -> `50TH`)."""
    return any(
        (m := _ORDINAL.match(word)) is not None and m[1] == number
        for word in plain(our_name).split()
    )


def _city_pair(address: Labelled, form: Standardized, zip5: str) -> tuple[str, str]:
    """Our city and the labelled one; ours counts as theirs when the ZIP table accepts it for the
    labelled ZIP (`WEST PALM BEACH` for `W PALM BEACH`, the preferred `MOSCOW` for a township)."""
    ours, theirs = city_key(form.city), city_key(address.words(["PlaceName"]))
    info = zip_table().get(zip5) if zip5 else None
    if theirs and ours and info is not None and ours in info.cities:
        return theirs, theirs
    return ours, theirs


def component_pairs(address: Labelled, form: Standardized) -> dict[str, tuple[str, str]]:
    """(ours, theirs) per component, each side normalized the same way.

    A labelled ZIP that is no ZIP (`606001`) is no truth to compare with.
    """
    parts = form.parts
    our_box = plain(form.line1) if parts.po_box or _BOX_LINE.match(form.line1) else ""
    zip_label = _ZIP.match(address.words(["ZipCode"]).strip(" ,.").replace(" ", ""))
    zip5 = zip_label[1] if zip_label else ""
    return {
        "house_number": (plain(parts.number), plain(address.words(NUMBER_LABELS))),
        "street_name": (name_key(parts.name), name_key(address.words(NAME_LABELS))),
        "unit": (plain(parts.unit_id), plain(address.words(["OccupancyIdentifier"]))),
        "po_box": (our_box, _box_truth(address)),
        "city": _city_pair(address, form, zip5),
        "state": (state_key(form.state), state_key(address.words(["StateName"]))),
        "zip": (form.zip5, zip5),
    }


def run_usaddress(data_dir: Path = PEERS_DIR) -> UsaddressResult:
    """Each labelled address, whole, through `standardize`; compared per component."""
    result = UsaddressResult()
    for address in read_labelled(data_dir):
        result.addresses += 1
        form = standardize(address.text)
        route = route_number(address)
        wrong_route = bool(route) and ordinalized(route, form.parts.name)
        result.routes += bool(route)
        result.route_ordinalized += wrong_route
        for component, (ours, theirs) in component_pairs(address, form).items():
            if not theirs and not (ours and component in EITHER_SIDE):
                continue
            result.compared[component] += 1
            if ours == theirs and not (component == "street_name" and wrong_route):
                result.agreeing[component] += 1
            else:
                shown = form.parts.name if component == "street_name" else ours
                result.misses.append(Miss(component, address.text, shown, theirs))
    return result


# ---- Fodors-Zagat: address-only dedupe against the labelled pairs ----


@dataclass(frozen=True, slots=True)
class PairScores:
    """Pairwise precision and recall of a clustering against the labelled duplicate pairs."""

    precision: float
    recall: float
    pairs_found: int
    true_pairs: int


def fodors_zagat_rows(data_dir: Path = PEERS_DIR) -> list[dict[str, str]]:
    """The 864 restaurant records (`id, name, addr, city, phone, type, cluster`)."""
    with (data_dir / FODORS_ZAGAT).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def fz_clusters(work_dir: Path, data_dir: Path = PEERS_DIR, with_city: bool = False) -> list[str]:
    """Each restaurant's cluster from `letters addresses dedupe` (what `bench_dedupe` runs on the
    Chicago sites) given the street address alone, or with the city column too."""
    columns = DedupeColumns("id", "addr", None, "city" if with_city else None, None)
    out = work_dir / f"fodors-zagat-clusters{'-city' if with_city else ''}.csv"
    return dedupe_file(data_dir / FODORS_ZAGAT, out, columns).cluster_of


def fz_dedupe(work_dir: Path, data_dir: Path = PEERS_DIR, with_city: bool = False) -> PairScores:
    """Our dedupe's pairs against the labelled ones."""
    truth = [row["cluster"] for row in fodors_zagat_rows(data_dir)]
    return PairScores(*pair_scores(fz_clusters(work_dir, data_dir, with_city), truth))


def fz_pair_misses(
    work_dir: Path, data_dir: Path = PEERS_DIR, with_city: bool = False
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(labelled pairs we missed, pairs we made that are not labelled), each as the two records'
    `addr, city` texts: what the rules must fix (or what the labels cap)."""
    rows = fodors_zagat_rows(data_dir)
    ours = fz_clusters(work_dir, data_dir, with_city)

    def pairs(labels: list[str]) -> set[tuple[int, int]]:
        members: dict[str, list[int]] = {}
        for index, label in enumerate(labels):
            if label:
                members.setdefault(label, []).append(index)
        return {(a, b) for group in members.values() for a in group for b in group if a < b}

    found, true = pairs(ours), pairs([row["cluster"] for row in rows])

    def shown(pair_set: set[tuple[int, int]]) -> list[tuple[str, str]]:
        def text(i: int) -> str:
            return f"{rows[i]['addr']}, {rows[i]['city']}"

        return [(text(a), text(b)) for a, b in sorted(pair_set)]

    return shown(true - found), shown(found - true)


def fz_exact(data_dir: Path = PEERS_DIR) -> PairScores:
    """The baseline: records whose street address reads the same once `plain` go together."""
    rows = fodors_zagat_rows(data_dir)
    keys = [plain(row["addr"]) for row in rows]
    return PairScores(*pair_scores(keys, [row["cluster"] for row in rows]))


def bench_peers(work_dir: Path, data_dir: Path = PEERS_DIR) -> dict[str, Any]:
    """The peer suites' figures for `letters bench` (`peers_*`, `fz_*`)."""
    if not (data_dir / SCOURGIFY_CASES).is_file():
        return {"peers_skipped": f"{data_dir} not found"}
    scourgify = run_scourgify(data_dir)
    labelled = run_usaddress(data_dir)
    ours, exact = fz_dedupe(work_dir, data_dir), fz_exact(data_dir)
    with_city = fz_dedupe(work_dir, data_dir, with_city=True)
    figures: dict[str, Any] = {
        "peers_scourgify_agreement": round(scourgify.agreement, 4),
        "peers_scourgify_cases": scourgify.cases,
        "peers_scourgify_deliberate": scourgify.deliberate,
    }
    for component in COMPONENTS:
        figures[f"peers_usaddress_{component}"] = round(labelled.score(component), 4)
    figures["peers_route_ordinalized"] = labelled.route_ordinalized
    figures |= {
        "fz_dedupe_precision": round(ours.precision, 4),
        "fz_dedupe_recall": round(ours.recall, 4),
        "fz_exact_precision": round(exact.precision, 4),
        "fz_exact_recall": round(exact.recall, 4),
        "fz_city_dedupe_precision": round(with_city.precision, 4),
        "fz_city_dedupe_recall": round(with_city.recall, 4),
        "fz_true_pairs": ours.true_pairs,
    }
    return figures
