"""The options several commands share, and the few option values that need parsing."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from addresses.config import ConfigError, EngineConfig, load_config
from letters.errors import UsageError, not_a_file

AddressConfigOption = Annotated[
    Path | None,
    typer.Option("--address-config", help="TOML with source trust and thresholds (see README)."),
]
AccountsArgument = Annotated[Path, typer.Argument(help="The overdue-accounts CSV.")]
SourcesOption = Annotated[
    list[Path], typer.Option("--sources", help="An address-source CSV; repeat for each.")
]
AsOfOption = Annotated[
    str | None, typer.Option("--as-of", help="The run's date, YYYY-MM-DD (default: today).")
]
RecencyAsOfOption = Annotated[
    str | None, typer.Option("--as-of", help="Date recency counts from (default: today).")
]
PolicyOption = Annotated[
    Path | None, typer.Option("--policy", help="Policy TOML (default: the shipped one).")
]
TemplatesOption = Annotated[
    Path | None, typer.Option("--templates", help="Templates folder (default: shipped).")
]
StateDirOption = Annotated[
    Path, typer.Option("--out", help="The output folder (its letters.db is the state).")
]
DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="State database (default: $LETTERS_DB, else OUT/letters.db)."),
]
JobsOption = Annotated[
    int | None, typer.Option("--jobs", min=1, help="Worker processes (default: all cores).")
]
ClusterOption = Annotated[
    str | None,
    typer.Option(
        "--cluster",
        help="Render on a Dask cluster: tcp://HOST:8786, or local:N to start N workers here"
        " (default: the local process pool).",
    ),
]
ContactsOption = Annotated[
    Path | None,
    typer.Option(
        "--contacts", help="E-mail addresses with their consent (CSV; see README, E-mail)."
    ),
]
AddressSourcesArgument = Annotated[list[Path], typer.Argument(help="Address-source CSV files.")]


def as_of_date(value: str | None) -> date:
    """The `--as-of` date; today when it is not given."""
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--as-of: not a date (YYYY-MM-DD): {value!r}") from None


def engine_config(config_path: Path | None) -> EngineConfig:
    """The address engine's configuration from `--address-config` (the defaults without one)."""
    try:
        return load_config(config_path)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def existing_files(paths: list[Path]) -> list[Path]:
    """The given input files, each of which must exist."""
    for path in paths:
        if not path.is_file():
            raise UsageError(not_a_file(path))
    return paths
