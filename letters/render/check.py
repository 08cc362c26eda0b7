"""The template check a run makes before any letter: every template the run can use, rendered to a
PDF with sample data through the real renderer, in a child process with a time and memory limit.

It lints nothing. It fails, naming the template and line, on any template error, a sandbox
escape, a missing or refused include, recursion, a resource fetched from outside the templates
folder, or a render that runs out of time or memory.
"""

from __future__ import annotations

import functools
import hashlib
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType
from typing import cast

from addresses.model import AddressChoice, ChoiceStatus
from addresses.standardize import standardize
from letters.decide.gates import decide_customer
from letters.errors import TemplateError
from letters.intake.accounts import account_from_values
from letters.intake.calendar import validation_end_date
from letters.intake.policy import Policy
from letters.model import EarlierLetter, History, LetterSpec, Recipient
from letters.processes import become_child
from letters.render.articles import ACCOUNTABLE, PostalMarks
from letters.render.content import letter_content
from letters.render.renderer import STYLESHEET_NAME, Renderer, line_of
from letters.render.sandbox import LimitExceeded

_PASSED: set[str] = set()  # checks passed in this process (a run checks once; tests run many)
CODE_ROOTS = ("letters", "addresses")  # the code a check's outcome depends on, with the templates
CHECK_PROCESSES = 2  # the samples are shared out over this many children (at most one a core)
CHECK_SECONDS = 30.0  # the whole check; the shipped templates take about a second
CHECK_MEMORY_BYTES = 1 << 30  # address space the check may add to the caller's
KILL_GRACE_SECONDS = 5.0  # after the time limit, how long before the child is killed

