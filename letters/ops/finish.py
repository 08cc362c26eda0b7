"""Finish: manifests, print file, mailing book, rejects, review, summary and the seal.

The state says `complete` only once the seal is written: a kill before that leaves a batch that
the next run resumes and seals.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, TypeVar

from letters import __version__
from letters.decide.plan import Plan
from letters.errors import ExitCode
from letters.fsutil import sha256_bytes, sha256_file, write_csv
from letters.intake.policy import default_policy_text
from letters.model import Status
from letters.ops.context import BatchContext
from letters.ops.start import summary_base
from letters.processes import become_child, signals_held, stop_requested
from letters.proof.archive import write_letter_records
from letters.proof.mailbook import (
    BookPart,
    book_context,
    book_lines,
    book_parts,
    join_book,
    render_book_part_apart,
    render_book_parts,
    write_book_csv,
)
from letters.proof.manifest import (
    REVIEW_COLUMNS,
    write_manifest,
    write_manifest_jsonl,
    write_rejects,
    write_summary,
)
from letters.proof.printfile import print_pieces, write_print_file
from letters.proof.rows import in_input_order, plan_review_rows
from letters.proof.seal import signing_key, write_seal
from letters.render.pool import open_renderer
from letters.state.records import DecisionRecord

T = TypeVar("T")


class InlineExecutor(Executor):
    """Runs each submitted call at once in this process (tests and small machines)."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Call `fn` now; its result or exception waits in the returned future."""
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


def _helpers(ctx: BatchContext) -> Executor:
    if (
        ctx.in_process_helpers
        or ctx.result.letters < ctx.request.policy.output.helper_processes_from
    ):
        return InlineExecutor()  # two fresh processes would cost more than a small batch saves
    # The print file (pikepdf) and the mailing book (WeasyPrint) are made side by side, each in
    # a fresh process that gets only what it needs: both are CPU-bound, the machine has the
    # cores, and neither adds to this process's memory (a fork would count it twice).
    # Each dies with this process and ignores the group's Ctrl-C (`become_child`); spawned, it
    # inherits no descriptor, so not the run's lock.
    return ProcessPoolExecutor(
        2,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=become_child,
        initargs=(os.getpid(),),
    )


def _kill_helpers(helpers: Executor, batch_dir: Path) -> None:
    """Stop the helpers now (a signal or an error): nothing more gets written into the batch,
    and what they had half written (only ever under a temporary name) goes."""
    processes = list((getattr(helpers, "_processes", None) or {}).values())
    for process in processes:
        process.kill()
    for process in processes:
        process.join()
    # the processes are gone, so this does not wait long: the executor closes its queues now,
    # not at interpreter exit (once, under load, a "leaked semaphore" warning from
    # multiprocessing followed the run's error line)
    helpers.shutdown(wait=True, cancel_futures=True)
    if processes:
        for partial in batch_dir.glob(".tmp-*"):
            partial.unlink(missing_ok=True)


def finish(ctx: BatchContext, plan: Plan) -> None:
    """Write every end-of-batch file into the batch folder, then close and seal it."""
    rows = in_input_order(ctx.rows)
    result = ctx.result
    for row in rows:
        result.counts[row.status] += 1
        if row.reason_code:
            result.reasons[row.reason_code] += 1
    ctx.store.record_decisions(
        ctx.batch_id,
        (
            DecisionRecord(
                r.account_id,
                r.customer_id,
                r.status,
                r.reason_code,
                r.reason_detail,
                r.stage,
                r.piece_id,
            )
            for r in rows
            if r.status != Status.REJECTED.value
        ),
    )
    batch_dir, policy, request = ctx.batch_dir, ctx.request.policy, ctx.request
    write_manifest(batch_dir / "manifest.csv", rows)
    write_manifest_jsonl(batch_dir / "manifest.jsonl", rows)
    mail_date = policy.calendar.mail_date(request.as_of).isoformat()
    helpers = _helpers(ctx)
    try:
        # a stop while a helper process starts would leave it half started (printing a
        # traceback once its parent's pipe closes): the stop waits until both have started
        held: AbstractContextManager[list[int]] = (
            contextlib.nullcontext([])  # the inline one runs the work itself: never held
            if isinstance(helpers, InlineExecutor)
            else signals_held()
        )
        with held as caught:
            printing = helpers.submit(
                write_print_file,
                batch_dir,
                print_pieces(rows),
                split_by_pages=policy.output.split_print_file_by_pages,
            )
            # the book's parts are laid out by both helpers (or a cluster's workers): the print
            # file takes a few seconds, the book's layout (about two letters' worth a page) most
            # of the end of a large batch
            lines = book_lines(rows, policy)
            context = book_context(ctx.batch_id, lines, policy, mail_date)
            book = book_parts(lines, policy.mailing_book.lines_per_page)
            # on other hosts' workers (`local:N` ones are on this host, as the helpers are)
            on_cluster = (request.cluster or "").startswith("tcp://") and len(book) > 1
            parts = _book_by_helpers(ctx, context, [] if on_cluster else book, helpers)
        if caught:
            raise KeyboardInterrupt
        if lines:
            write_book_csv(batch_dir, lines)
            # joined in a helper too: the book's pages never pass through this process
            files = (
                _book_on_cluster(ctx, context, book, helpers)
                if on_cluster
                else [part.result() for part in parts]  # a helper's error: here
            )
            helpers.submit(join_book, batch_dir, files).result()
        printing.result()
    except BaseException:
        _kill_helpers(helpers, batch_dir)
        raise
    helpers.shutdown()
    if lines:
        ctx.say(f"mailing book: {len(lines)} accountable pieces")
    write_rejects(batch_dir / "rejects.csv", plan.rejects)
    write_csv(batch_dir / "review.csv", REVIEW_COLUMNS, plan_review_rows(plan))
    result.exit_code = ExitCode.REJECTED_ROWS if plan.rejects else ExitCode.DONE
    # the log's summary line; the operator's comes from the CLI, once (accounts, then letters)
    ctx.note(
        f"batch {ctx.batch_id} complete: accounts "
        + " ".join(f"{k}={v}" for k, v in sorted(result.counts.items()))
        + f"; letters {result.letters}"
    )
    if stop_requested():  # a stop signal whose KeyboardInterrupt Python dropped: still a stop
        raise KeyboardInterrupt
    with signals_held():  # a stop now would leave the seal and the status disagreeing
        close(ctx, "complete")  # a stop that came meanwhile is moot: the batch is complete


