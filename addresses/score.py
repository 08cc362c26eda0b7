"""Score merged candidates with named factors, and choose one address or say why not.

confidence = clip(sum of factor contributions, 0, 1), with these factors:

| factor | contribution |
| --- | --- |
| source_trust | 0.40 x the highest weight among the sources that report the address |
| agreement | 0.25 x (1 - product of (1 - weight) over the other independent sources that agree) |
| recency | 0.15 x max over reports of 0.5 ** (age / the source's half-life) |
| validity | 0.10 x validity of the standardized form (1 all checks pass, 0 on a hard failure) |
| customer_confirmed | +0.10 when a report has status `verified_by_customer` |
| returned_mail | -0.50 x the strongest return (1 if not reported since, 0.3 if reported since) |
| newer_elsewhere | -0.20 x the trust of a source that reports another address more recently |

More agreeing sources never lower a candidate's confidence (each positive factor is a maximum or a
noisy-or); a returned-mail report always lowers it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from addresses.config import EngineConfig
from addresses.model import AddressChoice, ChoiceStatus
from addresses.standardize import Standardized, StreetParts, standardize

NEGATIVE_STATUSES = frozenset({"returned", "moved", "undeliverable"})
CONFIRMED_STATUS = "verified_by_customer"


@dataclass(frozen=True, slots=True)
class Observation:
    """One report of an address by one source, standardized."""

    source: str
    observed_at: date
    status: str
    standardized: Standardized
    ref: str  # where it came from, e.g. `third_party.csv:14`

    @property
    def negative(self) -> bool:
        """True for returned mail, moved or undeliverable reports."""
        return self.status in NEGATIVE_STATUSES


@dataclass(frozen=True, slots=True)
class Factor:
    """One named part of a confidence, with its contribution and a readable reason."""

    name: str
    contribution: float
    detail: str


@dataclass(frozen=True, slots=True)
class Candidate:
    """One delivery point for one person: its best standardized form and all reports of it."""

    standardized: Standardized
    observations: tuple[Observation, ...]
    confidence: float = 0.0
    factors: tuple[Factor, ...] = ()

    @property
    def positives(self) -> tuple[Observation, ...]:
        """Reports that say the person lives here."""
        return tuple(o for o in self.observations if not o.negative)

    @property
    def usable(self) -> bool:
        """True when a positive report is newer than the last returned-mail report."""
        last_return = max((o.observed_at for o in self.observations if o.negative), default=None)
        newest = self.newest
        return newest is not None and (last_return is None or newest > last_return)

    @property
    def sources(self) -> tuple[str, ...]:
        """The distinct sources that report this address, sorted."""
        return tuple(sorted({o.source for o in self.positives}))

    @property
    def newest(self) -> date | None:
        """The newest positive report's date."""
        return max((o.observed_at for o in self.positives), default=None)


def _vote(values: Sequence[tuple[str, float]]) -> str:
    """The value with the most trust behind it; ties go to the longest, then the smallest."""
    totals: dict[str, float] = defaultdict(float)
    for value, weight in values:
        if value:
            totals[value] += weight
    if not totals:
        return ""
    return max(sorted(totals), key=lambda v: (round(totals[v], 9), len(v)))


def _plausible(form: Standardized) -> bool:
    return all(check.name != "characters" for check in form.hard_failures)


def representative(observations: Sequence[Observation], config: EngineConfig) -> Standardized:
    """The best form of a merged group: each part voted by source trust, then re-standardized."""
    pool = [o for o in observations if not o.negative] or list(observations)
    # A report whose text no address has (`=1+1 Main`) never votes: its cleaned-up parts would
    # compose a valid-looking address. Only such reports: the best of them, still failing.
    plausible = [o for o in pool if _plausible(o.standardized)]
    if not plausible:
        return max(pool, key=lambda o: config.trust(o.source).weight).standardized
    forms = [(o.standardized, config.trust(o.source).weight) for o in plausible]
    first = max(forms, key=lambda f: (f[0].validity, f[1], f[0].line1, f[0].zip))[0]
    if first.is_foreign or first.parse in ("po_box", "military") or not first.parts.number:
        votes = [(f"{s.line1}|{s.line2}|{s.city}|{s.zip}", w) for s, w in forms]
        winner = _vote(votes)
        return next(s for s, _ in forms if f"{s.line1}|{s.line2}|{s.city}|{s.zip}" == winner)
    parts = StreetParts(
        number=first.parts.number,
        predir=_vote([(s.parts.predir, w) for s, w in forms]),
        name=_vote([(s.parts.name, w) for s, w in forms]),
        suffix=_vote([(s.parts.suffix, w) for s, w in forms]),
        postdir=_vote([(s.parts.postdir, w) for s, w in forms]),
        unit_id=_vote([(s.parts.unit_id, w) for s, w in forms]),
    )
    # "#" stands in for an unknown designator: any named one (APT, STE) wins over it.
    unit_type = _vote(
        [(s.parts.unit_type, w if s.parts.unit_type != "#" else w / 100)
         for s, w in forms if s.parts.unit_id == parts.unit_id]
    )  # fmt: skip
    zip5 = _vote([(s.zip5, w) for s, w in forms])
    zip_full = _vote([(s.zip, w) for s, w in forms if s.zip5 == zip5]) or zip5
    city = _vote([(s.city, w) for s, w in forms if s.zip5 == zip5]) or _vote(
        [(s.city, w) for s, w in forms]
    )
    state = _vote([(s.state, w) for s, w in forms])
    unit = f"{unit_type or '#'} {parts.unit_id}" if parts.unit_id else ""
    for member, _ in forms:  # usually one member already has the voted form
        if (member.line1, member.line2, member.city, member.state, member.zip) == (
            parts.primary_line(),
            unit,
            city,
            state,
            zip_full,
        ) and member.validity == 1.0:
            return member
    composed = standardize(parts.primary_line(), unit, city, state, zip_full)
    best_member = max(forms, key=lambda f: f[0].validity)[0]
    return composed if composed.validity >= best_member.validity else best_member


