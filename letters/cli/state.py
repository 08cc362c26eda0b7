"""The `letters state` commands: `rebuild` the state from the sealed batch folders."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from letters.cli.options import DbOption
from letters.ops.rebuild import RebuildReport, rebuild_state

RebuildOutOption = Annotated[
    Path, typer.Option("--out", help="The folder that holds the sealed batch folders.")
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
        f"{report.db_path}: rebuilt {len(report.batches)} batches ({len(report.known)} known "
        f"already), {report.letters} letters, {report.articles} article numbers marked used"
    )
    if report.without_cycle:
        typer.echo(
            f"{report.without_cycle} letters come from batches sealed without letters.jsonl: "
            "their cycle is unknown, so only the frequency cap keeps them from going again"
        )
