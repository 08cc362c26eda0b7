"""The result types of the address engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


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

    def lines(self) -> list[str]:
        """The delivery lines below the recipient's name, top to bottom."""
        out = [self.line1] + ([self.line2] if self.line2 else [])
        if self.is_foreign:
            last = " ".join(part for part in (self.city, self.state, self.zip) if part)
            return [*out, *([last] if last else []), self.country]
        return [*out, f"{self.city} {self.state} {self.zip}".strip()]


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