def _decay(age_days: int, half_life: float) -> float:
    return float(0.5 ** (max(age_days, 0) / half_life)) if half_life > 0 else 0.0


def score_candidate(
    candidate: Candidate, others: Sequence[Candidate], config: EngineConfig, as_of: date
) -> Candidate:
    """Return the candidate with its confidence and factor list filled in."""
    factors: list[Factor] = []
    positives = candidate.positives
    weights = {src: config.trust(src).weight for src in {o.source for o in positives}}
    if weights:
        top = max(sorted(weights), key=lambda s: weights[s])
        factors.append(
            Factor("source_trust", 0.40 * weights[top], f"{top} (weight {weights[top]:.2f})")
        )
        rest = [weights[s] for s in sorted(weights) if s != top]
        product = 1.0
        for weight in rest:
            product *= 1.0 - weight
        factors.append(Factor(
            "agreement", 0.25 * (1.0 - product),
            f"{len(rest)} more independent source(s) agree" if rest else "a single source",
        ))  # fmt: skip
        freshest = max(
            positives,
            key=lambda o: (
                _decay((as_of - o.observed_at).days, config.trust(o.source).half_life_days),
                o.ref,
            ),
        )
        fresh = _decay(
            (as_of - freshest.observed_at).days, config.trust(freshest.source).half_life_days
        )
        factors.append(
            Factor(
                "recency", 0.15 * fresh, f"newest from {freshest.source} on {freshest.observed_at}"
            )
        )
    form = candidate.standardized
    failed = [c.name for c in form.checks if c.passed is False]
    factors.append(Factor(
        "validity", 0.10 * form.validity,
        "every check passed" if not failed else "failed: " + ", ".join(failed),
    ))  # fmt: skip
    if any(o.status == CONFIRMED_STATUS for o in positives):
        factors.append(Factor("customer_confirmed", 0.10, "the customer confirmed this address"))
    negatives = [o for o in candidate.observations if o.negative]
    if negatives:
        newest_positive = candidate.newest
        last_return = max(negatives, key=lambda o: (o.observed_at, o.ref))
        unanswered = newest_positive is None or last_return.observed_at >= newest_positive
        factors.append(Factor(
            "returned_mail", -0.50 * (1.0 if unanswered else 0.3),
            f"{last_return.status} on {last_return.observed_at}"
            + ("" if unanswered else "; reported again since"),
        ))  # fmt: skip
    newest = candidate.newest
    newer = [
        o for other in others if other is not candidate for o in other.positives
        if newest is None or o.observed_at > newest
    ]  # fmt: skip
    if newer and positives:
        strongest = max(newer, key=lambda o: (config.trust(o.source).weight, o.observed_at, o.ref))
        weight = config.trust(strongest.source).weight
        factors.append(Factor(
            "newer_elsewhere", -0.20 * weight,
            f"{strongest.source} reports another address on {strongest.observed_at}",
        ))  # fmt: skip
    total = min(1.0, max(0.0, sum(f.contribution for f in factors)))
    return Candidate(form, candidate.observations, round(total, 4), tuple(factors))


def choose(
    customer_id: str, candidates: Sequence[Candidate], config: EngineConfig
) -> AddressChoice:
    """Choose the best usable candidate, or say why the person goes to review or has none."""
    usable = sorted(
        (c for c in candidates if c.usable),
        key=lambda c: (-c.confidence, c.standardized.line1, c.standardized.zip),
    )
    if not usable:
        reason = (
            "all_returned: mail to every known address came back, with no newer report of it"
            if candidates
            else "no_address: no address reported"
        )
        return AddressChoice(
            customer_id,
            ChoiceStatus.NONE,
            None,
            0.0,
            reasons=(reason,),
            candidates=tuple(candidates),
        )
    best, form = usable[0], usable[0].standardized
    runner = usable[1].confidence if len(usable) > 1 else 0.0

    def outcome(status: ChoiceStatus, reason: str) -> AddressChoice:
        return AddressChoice(
            customer_id, status, form.postal_address(), best.confidence, best.sources, runner,
            (reason,), tuple(usable),
        )  # fmt: skip

    if form.hard_failures:
        failed = ", ".join(f"{c.name} ({c.detail})" for c in form.hard_failures)
        return outcome(ChoiceStatus.REVIEW, f"invalid_address: {failed}")
    if best.confidence < config.select_threshold:
        return outcome(
            ChoiceStatus.REVIEW,
            f"low_confidence: best is {best.confidence:.3f}, below {config.select_threshold:.3f}",
        )
    if best.confidence - runner < config.min_margin:
        return outcome(
            ChoiceStatus.REVIEW,
            f"ambiguous: {len(usable)} addresses, best {best.confidence:.3f} vs {runner:.3f}",
        )
    return outcome(
        ChoiceStatus.SELECTED,
        f"selected: reported by {', '.join(best.sources)}; confidence {best.confidence:.2f}"
        f" vs runner-up {runner:.2f}",
    )