PREVIEW_ARTICLE = "9400111201080805483016"  # the reference's example: never a real piece
PREVIEW_IMB = ("00270123456000000001", "606141234")
SAMPLE_ACCOUNT = {
    "account_id": "SAMPLE-1", "customer_id": "SAMPLE", "full_name": "Ada Lovelace",
    "creditor": "Lakeside Community Credit Union", "account_number": "4111111111111234",
    "itemization_date": "2026-08-01", "amount_at_itemization": "1000.00", "interest_since": "12.34",
    "fees_since": "25.00", "payments_since": "100.00", "balance": "937.34",
    "due_date": "2026-08-15",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Sample:
    """One letter the check renders: a template for one recipient, language and mail class."""

    template: str
    policy: Policy
    letter: LetterSpec
    choice: AddressChoice


def sample_choice(customer_id: str = "SAMPLE") -> AddressChoice:
    """A selected sample address in Chicago."""
    form = standardize("123 N Main St", "Apt 4", "Chicago", "IL", "60614-1234")
    return AddressChoice(
        customer_id, ChoiceStatus.SELECTED, form.postal_address(), 1.0, ("sample",)
    )


def sample_marks(letter: LetterSpec, policy: Policy) -> PostalMarks:
    """Example postal marks (never real numbers) for a letter of this mail class."""
    article = PREVIEW_ARTICLE if letter.mail_class in ACCOUNTABLE else ""
    tracking, routing = PREVIEW_IMB if policy.imb.mailer_id else ("", "")
    return PostalMarks(article, tracking, routing)


def template_kind(policy: Policy, template: str) -> str:
    """`hardship`, `validation` or `demand`: the letter kind a template is written for."""
    kinds = {Path(policy.templates.hardship).name: "hardship",
             Path(policy.templates.validation).name: "validation"}  # fmt: skip
    return kinds.get(Path(template).name, "demand")


def collector_policy(policy: Policy) -> Policy:
    """The policy as a debt collector's (validation notices exist only for them)."""
    return replace(policy, sender=replace(policy.sender, kind="debt_collector"))


def _base_letter(policy: Policy, as_of: date) -> tuple[LetterSpec, AddressChoice]:
    due = as_of - timedelta(days=max(policy.stages[0].min_days, 1) if policy.stages else 30)
    values = dict(SAMPLE_ACCOUNT, due_date=due.isoformat(),
                  itemization_date=(due - timedelta(days=14)).isoformat())  # fmt: skip
    choice = sample_choice()
    # every template is checked as a letter, whatever channels its stage uses
    lettered = tuple(replace(stage, channels=("letter",)) for stage in policy.stages)
    outcome = decide_customer(
        [account_from_values(values, 0)],
        choice,
        replace(policy, stages=lettered),
        as_of,
        History(),
        lambda _name: False,
    )
    if not outcome.letters:
        reason = outcome.decisions[0].reason_code if outcome.decisions else "none"
        raise TemplateError(f"template check: the sample account gets no letter ({reason})")
    return outcome.letters[0], choice


def _recipients(letter: LetterSpec) -> Iterator[tuple[Recipient, dict[str, object]]]:
    """The debtor, an attorney and a representative, each with other letter flags set: the
    debtor's letter is a first one; the others follow an earlier letter of the cycle (so both
    wordings of `letter.has_earlier_letters` and both forms of a Spanish validation notice, with
    and without the English one, are rendered)."""
    earlier = EarlierLetter(
        "CHECK-0", letter.mail_date - timedelta(days=30), "reminder", "demand", "", letter.key.cycle
    )
    yield letter.recipient, {}
    office = standardize("77 W Wacker Dr", "Ste 4100", "Chicago", "IL", "60601").postal_address()
    yield (
        Recipient("Grace Hopper", "attorney", office, 1.0, ("input",)),
        {"large_print": True, "time_barred": True, "earlier": (replace(earlier, role="attorney"),),
         "english_notice_before": True},
    )  # fmt: skip
    yield (
        Recipient("Charles Babbage", "representative", office, 1.0, ("input",)),
        {"first_contact": False, "earlier": (replace(earlier, role="representative"),),
         "payment_plan_offered": True},
    )  # fmt: skip


def samples(renderer: Renderer, policy: Policy, names: list[str], as_of: date) -> list[Sample]:
    """Every letter variant the check renders for these templates: English and Spanish (where the
    Spanish template exists), for the debtor, an attorney and a representative."""
    base, choice = _base_letter(policy, as_of)
    folder = policy.templates.spanish_folder
    stages = {stage.template: stage for stage in policy.stages}
    found = []
    for name in names:
        english = name.removeprefix(f"{folder}/")
        variants = [("es", name)] if name.startswith(f"{folder}/") else [("en", name)]
        if not name.startswith(f"{folder}/") and renderer.template_exists(f"{folder}/{name}"):
            variants.append(("es", f"{folder}/{name}"))
        kind = template_kind(policy, english)
        stage = stages.get(english, policy.stages[-1] if policy.stages else base.stage)
        as_policy = collector_policy(policy) if kind == "validation" else policy
        end = validation_end_date(base.mail_date, policy.rules.validation_extra_days)
        for language, template in variants:
            for recipient, flags in _recipients(base):
                letter = replace(
                    base, template=template, language=language, kind=kind, stage=stage,
                    mail_class=stage.mail_class, recipient=recipient,
                    validation_end_date=end if kind == "validation" else None,
                    **flags,  # type: ignore[arg-type]
                )  # fmt: skip
                found.append(Sample(template, as_policy, letter, choice))
    return found


def _render_sample(renderer: Renderer, sample: Sample) -> str | None:
    """Render one sample to a PDF; a one-line failure, or None."""
    letter = sample.letter
    marks = sample_marks(letter, sample.policy)
    content = letter_content("CHECK", sample.policy, letter, sample.choice, marks)
    renderer.fetcher.refused.clear()
    try:
        renderer.render(letter.template, content.context, "CHECK")
    except TemplateError as exc:
        if not renderer.fetcher.refused:
            return str(exc)
    if renderer.fetcher.refused:
        return _refusal(renderer, letter.template)
    return None


def _refusal(renderer: Renderer, template: str) -> str:
    """A refused fetch, at the line of the template (or what it uses) that asks for it."""
    url, reason = renderer.fetcher.refused[0]
    root = renderer.templates_dir
    files = [root / name for name in renderer.template_files(template)] + [root / STYLESHEET_NAME]
    where = line_of(url, files, root) or template
    return f"{where}: template resource refused: {url}: {reason}"


def _check_all(renderer: Renderer, policy: Policy, names: list[str], as_of: date,
               part: tuple[int, int], started: Callable[[str], None]) -> str | None:  # fmt: skip
    renderer.check_templates(names)
    index, parts = part
    for sample in samples(renderer, policy, names, as_of)[index::parts]:
        started(sample.template)
        problem = _render_sample(renderer, sample)
        if problem:
            return problem
    return None


def check_templates(
    renderer: Renderer,
    policy: Policy,
    as_of: date,
    names: list[str] | None = None,
    seconds: float = CHECK_SECONDS,
    memory_bytes: int = CHECK_MEMORY_BYTES,
) -> None:
    """Render every template the run can use (`policy.all_templates()`, or `names`) with sample
    data, in a child process limited to `seconds` and `memory_bytes` more address space; raise
    `TemplateError` naming the template and line at the first failure."""
    names = names if names is not None else policy.all_templates()
    key = _check_key(renderer, policy, names, as_of, (seconds, memory_bytes))
    if key in _PASSED or _passed_before(key):
        _PASSED.add(key)
        return  # the very same templates, policy, date and code passed already
    parts = min(CHECK_PROCESSES, os.cpu_count() or 1)
    context = multiprocessing.get_context("fork")
    children: list[tuple[Connection, BaseProcess]] = []
    try:
        for index in range(parts):
            reader, writer = context.Pipe(duplex=False)
            process = context.Process(
                target=_child,
                args=(writer, renderer, policy, names, as_of, (index, parts), seconds,
                      memory_bytes, os.getpid()),
                name="letters-template-check",
                daemon=True,
            )  # fmt: skip
            process.start()
            writer.close()
            children.append((reader, process))
        deadline = time.monotonic() + seconds + KILL_GRACE_SECONDS
        problems = [
            _wait(reader, child, deadline, seconds, memory_bytes) for reader, child in children
        ]
        problem = next((found for found in problems if found), None)
    finally:
        for reader, child in children:
            reader.close()
            if child.is_alive():
                child.kill()
            child.join()
    if problem:
        raise TemplateError(problem)
    _PASSED.add(key)
    _remember(key)


@functools.cache
def _code_digest() -> str:
    """A hash of this installation's code (every module of letters and addresses)."""
    digest = hashlib.sha256()
    for name in CODE_ROOTS:
        root = Path(__file__).resolve().parents[2] / name
        for path in sorted(root.rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _passed_file(key: str) -> Path:
    """Where a passed check is remembered between processes: the user's cache (like the ZIP
    table), one empty file per check, named by its key."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "letters" / "template-checks" / key


def _passed_before(key: str) -> bool:
    return _passed_file(key).is_file()


def _remember(key: str) -> None:
    """Remember a passed check (owner-only); a cache that cannot be written is no error."""
    path = _passed_file(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    except OSError:
        pass


def _check_key(
    renderer: Renderer, policy: Policy, names: list[str], as_of: date, limits: tuple[float, int]
) -> str:
    """What the check's outcome depends on: every template file's bytes, the policy, the date,
    the limits, and the code that renders them."""
    facts = (policy, sorted(names), as_of, limits, _code_digest())
    digest = hashlib.sha256(repr(facts).encode())
    for path in sorted(renderer.templates_dir.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(renderer.templates_dir).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _wait(reader: Connection, child: BaseProcess, deadline: float, seconds: float,
          memory_bytes: int) -> str | None:  # fmt: skip
    """A child's result; a child that runs over its time or dies names the template it was on."""
    current = ""

    def failed(what: str) -> str:
        return f"{current}: template error: {what}" if current else f"template check: {what}"

    try:
        while reader.poll(max(0.0, deadline - time.monotonic())):
            kind, value = reader.recv()
            if kind == "done":
                return cast(str | None, value)
            current = value
    except EOFError:
        child.join()
        return failed(
            f"the check's process died (exit code {child.exitcode}; "
            f"over the check's {memory_bytes >> 20:,} MB of memory?)"
        )
    return failed(f"no result within {seconds:g} s (stopped)")


def _alarm(seconds: float) -> Callable[[int, FrameType | None], None]:
    def on_alarm(_signum: int, _frame: FrameType | None) -> None:
        # raised in the template code that runs now, so the message names its line
        raise LimitExceeded(f"took longer than the check's {seconds:g} s (a loop too long?)")

    return on_alarm


def _child(writer: Connection, renderer: Renderer, policy: Policy, names: list[str], as_of: date,
           part: tuple[int, int], seconds: float, memory_bytes: int,
           parent_pid: int) -> None:  # fmt: skip
    """The check's process: dies with its parent, limited in time and memory, sends one result."""
    become_child(parent_pid, memory_bytes)
    signal.signal(signal.SIGALRM, _alarm(seconds))
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        problem = _check_all(
            renderer, policy, names, as_of, part, lambda name: writer.send(("start", name))
        )
    except TemplateError as exc:
        problem = str(exc)
    except LimitExceeded as exc:
        problem = f"template check: {exc}"
    except MemoryError:
        problem = f"template check: out of memory (the check allows {memory_bytes >> 20:,} MB)"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    writer.send(("done", problem))
    writer.close()
