"""What an events import reports, shared by the mail (`reconcile`) and e-mail (`email_events`)
imports."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from addresses.csvio import Reject


@dataclass(slots=True)
class ReconcileReport:
    """What an import did, and what it could not use."""

    rows: int = 0
    imported: int = 0
    duplicates: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    out_of_order: list[str] = field(default_factory=list)
    evidence: int = 0
    rejects: list[Reject] = field(default_factory=list)
    batches: dict[str, Counter[str]] = field(default_factory=dict)


def when(text: str) -> str:
    """An ISO date or date-time, normalized; ValueError otherwise."""
    value = text.strip()
    if len(value) == 10:
        return date.fromisoformat(value).isoformat()
    return datetime.fromisoformat(value).isoformat(timespec="seconds")
