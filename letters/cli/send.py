"""`letters send`: deliver the queued e-mails whose send window is open now, or settle one whose
delivery is unknown. Calls `letters.send.deliver`; holds the send lock (`<db>.send-lock`), so a
send may overlap a nightly run but never another send."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from letters.cli.batch import sigterm_interrupts
from letters.cli.options import DbOption, PolicyOption, StateDirOption
from letters.errors import UsageError
from letters.intake.policy import Policy, load_policy
from letters.ops.status import existing_db_path
from letters.send.deliver import SendReport, deliver_due, settle_unknown
from letters.send.transports import TransportError, transport_for
from letters.state import opened_store, run_lock

SEND_LOCK = ".send-lock"
TransportOption = Annotated[
    str | None,
    typer.Option(
        "--transport",
        help="smtp://HOST:PORT or maildir:PATH (default: the policy's email transport).",
    ),
]
NowOption = Annotated[
    str | None,
    typer.Option("--now", help="The time to send at, with its zone: 2026-11-20T14:00:00-06:00."),
]
LimitOption = Annotated[
    int | None, typer.Option("--limit", min=1, help="Send at most N messages this time.")
]
SettleOption = Annotated[
    str | None, typer.Option("--settle", help="A delivery_unknown message id to settle.")
]
OutcomeOption = Annotated[
    str | None,
    typer.Option("--outcome", help="With --settle: sent (it arrived) or resend (queue it again)."),
]
SettleByOption = Annotated[str | None, typer.Option("--by", help="Who settles it (recorded).")]
SettleNoteOption = Annotated[str, typer.Option("--note", help="Why (recorded).")]


def _clock(value: str | None) -> Callable[[], datetime]:
    """`--now` as a stopped clock; the real time (UTC) without it."""
    if value is None:
        return lambda: datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--now: not a date and time (ISO 8601): {value!r}") from None
    if moment.utcoffset() is None:
        raise UsageError(f"--now: give the zone offset too, e.g. {moment:%Y-%m-%dT%H:%M}-06:00")
    return lambda: moment


@contextlib.contextmanager
def _send_lock(db_path: Path) -> Iterator[None]:
    """The send lock, with SIGTERM stopping the send like Ctrl-C (exit 5)."""
    lock = run_lock(db_path, SEND_LOCK)
    lock.acquire("send")
    try:
        with sigterm_interrupts("interrupted; the messages not sent stay queued"):
            yield
    finally:
        lock.release()


def _envelope_from(policy: Policy) -> str:
    sender = policy.email.from_address or policy.sender.email
    if not sender:
        raise UsageError(f"{policy.source_name}: [email] from (or [sender] email) is required")
    return sender


def _print_report(report: SendReport) -> None:
    typer.echo(
        f"sent {report.sent}, waiting {report.waiting}, deferred {report.deferred}, "
        f"failed {report.failed}, expired {report.expired}, cancelled {report.cancelled}, "
        f"delivery unknown {report.delivery_unknown}, not reached {report.not_reached}"
    )
    if report.next_opening is not None:
        typer.echo(f"next opening: {report.next_opening.isoformat(timespec='minutes')}")
    for problem in report.problems:
        typer.echo(problem)
    if report.delivery_unknown:
        typer.echo("settle each: letters send --settle ID --outcome sent|resend --by NAME")


def _settle(db_path: Path, message_id: str, outcome: str | None, by: str | None, note: str) -> None:
    if outcome is None or by is None:
        raise UsageError("--settle needs --outcome sent|resend and --by NAME")
    at = datetime.now(UTC).isoformat(timespec="seconds")
    with _send_lock(db_path), opened_store(db_path) as store:
        record = settle_unknown(store, message_id, outcome, by, note, at)
    typer.echo(f"{record.message_id}: {record.status} ({record.note})")


def send(
    out_dir: StateDirOption = Path("."),
    db: DbOption = None,
    policy: PolicyOption = None,
    transport: TransportOption = None,
    now: NowOption = None,
    limit: LimitOption = None,
    settle: SettleOption = None,
    outcome: OutcomeOption = None,
    by: SettleByOption = None,
    note: SettleNoteOption = "",
) -> None:
    """Send the queued e-mails whose window is open now, each at most once.

    Example: letters send --out batches --transport smtp://smtp.example.net:587
    """
    db_path = existing_db_path(db, out_dir)
    if settle is not None:
        return _settle(db_path, settle, outcome, by, note)
    if outcome is not None or by is not None:
        raise UsageError("--outcome and --by go with --settle MESSAGE_ID")
    clock, loaded = _clock(now), load_policy(policy)
    url = transport or loaded.email.transport
    if not url:
        raise UsageError("no transport: give --transport or set [email] transport in the policy")
    chosen, envelope_from = transport_for(url, loaded.email), _envelope_from(loaded)
    with _send_lock(db_path), opened_store(db_path) as store:
        report = deliver_due(store, chosen, clock, envelope_from, limit)
    _print_report(report)
    if report.failure:
        raise TransportError(f"{report.failure}; the messages not sent stay queued")
