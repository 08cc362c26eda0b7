"""The proof commands: `verify` a sealed batch, `reconcile` tracking events, a `history`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from letters.cli import output
from letters.cli.options import DbOption, StateDirOption
from letters.errors import ExitCode
from letters.intake.policy import load_policy
from letters.ops.status import debtor_history, import_events
from letters.proof.seal import verify_with_policy


def verify(
    batch_dir: Annotated[Path, typer.Argument(help="The batch folder to check.")],
    key: Annotated[
        Path | None, typer.Option("--key", help="The HMAC key file the seal was signed with.")
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option("--policy", help="Policy TOML: its [seal] key and require_signature."),
    ] = None,
) -> None:
    """Check a batch against its seal; exit 0 only if every file and the signature are intact.

    Example: letters verify batches/20261120-021502-a3f9 --key /etc/letters/seal.key
    """
    report = verify_with_policy(batch_dir, key, load_policy(policy) if policy else None)
    output.print_verify(batch_dir, report)
    raise typer.Exit(int(ExitCode.DONE if report.intact else ExitCode.FATAL))


def reconcile(
    events: Annotated[Path, typer.Argument(help="Tracking and return events (CSV).")],
    out_dir: StateDirOption = Path("."),
    db: DbOption = None,
) -> None:
    """Import tracking and return events; returned mail becomes evidence against that address.

    Example: letters reconcile usps-events.csv --out batches
    """
    report = import_events(events, db, out_dir)
    output.print_reconcile(report)
    problems = report.rejects or report.unknown
    raise typer.Exit(int(ExitCode.REJECTED_ROWS if problems else ExitCode.DONE))


def history(
    identifier: Annotated[str, typer.Argument(help="A customer_id or an account_id.")],
    out_dir: StateDirOption = Path("."),
    db: DbOption = None,
) -> None:
    """Every letter, decision and event for a debtor, newest first.

    Example: letters history C0000042 --out batches
    """
    output.print_history(debtor_history(identifier, db, out_dir))
