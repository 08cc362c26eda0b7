"""What standardizing gives: each offline check, the parts of a delivery line, and the address in
Publication 28 form with its parts and checks (built by `addresses.standardize`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from addresses.model import PostalAddress

# Checks whose failure means the address must not be mailed without a person looking at it.
HARD_CHECKS = frozenset(
    {"parse", "state_code", "zip_format", "zip_known", "zip_state", "characters"}
)


@dataclass(frozen=True, slots=True)
class Check:
    """One offline check: its name, whether it passed (None: not applicable), and what was seen."""

    name: str
    passed: bool | None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class StreetParts:
    """The components of a delivery line."""

    number: str = ""
    predir: str = ""
    name: str = ""
    suffix: str = ""
    postdir: str = ""
    unit_type: str = ""
    unit_id: str = ""
    po_box: str = ""
    route: str = ""  # a rural or highway contract route (`RR 3`, `HC 32`) whose box `po_box` is

    def primary_line(self) -> str:
        """The delivery address line without the secondary unit."""
        if self.po_box:
            return f"{self.route or 'PO'} BOX {self.po_box}"
        words = (self.number, self.predir, self.name, self.suffix, self.postdir)
        return " ".join(word for word in words if word)

    def unit_line(self) -> str:
        """The secondary unit, e.g. `APT 4` or `# 12`."""
        return f"{self.unit_type} {self.unit_id}".strip() if self.unit_id else ""


@dataclass(frozen=True, slots=True)
class Standardized:
    """An address in Pub 28 form with its parts, how it was parsed, and every check's result."""

    line1: str
    line2: str
    city: str
    state: str
    zip: str
    country: str
    parts: StreetParts
    parse: str  # fast, usaddress, po_box, rural_route, highway, military, foreign, failed
    checks: tuple[Check, ...] = field(default_factory=tuple)

    @property
    def zip5(self) -> str:
        """The five-digit ZIP, or '' when there is none."""
        return self.zip[:5] if self.country == "US" else ""

    @property
    def is_foreign(self) -> bool:
        """True outside the United States."""
        return self.country != "US"

    @property
    def hard_failures(self) -> tuple[Check, ...]:
        """Failed checks that forbid mailing without review."""
        return tuple(c for c in self.checks if c.passed is False and c.name in HARD_CHECKS)

    @property
    def validity(self) -> float:
        """1.0 when every check passed; less for each soft failure; 0.0 on any hard failure."""
        if self.hard_failures:
            return 0.0
        soft = sum(1 for c in self.checks if c.passed is False)
        return max(0.0, 1.0 - 0.25 * soft)

    def postal_address(self) -> PostalAddress:
        """The printable address."""
        return PostalAddress(self.line1, self.line2, self.city, self.state, self.zip, self.country)