def _book_on_cluster(
    ctx: BatchContext, context: dict[str, object], book: list[BookPart], helpers: Executor
) -> list[Path]:
    """A run on a cluster lays out its mailing book there too (while a helper here makes the
    print file): the book is the longest part of the end of a batch of accountable mail, and
    this host's two helpers would bound it whatever the cluster's size. A cluster gone by now
    costs nothing: the helpers lay the book out here."""
    from letters.render.cluster import ClusterLost, ClusterUnavailable

    request, policy = ctx.request, ctx.request.policy
    try:
        with open_renderer(request.cluster, request.templates_dir, policy.envelope,
                           policy.output, request.jobs) as renderer:  # fmt: skip
            return render_book_parts(
                renderer, context, book, policy.mailing_book.lines_per_page, ctx.batch_dir
            )
    except (ClusterLost, ClusterUnavailable) as exc:
        ctx.say(f"mailing book: laid out on this host ({exc})")
    return [part.result() for part in _book_by_helpers(ctx, context, book, helpers)]


def _book_by_helpers(
    ctx: BatchContext, context: dict[str, object], book: list[BookPart], helpers: Executor
) -> list[Future[Path]]:
    """The book's parts, each laid out by a helper into its part file."""
    templates, policy, batch_dir = ctx.request.templates_dir, ctx.request.policy, ctx.batch_dir
    return [
        helpers.submit(render_book_part_apart, templates, policy, context, part, batch_dir)
        for part in book
    ]


def close(ctx: BatchContext, status: str) -> None:
    """Write the summary, close the log, seal a complete batch, then record its status."""
    result = ctx.result
    result.status = status
    finished = ctx.stamp()
    summary = {**summary_base(ctx), **result.summary(), "finished_at": finished}
    write_summary(result.batch_dir / "summary.json", summary)
    if ctx.log:
        ctx.log.write(f"batch {result.batch_id} {status}")
        ctx.log.close()
        ctx.log = None
    if status == "complete":
        seal(ctx, summary)
    ctx.store.finish_batch(result.batch_id, status, finished, result.summary())


def seal(ctx: BatchContext, summary: dict[str, Any]) -> None:
    """Write `batch.json` over every file of the batch, signed when a key is configured."""
    request = ctx.request
    policy = request.policy
    key = signing_key(request.seal_key or policy.seal_key_file, policy.seal_require_signature)
    policy_bytes = (
        request.policy_path.read_bytes() if request.policy_path else default_policy_text().encode()
    )
    templates = {
        p.relative_to(request.templates_dir).as_posix(): sha256_file(p)
        for p in sorted(request.templates_dir.rglob("*"))
        if p.is_file()
    }
    # the state's record of each letter, sealed with it: what `letters state rebuild` reads back
    letters = ctx.store.archived_letters(ctx.batch_id)
    write_letter_records(ctx.batch_dir, letters, request.policy.imb.mailer_id)
    write_seal(
        ctx.batch_dir,
        {
            "batch_id": ctx.batch_id,
            "tool_version": __version__,
            "status": "complete",
            "as_of": request.as_of.isoformat(),
            "finished_at": summary["finished_at"],
            "policy": {"name": request.policy.source_name, "sha256": sha256_bytes(policy_bytes)},
            "templates": templates,
            "inputs": summary["inputs"],
            "counts": summary["counts"],
            "reasons": summary["reasons"],
        },
        key,
    )
