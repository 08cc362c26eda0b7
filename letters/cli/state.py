"""The `letters state` commands: `rebuild` the state from the sealed batch folders, and
`migrate` a SQLite state into PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from letters.cli.options import DbOption
from letters.ops.rebuild import RebuildReport, rebuild_state
from letters.state import shown

if TYPE_CHECKING:  # psycopg is imported only when a command uses PostgreSQL
    from letters.state.transfer import MigrateReport

RebuildOutOption = Annotated[
    Path, typer.Option("--out", help="The folder that holds the sealed batch folders.")
]
FromOption = Annotated[Path, typer.Option("--from", help="The SQLite state file to move.")]
ToOption = Annotated[
    str, typer.Option("--to", help="An empty PostgreSQL database: postgresql://USER@HOST/DB.")
]
KeyOption = Annotated[
    Path | None, typer.Option("--key", help="The HMAC key file the seals were signed with.")
]


def rebuild(out_dir: RebuildOutOption, db: DbOption = None, key: KeyOption = None) -> None:
    """Rebuild a missing or emptied state from the sealed batches, verifying each seal first.

    Example: letters state rebuild --out batches --key /etc/letters/seal.key
    """
    _print_rebuild(rebuild_state(out_dir, db, key))


def _print_rebuild(report: RebuildReport) -> None:
    """What went back into the state."""
    typer.echo(
        f"{shown(report.db_path)}: rebuilt {len(report.batches)} batches"
        f" ({len(report.known)} known already), {report.letters} letters,"
        f" {report.articles} article numbers marked used"
    )
    if report.without_cycle:
        typer.echo(
            f"{report.without_cycle} letters come from batches sealed without letters.jsonl: "
            "their cycle is unknown, so only the frequency cap keeps them from going again"
        )


def migrate(source: FromOption, target: ToOption) -> None:
    """Move a SQLite state into an empty PostgreSQL database (the file is left as it was).

    Example: letters state migrate --from batches/letters.db --to postgresql://letters@db/letters
    """
    from letters.state.transfer import migrate_state

    _print_migrate(migrate_state(source, Path(target)))


def _print_migrate(report: MigrateReport) -> None:
    moved = ", ".join(f"{rows} {name}" for name, rows in report.rows.items() if rows)
    typer.echo(f"{report.source} -> {report.target}: {moved or 'an empty state'}")
