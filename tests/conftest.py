"""Shared fixtures: a temporary workspace with real CSV inputs."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

import pytest

from addresses.model import AddressChoice, ChoiceStatus
from addresses.standardize import standardize
from letters.decide.gates import decide_customer
from letters.decide.plan import LetterContent, letter_content
from letters.intake.accounts import account_from_values
from letters.intake.policy import Policy, load_policy
from letters.model import Account, History, LetterSpec
from letters.ops.sample import ACCOUNT_COLUMNS, SOURCE_COLUMNS, SampleFiles, write_sample
from letters.render.renderer import default_templates_dir

AS_OF = date(2026, 11, 20)

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

WriteCsv = Callable[..., Path]


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


@pytest.fixture
def write_accounts(tmp_path: Path) -> WriteCsv:
    """Write accounts rows (dicts overriding GOOD_ACCOUNT) to tmp_path/accounts.csv."""

    def write(*overrides: dict[str, str], name: str = "accounts.csv") -> Path:
        rows = [{**GOOD_ACCOUNT, **override} for override in overrides]
        return write_rows(tmp_path / name, ACCOUNT_COLUMNS, rows)

    return write


@pytest.fixture
def write_sources(tmp_path: Path) -> WriteCsv:
    """Write source rows (dicts overriding GOOD_SOURCE) to tmp_path/<name>."""

    def write(*overrides: dict[str, str], name: str = "internal.csv") -> Path:
        rows = [{**GOOD_SOURCE, **override} for override in overrides]
        return write_rows(tmp_path / name, SOURCE_COLUMNS, rows)

    return write


def only_batch(out_dir: Path) -> Path:
    """The one batch folder under an output folder (which also holds the state database)."""
    (batch_dir,) = (p for p in out_dir.iterdir() if p.is_dir())
    return batch_dir


@pytest.fixture(scope="session")
def sample_files(tmp_path_factory: pytest.TempPathFactory) -> SampleFiles:
    """A small generated sample (40 accounts), shared read-only by the whole session."""
    return write_sample(tmp_path_factory.mktemp("sample"), accounts=40, seed=11, as_of=AS_OF)
