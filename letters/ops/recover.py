"""Before a run starts new work: the state must know every sealed batch, and no batch stays
unfinished.

Every unfinished batch (`running`, `interrupted`, `failed`) but the one this run resumes is
closed: the letters it rendered get their manifest rows, print file, mailing book and seal in its
own folder (status `closed`), and the letters it never rendered are released, so tonight's batch
decides them afresh. A letter counts as sent only once it is in a sealed batch.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from letters import __version__
from letters.errors import ExitCode, LettersError
from letters.fsutil import make_private_dir, sha256_file
from letters.ops.context import BatchContext
from letters.proof.archive import MailClassOf, closed_rows, write_letter_records
from letters.proof.mailbook import ACCOUNTABLE, write_mailing_book
from letters.proof.manifest import ManifestRow, write_manifest, write_manifest_jsonl, write_summary
from letters.proof.printfile import print_pieces, write_print_file
from letters.proof.seal import SEAL_NAME, TEMPORARY_PREFIX, signing_key, write_seal
from letters.state import shown
from letters.state.records import ArchivedLetter, BatchRecord

UNFINISHED = ("running", "interrupted", "failed")


class UnknownBatches(LettersError):
    """Sealed batch folders lie next to a state that does not know them (missing, emptied, or
    an older copy): a run would send their letters again and reuse their article numbers."""

    exit_code = ExitCode.FATAL


@dataclass(frozen=True, slots=True)
class ClosedBatch:
    """What closing an unfinished batch did."""

    batch_id: str
    was: str  # the status it had
    letters: int  # rendered letters sealed in its folder
    accounts: int
    released: int  # letters never rendered, released for tonight's batch to decide
    accountable: int  # lines in its mailing book

    def summary(self) -> dict[str, Any]:
        """As plain data, for summary.json and the state."""
        return {
            "batch_id": self.batch_id,
            "was": self.was,
            "letters": self.letters,
            "accounts": self.accounts,
            "released": self.released,
            "mailing_book": self.accountable,
        }


def sealed_batch_dirs(out_dir: Path) -> list[Path]:
    """The sealed batch folders in an output folder (those with a `batch.json`), by name."""
    if not out_dir.is_dir():
        return []
    return sorted(p for p in out_dir.iterdir() if p.is_dir() and (p / SEAL_NAME).is_file())


def refuse_unknown_batches(ctx: BatchContext) -> None:
    """Stop before anything is written when the state does not know a sealed batch in `--out`."""
    known = {record.batch_id for record in ctx.store.batches()}
    unknown = [d.name for d in sealed_batch_dirs(ctx.request.out_dir) if d.name not in known]
    if unknown:
        out_dir = ctx.request.out_dir
        raise UnknownBatches(
            f"{shown(ctx.db_path)}: the state does not know the sealed batches in {out_dir}: "
            f"{', '.join(unknown)}; rebuild it first: letters state rebuild --out {out_dir}"
        )


def close_unfinished(ctx: BatchContext) -> list[ClosedBatch]:
    """Close every unfinished batch of the state but the one this run resumes; say each."""
    closed = []
    for record in ctx.store.batches():
        if record.status in UNFINISHED and record.batch_id != ctx.batch_id:
            done = close_batch(ctx, record)
            ctx.say(
                f"closed batch {done.batch_id} ({done.was}): {done.letters} letters sealed in its "
                f"folder, {done.released} never rendered released to this batch"
            )
            closed.append(done)
    return closed


def _sealable(ctx: BatchContext, batch_dir: Path, batch_id: str) -> list[ArchivedLetter]:
    """The batch's rendered letters whose PDF is in place and intact; any other is released
    (it was never printed), and so is a PDF the state never recorded as rendered."""
    kept = []
    for archived in ctx.store.archived_letters(batch_id):
        pdf = batch_dir / (archived.letter.pdf_path or "-")
        if pdf.is_file() and sha256_file(pdf) == archived.letter.pdf_sha256:
            kept.append(archived)
        else:
            ctx.store.release_letter(archived.letter.letter_key)
            ctx.note(f"batch {batch_id}: {archived.letter.piece_id} released (its PDF is gone)")
    recorded = {batch_dir / (a.letter.pdf_path or "") for a in kept}
    for pdf in sorted((batch_dir / "pdf").glob("*")):
        if pdf not in recorded:
            pdf.unlink()  # written but never recorded: never released, never printed
    return kept


def mail_class_of(ctx: BatchContext, record: BatchRecord) -> MailClassOf:
    """A closed letter's mail class: its stage's under the batch's own policy when tonight's is
    the same; otherwise what its article number shows (certified, or registered abroad)."""
    same_policy = record.request.get("policy_sha256") == ctx.identity.get("policy_sha256")
    stages = {stage.name: stage.mail_class for stage in ctx.request.policy.stages}

    def of(archived: ArchivedLetter) -> str:
        address, article = archived.details.address, archived.details.article_number
        if address is not None and address.is_foreign and article:
            return "registered"
        stage_class = stages.get(archived.letter.stage)
        if same_policy and stage_class and (stage_class in ACCOUNTABLE) == bool(article):
            return stage_class
        return "certified" if article else "first_class"

    return of


def close_batch(ctx: BatchContext, record: BatchRecord) -> ClosedBatch:
    """Seal an unfinished batch in its own folder with what it rendered; release the rest."""
    batch_id, store = record.batch_id, ctx.store
    batch_dir = make_private_dir(Path(record.batch_dir))
    make_private_dir(batch_dir / "pdf")
    for stale in (*batch_dir.glob(TEMPORARY_PREFIX + "*"), *batch_dir.glob("pdf/.tmp-*")):
        stale.unlink()
    released = store.release_pending(batch_id)
    letters = _sealable(ctx, batch_dir, batch_id)
    decisions = store.decisions_of(batch_id)
    accounts = [a for letter in letters for a in letter.account_ids]
    # registered when the batch was planned; a batch begun before the registry registers them now
    references = store.payment_references(accounts + [d.account_id for d in decisions], ctx.stamp())
    rows = closed_rows(batch_id, letters, decisions, mail_class_of(ctx, record), references)
    write_manifest(batch_dir / "manifest.csv", rows)
    write_manifest_jsonl(batch_dir / "manifest.jsonl", rows)
    split = ctx.request.policy.output.split_print_file_by_pages
    write_print_file(batch_dir, print_pieces(rows), split_by_pages=split)
    mail_date = next((a.details.mail_date for a in letters if a.details.mail_date), record.as_of)
    policy = ctx.request.policy
    book = write_mailing_book(batch_dir, batch_id, rows, policy, ctx.renderer, mail_date)
    write_letter_records(batch_dir, letters, policy.imb.mailer_id)
    done = ClosedBatch(batch_id, record.status, len(letters), len(rows), len(released), book)
    counts = _counts(ctx, record, rows, letters, done)
    write_summary(batch_dir / "summary.json", {**_old_summary(batch_dir), **counts})
    with (batch_dir / "run.log").open("a", encoding="utf-8") as log:
        log.write(
            f"{ctx.stamp()} INFO batch {batch_id} closed by batch {ctx.batch_id}: "
            f"{done.letters} letters sealed, {done.released} released\n"
        )
    _seal(ctx, record, batch_dir, counts)
    store.finish_batch(batch_id, "closed", counts["finished_at"], counts)
    return done


def _counts(
    ctx: BatchContext,
    record: BatchRecord,
    rows: list[ManifestRow],
    letters: list[ArchivedLetter],
    done: ClosedBatch,
) -> dict[str, Any]:
    return {
        "batch_id": record.batch_id,
        "status": "closed",
        "closed_from": record.status,
        "closed_by": ctx.batch_id,
        "finished_at": ctx.stamp(),
        "counts": dict(sorted(Counter(r.status for r in rows).items())),
        "reasons": dict(sorted(Counter(r.reason_code for r in rows if r.reason_code).items())),
        "letters": len(letters),
        "pages": sum(a.letter.pages or 0 for a in letters),
        "released": done.released,
        "manifest_from": "state",
    }


def _old_summary(batch_dir: Path) -> dict[str, Any]:
    try:
        old = json.loads((batch_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return old if isinstance(old, dict) else {}


def _seal(ctx: BatchContext, record: BatchRecord, batch_dir: Path, counts: dict[str, Any]) -> None:
    request, policy = ctx.request, ctx.request.policy
    key = signing_key(request.seal_key or policy.seal_key_file, policy.seal_require_signature)
    asked = record.request
    inputs = [asked.get("accounts", ["", ""]), *asked.get("sources", [])]
    write_seal(
        batch_dir,
        {
            "batch_id": record.batch_id,
            "tool_version": __version__,
            "status": "closed",
            "closed_by": ctx.batch_id,
            "as_of": record.as_of,
            "finished_at": counts["finished_at"],
            "policy": {"name": asked.get("policy", ""), "sha256": asked.get("policy_sha256", "")},
            "templates_sha256": asked.get("templates", ""),
            "inputs": {path: digest for path, digest in inputs if path},
            "counts": counts["counts"],
            "reasons": counts["reasons"],
            "manifest_from": "state",
        },
        key,
    )
