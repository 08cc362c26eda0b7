"""Shared fixtures: a temporary workspace with real CSV inputs. Builders live in `helpers.py`."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from addresses.records import COLUMNS as SOURCE_COLUMNS
from letters.errors import ExitCode
from letters.intake.accounts import COLUMNS as ACCOUNT_COLUMNS
from letters.ops.sample import SampleFiles, write_sample
from tests.helpers import AS_OF, GOOD_ACCOUNT, GOOD_SOURCE, WriteCsv, at, run_in_process, write_rows


@pytest.fixture(autouse=True)
def _no_state_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's $LETTERS_DB (the documented state override) never gets a test's batches."""
    monkeypatch.delenv("LETTERS_DB", raising=False)


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


@pytest.fixture(scope="session")
def sample_files(tmp_path_factory: pytest.TempPathFactory) -> SampleFiles:
    """A small generated sample (40 accounts), shared read-only by the whole session."""
    return write_sample(tmp_path_factory.mktemp("sample"), accounts=40, seed=11, as_of=AS_OF)


@pytest.fixture(scope="session")
def ops_sample(tmp_path_factory: pytest.TempPathFactory) -> SampleFiles:
    """Enough accounts that rendering takes a few seconds (about 55 letters): a run to stop."""
    return write_sample(
        tmp_path_factory.mktemp("ops"), accounts=80, seed=4, as_of=date(2026, 11, 20)
    )


@pytest.fixture
def held(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> tuple[Path, Path, Path]:
    """A run on 2026-11-20 that mails C1 and holds C2 (two equally trusted addresses) and C3
    (one weak report): the accounts, the sources and the output folder."""
    accounts = write_accounts(
        {}, {"account_id": "A2", "customer_id": "C2"}, {"account_id": "A3", "customer_id": "C3"}
    )
    sources = write_sources(
        {},
        {"customer_id": "C2", "source": "customer_updated", "line1": "12 Oak Ave", "line2": ""},
        {"customer_id": "C2", "source": "customer_updated", "line1": "900 Elm St", "line2": ""},
        {"customer_id": "C3", "source": "third_party", "line1": "77 Pine St", "line2": "",
         "observed_at": "2025-01-10"},
    )  # fmt: skip
    out = tmp_path / "out"
    result = run_in_process(accounts, [sources], out, now=at("09:00:00"))
    assert result.exit_code == ExitCode.DONE, result.summary()
    return accounts, sources, out
