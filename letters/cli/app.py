"""The `letters` command: a thin typer layer over the library. Only this module prints or exits."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from addresses.batch import DedupeColumns, dedupe_file, explain, resolve_files
from addresses.config import ConfigError, EngineConfig, load_config
from addresses.csvio import CsvFileError
from addresses.records import SourceFileError
from letters.cli.output import BarReporter, PlainReporter
from letters.decide.plan import RunRequest, dry_run
from letters.errors import ExitCode, InputFileError, LettersError, UsageError
from letters.intake.policy import load_policy
from letters.model import History
from letters.ops.batch import BatchResult, QuietReporter, Reporter, run_batch
from letters.ops.bench import run_bench
from letters.ops.init import init_workspace
from letters.ops.sample import write_sample
from letters.proof.manifest import write_manifest
from letters.proof.reconcile import evidence_records
from letters.proof.reconcile import reconcile as reconcile_events
from letters.proof.seal import read_key, verify_batch
from letters.render.preview import preview_account, preview_template
from letters.render.renderer import Renderer, default_templates_dir
from letters.state.sqlite import DB_ENV, SqliteStore, default_db_path, pid_alive

app = typer.Typer(
    help="Turn overdue accounts into mail-ready demand letters, with proof of what was mailed.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
addresses_app = typer.Typer(
    help="Standardize, merge, score and choose addresses from several sources.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(addresses_app, name="addresses")
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
err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)


def _as_of(value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--as-of: not a date (YYYY-MM-DD): {value!r}") from None


def _engine_config(config_path: Path | None) -> EngineConfig:
    try:
        return load_config(config_path)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def _existing(paths: list[Path]) -> list[Path]:
    for path in paths:
        if not path.is_file():
            raise UsageError(f"{path}: no such file")
    return paths


def _existing_db(db: Path | None, out_dir: Path) -> Path:
    db_path = db or default_db_path(out_dir)
    if not db_path.is_file():
        raise _fail(UsageError(f"{db_path}: no state database here"))
    return db_path


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
    rendered = result.letters - result.reused
    rate = rendered / result.render_seconds if result.render_seconds else 0.0
    out.print(
        f"letters {result.letters} ({rendered} rendered now), pages {result.pages}, "
        f"{rate:.1f} letters/s",
        markup=False,
    )
    out.print(f"batch folder: {result.batch_dir}", markup=False)
    if result.rejected_rows:
        out.print(
            f"{result.rejected_rows} input rows rejected: see {result.batch_dir / 'rejects.csv'}",
            markup=False,
        )


@app.command()
def run(
    accounts: AccountsArgument,
    sources: SourcesOption,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder that receives the batch folder.")],
    as_of: AsOfOption = None,
    policy: PolicyOption = None,
    templates: TemplatesOption = None,
    address_config: AddressConfigOption = None,
    jobs: JobsOption = None,
    db: DbOption = None,
    resume: Annotated[
        str | None, typer.Option("--resume", help="Resume this interrupted batch id.")
    ] = None,
    force: Annotated[
        list[str] | None,
        typer.Option("--force", help="A piece id whose letter may go again; repeat for each."),
    ] = None,
    force_reason: Annotated[
        str, typer.Option("--force-reason", help="Why the forced pieces go again (recorded).")
    ] = "",
    json_output: Annotated[
        bool, typer.Option("--json", help="Print only the summary, as JSON.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="Print only errors.")] = False,
    seal_key: Annotated[
        Path | None,
        typer.Option("--seal-key", help="HMAC key file to sign batch.json (else the policy's)."),
    ] = None,
) -> None:
    """Run a nightly batch: one PDF per letter plus manifest, rejects, review, summary and log.

    Example: letters run accounts.csv --sources internal.csv --sources third_party.csv --out batches
    """
    reporter: Reporter = (
        QuietReporter()
        if quiet or json_output
        else (BarReporter(out) if out.is_terminal else PlainReporter(out))
    )
    try:
        request = RunRequest(
            accounts_path=accounts,
            source_paths=tuple(sources),
            out_dir=out_dir,
            as_of=_as_of(as_of),
            policy=load_policy(policy),
            templates_dir=templates or default_templates_dir(),
            address_config=_engine_config(address_config),
            jobs=jobs,
            db_path=db,
            resume=resume,
            force=tuple(force or ()),
            force_reason=force_reason,
            policy_path=policy,
            seal_key=seal_key,
        )
        with _sigterm_interrupts():
            result = run_batch(request, reporter)
    except LettersError as exc:
        raise _fail(exc) from None
    if json_output:
        out.print(json.dumps(result.summary(), indent=2), markup=False, highlight=False)
    elif not quiet:
        _print_result(result)
    raise typer.Exit(int(result.exit_code))


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C: the run stops cleanly, marked interrupted and resumable."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@app.command()
def decide(
    accounts: AccountsArgument,
    sources: SourcesOption,
    as_of: AsOfOption = None,
    out_path: Annotated[
        Path, typer.Option("--out", help="Where to write the decisions (CSV).")
    ] = Path("decisions.csv"),
    policy: PolicyOption = None,
    templates: TemplatesOption = None,
    address_config: AddressConfigOption = None,
    db: Annotated[
        Path | None,
        typer.Option("--db", help="State to read earlier letters from (default: $LETTERS_DB)."),
    ] = None,
) -> None:
    """Dry run: decide every account (stage, template, mail class, or why not) without rendering.

    Example: letters decide accounts.csv --sources internal.csv --db batches/letters.db
    """
    try:
        request = RunRequest(
            accounts_path=accounts, source_paths=tuple(sources), out_dir=out_path.parent,
            as_of=_as_of(as_of), policy=load_policy(policy),
            templates_dir=templates or default_templates_dir(),
            address_config=_engine_config(address_config),
        )  # fmt: skip
        renderer = Renderer(request.templates_dir)
        renderer.check_templates(request.policy.all_templates())
        db_path = db or (Path(os.environ[DB_ENV]) if DB_ENV in os.environ else None)
        store = SqliteStore(db_path) if db_path and db_path.is_file() else None
        try:
            history_of = (lambda c: store.history(c, "")) if store else (lambda _c: History())
            if store:
                request = replace(request, extra_records=tuple(evidence_records(store)))
            rows = dry_run(request, history_of, renderer.template_exists, lambda _line: None)
        finally:
            if store:
                store.close()
        write_manifest(out_path, rows)
    except LettersError as exc:
        raise _fail(exc) from None
    table = Table(title=f"Decisions as of {request.as_of}")
    for column in ("account", "customer", "status", "reason", "stage", "template", "mail class"):
        table.add_column(column)
    for row in rows:
        cells = (row.account_id, row.customer_id, row.status, row.reason_code, row.stage,
                 row.template, row.mail_class)  # fmt: skip
        if out.is_terminal:
            table.add_row(*cells)
        else:
            out.print("  ".join(cell or "-" for cell in cells), markup=False)
    if out.is_terminal:
        out.print(table)
    counts = Counter((row.status, row.reason_code) for row in rows)
    summary = ", ".join(f"{status}/{code}={n}" for (status, code), n in sorted(counts.items()))
    out.print(f"{len(rows)} accounts: {summary}; wrote {out_path}", markup=False)


@app.command()
def preview(
    accounts: Annotated[
        Path | None, typer.Argument(help="The accounts CSV (with --account).")
    ] = None,
    account: Annotated[
        str | None, typer.Option("--account", help="Render the letter this account would get.")
    ] = None,
    template: Annotated[
        str | None, typer.Option("--template", help="Render this template with sample data.")
    ] = None,
    sources: Annotated[
        list[Path] | None, typer.Option("--sources", help="Address sources (with --account).")
    ] = None,
    as_of: AsOfOption = None,
    policy: PolicyOption = None,
    templates: TemplatesOption = None,
    address_config: AddressConfigOption = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the PDF and PNGs.")] = Path(
        "preview"
    ),
    windows: Annotated[
        bool, typer.Option("--windows", help="Draw the envelope windows over the page.")
    ] = False,
    watch: Annotated[
        bool, typer.Option("--watch", help="Render again whenever a template file changes.")
    ] = False,
) -> None:
    """Preview one letter as PDF and PNG; never touches the batch state or the article pool.

    Example: letters preview --template final.html --windows --watch
    """
    if (account is None) == (template is None):
        raise _fail(
            UsageError("give exactly one of --account (with ACCOUNTS and --sources) or --template")
        )
    templates_dir = templates or default_templates_dir()

    def render_once() -> None:
        loaded = load_policy(policy)
        if template is not None:
            files = preview_template(
                loaded, templates_dir, template, _as_of(as_of), out_dir, windows
            )
        else:
            if accounts is None:
                raise UsageError("--account needs the ACCOUNTS file and --sources")
            request = RunRequest(
                accounts_path=accounts, source_paths=tuple(sources or ()), out_dir=out_dir,
                as_of=_as_of(as_of), policy=loaded, templates_dir=templates_dir,
                address_config=_engine_config(address_config),
            )  # fmt: skip
            assert account is not None
            files = preview_account(request, account, out_dir, windows)
        out.print(f"wrote {files.pdf_path} ({files.pages} pages) and "
                  + ", ".join(str(p) for p in files.png_paths), markup=False)  # fmt: skip
        for failure in files.lint:
            out.print(f"lint: {failure}", markup=False)

    try:
        render_once()
    except LettersError as exc:
        if not watch:
            raise _fail(exc) from None
        err.print(f"Error: {exc}", markup=False)
    if watch:
        _watch(templates_dir, render_once)


def _watch(templates_dir: Path, render_once: Callable[[], None]) -> None:
    """Poll the templates folder and render again on every change, until Ctrl-C."""

    def state() -> dict[Path, float]:
        return {p: p.stat().st_mtime for p in templates_dir.rglob("*") if p.is_file()}

    seen = state()
    out.print(f"watching {templates_dir} (Ctrl-C to stop)", markup=False)
    try:
        while True:
            time.sleep(0.4)
            now = state()
            if now != seen:
                seen = now
                try:
                    render_once()
                except LettersError as exc:
                    err.print(f"Error: {exc}", markup=False)
    except KeyboardInterrupt:
        out.print("stopped watching", markup=False)


@app.command()
def init(
    work_dir: Annotated[Path, typer.Argument(help="The folder to create or fill.")],
) -> None:
    """Create a working folder: commented policy, address config, templates, crontab line.

    Example: letters init /srv/letters
    """
    try:
        written = init_workspace(work_dir)
    except LettersError as exc:
        raise _fail(exc) from None
    for path in written:
        out.print(f"wrote {path}", markup=False)
    out.print(f"put tonight's CSV files in {work_dir / 'input'}; see crontab.txt", markup=False)


@app.command()
def verify(
    batch_dir: Annotated[Path, typer.Argument(help="The batch folder to check.")],
    key: Annotated[
        Path | None, typer.Option("--key", help="The HMAC key file the seal was signed with.")
    ] = None,
) -> None:
    """Check a batch against its seal; exit 0 only if every file and the signature are intact.

    Example: letters verify batches/20261120-021502-a3f9 --key /etc/letters/seal.key
    """
    try:
        report = verify_batch(batch_dir, read_key(key) if key else None)
    except (OSError, ValueError) as exc:
        raise _fail(UsageError(f"--key: {exc}")) from None
    for problem in report.problems:
        err.print(f"{batch_dir.name}: {problem}", markup=False)
    if not report.intact:
        out.print(f"{batch_dir.name}: NOT intact: {len(report.problems)} problem(s)", markup=False)
        raise typer.Exit(int(ExitCode.FATAL))
    signed = "signature checked" if report.signed else "not signed"
    out.print(f"{batch_dir.name}: intact ({report.checked} files, {signed})", markup=False)


@app.command()
def reconcile(
    events: Annotated[Path, typer.Argument(help="Tracking and return events (CSV).")],
    out_dir: StateDirOption = Path("."),
    db: DbOption = None,
) -> None:
    """Import tracking and return events; returned mail becomes evidence against that address.

    Example: letters reconcile usps-events.csv --out batches
    """
    db_path = _existing_db(db, out_dir)
    if not events.is_file():
        raise _fail(UsageError(f"{events}: no such file"))
    store = SqliteStore(db_path)
    try:
        report = reconcile_events(events, store, datetime.now().isoformat(timespec="seconds"))
    except LettersError as exc:
        raise _fail(exc) from None
    finally:
        store.close()
    for line in [
        *(r.message for r in report.rejects),
        *report.unknown,
        *report.duplicates,
        *report.out_of_order,
    ]:
        err.print(line, markup=False)
    for batch_id, counts in sorted(report.batches.items()):
        out.print(
            f"batch {batch_id}: " + " ".join(f"{k}={v}" for k, v in sorted(counts.items())),
            markup=False,
        )
    out.print(
        f"{report.rows} rows: {report.imported} imported, "
        f"{len(report.duplicates)} already imported, "
        f"{len(report.unknown)} unknown, {len(report.out_of_order)} out of order, "
        f"{len(report.rejects)} rejected; {report.evidence} returned addresses recorded",
        markup=False,
    )
    problems = report.rejects or report.unknown
    raise typer.Exit(int(ExitCode.REJECTED_ROWS if problems else ExitCode.DONE))


@app.command()
def history(
    identifier: Annotated[str, typer.Argument(help="A customer_id or an account_id.")],
    out_dir: StateDirOption = Path("."),
    db: DbOption = None,
) -> None:
    """Every letter, decision and event for a debtor, newest first.

    Example: letters history C0000042 --out batches
    """
    db_path = _existing_db(db, out_dir)
    store = SqliteStore(db_path)
    try:
        customer = store.customer_of(identifier)
        if customer is None:
            raise _fail(UsageError(f"{identifier}: no such customer or account in {db_path}"))
        rows = store.timeline(customer)
    finally:
        store.close()
    table = Table(title=f"History of {customer}")
    for column in ("when", "what", "detail"):
        table.add_column(column)
    for when, what, detail in rows:
        if out.is_terminal:
            table.add_row(when, what, detail)
        else:
            out.print(f"{when}  {what}  {detail}", markup=False)
    if out.is_terminal:
        out.print(table)


@app.command()
def batches(
    out_dir: StateDirOption = Path("."),
    db: DbOption = None,
) -> None:
    """List the batches in the state, newest first, with their status and counts.

    Example: letters batches --out batches
    """
    db_path = _existing_db(db, out_dir)
    store = SqliteStore(db_path)
    try:
        records = store.batches()
    finally:
        store.close()
    table = Table(title=f"Batches in {db_path}")
    for column in ("batch", "as of", "started", "finished", "status", "letters", "outcomes"):
        table.add_column(column)
    for record in records:
        status = record.status
        if status == "running" and not pid_alive(record.pid, record.host):
            status = "interrupted (not finished)"
        outcomes = " ".join(f"{k}={v}" for k, v in sorted(record.counts.get("counts", {}).items()))
        cells = (record.batch_id, record.as_of, record.started_at, record.finished_at or "-",
                 status, str(record.counts.get("letters", "-")), outcomes)  # fmt: skip
        if out.is_terminal:
            table.add_row(*cells)
        else:
            out.print("  ".join(cells), markup=False, soft_wrap=True)
    if out.is_terminal:
        out.print(table)


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


@addresses_app.command("resolve")
def addresses_resolve(
    sources: Annotated[list[Path], typer.Argument(help="Address-source CSV files.")],
    out_path: Annotated[Path, typer.Option("--out", help="Where to write resolved.csv.")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Date recency counts from (default: today).")
    ] = None,
    address_config: AddressConfigOption = None,
    jobs: JobsOption = None,
) -> None:
    """Choose one address per customer_id: selected, review or none, with confidence and reasons.

    Example: letters addresses resolve internal.csv third_party.csv --out resolved.csv
    """
    try:
        summary = resolve_files(
            _existing(sources), out_path, _engine_config(address_config), _as_of(as_of), jobs
        )
    except SourceFileError as exc:
        raise _fail(InputFileError(str(exc))) from None
    except LettersError as exc:
        raise _fail(exc) from None
    for reject in summary.rejects:
        err.print(f"rejected: {reject.message}", markup=False, soft_wrap=True)
    for flag in sorted(summary.flagged):
        err.print(f"flagged: {flag}", markup=False, soft_wrap=True)
    counts = " ".join(f"{k}={v}" for k, v in sorted(summary.statuses.items()))
    out.print(f"{summary.records} records, {summary.people} people: {counts}", markup=False)
    out.print(
        f"{len(summary.rejects)} rows rejected, {len(summary.flagged)} rows failed a hard check"
        f" (never mailed without review); wrote {out_path}",
        markup=False,
    )
    raise typer.Exit(int(ExitCode.REJECTED_ROWS if summary.rejects else ExitCode.DONE))


@addresses_app.command("explain")
def addresses_explain(
    customer_id: Annotated[str, typer.Argument(help="The person to explain.")],
    sources: Annotated[list[Path], typer.Argument(help="Address-source CSV files.")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Date recency counts from (default: today).")
    ] = None,
    address_config: AddressConfigOption = None,
) -> None:
    """Show every observation, its standard form, the merge groups and each score factor.

    Example: letters addresses explain C0000042 internal.csv third_party.csv
    """
    try:
        found = explain(
            customer_id, _existing(sources), _engine_config(address_config), _as_of(as_of)
        )
    except SourceFileError as exc:
        raise _fail(InputFileError(str(exc))) from None
    except LettersError as exc:
        raise _fail(exc) from None
    if not found.observations and not found.rejects:
        raise _fail(UsageError(f"{customer_id}: no observation in the given sources"))
    _print_explanation(found)


def _print_explanation(found: Any) -> None:
    observed = Table(title=f"Observations of {found.customer_id}", show_lines=False)
    for column in ("where", "source", "seen", "status", "standardized", "parse", "failed checks"):
        observed.add_column(column)
    for o in found.observations:
        form = o.standardized
        failed = ", ".join(c.name for c in form.checks if c.passed is False)
        line = " / ".join(form.postal_address().lines())
        observed.add_row(
            o.ref, o.source, str(o.observed_at), o.status or "-", line, form.parse, failed
        )
    out.print(observed)
    for rank, candidate in enumerate(
        sorted(found.candidates, key=lambda c: -c.confidence), start=1
    ):
        table = Table(
            title=f"Candidate {rank}: {' / '.join(candidate.standardized.postal_address().lines())}"
        )
        table.add_column("factor")
        table.add_column("contribution", justify="right")
        table.add_column("why")
        for factor in candidate.factors:
            table.add_row(factor.name, f"{factor.contribution:+.3f}", factor.detail)
        table.add_row("confidence", f"{candidate.confidence:.3f}", "clipped to [0, 1]")
        out.print(table)
        out.print("  merged: " + ", ".join(o.ref for o in candidate.observations), markup=False)
    choice = found.choice
    out.print(f"decision: {choice.status.value}: {' | '.join(choice.reasons)}", markup=False)
    for reject in found.rejects:
        out.print(f"rejected row: {reject.message}", markup=False)


@addresses_app.command("dedupe")
def addresses_dedupe(
    input_path: Annotated[Path, typer.Argument(help="Any CSV with an address column.")],
    out_path: Annotated[Path, typer.Option("--out", help="Where to write the clusters.")],
    id_column: Annotated[str, typer.Option("--id-column", help="Column with the row id.")] = "id",
    address_column: Annotated[
        str, typer.Option("--address-column", help="Column with the street address.")
    ] = "address",
    zip_column: Annotated[str | None, typer.Option("--zip-column", help="ZIP column.")] = None,
    city_column: Annotated[str | None, typer.Option("--city-column", help="City column.")] = None,
    state_column: Annotated[
        str | None, typer.Option("--state-column", help="State column.")
    ] = None,
    default_city: Annotated[
        str, typer.Option("--default-city", help="City where the row has none.")
    ] = "",
    default_state: Annotated[
        str, typer.Option("--default-state", help="State where the row has none.")
    ] = "",
) -> None:
    """Cluster the rows of any CSV by address alone; write id, cluster_id and the standard form.

    Example: letters addresses dedupe sites.csv --out clusters.csv --id-column Id
    --address-column Address --zip-column Zip --default-city Chicago --default-state IL
    """
    columns = DedupeColumns(
        id_column,
        address_column,
        zip_column,
        city_column,
        state_column,
        default_city,
        default_state,
    )
    if not input_path.is_file():
        raise _fail(UsageError(f"{input_path}: no such file"))
    try:
        summary = dedupe_file(input_path, out_path, columns)
    except CsvFileError as exc:
        raise _fail(InputFileError(str(exc))) from None
    for problem in summary.problems:
        err.print(f"not clustered: {problem}", markup=False, soft_wrap=True)
    out.print(
        f"{summary.rows} rows, {summary.clusters} clusters, {len(summary.problems)} rows without "
        f"a usable address; wrote {out_path}",
        markup=False,
    )
    raise typer.Exit(int(ExitCode.REJECTED_ROWS if summary.problems else ExitCode.DONE))


@app.command()
def bench(
    accounts: Annotated[
        int, typer.Option("--accounts", min=1, help="Accounts for the end-to-end run.")
    ] = 1000,
    records: Annotated[
        int, typer.Option("--records", min=100, help="Source records for address resolution.")
    ] = 1_000_000,
    letters: Annotated[
        int, typer.Option("--letters", min=10, help="Letters for the renderer comparison.")
    ] = 150,
    large_accounts: Annotated[
        int,
        typer.Option("--large-accounts", help="Also run end to end at this size (memory check)."),
    ] = 0,
    jobs: JobsOption = None,
    chicago: Annotated[
        Path, typer.Option("--chicago", help="The Chicago sites CSV for the dedupe benchmark.")
    ] = Path("../shared/reference/data/chicago-early-childhood-sites.csv"),
    out_dir: Annotated[Path, typer.Option("--out", help="Working folder.")] = Path("bench-out"),
    results: Annotated[
        Path, typer.Option("--results", help="Where to write the JSON results.")
    ] = Path("bench-results.json"),
    json_output: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Measure renderers, end-to-end runs, address resolution and dedupe; write the results.

    Example: letters bench --accounts 1000 --records 200000 --large-accounts 10000
    """
    figures = run_bench(out_dir, accounts, records, chicago, letters, jobs, large_accounts)
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
