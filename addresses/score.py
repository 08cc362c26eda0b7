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
| reviewer_chosen | 0 (a rule, below): a report has status `verified_by_reviewer` |
| sole_candidate_after_return | 0 (a rule, below): added by `choose` when that rule selects |

More agreeing sources never lower a candidate's confidence (each positive factor is a maximum or a
noisy-or); a returned-mail report always lowers it.

Two rules select a candidate whatever its confidence and lead (never one that fails a hard check):

- `reviewer_chosen`: a person chose or corrected this address (a report with status
  `verified_by_reviewer`, dated the day of the decision) and no newer evidence contradicts it: no
  returned-mail report of it on or after that day, and no live positive report of another address
  dated after it. Contradicted, the factor stays listed (with what contradicts it) and ordinary
  scoring applies.
- `sole_candidate_after_return` (unless `[choice] after_return = "review"`): mail to the known
  address(es) came back, every other candidate is unusable, and a source of at least third-party
  trust (weight >= 0.5) reported this address after the last report of any returned one and within
  its half-life. The choice asks for USPS Address Service Requested, so a wrong address comes back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from addresses.config import EngineConfig
from addresses.forms import Standardized, StreetParts
from addresses.model import AddressChoice, ChoiceStatus
from addresses.standardize import standardize

NEGATIVE_STATUSES = frozenset({"returned", "moved", "undeliverable"})
CONFIRMED_STATUS = "verified_by_customer"
REVIEWER_STATUS = "verified_by_reviewer"
SKIP_TRACE_MIN_WEIGHT = 0.5  # "at least third-party trust": the default `third_party` weight


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


def _decision_order(o: Observation) -> tuple[date, int, str]:
    """Reviewer decisions by day, then by decision id (`review:12` after `review:9`)."""
    number = o.ref.rsplit(":", 1)[-1]
    return o.observed_at, int(number) if number.isdigit() else -1, o.ref


def _live_positives(candidate: Candidate) -> tuple[Observation, ...]:
    """Positive reports not answered by a later returned-mail report of the same address."""
    last_return = max((o.observed_at for o in candidate.observations if o.negative), default=None)
    return tuple(
        o for o in candidate.positives if last_return is None or o.observed_at > last_return
    )


def reviewer_decision(
    candidate: Candidate, others: Sequence[Candidate]
) -> tuple[Observation | None, str]:
    """A reviewer's latest choice of this address, and what newer evidence contradicts it.

    Contradicting: a returned-mail report of this address on or after the decision day, or a live
    positive report of another address dated after it. ("" when the choice stands.)
    """
    chosen = [o for o in candidate.observations if o.status == REVIEWER_STATUS]
    if not chosen:
        return None, ""
    decision = max(chosen, key=_decision_order)
    day = decision.observed_at
    returns = [o for o in candidate.observations if o.negative and o.observed_at >= day]
    if returns:
        last = max(returns, key=lambda o: (o.observed_at, o.ref))
        return decision, f"{last.status} on {last.observed_at}"
    newer = [
        o for other in others if other is not candidate
        for o in _live_positives(other) if o.observed_at > day
    ]  # fmt: skip
    if newer:
        last = max(newer, key=lambda o: (o.observed_at, o.ref))
        return decision, f"{last.source} reports another address on {last.observed_at}"
    return decision, ""


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
    decision, contradiction = reviewer_decision(candidate, others)
    if decision is not None:
        detail = f"chosen by a reviewer on {decision.observed_at} ({decision.ref})"
        factors.append(Factor(
            "reviewer_chosen", 0.0,
            detail + (f"; contradicted: {contradiction}" if contradiction else ""),
        ))  # fmt: skip
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


def _reviewer_choice(candidates: Sequence[Candidate]) -> tuple[Candidate, Observation] | None:
    """The usable, valid candidate a reviewer chose last, when no newer evidence contradicts it."""
    standing = []
    for candidate in candidates:
        decision, contradiction = reviewer_decision(candidate, candidates)
        valid = candidate.usable and not candidate.standardized.hard_failures
        if decision is not None and not contradiction and valid:
            standing.append((candidate, decision))
    return max(standing, key=lambda pair: _decision_order(pair[1])) if standing else None


def _sole_after_return(
    best: Candidate, candidates: Sequence[Candidate], config: EngineConfig, as_of: date | None
) -> str:
    """Why `best` is the one live address after returned mail, reported fresh by a trusted
    source (see the module's rules); "" when it is not."""
    others = [c for c in candidates if c is not best]
    returned = [c for c in others if any(o.negative for o in c.observations)]
    if config.after_return != "select" or not returned or any(c.usable for c in others):
        return ""
    old_news = max((c.newest for c in returned if c.newest), default=date.min)
    today = as_of or max(o.observed_at for c in candidates for o in c.observations)
    fresh = [
        o for o in best.positives
        if config.trust(o.source).weight >= SKIP_TRACE_MIN_WEIGHT and o.observed_at > old_news
        and (today - o.observed_at).days <= config.trust(o.source).half_life_days
    ]  # fmt: skip
    if not fresh:
        return ""
    report = max(fresh, key=lambda o: (o.observed_at, o.ref))
    came_back = max(o.observed_at for c in returned for o in c.observations if o.negative)
    return (
        f"mail to another address came back on {came_back}; {report.source} reported this one"
        f" on {report.observed_at} and nothing contradicts it"
    )


def _ranked(candidates: Sequence[Candidate]) -> list[Candidate]:
    return sorted(
        (c for c in candidates if c.usable),
        key=lambda c: (-c.confidence, c.standardized.line1, c.standardized.zip),
    )


def choose(
    customer_id: str,
    candidates: Sequence[Candidate],
    config: EngineConfig,
    as_of: date | None = None,
) -> AddressChoice:
    """Choose the best usable candidate, or say why the person goes to review or has none.

    `as_of` dates the freshness of a report after returned mail (default: the newest report).
    """
    usable = _ranked(candidates)
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
    reviewed = _reviewer_choice(candidates)
    if reviewed is not None:
        chosen, decision = reviewed
        rest = [c for c in usable if c is not chosen]
        return AddressChoice(
            customer_id, ChoiceStatus.SELECTED, chosen.standardized.postal_address(),
            chosen.confidence, chosen.sources, max((c.confidence for c in rest), default=0.0),
            (f"selected: chosen by a reviewer on {decision.observed_at} ({decision.ref})",),
            (chosen, *rest),
        )  # fmt: skip
    choice = _by_score(customer_id, usable, config)
    best = usable[0]
    if choice.status is ChoiceStatus.REVIEW and not best.standardized.hard_failures:
        why = _sole_after_return(best, candidates, config, as_of)
        if why:
            marked = replace(
                best, factors=(*best.factors, Factor("sole_candidate_after_return", 0.0, why))
            )
            return replace(
                choice,
                status=ChoiceStatus.SELECTED,
                reasons=(f"selected: sole_candidate_after_return: {why}",),
                candidates=(marked, *usable[1:]),
                address_service_requested=True,
            )
    return choice


def _by_score(customer_id: str, usable: list[Candidate], config: EngineConfig) -> AddressChoice:
    """The ordinary rule: the best candidate if valid, confident enough and clearly ahead."""
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
