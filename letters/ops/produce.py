"""Produce: render each planned letter exactly once, in windows, and commit each in order.

Order of writes for one letter: the state records it `pending`; the PDF is written under a
temporary name and renamed; the state marks it `rendered`. A kill at any point leaves either no
PDF or a complete one, and a `pending` record that a resume renders again under the same piece id.
Letters already `rendered` in any batch are never produced again (`already_sent`).
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass

from letters.decide.plan import Plan
from letters.fsutil import make_private_dir, sha256_bytes, sha256_file, write_bytes_atomic
from letters.model import LetterSpec, PieceId, Status
from letters.ops.context import BatchContext
from letters.processes import stop_requested
from letters.proof.rows import Numbered, manifest_rows_for_letter
from letters.render.articles import assign_marks
from letters.render.content import letter_content
from letters.render.lint import LintSpec, lint_letter, rule_of
from letters.render.pool import ONE_WORKER_BELOW, RenderFailure, RenderJob, open_renderer
from letters.render.renderer import RenderedPdf
from letters.state.records import HeldLetter, LetterFacts, LetterRecord, PoolExhausted


@dataclass(frozen=True, slots=True)
class Prepared:
    """A reserved letter ready to render: what it needs, and what its result is checked against."""

    letter: LetterSpec
    known: LetterRecord
    record: dict[str, str]  # the manifest's letter columns known before rendering
    lint: LintSpec
    job: RenderJob


class Producer:
    """The exactly-once loop over one batch's planned letters."""

    def __init__(self, ctx: BatchContext, plan: Plan) -> None:
        self.ctx = ctx
        self.plan = plan
        store = ctx.store
        self.mine = {r.letter_key: r for r in store.letters_of_batch(ctx.batch_id)}
        self.sequence = max(
            [PieceId.parse(r.piece_id).number for r in self.mine.values()]
            + [store.last_piece_number(ctx.batch_id)]  # held (dropped) pieces' numbers stay spent
        )

    def run(self) -> None:
        """Render each planned letter once; skip those already sent; resume those pending.

        The letters flow through the renderer as one stream: the next letters are prepared
        (reserved, numbered, worded) while earlier ones render, and each result is committed as
        it comes back, in order, so the workers never wait for a window to drain."""
        ctx, letters = self.ctx, self.plan.letters
        ctx.reporter.stage("render", len(letters))
        started = time.perf_counter()
        small = len(letters) < ONE_WORKER_BELOW
        in_flight: deque[Prepared] = deque()

        def jobs() -> Iterator[RenderJob]:
            for letter in letters:
                item = self.prepare(letter)
                if item is not None:
                    in_flight.append(item)
                    yield item.job

        request = ctx.request
        with open_renderer(request.cluster, request.templates_dir, request.policy.envelope,
                           request.policy.output, request.jobs) as pool:  # fmt: skip
            for pdf in pool.render_all(jobs(), small=small):
                self.finish(in_flight.popleft(), pdf)
                ctx.reporter.advance()
                if stop_requested():  # a stop signal whose KeyboardInterrupt Python dropped
                    raise KeyboardInterrupt
        ctx.reporter.end_stage()
        result = ctx.result
        result.render_seconds = time.perf_counter() - started
        ctx.say(f"letters: {result.letters} ({result.letters - result.reused} rendered now)")

    def _settle(
        self,
        letter: LetterSpec,
        status: Status,
        reason: tuple[str, str] | None,
        record: dict[str, str],
    ) -> list[Numbered]:
        ctx = self.ctx
        rows = manifest_rows_for_letter(
            ctx.batch_id, letter, status, reason, record, ctx.references
        )
        ctx.rows += rows
        return rows

    def _reserve(self, letter: LetterSpec) -> LetterRecord:
        ctx = self.ctx
        self.sequence += 1
        known = LetterRecord(
            letter.key.text,
            PieceId(ctx.batch_id, self.sequence).text,
            ctx.batch_id,
            letter.customer_id,
            letter.stage.name,
            letter.key.cycle,
            "pending",
            None,
            None,
            None,
        )
        facts = _facts(letter)
        account_ids = [d.account.account_id for d in letter.decisions]
        ctx.store.reserve_letter(known, account_ids, ctx.stamp(), facts, self.sequence)
        return known

    def prepare(self, letter: LetterSpec) -> Prepared | None:
        """Reserve the letter and build what its render needs; None when it is settled already."""
        ctx, store = self.ctx, self.ctx.store
        known = self.mine.get(letter.key.text) or store.letter(letter.key.text)
        if known is not None and known.batch_id != ctx.batch_id and known.status == "rendered":
            # the decisions saw no such letter: it was recorded since (a safety net)
            detail = f"piece {known.piece_id} in batch {known.batch_id}"
            self._settle(letter, Status.SUPPRESSED, ("already_sent", detail), {})
            ctx.reporter.advance()
            return None
        if known is not None and known.batch_id != ctx.batch_id:  # pending in a dead batch
            store.release_letter(known.letter_key)
            known = None
        if known is None:
            known = self._reserve(letter)
        policy = ctx.request.policy
        pdf_path = ctx.pdf_dir / f"{known.piece_id}.pdf"
        address = letter.recipient.address
        assert address is not None
        version = ctx.renderer.template_version(letter.template)
        approval = str(ctx.approval.approval_id) if ctx.approval else ""
        try:
            marks = assign_marks(
                store,
                known.piece_id,
                letter.mail_class,
                "" if address.is_foreign else address.zip,
                policy.articles,
                policy.imb,
                ctx.stamp(),
            )
        except PoolExhausted as exc:
            store.drop_pending(known.piece_id)
            reason = ("article_pool_empty", str(exc))
            versions = {"template_version": version, "template_approval": approval}
            self._settle(letter, Status.HELD, reason, versions)
            ctx.reporter.advance()
            return None
        record = {
            "piece_id": known.piece_id,
            "template_version": version,
            "template_approval": approval,
            "article_number": marks.article_number,
        }
        if (
            known.status == "rendered"
            and pdf_path.is_file()
            and sha256_file(pdf_path) == known.pdf_sha256
        ):
            ctx.result.reused += 1
            record |= {
                "pdf_path": str(pdf_path.relative_to(ctx.batch_dir)),
                "pdf_sha256": known.pdf_sha256 or "",
                "pages": str(known.pages),
            }
            self._release(letter, record)
            ctx.reporter.advance()
            return None
        choice = self.plan.choices[letter.customer_id]
        content = letter_content(
            known.piece_id, policy, letter, choice, marks, references=ctx.references
        )
        job = RenderJob(letter.template, content.context, known.piece_id, content.lint)
        return Prepared(letter, known, record, content.lint, job)

    def _release(self, letter: LetterSpec, record: dict[str, str]) -> None:
        self._settle(letter, Status.GENERATED, None, record)
        self.ctx.result.letters += 1
        self.ctx.result.pages += int(record["pages"])

    def finish(self, item: Prepared, pdf: RenderedPdf | RenderFailure) -> None:
        """Lint, write and commit a rendered letter, or hold it (`lint:<rule>`, `render_error`)."""
        ctx, store = self.ctx, self.ctx.store
        piece_id = item.known.piece_id
        if isinstance(pdf, RenderFailure):
            store.drop_pending(piece_id)
            self._settle(item.letter, Status.HELD, ("render_error", pdf.reason), {})
            ctx.note(f"held {piece_id}: render_error")
            return
        digest = sha256_bytes(pdf.data)
        record = {**item.record, "pdf_sha256": digest, "pages": str(pdf.pages)}
        failures = (
            list(pdf.lint_failures)
            if pdf.lint_failures is not None  # linted by the worker that rendered it
            else lint_letter(pdf.runs, item.lint, ctx.request.policy.envelope)
        )
        if failures:
            held_path = make_private_dir(ctx.batch_dir / "held") / f"{piece_id}.pdf"
            write_bytes_atomic(held_path, pdf.data)
            rule = rule_of(failures[0])
            reason = (f"lint:{rule}", " | ".join(failures))
            rows = self._settle(item.letter, Status.HELD, reason, {**record, "piece_id": ""})
            letter = item.letter
            store.hold_letter(HeldLetter(
                piece_id, ctx.batch_id, letter.customer_id, letter.key.text, letter.stage.name,
                letter.key.cycle, ": ".join(reason), str(held_path), digest, pdf.pages,
                _facts(letter), json.dumps([(line, asdict(row)) for line, row in rows]),
                ctx.stamp(),
            ))  # fmt: skip
            store.drop_pending(piece_id)
            ctx.note(f"held {piece_id}: {rule}")
            return
        pdf_path = ctx.pdf_dir / f"{piece_id}.pdf"
        relative = str(pdf_path.relative_to(ctx.batch_dir))
        write_bytes_atomic(pdf_path, pdf.data)
        store.complete_letter(piece_id, relative, digest, pdf.pages)
        ctx.note(f"rendered {piece_id} ({pdf.pages} pages)")
        self._release(item.letter, {**record, "pdf_path": relative})


def _facts(letter: LetterSpec) -> LetterFacts:
    return LetterFacts(
        letter.mail_date.isoformat(), letter.kind, letter.recipient.role, letter.recipient.address
    )


def produce(ctx: BatchContext, plan: Plan) -> None:
    """Render every planned letter of the batch exactly once; add its rows to the context."""
    Producer(ctx, plan).run()
