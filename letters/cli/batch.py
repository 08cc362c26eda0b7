"""The batch commands: `run` a batch, `decide` without rendering, list the `batches`."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from letters.cli import output
from letters.cli.options import (
    AccountsArgument,
    AddressConfigOption,
    AsOfOption,
    ClusterOption,
    ContactsOption,
    DbOption,
    JobsOption,
    PolicyOption,
    SourcesOption,
    StateDirOption,
    TemplatesOption,
    as_of_date,
    engine_config,
)
from letters.errors import ExitCode
from letters.intake.policy import load_policy
from letters.intake.request import RunRequest
from letters.ops.batch import Interrupted, run_batch
from letters.ops.dryrun import channels_path, decide_accounts
from letters.ops.status import list_batches
from letters.processes import STOP_SIGNALS, stop_now
from letters.render.renderer import default_templates_dir

BatchOutOption = Annotated[
    Path, typer.Option("--out", help="Folder that receives the batch folder.")
]
ResumeOption = Annotated[
    str | None, typer.Option("--resume", help="Resume this interrupted batch id.")
]
ForceOption = Annotated[
    list[str] | None,
    typer.Option("--force", help="A piece id whose letter may go again; repeat for each."),
]
ForceReasonOption = Annotated[
    str, typer.Option("--force-reason", help="Why the forced pieces go again (recorded).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print only the summary, as JSON.")]
QuietOption = Annotated[bool, typer.Option("--quiet", help="Print only errors.")]
SealKeyOption = Annotated[
    Path | None,
    typer.Option("--seal-key", help="HMAC key file to sign batch.json (else the policy's)."),
]
DecideDbOption = Annotated[
    Path | None,
    typer.Option("--db", help="State to read earlier letters from (default: $LETTERS_DB)."),
]


def run(
    accounts: AccountsArgument,
    sources: SourcesOption,
    out_dir: BatchOutOption,
    as_of: AsOfOption = None,
    policy: PolicyOption = None,
    templates: TemplatesOption = None,
    address_config: AddressConfigOption = None,
    jobs: JobsOption = None,
    db: DbOption = None,
    resume: ResumeOption = None,
    force: ForceOption = None,
    force_reason: ForceReasonOption = "",
    json_output: JsonOption = False,
    quiet: QuietOption = False,
    seal_key: SealKeyOption = None,
    contacts: ContactsOption = None,
    cluster: ClusterOption = None,
) -> None:
    """Run a nightly batch: one PDF per letter plus manifest, rejects, review, summary and log.

    Example: letters run accounts.csv --sources internal.csv --sources third_party.csv --out batches
    """
    reporter = output.reporter_for(quiet or json_output)
    request = _request(
        accounts, sources, out_dir, as_of, policy, templates, address_config,
        jobs=jobs, db_path=db, resume=resume, force=tuple(force or ()),
        force_reason=force_reason, policy_path=policy, seal_key=seal_key, contacts_path=contacts,
        cluster=cluster,
    )  # fmt: skip
    with sigterm_interrupts("interrupted; no letter was rendered"):
        result = run_batch(request, reporter)
    if json_output:
        output.print_json(result.summary())
    elif not quiet:
        output.print_result(result)
    raise typer.Exit(int(result.exit_code))


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
    db: DecideDbOption = None,
    contacts: ContactsOption = None,
) -> None:
    """Dry run: decide every account (stage, template, mail class, or why not) and every e-mail
    without rendering.

    Example: letters decide accounts.csv --sources internal.csv --db batches/letters.db
    """
    request = _request(
        accounts, sources, out_path.parent, as_of, policy, templates, address_config,
        contacts_path=contacts,
    )  # fmt: skip
    result = decide_accounts(request, db, out_path)
    output.print_decisions(result.rows, request.as_of, out_path)
    output.print_channel_decisions(result.channel_decisions, channels_path(out_path))
    output.print_rejected_rows(result.rejects)
    raise typer.Exit(int(ExitCode.REJECTED_ROWS if result.rejects else ExitCode.DONE))


def batches(
    out_dir: StateDirOption = Path("."),
    db: DbOption = None,
) -> None:
    """List the batches in the state, newest first, with their status and counts.

    Example: letters batches --out batches
    """
    output.print_batches(list_batches(db, out_dir))


def _request(
    accounts: Path,
    sources: list[Path],
    out_dir: Path,
    as_of: str | None,
    policy: Path | None,
    templates: Path | None,
    address_config: Path | None,
    **run_options: Any,
) -> RunRequest:
    """The request the options describe; each option is checked in the order `run` lists it."""
    return RunRequest(
        accounts_path=accounts,
        source_paths=tuple(sources),
        out_dir=out_dir,
        as_of=as_of_date(as_of),
        policy=load_policy(policy),
        templates_dir=templates or default_templates_dir(),
        address_config=engine_config(address_config),
        **run_options,
    )


@contextlib.contextmanager
def sigterm_interrupts(message: str) -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C: the command stops cleanly with exit 5 and `message` (a run's
    batch is marked interrupted and resumable; a stop before the batch began is exit 5 too).
    Both are remembered as well as raised (`stop_now`), so that a stop Python happened to drop
    still stops the run before its batch is sealed."""
    previous = {signum: signal.signal(signum, stop_now) for signum in STOP_SIGNALS}
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted(message) from None
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
