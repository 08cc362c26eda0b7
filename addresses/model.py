"""The result types of the address engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

MAX_LINE = 40
UNIT_DESIGNATORS = frozenset(
    [
        "#",
        "APT",
        "BLDG",
        "BSMT",
        "DEPT",
        "FL",
        "FRNT",
        "HNGR",
        "KEY",
        "LBBY",
        "LOT",
        "LOWR",
        "OFC",
        "PH",
        "PIER",
        "REAR",
        "RM",
        "SIDE",
        "SLIP",
        "SPC",
        "STE",
        "STOP",
        "TRLR",
        "UNIT",
        "UPPR",
    ]
)


class ChoiceStatus(StrEnum):
    """Whether an address may be used: `selected`, held for `review`, or `none` usable."""

    SELECTED = "selected"
    REVIEW = "review"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class PostalAddress:
    """A deliverable address in printable form (Pub 28 lines for US addresses)."""

    line1: str
    line2: str
    city: str
    state: str
    zip: str
    country: str

    @property
    def is_foreign(self) -> bool:
        """True for an address outside the United States."""
        return self.country not in ("US", "USA", "")

    def fields(self) -> tuple[str, str, str, str, str, str]:
        """The six fields in column order: line1, line2, city, state, zip, country."""
        return self.line1, self.line2, self.city, self.state, self.zip, self.country

    def lines(self) -> list[str]:
        """The lines below the recipient's name, top to bottom, in Pub 28 order.

        A US secondary unit joins the delivery line when that fits in 40 characters, and otherwise
        goes on the line above it; a foreign address keeps its lines and ends with the country.
        """
        if self.is_foreign:
            out = [self.line1] + ([self.line2] if self.line2 else [])
            last = " ".join(part for part in (self.city, self.state, self.zip) if part)
            return [*out, *([last] if last else []), self.country]
        last_line = f"{self.city} {self.state} {self.zip}".strip()
        if not self.line2:
            return [self.line1, last_line]
        joined = f"{self.line1} {self.line2}"
        if self.line2.split()[0] in UNIT_DESIGNATORS and len(joined) <= MAX_LINE:
            return [joined, last_line]
        return [self.line2, self.line1, last_line]


@dataclass(frozen=True, slots=True)
class AddressChoice:
    """The address chosen for one person, or why none was, with a confidence in [0, 1]."""

    customer_id: str
    status: ChoiceStatus
    address: PostalAddress | None
    confidence: float
    sources: tuple[str, ...] = ()
    runner_up_confidence: float = 0.0
    reasons: tuple[str, ...] = field(default_factory=tuple)
    # the scored candidates (addresses.score.Candidate), best first
    candidates: tuple[Any, ...] = ()
    # `file:line: check: detail; ...` for each report of this person that failed a hard check
    flagged: tuple[str, ...] = ()
    # chosen as the one live address after returned mail: the letter asks USPS for Address
    # Service Requested (DMM 507), so a wrong address comes back with the new one
    address_service_requested: bool = False

    @property
    def reason_codes(self) -> tuple[str, ...]:
        """The codes of `reasons` (the part before the colon)."""
        return tuple(reason.split(":", 1)[0] for reason in self.reasons)
