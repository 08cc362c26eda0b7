"""A batch's life: lock the state, start or resume, plan, produce each letter once, finish.

Each stage is a function over one `BatchContext` (`letters.ops.start`, `letters.ops.produce`,
`letters.ops.finish`); this module holds the lock and decides what a stop or a failure leaves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from letters.decide.plan import plan_batch
from letters.errors import ExitCode, LettersError, UsageError
from letters.intake.request import RunRequest
from letters.intake.sources import Inputs, load_inputs
from letters.model import History
from letters.ops.approval import approved_for_run, latest_approval_in
from letters.ops.context import BatchContext, BatchResult
from letters.ops.finish import close, finish
from letters.ops.messages import channel_facts, check_email_setup, queue_messages
from letters.ops.produce import produce
from letters.ops.progress import QuietReporter, Reporter
from letters.ops.release import mail_released, merge_released, with_released
from letters.ops.start import apply_force, fingerprint, start
from letters.processes import clear_stop, signals_held
from letters.proof.reconcile import evidence_records
from letters.proof.rows import plan_account_ids, plan_rows
from letters.proof.seal import signing_key
from letters.render.articles import load_pool_file, pool_file_numbers
from letters.render.check import check_templates
from letters.render.renderer import Renderer
from letters.review.evidence import with_review_evidence
from letters.review.queue import accounts_by_customer, record_held
from letters.state import db_path_for, open_store, run_lock, shown
from letters.state.protocol import StateStore
from letters.state.records import HeldLetter


class Interrupted(LettersError):
    """The run was stopped (SIGINT/SIGTERM); the batch is marked interrupted and can be resumed."""

    exit_code = ExitCode.INTERRUPTED


def run_batch(
    request: RunRequest,
    reporter: Reporter | None = None,
    now: Callable[[], datetime] = datetime.now,
    renderer_factory: Callable[..., Renderer] = Renderer,
    store_factory: Callable[[Path], StateStore] = open_store,
    in_process_helpers: bool = False,
) -> BatchResult:
    """Run (or resume) one batch end to end under the state lock.

    The collaborators are seams: tests pass their own clock, renderer, store, and may keep the
    end-of-batch helpers in this process.
    """
    clear_stop()  # a stop honoured by an earlier run in this process is not this run's
    inputs = load_inputs(request)
    policy = request.policy
    signing_key(request.seal_key or policy.seal_key_file, policy.seal_require_signature)
    renderer = renderer_factory(request.templates_dir, policy.envelope, policy.output)
    db_path = db_path_for(request.db_path, request.out_dir)
    # an unapproved template set stops the run before anything is rendered
    latest = latest_approval_in(db_path, store_factory)
    approval = approved_for_run(latest, policy, request.templates_dir)
    check_templates(renderer, policy, request.as_of)
    check_email_setup(policy, request.templates_dir)
    identity = fingerprint(request)
    pool_numbers = pool_file_numbers(policy.articles)
    if request.cluster is not None:
        from letters.render.cluster import parse_cluster

        parse_cluster(request.cluster)
    if request.force and not request.force_reason.strip():
        raise UsageError("--force needs --force-reason: say why these pieces go again")
    store = store_factory(db_path)
    try:
        for piece_id in request.force:
            if store.letter_by_piece(piece_id) is None:
                raise UsageError(f"--force: no piece {piece_id!r} in {shown(db_path)}")
        ctx = BatchContext(
            request,
            reporter or QuietReporter(),
            now,
            store,
            renderer,
            db_path,
            identity,
            in_process_helpers=in_process_helpers,
            approval=approval,
        )
        lock = run_lock(db_path)
        lock.acquire("starting")
        try:
            start(ctx, len(inputs.rejects))
            lock.describe(ctx.batch_id)
            return _run_started(ctx, inputs, pool_numbers)
        finally:
            lock.release()
    finally:
        store.close()


def _run_started(ctx: BatchContext, inputs: Inputs, pool_numbers: list[str]) -> BatchResult:
    """Plan, produce and finish a started batch; a stop or a failure is recorded as such."""
    ctx.say(
        f"read {len(inputs.accounts)} accounts, {len(inputs.records)} address records, "
        f"{len(inputs.rejects)} rows rejected"
    )
    for unknown in inputs.unknown_sources:  # every run, until the configuration names it
        ctx.say(f"warning: {unknown.message()}")
    ctx.result.unknown_sources = [
        {"file": u.file, "source": u.source, "rows": u.rows} for u in inputs.unknown_sources
    ]
    try:
        load_pool_file(ctx.store, ctx.request.policy.articles, pool_numbers)
        apply_force(ctx)

        released, released_rows = mail_released(ctx)
        by_customer: dict[str, list[HeldLetter]] = {}
        for held in released:
            by_customer.setdefault(held.customer_id, []).append(held)

        def history_of(customer: str) -> History:
            history = replace(ctx.store.history(customer, ctx.batch_id), forced=ctx.forced)
            return with_released(history, by_customer.get(customer, []), ctx.batch_id)

        returned = tuple(evidence_records(ctx.store))
        if returned:
            ctx.say(f"returned mail on record: {len(returned)} addresses")
        request = with_review_evidence(replace(ctx.request, extra_records=returned), ctx.store)
        facts_of = channel_facts(ctx, inputs)
        plan = plan_batch(
            request, inputs, ctx.say, history_of, ctx.renderer.template_exists, facts_of
        )
        inputs.records.clear()  # they served the plan: the rest of the run holds no report
        batch = (ctx.batch_id, ctx.request.as_of.isoformat(), ctx.stamp())
        record_held(ctx.store, batch, plan.held_choices, accounts_by_customer(inputs.accounts))
        ctx.result.flagged_address_rows = plan.flagged_address_rows
        # every decided account's payment reference, registered before any letter prints one
        ctx.references = ctx.store.payment_references(plan_account_ids(plan), ctx.stamp())
        ctx.rows = merge_released(plan_rows(ctx.batch_id, plan, ctx.references), released_rows)
        produce(ctx, plan)
        queue_messages(ctx, plan, inputs)
        plan = plan.for_the_end()
        finish(ctx, plan)
    except KeyboardInterrupt:  # SIGINT, or SIGTERM through the CLI: at any stage, the end too
        if ctx.log is None and ctx.result.status == "complete":
            return ctx.result  # the stop came after the seal: the batch stands as it is
        _interrupted(ctx)
        raise Interrupted(
            f"interrupted; batch {ctx.batch_id} can be resumed with --resume {ctx.batch_id}"
        ) from None
    except BaseException as exc:
        if isinstance(exc, LettersError) and exc.exit_code == ExitCode.INTERRUPTED:
            _interrupted(ctx)  # the Dask scheduler went away: resume on the pool or a new one
            raise Interrupted(
                f"{exc}; batch {ctx.batch_id} can be resumed with --resume {ctx.batch_id}"
            ) from None
        with signals_held():
            close(ctx, "failed")
        raise
    return ctx.result


def _interrupted(ctx: BatchContext) -> None:
    with signals_held():  # a second Ctrl-C does not cut the closing short
        ctx.result.exit_code = ExitCode.INTERRUPTED
        close(ctx, "interrupted")
