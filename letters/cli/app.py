"""The `letters` command: the typer app, its one error boundary, and the entry point.

Each command group lives in its own module (`batch`, `proof`, `addresses`, `workspace`); a command
parses its options, calls one library function and hands the result to `output`. Only `letters.cli`
prints or exits.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from addresses.csvio import CsvFileError
from addresses.records import SourceFileError
from letters.cli import addresses, batch, proof, review, send, state, templates, workspace
from letters.cli.output import print_error
from letters.errors import InputFileError, LettersError

# What the address library raises about a whole input file, shown like the letters' own errors.
ADDRESS_FILE_ERRORS = (SourceFileError, CsvFileError)


class LettersGroup(TyperGroup):
    """The one error boundary: a `LettersError` from any command becomes `Error: <message>` on
    stderr and the error's exit code, never a traceback."""

    def invoke(self, ctx: Any) -> Any:  # click's Context; newer typer versions vendor click
        """Run the command; report a deliberate error the documented way."""
        try:
            return super().invoke(ctx)
        except ADDRESS_FILE_ERRORS as exc:
            raise _exit(InputFileError(str(exc))) from None
        except LettersError as exc:
            raise _exit(exc) from None


def _exit(exc: LettersError) -> typer.Exit:
    print_error(exc)
    return typer.Exit(int(exc.exit_code))


app = typer.Typer(
    cls=LettersGroup,
    help="Turn overdue accounts into mail-ready demand letters, with proof of what was mailed.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)


def _group(name: str, help_text: str) -> typer.Typer:
    """A command group under `letters` (`letters NAME ...`), behind the same error boundary."""
    group = typer.Typer(
        cls=LettersGroup, help=help_text, no_args_is_help=True, pretty_exceptions_show_locals=False
    )
    app.add_typer(group, name=name)
    return group


addresses_app = _group(
    "addresses", "Standardize, merge, score and choose addresses from several sources."
)
state_app = _group(
    "state",
    "Look after the state database: rebuild it from the sealed batch folders, or move it"
    " into PostgreSQL.",
)
templates_app = _group("templates", "Proof and approve the letter templates before they go out.")
review_app = _group(
    "review", "The review queue: debtors held for their address, letters held by the lint."
)


# The commands, in the order `letters --help` lists them.
app.command()(batch.run)
app.command()(batch.decide)
app.command()(workspace.preview)
app.command()(workspace.init)
app.command()(proof.verify)
app.command()(proof.reconcile)
app.command()(proof.history)
app.command()(batch.batches)
app.command()(send.send)
app.command()(workspace.sample)
app.command()(workspace.bench)
addresses_app.command()(addresses.resolve)
addresses_app.command()(addresses.explain)
addresses_app.command()(addresses.dedupe)
state_app.command()(state.rebuild)
state_app.command()(state.migrate)
templates_app.command()(templates.proof)
templates_app.command()(templates.approve)
templates_app.command()(templates.status)
review_app.command("list")(review.list_)
review_app.command()(review.show)
review_app.command()(review.decide)
review_app.command("import")(review.import_)
review_app.command()(review.serve)
review_app.command()(review.held)
review_app.command()(review.release)
review_app.command()(review.void)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="letters")


if __name__ == "__main__":  # pragma: no cover
    main()
