"""The review queue's stored forms: a held debtor's candidates and accounts, as JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from typing import Any

from addresses.model import AddressChoice, PostalAddress
from addresses.score import Candidate
from letters.model import Account

_DATES = frozenset({"itemization_date", "due_date"})
_MONEY = frozenset(
    {"amount_at_itemization", "interest_since", "fees_since", "payments_since", "balance"}
)


@dataclass(frozen=True, slots=True)
class CandidateView:
    """One candidate address of a held debtor, as a reviewer reads it."""

    rank: int
    confidence: float
    address: PostalAddress
    sources: tuple[str, ...]
    factors: tuple[tuple[str, float, str], ...]  # name, contribution, detail
    failed_checks: tuple[str, ...]  # `name: detail` of every failed check
    invalid: bool  # a hard check failed: never mailed as it is

    def factor_lines(self) -> list[str]:
        """Each factor as `name +0.123 (detail)`."""
        return [f"{name} {value:+.3f} ({detail})" for name, value, detail in self.factors]


def candidates_json(choice: AddressChoice) -> str:
    """The engine's candidates for a held debtor, best first, as JSON."""
    items = []
    for rank, candidate in enumerate(choice.candidates, start=1):
        assert isinstance(candidate, Candidate)
        form = candidate.standardized
        items.append({
            "rank": rank,
            "confidence": candidate.confidence,
            "address": list(form.postal_address().fields()),
            "sources": list(candidate.sources),
            "factors": [[f.name, f.contribution, f.detail] for f in candidate.factors],
            "failed_checks": [f"{c.name}: {c.detail}" for c in form.checks if c.passed is False],
            "invalid": bool(form.hard_failures),
        })  # fmt: skip
    return json.dumps(items, separators=(",", ":"))


def candidates_from_json(text: str) -> tuple[CandidateView, ...]:
    """The candidates as stored by `candidates_json`."""
    return tuple(
        CandidateView(
            rank=int(item["rank"]),
            confidence=float(item["confidence"]),
            address=PostalAddress(*(str(part) for part in item["address"])),
            sources=tuple(item["sources"]),
            factors=tuple((str(n), float(v), str(d)) for n, v, d in item["factors"]),
            failed_checks=tuple(item["failed_checks"]),
            invalid=bool(item["invalid"]),
        )
        for item in json.loads(text)
    )


def _plain(value: object) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def accounts_json(accounts: list[Account]) -> str:
    """A debtor's accounts as JSON (dates ISO, money as decimal strings)."""
    return json.dumps(
        [{f.name: _plain(getattr(a, f.name)) for f in fields(Account)} for a in accounts],
        separators=(",", ":"),
    )


def accounts_from_json(text: str) -> tuple[Account, ...]:
    """The accounts as stored by `accounts_json`."""
    out = []
    for item in json.loads(text):
        values = dict(item)
        for name in _DATES:
            values[name] = date.fromisoformat(values[name])
        for name in _MONEY:
            values[name] = Decimal(values[name])
        out.append(Account(**values))
    return tuple(out)
