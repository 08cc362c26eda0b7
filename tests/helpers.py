"""Shared builders for the tests: good rows, decided letters, CSV files, in-process batches.

Plain functions and constants only; fixtures live in `conftest.py`.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

import pypdfium2
import pytest

from addresses.config import load_config
from addresses.model import AddressChoice, ChoiceStatus
from addresses.standardize import standardize
from letters.decide.gates import decide_customer
from letters.intake.accounts import account_from_values
from letters.intake.policy import Policy, load_policy
from letters.intake.request import RunRequest
from letters.model import Account, History, LetterSpec
from letters.ops.batch import run_batch
from letters.ops.context import BatchResult
from letters.ops.progress import Reporter
from letters.render.content import LetterContent, letter_content
from letters.render.renderer import Renderer, default_templates_dir
from letters.state import open_store
from letters.state.protocol import StateStore

AS_OF = date(2026, 11, 20)
CERTIFIED = {"due_date": "2026-08-01"}  # 111 days past due: the final, certified letter

GOOD_ACCOUNT = {
    "account_id": "A1",
    "customer_id": "C1",
    "full_name": "Ada Lovelace",
    "creditor": "Lakeside Community Credit Union",
    "original_creditor": "",
    "account_number": "4111111111111234",
    "currency": "USD",
    "itemization_date": "2026-08-01",
    "amount_at_itemization": "1,000.00",
    "interest_since": "12.34",
    "fees_since": "25",
    "payments_since": "100.00",
    "balance": "937.34",
    "due_date": "2026-10-01",
    "language": "en",
    "email": "ada@example.com",
    "cease_communication": "no",
    "bankruptcy": "",
    "attorney_name": "",
    "attorney_address": "",
    "deceased": "false",
    "dispute_open": "0",
    "hardship": "N",
    "time_barred": "",
    "large_print": "",
    "representative_name": "",
    "representative_address": "",
}

GOOD_SOURCE = {
    "customer_id": "C1",
    "source": "internal",
    "line1": "123 North Main Street",
    "line2": "Apt 4",
    "city": "Chicago",
    "state": "IL",
    "zip": "60614",
    "country": "US",
    "observed_at": "2026-06-01",
    "status": "",
}


class WriteCsv(Protocol):
    """The `write_accounts` / `write_sources` fixtures: rows as overrides of the good row."""

    def __call__(self, *overrides: dict[str, str], name: str = ...) -> Path: ...


def account(**overrides: str) -> Account:
    """An `Account` parsed from GOOD_ACCOUNT with some fields changed."""
    return account_from_values({**GOOD_ACCOUNT, **overrides}, 2)


def chosen(line1: str = "123 N Main St", line2: str = "Apt 4", city: str = "Chicago",
           state: str = "IL", zip_code: str = "60614", country: str = "") -> AddressChoice:  # fmt: skip
    """A selected address choice for a debtor, standardized."""
    form = standardize(line1, line2, city, state, zip_code, country)
    return AddressChoice("C1", ChoiceStatus.SELECTED, form.postal_address(), 0.9, ("internal",))


def letter_for(accounts: Sequence[Account], policy: Policy | None = None,
               choice: AddressChoice | None = None, history: History | None = None,
               as_of: date = AS_OF) -> tuple[LetterSpec, LetterContent]:  # fmt: skip
    """Decide one debtor's letter with the real rules and build its template content."""
    policy = policy or load_policy(None)
    choice = choice or chosen()
    renderer_templates = default_templates_dir()
    outcome = decide_customer(
        accounts,
        choice,
        policy,
        as_of,
        history or History(),
        lambda name: (renderer_templates / name).is_file(),
    )
    assert outcome.letters, [d.reason_code for d in outcome.decisions]
    letter = outcome.letters[0]
    return letter, letter_content("P-000001", policy, letter, choice)


def write_rows(path: Path, columns: Sequence[str], rows: Sequence[dict[str, str]]) -> Path:
    """Write dict rows as a CSV file with the given columns."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file, as dicts."""
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def manifest(batch_dir: Path) -> list[dict[str, str]]:
    """The rows of a batch's manifest.csv."""
    return read_rows(batch_dir / "manifest.csv")


def batch_dirs(out_dir: Path) -> list[Path]:
    """The batch folders under an output folder, oldest first (batch ids sort by date and time)."""
    return sorted(p for p in out_dir.iterdir() if p.is_dir())


def only_batch(out_dir: Path) -> Path:
    """The one batch folder under an output folder (which also holds the state database)."""
    (batch_dir,) = batch_dirs(out_dir)
    return batch_dir


def count_data_rows(path: Path) -> int:
    """The number of rows of a CSV file, header excluded."""
    with path.open(encoding="utf-8", newline="") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


def at(clock_time: str, day: date = AS_OF) -> Callable[[], datetime]:
    """A clock stopped at `clock_time` (HH:MM:SS) on `day`: batch ids then sort by run order."""
    moment = datetime.combine(day, datetime.strptime(clock_time, "%H:%M:%S").time())
    return lambda: moment


