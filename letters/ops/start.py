"""Start or resume a batch: pick the batch, make its folder and log, record it `running`."""

from __future__ import annotations

import getpass
import hashlib
import os
import secrets
import socket
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from letters import __version__
from letters.errors import UsageError
from letters.fsutil import make_private_dir, sha256_file
from letters.intake.request import RunRequest
from letters.ops.approval import approval_summary
from letters.ops.context import BatchContext, BatchLog, BatchResult
from letters.ops.recover import close_unfinished, refuse_unknown_batches
from letters.proof.manifest import write_summary
from letters.state import shown
from letters.state.records import BatchRecord


def new_batch_id(as_of: date, now: datetime, taken: Iterable[str] = ()) -> str:
    """A batch id that sorts by date and time and does not collide: `20261120-021502-a3f9`.

    The last part is random, but above that of any batch in `taken` started in the same second,
    so that batches of one state started in one second still sort in the order they started.
    """
    prefix = f"{as_of:%Y%m%d}-{now:%H%M%S}-"
    last = max((int(t[len(prefix) :], 16) for t in taken if t.startswith(prefix)), default=-1)
    if last < 0:
        return prefix + f"{secrets.randbelow(0x8000):04x}"  # the upper half is room for more
    return prefix + f"{min(last + 1 + secrets.randbelow(0x100), 0xFFFF):04x}"


def fingerprint(request: RunRequest) -> dict[str, Any]:
    """What must not change between a batch and its resume: inputs, date, policy, templates."""
    templates = hashlib.sha256()
    for path in sorted(request.templates_dir.rglob("*")):
        if path.is_file():
            templates.update(path.relative_to(request.templates_dir).as_posix().encode())
            templates.update(path.read_bytes())
    return {
        "as_of": request.as_of.isoformat(),
        "accounts": [str(request.accounts_path), sha256_file(request.accounts_path)],
        "sources": [[str(p), sha256_file(p)] for p in request.source_paths],
        "policy": request.policy.source_name,
        "policy_sha256": sha256_file(request.policy_path) if request.policy_path else "",
        "templates": templates.hexdigest(),
        "out_dir": str(request.out_dir.resolve()),
    }


def choose_batch(ctx: BatchContext) -> tuple[str, bool]:
    """The batch to run: the one to resume, an interrupted one of the same inputs, or new."""
    store, request = ctx.store, ctx.request
    for stale in store.batches():
        if stale.status == "running":  # we hold the lock, so its run is dead
            store.finish_batch(stale.batch_id, "interrupted", ctx.stamp(), stale.counts)
    if request.resume:
        record = store.batch(request.resume)
        if record is None:
            raise UsageError(f"--resume: no batch {request.resume!r} in {shown(ctx.db_path)}")
        if record.status in ("complete", "closed"):
            raise UsageError(f"--resume: batch {record.batch_id} is already {record.status}")
        if record.request != ctx.identity:
            raise UsageError(
                "--resume: inputs, date, policy or templates differ from batch " + record.batch_id
            )
        return record.batch_id, True
    records = store.batches()  # read once: the stale ones above now say interrupted
    for record in records:
        if record.status == "interrupted" and record.request == ctx.identity and not request.force:
            return record.batch_id, True
    return new_batch_id(request.as_of, ctx.now(), [r.batch_id for r in records]), False


def summary_base(ctx: BatchContext) -> dict[str, Any]:
    """The summary fields that do not change while the batch runs."""
    identity = ctx.identity
    return {
        "tool_version": __version__,
        "as_of": ctx.request.as_of.isoformat(),
        "started_at": ctx.started.isoformat(timespec="seconds"),
        "policy": ctx.request.policy.source_name,
        "inputs": {path: digest for path, digest in [identity["accounts"], *identity["sources"]]},
        "state": str(ctx.db_path),
        "template_approval": approval_summary(ctx.approval),
    }


def start(ctx: BatchContext, rejected_rows: int) -> None:
    """Open the batch: its folder (cleared of a killed run's temporary files), log and record."""
    refuse_unknown_batches(ctx)
    ctx.batch_id, ctx.resumed = choose_batch(ctx)
    ctx.started = ctx.now()
    ctx.batch_dir = make_private_dir(ctx.request.out_dir) / ctx.batch_id
    make_private_dir(make_private_dir(ctx.batch_dir) / "pdf")
    for stale in (*ctx.batch_dir.glob(".tmp-*"), *ctx.pdf_dir.glob(".tmp-*")):
        stale.unlink()  # half-written files of a killed run; never a real name
    ctx.log = BatchLog(ctx.batch_dir / "run.log")
    ctx.result = BatchResult(
        ctx.batch_id, ctx.batch_dir, resumed=ctx.resumed, rejected_rows=rejected_rows
    )
    ctx.result.closed = [closed.summary() for closed in close_unfinished(ctx)]
    ctx.store.begin_batch(
        BatchRecord(
            ctx.batch_id,
            ctx.request.as_of.isoformat(),
            ctx.started.isoformat(timespec="seconds"),
            None,
            "running",
            str(ctx.batch_dir),
            ctx.identity,
            os.getpid(),
            socket.gethostname(),
            {},
        )
    )
    summary = {**summary_base(ctx), **ctx.result.summary(), "status": "running"}
    write_summary(ctx.batch_dir / "summary.json", summary)
    verb = "resumed" if ctx.resumed else "started"
    ctx.say(f"batch {ctx.batch_id} {verb} (as of {ctx.request.as_of})")


def apply_force(ctx: BatchContext) -> None:
    """Free the keys of the pieces an operator forces and keep a record of who did it and why."""
    keys = set()
    operator = getpass.getuser()
    for piece_id in ctx.request.force:
        record = ctx.store.letter_by_piece(piece_id)
        if record is None:  # checked before the run started; released by a run since
            continue
        ctx.store.release_letter(record.letter_key)
        keys.add(record.letter_key)
        ctx.store.record_force(
            ctx.batch_id,
            piece_id,
            record.letter_key,
            operator,
            ctx.request.force_reason,
            ctx.stamp(),
        )
        ctx.say(f"forced: {piece_id} may be produced again (by {operator})")
    ctx.forced = frozenset(keys)
