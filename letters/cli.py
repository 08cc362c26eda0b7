"""The `letters` command: a thin typer layer over the library. Only this module prints or exits."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from letters.bench import run_bench
from letters.errors import LettersError, UsageError
from letters.pipeline import BatchResult, RunRequest, run_batch
from letters.policy import load_policy
from letters.render import default_templates_dir
from letters.sample import write_sample

app = typer.Typer(
    help="Turn overdue accounts into mail-ready demand letters, with proof of what was mailed.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
err = Console(stderr=True, highlight=False)
out = Console(highlight=False)


def _as_of(value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--as-of: not a date (YYYY-MM-DD): {value!r}") from None


def _fail(exc: LettersError) -> typer.Exit:
    err.print(f"Error: {exc}", markup=False, soft_wrap=True)
    return typer.Exit(int(exc.exit_code))


def _print_result(result: BatchResult) -> None:
    if out.is_terminal:
        table = Table(title=f"Batch {result.batch_id}")
        table.add_column("status")
        table.add_column("accounts", justify="right")
        for status, count in sorted(result.counts.items()):
            table.add_row(status, str(count))
        out.print(table)
    else:
        counts = " ".join(f"{status}={count}" for status, count in sorted(result.counts.items()))
        out.print(f"batch {result.batch_id}: {counts}", markup=False)
    rate = result.letters / result.render_seconds if result.render_seconds else 0.0
    out.print(f"letters {result.letters}, pages {result.pages}, {rate:.1f} letters/s", markup=False)
    out.print(f"batch folder: {result.batch_dir}", markup=False)
    if result.rejected_rows:
        out.print(
            f"{result.rejected_rows} input rows rejected: see {result.batch_dir / 'rejects.csv'}",
            markup=False,
        )


@app.command()
def run(
    accounts: Annotated[Path, typer.Argument(help="The overdue-accounts CSV.")],
    sources: Annotated[
        list[Path], typer.Option("--sources", help="An address-source CSV; repeat for each.")
    ],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder that receives the batch folder.")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="The run's date, YYYY-MM-DD (default: today).")
    ] = None,
    policy: Annotated[
        Path | None, typer.Option("--policy", help="Policy TOML (default: the shipped one).")
    ] = None,
    templates: Annotated[
        Path | None, typer.Option("--templates", help="Templates folder (default: shipped).")
    ] = None,
) -> None:
    """Run a nightly batch: one PDF per letter plus manifest.csv, rejects.csv, summary.json.

    Example: letters run accounts.csv --sources internal.csv --sources third_party.csv --out batches
    """
    try:
        request = RunRequest(
            accounts_path=accounts,
            source_paths=tuple(sources),
            out_dir=out_dir,
            as_of=_as_of(as_of),
            policy=load_policy(policy),
            templates_dir=templates or default_templates_dir(),
        )
        result = run_batch(request, notify=lambda line: out.print(line, markup=False))
    except LettersError as exc:
        raise _fail(exc) from None
    _print_result(result)
    raise typer.Exit(int(result.exit_code))


@app.command()
def sample(
    accounts: Annotated[int, typer.Option("--accounts", min=1, help="How many account rows.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the sample into.")],
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same files.")] = 1,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Date the data is as of (default: today).")
    ] = None,
) -> None:
    """Write realistic sample accounts, messy address sources and a ground-truth file.

    Example: letters sample --accounts 200 --out sample --seed 7
    """
    try:
        files = write_sample(out_dir, accounts, seed, _as_of(as_of))
    except LettersError as exc:
        raise _fail(exc) from None
    out.print(f"wrote {files.accounts_path}", markup=False)
    for path in files.source_paths:
        out.print(f"wrote {path}", markup=False)
    out.print(f"wrote {files.truth_path}", markup=False)


@app.command()
def bench(
    accounts: Annotated[int, typer.Option("--accounts", min=1, help="Accounts to generate.")] = 200,
    out_dir: Annotated[Path, typer.Option("--out", help="Working folder.")] = Path("bench-out"),
    results: Annotated[
        Path, typer.Option("--results", help="Where to write the JSON results.")
    ] = Path("bench-results.json"),
    json_output: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Measure the pipeline on generated data; writes bench-results.json.

    Example: letters bench --accounts 500
    """
    figures = run_bench(out_dir, accounts, seed=1, as_of=date(2026, 11, 20))
    results.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    if json_output:
        out.print(json.dumps(figures, indent=2), markup=False)
        return
    table = Table(title="letters bench")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in figures.items():
        table.add_row(key, str(value))
    out.print(table)
    out.print(f"results written to {results}", markup=False)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="letters")


if __name__ == "__main__":  # pragma: no cover
    main()