class RecordingReporter:
    """A `Reporter` that keeps every line and stage, as the CLI's reporters would show them."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.stages: list[tuple[str, int]] = []
        self.advanced = 0

    def line(self, message: str) -> None:
        """Keep a message."""
        self.lines.append(message)

    def stage(self, name: str, total: int) -> None:
        """Keep a stage's name and size."""
        self.stages.append((name, total))

    def advance(self, count: int = 1) -> None:
        """Count progress."""
        self.advanced += count

    def end_stage(self) -> None:
        """Nothing to keep."""


def run_request(
    accounts: Path,
    sources: Sequence[Path],
    out_dir: Path,
    *,
    as_of: date = AS_OF,
    policy: Path | None = None,
    templates: Path | None = None,
    address_config: Path | None = None,
    jobs: int | None = None,
    db: Path | None = None,
    resume: str | None = None,
    force: Sequence[str] = (),
    force_reason: str = "",
    seal_key: Path | None = None,
    contacts: Path | None = None,
    cluster: str | None = None,
) -> RunRequest:
    """The `RunRequest` that `letters run` builds from the same options."""
    return RunRequest(
        accounts_path=accounts,
        source_paths=tuple(sources),
        out_dir=out_dir,
        as_of=as_of,
        policy=load_policy(policy),
        templates_dir=templates or default_templates_dir(),
        address_config=load_config(address_config),
        jobs=jobs,
        db_path=db,
        resume=resume,
        force=tuple(force),
        force_reason=force_reason,
        policy_path=policy,
        seal_key=seal_key,
        contacts_path=contacts,
        cluster=cluster,
    )


def run_in_process(
    accounts: Path,
    sources: Sequence[Path],
    out_dir: Path,
    *,
    reporter: Reporter | None = None,
    now: Callable[[], datetime] = datetime.now,
    renderer_factory: Callable[..., Renderer] = Renderer,
    store_factory: Callable[[Path], StateStore] = open_store,
    **options: Any,
) -> BatchResult:
    """Run one batch in this process through `run_batch`'s seams, end-of-batch helpers included.

    `options` are `run_request`'s (as_of, policy, db, force, ...).
    """
    request = run_request(accounts, sources, out_dir, **options)
    return run_batch(
        request, reporter, now, renderer_factory, store_factory, in_process_helpers=True
    )


def cli_args(
    accounts: Path, sources: Sequence[Path], out_dir: Path, *extra: str, as_of: str = "2026-11-20"
) -> list[str]:
    """The arguments of `letters run` for these inputs."""
    args = ["run", str(accounts), "--out", str(out_dir), "--as-of", as_of]
    for source in sources:
        args += ["--sources", str(source)]
    return [*args, *extra]


def error_lines(output: str) -> list[str]:
    """The `Error: ...` lines of a command's output."""
    return [line for line in output.splitlines() if line.startswith("Error: ")]


def run_command(sample_accounts: Path, sources: Sequence[Path], out_dir: Path, *extra: str,
                as_of: str = "2026-11-20") -> list[str]:  # fmt: skip
    """`letters run` as a command line for a real process (`python -m letters.cli.app`)."""
    command = [sys.executable, "-m", "letters.cli.app", "run", str(sample_accounts),
               "--out", str(out_dir), "--as-of", as_of, *extra]  # fmt: skip
    for source in sources:
        command += ["--sources", str(source)]
    return command


def start_process(command: Sequence[str]) -> subprocess.Popen[str]:
    """Start a command in its own process group (the run, its workers and its helpers), with
    pipes for its output, plain-line output width, and no `$LETTERS_DB` of the developer's."""
    env = {**os.environ, "COLUMNS": "120"}
    env.pop("LETTERS_DB", None)
    return subprocess.Popen(
        list(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True,
    )  # fmt: skip


def wait_for_pdfs(out_dir: Path, count: int, process: subprocess.Popen[str]) -> None:
    """Wait until a running batch has written `count` PDFs (fail if the run ends first)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if len(list(out_dir.glob("*/pdf/*.pdf"))) >= count:
            return
        if process.poll() is not None:
            pytest.fail(f"the run ended before it was stopped: {process.communicate()}")
        time.sleep(0.02)
    pytest.fail("no PDFs appeared")


def page_texts(path: Path) -> list[str]:
    """The text of each page of a PDF, read with PDFium (a 99-page proof in 0.2 s; pypdf takes
    3 s for the same pages)."""
    document = pypdfium2.PdfDocument(path)
    try:
        return [page.get_textpage().get_text_range() for page in document]
    finally:
        document.close()


def threatening_templates(tmp_path: Path) -> Path:
    """A copy of the shipped templates whose notice threatens a lawsuit: the lint holds it."""
    templates = tmp_path / "templates"
    shutil.copytree(default_templates_dir(), templates)
    notice = (templates / "notice.html").read_text(encoding="utf-8")
    (templates / "notice.html").write_text(
        notice.replace("<h1>Your account is past due</h1>", "<h1>Pay or we will sue you</h1>"),
        encoding="utf-8",
    )
    return templates
