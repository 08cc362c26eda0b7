"""A first, simple address rule: the newest observation that no returned mail contradicts.

The scored multi-source engine replaces it; it returns the same `AddressChoice`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

from addresses.model import AddressChoice, ChoiceStatus, PostalAddress
from addresses.records import SourceRecord

NEGATIVE_STATUSES = frozenset({"returned", "moved", "undeliverable"})
_NON_WORD = re.compile(r"[^A-Z0-9 ]+")


def _clean(text: str) -> str:
    return " ".join(_NON_WORD.sub(" ", text.upper()).split())


def _address(record: SourceRecord) -> PostalAddress:
    return PostalAddress(
        line1=_clean(record.line1),
        line2=_clean(record.line2),
        city=_clean(record.city),
        state=_clean(record.state),
        zip=record.zip.strip()[:10],
        country=_clean(record.country) or "US",
    )


def choose_simple(customer_id: str, records: Iterable[SourceRecord]) -> AddressChoice:
    """Choose the newest address no later return contradicts; a tie or nothing is not mailed."""
    groups: dict[PostalAddress, list[SourceRecord]] = defaultdict(list)
    for record in records:
        groups[_address(record)].append(record)
    usable: list[tuple[PostalAddress, list[SourceRecord]]] = []
    for address, seen in groups.items():
        positive = [r.observed_at for r in seen if r.status not in NEGATIVE_STATUSES]
        negative = [r.observed_at for r in seen if r.status in NEGATIVE_STATUSES]
        if positive and (not negative or max(positive) > max(negative)):
            usable.append((address, seen))
    if not usable:
        return AddressChoice(customer_id, ChoiceStatus.NONE, None, 0.0, reasons=("no_address",))
    usable.sort(key=lambda item: max(r.observed_at for r in item[1]), reverse=True)
    best, best_seen = usable[0]
    sources = tuple(sorted({r.source for r in best_seen}))
    confidence = min(1.0, 0.5 + 0.2 * len(sources))
    if len(usable) > 1:
        newest = max(r.observed_at for r in best_seen)
        if newest == max(r.observed_at for r in usable[1][1]):
            return AddressChoice(
                customer_id,
                ChoiceStatus.REVIEW,
                best,
                confidence,
                sources,
                confidence,
                ("ambiguous: two addresses observed on the same newest day",),
            )
    return AddressChoice(customer_id, ChoiceStatus.SELECTED, best, confidence, sources)
