"""How right the address engine is on generated data: `resolved.csv` against the ground truth.

A debtor's true address is *knowable* when some positive report in the feeds (not returned mail,
not dated after the as-of day) gives its delivery point; an engine can only be asked to find those.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from addresses.config import EngineConfig
from addresses.csvio import Reject
from addresses.engine import address_key
from addresses.forms import Standardized
from addresses.merge import names_match
from addresses.records import iter_source_file
from addresses.score import NEGATIVE_STATUSES
from addresses.standardize import standardize

AFTER_RETURN_REASON = "selected: sole_candidate_after_return"


def _form(row: dict[str, str]) -> Standardized:
    return standardize(
        row["line1"], row["line2"], row["city"], row["state"], row["zip"], row["country"]
    )


def same_point(a: Standardized, t: Standardized) -> tuple[bool, bool]:
    """(the Pub 28 lines equal, the same delivery point) of a form and the true one."""
    exact = (a.line1, a.line2, a.zip5 or a.zip, a.country) == (
        t.line1,
        t.line2,
        t.zip5 or t.zip,
        t.country,
    )
    pa, pt = a.parts, t.parts
    same = exact or (
        a.country == t.country == "US"
        and (pa.number, pa.predir, pa.suffix, pa.postdir, pa.unit_id, a.zip5)
        == (pt.number, pt.predir, pt.suffix, pt.postdir, pt.unit_id, t.zip5)
        and names_match(pa.name, pt.name)
    )
    return exact, same


def unit_missing(a: Standardized, t: Standardized) -> bool:
    """The form is the true delivery point but for the unit, which it lacks."""
    pa, pt = a.parts, t.parts
    return (
        bool(pt.unit_id)
        and not pa.unit_id
        and (pa.number, pa.predir, pa.suffix, pa.postdir, a.zip5)
        == (pt.number, pt.predir, pt.suffix, pt.postdir, t.zip5)
        and names_match(pa.name, pt.name)
    )


def read_truth(truth_path: Path) -> dict[str, Standardized]:
    """Each debtor's true address, standardized."""
    with truth_path.open(encoding="utf-8", newline="") as handle:
        return {row["customer_id"]: _form(row) for row in csv.DictReader(handle)}


def knowable(
    source_paths: Sequence[Path], truth: dict[str, Standardized], config: EngineConfig, as_of: date
) -> set[str]:
    """The debtors whose true delivery point a positive report in the feeds gives."""
    found: set[str] = set()
    for source_path in source_paths:
        for record in iter_source_file(source_path, config):
            if isinstance(record, Reject) or record.customer_id in found:
                continue
            if record.status in NEGATIVE_STATUSES or record.observed_at > as_of:
                continue
            true = truth.get(record.customer_id)
            if true is not None and same_point(standardize(*address_key(record)), true)[1]:
                found.add(record.customer_id)
    return found


def address_accuracy(
    resolved_path: Path, truth_path: Path, knowable_ids: set[str] | None = None
) -> dict[str, Any]:
    """Compare `resolved.csv` with the sample's ground truth.

    `selected_exact`: the Pub 28 lines equal the truth's. `selected_delivery_point`: the same
    delivery point (number, directionals, suffix, unit, ZIP equal; street name at most one typo
    away), which is what decides where the letter lands when every source misspelled the street.
    With `knowable_ids`: the wrong selections (all; where a feed gave the true address; where only
    the unit is missing) and the holds, measured against what the feeds knew.
    """
    truth = read_truth(truth_path)
    counts: Counter[str] = Counter()
    with resolved_path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            status, known = row["status"], row["customer_id"] in (knowable_ids or ())
            counts[status] += 1
            counts["knowable"] += known
            counts["knowable_review"] += known and status == "review"
            counts["after_return"] += row["reasons"].startswith(AFTER_RETURN_REASON)
            if status == "selected":
                form, true = _form(row), truth[row["customer_id"]]
                exact, same = same_point(form, true)
                counts["exact"] += exact
                counts["delivery_point"] += same
                counts["wrong"] += not same
                counts["wrong_knowable"] += known and not same
                counts["wrong_unit"] += not same and unit_missing(form, true)
    people = sum(counts[s] for s in ("selected", "review", "none")) or 1
    selected = counts["selected"] or 1
    figures = {
        "people": people,
        "review_rate": round(counts["review"] / people, 4),
        "none_rate": round(counts["none"] / people, 4),
        "selected_exact": round(counts["exact"] / selected, 4),
        "selected_delivery_point": round(counts["delivery_point"] / selected, 4),
    }
    if knowable_ids is not None:
        figures |= {
            "wrong_selected_rate": round(counts["wrong"] / people, 4),
            "wrong_selected_knowable_rate": round(counts["wrong_knowable"] / people, 4),
            "wrong_selected_unit_missing_rate": round(counts["wrong_unit"] / people, 4),
            "knowable_rate": round(counts["knowable"] / people, 4),
            "knowable_review_rate": round(counts["knowable_review"] / (counts["knowable"] or 1), 4),
            "after_return_selected_rate": round(counts["after_return"] / people, 4),
        }
    return figures
