"""The `letters review` commands: `list` the held debtors, `show` one, `decide`, `import` a
filled-in review.csv, `serve` the review page; `held` letters, `release` or `void` one. Each
calls one library function in `letters.review`."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from letters.cli.options import DbOption, PolicyOption, StateDirOption, TemplatesOption
from letters.errors import ExitCode, UsageError
from letters.intake.policy import load_policy
from letters.ops.status import existing_db_path
from letters.render.renderer import default_templates_dir
from letters.review.csvimport import ImportResult, import_review_csv
from letters.review.held import decide_held, list_held
from letters.review.letter import would_go
from letters.review.queue import (
    DecisionRequest,
    ReviewItem,
    list_queue,
    review_item,
)
from letters.review.queue import (
    decide as decide_item,
)
from letters.state import opened_store
from letters.state.protocol import StateStore

CustomerArgument = Annotated[str, typer.Argument(help="The held debtor's customer_id.")]
AllOption = Annotated[
    bool, typer.Option("--all", help="Also debtors decided whom the next run has not acted on.")
]
PreviewOption = Annotated[
    Path | None, typer.Option("--preview", help="Write the letter that would go (PDF, PNG) here.")
]
CandidateOption = Annotated[
    int | None, typer.Option("--candidate", help="The candidate the preview is for (default 1).")
]
AcceptOption = Annotated[int | None, typer.Option("--accept", help="Accept candidate N.")]
AddressOption = Annotated[
    str | None, typer.Option("--address", help="A corrected address, on one line.")
]
NotMailableOption = Annotated[
    str | None,
    typer.Option("--not-mailable", help="Not mailable: wrong_person, deceased, no_address, ..."),
]
LeaveOption = Annotated[bool, typer.Option("--leave", help="Leave the debtor in the queue.")]
ByOption = Annotated[str, typer.Option("--by", help="Who decides (recorded).")]
NoteOption = Annotated[str, typer.Option("--note", help="Why (recorded).")]
ImportByOption = Annotated[
    str, typer.Option("--by", help="The reviewer for rows whose reviewer column is empty.")
]
ReviewCsvArgument = Annotated[Path, typer.Argument(help="A batch's review.csv, filled in.")]


def _state(db: Path | None, out_dir: Path) -> AbstractContextManager[StateStore]:
    """The state the runs wrote (the queue lives there): a missing one is exit 2, never a new,
    empty state made by a mistyped --out."""
    return opened_store(existing_db_path(db, out_dir))


def _now() -> datetime:
    return datetime.now(UTC)


def list_(
    all_: AllOption = False, db: DbOption = None, out_dir: StateDirOption = Path(".")
) -> None:
    """List the debtors held for their address, oldest first.

    Example: letters review list --out batches
    """
    with _state(db, out_dir) as store:
        items = list_queue(store, all_)
    for item in items:
        entry = item.entry
        typer.echo(
            f"{entry.customer_id}\theld since {entry.first_held}\t{entry.status}\t"
            f"{len(item.candidates)} candidates\t{entry.reasons}"
        )
    waiting = sum(1 for item in items if item.entry.status == "open")
    decided = f", {len(items) - waiting} decided for the next run" if all_ else ""
    typer.echo(f"{waiting} debtors waiting for review{decided}")


def show(
    customer_id: CustomerArgument,
    preview: PreviewOption = None,
    candidate: CandidateOption = None,
    policy: PolicyOption = None,
    templates: TemplatesOption = None,
    db: DbOption = None,
    out_dir: StateDirOption = Path("."),
) -> None:
    """Show a held debtor: why held, each candidate with its factors and checks, the decisions.

    Example: letters review show C-1042 --out batches --preview review-C-1042
    """
    with _state(db, out_dir) as store:
        item = review_item(store, customer_id)
        _print_item(item)
        if preview is not None:
            rank = candidate or 1
            chosen = next((c for c in item.candidates if c.rank == rank), None)
            if chosen is None:
                raise UsageError(f"--candidate: {customer_id} has no candidate {rank}")
            folder = templates or default_templates_dir()
            files = would_go(store, item, chosen.address, load_policy(policy), folder, preview)
            typer.echo(f"the letter that would go to candidate {rank}: {files.pdf_path}")


def _print_item(item: ReviewItem) -> None:
    entry = item.entry
    typer.echo(f"{entry.customer_id}: {entry.status}, held since {entry.first_held}")
    typer.echo(f"  why: {entry.reasons}")
    accounts = ", ".join(f"{a.account_id} ({a.currency} {a.balance})" for a in item.accounts)
    typer.echo(f"  accounts: {accounts}")
    for c in item.candidates:
        where = " / ".join(line for line in c.address.lines() if line)
        typer.echo(f"  candidate {c.rank}: {c.confidence:.3f}  {where}  [{', '.join(c.sources)}]")
        for line in c.factor_lines():
            typer.echo(f"      {line}")
        for check in c.failed_checks:
            typer.echo(f"      failed check {check}")
    for d in item.decisions:
        what = (
            d.kind
            + (f" {d.candidate}" if d.candidate else "")
            + (f" {d.reason}" if d.reason else "")
        )
        typer.echo(f"  decided {d.decided_at} by {d.reviewer} ({d.via}): {what} {d.note}".rstrip())


def decide(
    customer_id: CustomerArgument,
    by: ByOption,
    accept: AcceptOption = None,
    address: AddressOption = None,
    not_mailable: NotMailableOption = None,
    leave: LeaveOption = False,
    note: NoteOption = "",
    db: DbOption = None,
    out_dir: StateDirOption = Path("."),
) -> None:
    """Decide about a held debtor: --accept N, --address "...", --not-mailable REASON or --leave.

    Example: letters review decide C-1042 --accept 2 --by "J. Doe" --note "called the debtor"
    """
    options = {"accept": accept, "address": address, "not_mailable": not_mailable, "leave": leave}
    given = [kind for kind, value in options.items() if value not in (None, False, "")]
    if len(given) != 1:
        raise UsageError("give exactly one of --accept, --address, --not-mailable, --leave")
    request = DecisionRequest(customer_id, given[0], by, accept, address or "",
                              (not_mailable or "").lower(), note)  # fmt: skip
    with _state(db, out_dir) as store:
        applied = decide_item(store, request, _now())
    state = "recorded" if applied.changed else "already recorded, unchanged"
    typer.echo(f"{customer_id}: {applied.decision.kind} {state}; the next run acts on it")


def import_(
    review_csv: ReviewCsvArgument,
    by: ImportByOption = "",
    db: DbOption = None,
    out_dir: StateDirOption = Path("."),
) -> None:
    """Apply the decisions filled into a review.csv; each row applied or rejected with its line.

    Example: letters review import batches/20261120-.../review.csv --out batches --by "J. Doe"
    """
    with _state(db, out_dir) as store:
        result = import_review_csv(store, review_csv, by, _now())
    _print_import(result)
    if result.rejects:
        raise typer.Exit(int(ExitCode.REJECTED_ROWS))


def _print_import(result: ImportResult) -> None:
    for reject in result.rejects:
        typer.echo(reject.message, err=True)
    typer.echo(
        f"{len(result.applied)} decisions applied, {len(result.unchanged)} already applied,"
        f" {len(result.rejects)} rows rejected, {result.skipped} rows without a decision"
    )


PieceArgument = Annotated[str, typer.Argument(help="The held letter's piece id.")]
HeldAllOption = Annotated[
    bool, typer.Option("--all", help="Also the letters voided or mailed since.")
]
VoidNoteOption = Annotated[str, typer.Option("--note", help="Why (recorded; required).")]


def held(
    all_: HeldAllOption = False, db: DbOption = None, out_dir: StateDirOption = Path(".")
) -> None:
    """List the letters the lint held, oldest first: piece, status, why, and the PDF to read.

    Example: letters review held --out batches
    """
    with _state(db, out_dir) as store:
        letters = list_held(store, all_)
    for letter in letters:
        decided = f"\t{letter.status} by {letter.decided_by}" if letter.decided_by else ""
        typer.echo(
            f"{letter.piece_id}\t{letter.status}\theld {letter.held_at[:10]} in {letter.batch_id}"
            f"\t{letter.reason.split(': ', 1)[0]}\t{letter.pdf_path}{decided}"
        )
    waiting = sum(1 for letter in letters if letter.status == "held")
    released = sum(1 for letter in letters if letter.status == "released")
    typer.echo(f"{waiting} held letters waiting for review, {released} released for the next run")


def _decide_held(piece_id: str, action: str, by: str, note: str, db: Path | None,
                 out_dir: Path) -> None:  # fmt: skip
    with _state(db, out_dir) as store:
        letter, changed = decide_held(store, piece_id, action, by, note, _now())
    state = "recorded" if changed else "already recorded, unchanged"
    after = "; the next run mails it" if letter.status == "released" else ""
    typer.echo(f"{piece_id}: {letter.status} {state}{after}")


def release(
    piece_id: PieceArgument,
    by: ByOption,
    note: NoteOption = "",
    db: DbOption = None,
    out_dir: StateDirOption = Path("."),
) -> None:
    """Release a letter the lint held: the next run puts the same PDF into its print file.

    Example: letters review release 20261120-013000-ab12-000007 --by "J. Doe" --note "read it"
    """
    _decide_held(piece_id, "release", by, note, db, out_dir)


def void(
    piece_id: PieceArgument,
    by: ByOption,
    note: VoidNoteOption,
    db: DbOption = None,
    out_dir: StateDirOption = Path("."),
) -> None:
    """Void a letter the lint held: it never goes; the next run writes a fresh letter if one is due.

    Example: letters review void 20261120-013000-ab12-000007 --by "J. Doe" --note "wrong amount"
    """
    _decide_held(piece_id, "void", by, note, db, out_dir)


PortOption = Annotated[
    int, typer.Option("--port", min=0, max=65535, help="Port on 127.0.0.1 (0: any free port).")
]
ServeByOption = Annotated[str, typer.Option("--by", help="The reviewer's name to start with.")]


def serve(
    port: PortOption = 8765,
    by: ServeByOption = "",
    policy: PolicyOption = None,
    templates: TemplatesOption = None,
    db: DbOption = None,
    out_dir: StateDirOption = Path("."),
) -> None:
    """Serve the review page on 127.0.0.1 until Ctrl-C: open the URL it prints (with its token).

    Example: letters review serve --out batches --by "J. Doe"
    """
    from letters.review.page import PageSettings
    from letters.review.server import serve as serve_page

    path = existing_db_path(db, out_dir)
    with _state(db, out_dir):  # a state that cannot be opened stops here, with exit 2
        pass
    settings = PageSettings(path, load_policy(policy), templates or default_templates_dir(), by)

    def started(url: str) -> None:
        typer.echo(f"Review page (Ctrl-C stops it): {url}")

    serve_page(settings, port, started)
    typer.echo("review page stopped", err=True)
