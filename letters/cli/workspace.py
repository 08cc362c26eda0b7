"""The workspace commands: `init` a folder, write a `sample`, `preview` a letter, `bench`."""

from __future__ import annotations

import functools
import json
import os
import shlex
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from letters.cli import output
from letters.cli.options import (
    AddressConfigOption,
    AsOfOption,
    JobsOption,
    PolicyOption,
    TemplatesOption,
    as_of_date,
    engine_config,
)
from letters.errors import LettersError, UsageError
from letters.intake.policy import load_policy
from letters.intake.request import RunRequest
from letters.ops.bench import run_bench
from letters.ops.init import init_workspace
from letters.ops.sample import write_sample
from letters.render.preview import PreviewFiles, preview_account, preview_template
from letters.render.renderer import default_templates_dir

PreviewAccountsArgument = Annotated[
    Path | None, typer.Argument(help="The accounts CSV (with --account).")
]
AccountOption = Annotated[
    str | None, typer.Option("--account", help="Render the letter this account would get.")
]
TemplateOption = Annotated[
    str | None, typer.Option("--template", help="Render this template with sample data.")
]
PreviewSourcesOption = Annotated[
    list[Path] | None, typer.Option("--sources", help="Address sources (with --account).")
]
PreviewOutOption = Annotated[Path, typer.Option("--out", help="Folder for the PDF and PNGs.")]
WindowsOption = Annotated[
    bool, typer.Option("--windows", help="Draw the envelope windows over the page.")
]
WatchOption = Annotated[
    bool, typer.Option("--watch", help="Render again whenever a template file changes.")
]


def init(
    work_dir: Annotated[Path, typer.Argument(help="The folder to create or fill.")],
) -> None:
    """Create a working folder: commented policy, address config, templates, crontab line.

    Example: letters init /srv/letters
    """
    output.print_init(init_workspace(work_dir, _installed_command()), work_dir)


def _installed_command() -> str:
    """The absolute command cron is to run: this `letters` (the script next to the running
    Python, or the one on PATH), else `python -m letters.cli`; quoted for a shell."""
    started = Path(sys.argv[0])
    candidates = [started if started.name == "letters" else None,
                  Path(sys.executable).parent / "letters", shutil.which("letters")]  # fmt: skip
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return shlex.quote(str(Path(candidate).resolve()))
    return f"{shlex.quote(str(Path(sys.executable).absolute()))} -m letters.cli"


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
    files = write_sample(out_dir, accounts, seed, as_of_date(as_of))
    contacts = [files.contacts_path] if files.contacts_path else []
    output.print_written([files.accounts_path, *files.source_paths, files.truth_path, *contacts])


def preview(
    accounts: PreviewAccountsArgument = None,
    account: AccountOption = None,
    template: TemplateOption = None,
    sources: PreviewSourcesOption = None,
    as_of: AsOfOption = None,
    policy: PolicyOption = None,
    templates: TemplatesOption = None,
    address_config: AddressConfigOption = None,
    out_dir: PreviewOutOption = Path("preview"),
    windows: WindowsOption = False,
    watch: WatchOption = False,
) -> None:
    """Preview one letter as PDF and PNG; never touches the batch state or the article pool.

    Example: letters preview --template final.html --windows --watch
    """
    if (account is None) == (template is None):
        raise UsageError(
            "give exactly one of --account (with ACCOUNTS and --sources) or --template"
        )
    templates_dir = templates or default_templates_dir()

    render = functools.partial(_preview, accounts, account, template, sources, as_of, policy,
                               templates_dir, address_config, out_dir, windows)  # fmt: skip
    if not watch:
        output.print_preview(render())
        return
    _watch(templates_dir, lambda: output.print_preview(render()))


def _preview(accounts: Path | None, account: str | None, template: str | None,
             sources: list[Path] | None, as_of: str | None, policy: Path | None,
             templates_dir: Path, address_config: Path | None, out_dir: Path,
             windows: bool) -> PreviewFiles:  # fmt: skip
    """Render the one letter the options ask for: a template with sample data, or an account's."""
    loaded = load_policy(policy)
    if template is not None:
        return preview_template(
            loaded, templates_dir, template, as_of_date(as_of), out_dir, windows
        )
    if accounts is None or account is None:
        raise UsageError("--account needs the ACCOUNTS file and --sources")
    request = RunRequest(
        accounts_path=accounts, source_paths=tuple(sources or ()), out_dir=out_dir,
        as_of=as_of_date(as_of), policy=loaded, templates_dir=templates_dir,
        address_config=engine_config(address_config),
    )  # fmt: skip
    return preview_account(request, account, out_dir, windows)


def _watch(templates_dir: Path, render_once: Callable[[], None]) -> None:
    """Render now, then poll the templates folder and render again on every change, until Ctrl-C;
    an error is shown and the watch goes on."""

    def state() -> dict[Path, float]:
        return {p: p.stat().st_mtime for p in templates_dir.rglob("*") if p.is_file()}

    def render_reporting_errors() -> None:
        try:
            render_once()
        except LettersError as exc:
            output.print_error(exc)

    render_reporting_errors()
    seen = state()
    output.print_watching(templates_dir)
    try:
        while True:
            time.sleep(0.4)
            now = state()
            if now != seen:
                seen = now
                render_reporting_errors()
    except KeyboardInterrupt:
        output.print_stopped_watching()


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
        output.print_json(figures)
    else:
        output.print_bench(figures, results)
