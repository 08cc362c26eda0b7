"""The dry run: decide every account as a run would, rendering and recording nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from addresses.csvio import Reject
from letters.decide.plan import HistoryOf, Notify, plan_batch
from letters.fsutil import write_csv
from letters.intake.request import RunRequest
from letters.intake.sources import load_inputs
from letters.model import ChannelDecision, History, Status, payment_reference
from letters.ops.messages import CHANNEL_COLUMNS, channel_rows, dry_run_facts
from letters.proof.manifest import ManifestRow, write_manifest
from letters.proof.reconcile import evidence_records
from letters.proof.rows import (
    in_input_order,
    manifest_rows_for_letter,
    plan_account_ids,
    plan_rows,
)
from letters.render.renderer import Renderer
from letters.review.evidence import with_review_evidence
from letters.state import configured_db_path, open_store, state_exists
from letters.state.protocol import StateStore

ReferencesOf = Callable[[Iterable[str]], Mapping[str, str]]


def first_candidates(account_ids: Iterable[str]) -> dict[str, str]:
    """Each account's first candidate payment reference: what a run registers in a new state."""
    return {account_id: payment_reference(account_id) for account_id in account_ids}


@dataclass(frozen=True, slots=True)
class DryRun:
    """A dry run's outcome: every account's row, and every input row (accounts and address
    sources) that could not be used."""

    rows: list[ManifestRow]
    rejects: list[Reject]
    channel_decisions: list[ChannelDecision] = field(default_factory=list)


def dry_run(
    request: RunRequest,
    history_of: HistoryOf,
    template_exists: Callable[[str], bool],
    notify: Notify,
    references_of: ReferencesOf = first_candidates,
    store: StateStore | None = None,
) -> DryRun:
    """Every account's manifest row as a run would write it, in the accounts file's order
    (`references_of` gives the payment references, writing nothing), and every debtor's e-mail
    decision when the policy sends e-mail."""
    inputs = load_inputs(request)
    facts_of = dry_run_facts(request, inputs, store)
    plan = plan_batch(request, inputs, notify, history_of, template_exists, facts_of)
    references = references_of(plan_account_ids(plan))
    rows = plan_rows("dry-run", plan, references)
    for letter in plan.letters:
        status = Status.GENERATED
        rows += manifest_rows_for_letter("dry-run", letter, status, None, {}, references)
    return DryRun(in_input_order(rows), list(plan.rejects), plan.channel_decisions)


def earlier_state(db: Path | None) -> Path | None:
    """The state a dry run reads earlier letters from: `--db`, else `$LETTERS_DB`, if it exists.

    Unlike a run, a dry run never falls back to a folder's `letters.db`: without either it decides
    as if nothing had been sent before.
    """
    db_path = configured_db_path(db)
    return db_path if db_path is not None and state_exists(db_path) else None


def decide_accounts(request: RunRequest, db: Path | None, out_path: Path) -> DryRun:
    """Decide every account without rendering, against the earlier letters and returned mail in
    the state (see `earlier_state`), and write the decisions CSV to `out_path`."""
    renderer = Renderer(request.templates_dir)
    renderer.check_templates(request.policy.all_templates())
    db_path = earlier_state(db)
    if db_path is None:
        result = dry_run(
            request, lambda _c: History(), renderer.template_exists, lambda _line: None
        )
    else:
        store = open_store(db_path)
        try:
            request = replace(request, extra_records=tuple(evidence_records(store)))
            request = with_review_evidence(request, store)
            result = dry_run(
                request,
                lambda customer: store.history(customer, ""),
                renderer.template_exists,
                lambda _line: None,
                store.lookup_payment_references,
                store,
            )
        finally:
            store.close()
    write_manifest(out_path, result.rows)
    if result.channel_decisions:
        write_csv(channels_path(out_path), CHANNEL_COLUMNS, channel_rows(result.channel_decisions))
    return result


def channels_path(out_path: Path) -> Path:
    """Where a dry run writes the e-mail decisions: `decisions-channels.csv` next to the CSV."""
    return out_path.with_name(f"{out_path.stem}-channels.csv")
