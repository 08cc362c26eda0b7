"""The letter lint: reads a rendered letter's text before it is released.

Rules (a failure holds the letter with reason `lint:<rule>`):
- `prohibited:<id>`: a prohibited phrase (data file) in the letter's own text;
- `suit_time_barred`: words of suit in a letter about a time-barred debt;
- `missing:<item>`: a required item of the letter's kind is absent;
- `amounts`: a dollar amount that is not one of the account figures, or the total missing;
- `window`: anything but the addresses and the mail-service endorsement inside a window area
  (grown by the insert's play) on the first page;
- `false_history`, `attorney_demand`, `representative_liability`, `english_in_spanish`: the
  wording rules of `letters.render.wording`.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources

from letters.intake.envelope import WindowProfile
from letters.render.renderer import TextRun
from letters.render.wording import wording_failures

_SPACES = re.compile(r"\s+")
_AMOUNT = re.compile(r"(?<![\w$])-?\$\s?\d[\d,]*\.\d{2}\b")


@dataclass(frozen=True, slots=True)
class Phrase:
    """A prohibited phrase from the data file."""

    id: str
    pattern: re.Pattern[str]
    unless_action: str
    suit: bool


@functools.cache
def prohibited_phrases() -> tuple[Phrase, ...]:
    """The shipped prohibited-phrase list."""
    text = resources.files("letters").joinpath("data/prohibited_phrases.toml").read_text("utf-8")
    return tuple(
        Phrase(
            p["id"],
            re.compile(p["pattern"], re.IGNORECASE),
            p.get("unless_action", ""),
            bool(p.get("suit", False)),
        )
        for p in tomllib.loads(text)["phrase"]
    )


@dataclass(frozen=True, slots=True)
class LintSpec:
    """What a letter must and must not say."""

    required: tuple[tuple[str, str], ...]  # (item id, text that must appear)
    amounts: frozenset[str]  # every dollar figure the letter may show, as printed
    total: str  # the amount due, as printed
    intended_actions: tuple[str, ...]
    time_barred: bool
    exempt: tuple[str, ...]  # required disclosures, names and addresses: not checked for phrases
    earlier_letters: int = 0  # earlier letters to this recipient in this cycle, from the state
    role: str = "debtor"  # debtor, attorney, representative
    kind: str = "demand"  # validation, demand, hardship
    language: str = "en"
    spanish_from: str = ""  # where the Spanish pages of a combined notice start ("": all pages)
    window_text: dict[str, tuple[str, ...]] = field(default_factory=dict)  # window -> allowed lines


def normalize(text: str) -> str:
    """Collapse white space and fold case, for comparing texts."""
    return _SPACES.sub(" ", text).strip().casefold()


def _window_failures(runs: Sequence[TextRun], spec: LintSpec, profile: WindowProfile) -> list[str]:
    """Only allowed text near a window; and allowed text wholly inside it, clear of its edges."""
    failures = []
    first_page = [run for run in runs if run.page == 0]
    for name, window in profile.windows().items():
        area = window.grown(profile.play)
        safe = window.shrunk(profile.clearance)
        allowed = [normalize(line) for line in spec.window_text.get(name, ()) if line]
        for run in first_page:
            if not area.intersects(run.x, run.y, run.width, run.height):
                continue
            if not any(normalize(run.text) in line for line in allowed):
                failures.append(f"window: {run.text[:40]!r} shows through the {name} window")
            elif not safe.contains(run.x, run.y, run.width, run.height):
                failures.append(
                    f"window_fit: {run.text[:40]!r} is not 1/8 in inside the {name} window"
                )
    return failures


def _body(runs: Sequence[TextRun], profile: WindowProfile) -> list[TextRun]:
    windows = [window.grown(profile.play) for window in profile.windows().values()]
    return [
        r
        for r in runs
        if not (r.page == 0 and any(w.intersects(r.x, r.y, r.width, r.height) for w in windows))
    ]


def lint_letter(runs: Sequence[TextRun], spec: LintSpec, profile: WindowProfile) -> list[str]:
    """Every rule the letter breaks, as `rule: detail` lines; an empty list means it may go."""
    failures = _window_failures(runs, spec, profile)
    body = normalize(" ".join(run.text for run in _body(runs, profile)))
    full = normalize(" ".join(run.text for run in runs))
    for item, text in spec.required:
        if normalize(text) not in full:
            failures.append(f"missing:{item}: {text[:60]!r} not found")
    own_text = body
    for quoted in sorted(spec.exempt, key=len, reverse=True):
        own_text = own_text.replace(normalize(quoted), " ")
    for phrase in prohibited_phrases():
        match = phrase.pattern.search(own_text)
        if not match:
            continue
        if phrase.suit and spec.time_barred:
            failures.append(
                f"suit_time_barred: {match.group(0)!r} in a letter about a time-barred debt"
            )
        elif not phrase.unless_action or phrase.unless_action not in spec.intended_actions:
            failures.append(f"prohibited:{phrase.id}: {match.group(0)!r}")
    failures += wording_failures(
        runs,
        own_text,
        earlier_letters=spec.earlier_letters,
        role=spec.role,
        kind=spec.kind,
        language=spec.language,
        spanish_from=spec.spanish_from,
        exempt=spec.exempt,
    )
    shown = {_SPACES.sub("", m.group(0)) for m in _AMOUNT.finditer(full)}
    strangers = sorted(shown - spec.amounts)
    if strangers:
        failures.append(f"amounts: {', '.join(strangers)} is not one of the account figures")
    if spec.total not in shown:
        failures.append(f"amounts: the amount due {spec.total} is not shown")
    return failures


def rule_of(failure: str) -> str:
    """The rule part of a failure line: `prohibited:lawsuit`, `window`, `missing:cfpb`..."""
    head = failure.split(": ", 1)[0]
    return head
