"""A batch's life: lock the state, start or resume, produce each letter exactly once, record.

Order of writes for one letter: the state records it `pending`; the PDF is written under a
temporary name and renamed; the state marks it `rendered`. A kill at any point leaves either no
PDF or a complete one, and a `pending` record that a resume renders again under the same piece id.
Letters already `rendered` in any batch are never produced again (`already_sent`) unless an
operator forces those pieces, which is recorded.
"""

from __future__ import annotations

import getpass
import hashlib
import multiprocessing
import os
import socket
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from letters import __version__
from letters.decide.plan import (
    Plan,
    RunRequest,
    letter_content,
    load_inputs,
    manifest_rows_for_letter,
    plan_batch,
)
from letters.errors import ExitCode, LettersError, UsageError
from letters.fsutil import (
    make_private_dir,
    sha256_bytes,
    sha256_file,
    write_bytes_atomic,
    write_csv,
)
from letters.intake.policy import default_policy_text
from letters.model import History, LetterSpec, Status
from letters.proof.mailbook import book_lines, write_book_apart
from letters.proof.manifest import (
    REVIEW_COLUMNS,
    ManifestRow,
    write_manifest,
    write_manifest_jsonl,
    write_rejects,
    write_summary,
)
from letters.proof.printfile import print_pieces, write_print_file
from letters.proof.reconcile import evidence_records
from letters.proof.seal import read_key, write_seal
from letters.render.articles import assign_marks, load_pool_file, pool_file_numbers
from letters.render.lint import LintSpec, lint_letter, rule_of
from letters.render.pool import IN_PROCESS_BELOW, BatchRenderer, RenderFailure, RenderJob
from letters.render.renderer import RenderedPdf, Renderer
from letters.state.sqlite import (
    BatchRecord,
    LetterFacts,
    LetterRecord,
    PoolExhausted,
    RunLock,
    SqliteStore,
    StateStore,
    default_db_path,
)

RENDER_WINDOW = 96  # letters prepared, rendered in parallel, then committed in order


class Interrupted(LettersError):
    """The run was stopped (SIGINT/SIGTERM); the batch is marked interrupted and can be resumed."""

    exit_code = ExitCode.INTERRUPTED


class Reporter(Protocol):
    """Where a run reports its progress: the CLI draws bars on a TTY and plain lines under cron."""

    def line(self, message: str) -> None: ...
    def stage(self, name: str, total: int) -> None: ...
    def advance(self, count: int = 1) -> None: ...
    def end_stage(self) -> None: ...


class QuietReporter:
    """Reports nothing."""

    def line(self, message: str) -> None:
        """Ignore a message."""

    def stage(self, name: str, total: int) -> None:
        """Ignore a stage."""

    def advance(self, count: int = 1) -> None:
        """Ignore progress."""

    def end_stage(self) -> None:
        """Ignore a stage's end."""


@dataclass(slots=True)
class BatchResult:
    """What a run did: where, how many of each outcome, and the exit code it earns."""

    batch_id: str
    batch_dir: Path
    status: str = "complete"
    resumed: bool = False
    counts: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    rejected_rows: int = 0
    flagged_address_rows: int = 0
    letters: int = 0
    pages: int = 0
    reused: int = 0
    render_seconds: float = 0.0
    exit_code: ExitCode = ExitCode.DONE

    def summary(self) -> dict[str, Any]:
        """The counts as plain data (for summary.json, --json and the state)."""
        rate = self.letters / self.render_seconds if self.render_seconds else 0.0
        return {
            "batch_id": self.batch_id,
            "status": self.status,
            "resumed": self.resumed,
            "counts": dict(sorted(self.counts.items())),
            "reasons": dict(sorted(self.reasons.items())),
            "rejected_rows": self.rejected_rows,
            "flagged_address_rows": self.flagged_address_rows,
            "letters": self.letters,
            "letters_rendered_this_run": self.letters - self.reused,
            "pages": self.pages,
            "render_seconds": round(self.render_seconds, 3),
            "letters_per_second": round(rate, 2),
            "exit_code": int(self.exit_code),
        }


class BatchLog:
    """The batch's log file: one timestamped line per event, no names, addresses or amounts."""

    def __init__(self, log_path: Path) -> None:
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._handle = os.fdopen(fd, "a", encoding="utf-8")

    def write(self, message: str) -> None:
        """Append one line."""
        stamp = datetime.now().isoformat(timespec="seconds")
        self._handle.write(f"{stamp} INFO {message}\n")
        self._handle.flush()

    def close(self) -> None:
        """Close the file."""
        self._handle.close()


def new_batch_id(as_of: Any, now: datetime) -> str:
    """A batch id that sorts by date and time and does not collide: `20261120-021502-a3f9`."""
    return f"{as_of:%Y%m%d}-{now:%H%M%S}-{os.urandom(2).hex()}"


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


class BatchRun:
    """One run of one batch: holds the lock, the state and the batch folder."""

    def __init__(
        self,
        request: RunRequest,
        reporter: Reporter,
        now: Callable[[], datetime],
        renderer_factory: Callable[..., Renderer],
        store_factory: Callable[[Path], StateStore] = SqliteStore,
    ) -> None:
        self.request = request
        self.store_factory = store_factory
        self.reporter = reporter
        self.now = now
        self.renderer_factory = renderer_factory
        self.db_path = request.db_path or default_db_path(request.out_dir)
        self.lock = RunLock(self.db_path)
        self.log: BatchLog | None = None
        self.pool_numbers: list[str] = []

    def say(self, message: str) -> None:
        """Report a line to the operator and the batch log."""
        self.reporter.line(message)
        if self.log:
            self.log.write(message)

    def _choose_batch(self, store: StateStore, identity: dict[str, Any]) -> tuple[str, bool]:
        """The batch to run: the one to resume, an interrupted one of the same inputs, or new."""
        for stale in store.batches():
            if stale.status == "running":  # we hold the lock, so its run is dead
                store.finish_batch(
                    stale.batch_id,
                    "interrupted",
                    self.now().isoformat(timespec="seconds"),
                    stale.counts,
                )
        if self.request.resume:
            record = store.batch(self.request.resume)
            if record is None:
                raise UsageError(f"--resume: no batch {self.request.resume!r} in {self.db_path}")
            if record.status == "complete":
                raise UsageError(f"--resume: batch {record.batch_id} is already complete")
            if record.request != identity:
                raise UsageError(
                    "--resume: inputs, date, policy or templates differ from batch "
                    + record.batch_id
                )
            return record.batch_id, True
        for record in store.batches():
            if (
                record.status == "interrupted"
                and record.request == identity
                and not self.request.force
            ):
                return record.batch_id, True
        return new_batch_id(self.request.as_of, self.now()), False

    def execute(self) -> BatchResult:
        """Run the batch; see the module docstring for what happens when it is stopped."""
        inputs = load_inputs(self.request)
        policy = self.request.policy
        renderer = self.renderer_factory(self.request.templates_dir, policy.envelope, policy.output)
        renderer.check_templates(self.request.policy.all_templates())
        identity = fingerprint(self.request)
        self.pool_numbers = pool_file_numbers(policy.articles)
        if self.request.force and not self.request.force_reason.strip():
            raise UsageError("--force needs --force-reason: say why these pieces go again")
        store = self.store_factory(self.db_path)
        try:
            for piece_id in self.request.force:
                if store.letter_by_piece(piece_id) is None:
                    raise UsageError(f"--force: no piece {piece_id!r} in {self.db_path}")
            self.lock.acquire("starting")
            try:
                return self._locked(store, identity, inputs, renderer)
            finally:
                self.lock.release()
        finally:
            store.close()

    def _locked(
        self, store: StateStore, identity: dict[str, Any], inputs: Any, renderer: Renderer
    ) -> BatchResult:
        batch_id, resumed = self._choose_batch(store, identity)
        self.lock.describe(batch_id)
        started = self.now()
        batch_dir = make_private_dir(self.request.out_dir) / batch_id
        pdf_dir = make_private_dir(make_private_dir(batch_dir) / "pdf")
        for stale in (*batch_dir.glob(".tmp-*"), *pdf_dir.glob(".tmp-*")):
            stale.unlink()  # half-written files of a killed run; never a real name
        self.log = BatchLog(batch_dir / "run.log")
        result = BatchResult(batch_id, batch_dir, resumed=resumed, rejected_rows=len(inputs[2]))
        store.begin_batch(
            BatchRecord(
                batch_id,
                self.request.as_of.isoformat(),
                started.isoformat(timespec="seconds"),
                None,
                "running",
                str(batch_dir),
                identity,
                os.getpid(),
                socket.gethostname(),
                {},
            )
        )
        base = self._summary_base(started, identity)
        write_summary(batch_dir / "summary.json", {**base, **result.summary(), "status": "running"})
        self.say(
            f"batch {batch_id} {'resumed' if resumed else 'started'} (as of {self.request.as_of})"
        )
        accounts, records, rejects = inputs
        self.say(
            f"read {len(accounts)} accounts, {len(records)} address records, "
            f"{len(rejects)} rows rejected"
        )
        try:
            load_pool_file(store, self.request.policy.articles, self.pool_numbers)
            forced = self._apply_force(store, batch_id)

            def history_of(customer: str) -> History:
                return replace(store.history(customer, batch_id), forced=forced)

            returned = tuple(evidence_records(store))
            if returned:
                self.say(f"returned mail on record: {len(returned)} addresses")
            request = replace(self.request, extra_records=returned)
            plan = plan_batch(
                request, batch_id, inputs, self.say, history_of, renderer.template_exists
            )
            result.flagged_address_rows = plan.flagged_address_rows
            rows = self._produce(store, plan, batch_id, pdf_dir, renderer, result)
        except KeyboardInterrupt:
            result.status = "interrupted"
            result.exit_code = ExitCode.INTERRUPTED
            self._close(store, result, base, "interrupted")
            raise Interrupted(
                f"interrupted; batch {batch_id} can be resumed with --resume {batch_id}"
            ) from None
        except BaseException:
            result.status = "failed"
            self._close(store, result, base, "failed")
            raise
        for row in rows:
            result.counts[row.status] += 1
            if row.reason_code:
                result.reasons[row.reason_code] += 1
        store.record_decisions(
            batch_id,
            (
                (
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
        write_manifest(batch_dir / "manifest.csv", rows)
        write_manifest_jsonl(batch_dir / "manifest.jsonl", rows)
        # The print file (pypdf) and the mailing book (WeasyPrint) are made side by side, each in
        # a fresh process that gets only what it needs: both are CPU-bound, the machine has the
        # cores, and neither adds to this process's memory (a fork would count it twice).
        policy = self.request.policy
        mail_date = policy.calendar.mail_date(self.request.as_of).isoformat()
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(2, mp_context=spawn) as helpers:
            printing = helpers.submit(write_print_file, batch_dir, print_pieces(rows))
            booking = helpers.submit(
                write_book_apart,
                batch_dir,
                batch_id,
                book_lines(rows, policy),
                policy,
                self.request.templates_dir,
                mail_date,
            )
            book = booking.result()  # an error in either is raised here
            printing.result()
        if book:
            self.say(f"mailing book: {book} accountable pieces")
        write_rejects(batch_dir / "rejects.csv", plan.rejects)
        write_csv(batch_dir / "review.csv", REVIEW_COLUMNS, plan.review)
        result.exit_code = ExitCode.REJECTED_ROWS if plan.rejects else ExitCode.DONE
        self._close(store, result, base, "complete", identity)
        self.say(
            f"batch {batch_id} complete: {result.letters} letters, "
            + ", ".join(f"{k}={v}" for k, v in sorted(result.counts.items()))
        )
        return result

    def _summary_base(self, started: datetime, identity: dict[str, Any]) -> dict[str, Any]:
        return {
            "tool_version": __version__,
            "as_of": self.request.as_of.isoformat(),
            "started_at": started.isoformat(timespec="seconds"),
            "policy": self.request.policy.source_name,
            "inputs": {
                path: digest for path, digest in [identity["accounts"], *identity["sources"]]
            },
            "state": str(self.db_path),
        }

    def _close(
        self,
        store: StateStore,
        result: BatchResult,
        base: dict[str, Any],
        status: str,
        identity: dict[str, Any] | None = None,
    ) -> None:
        """Write the summary, close the log, seal a complete batch, then record its status.

        The state says `complete` only once the seal is written: a kill before that leaves a
        batch that the next run resumes and seals.
        """
        result.status = status
        finished = self.now().isoformat(timespec="seconds")
        summary = {**base, **result.summary(), "finished_at": finished}
        write_summary(result.batch_dir / "summary.json", summary)
        if self.log:
            self.log.write(f"batch {result.batch_id} {status}")
            self.log.close()
            self.log = None
        if status == "complete" and identity is not None:
            self._seal(result, summary, identity)
        store.finish_batch(result.batch_id, status, finished, result.summary())

    def _seal(self, result: BatchResult, summary: dict[str, Any], identity: dict[str, Any]) -> None:
        request = self.request
        key_path = request.seal_key or request.policy.seal_key_file
        try:
            key = read_key(key_path) if key_path else None
        except (OSError, ValueError) as exc:
            raise UsageError(f"seal key: {exc}") from None
        policy_bytes = (
            request.policy_path.read_bytes()
            if request.policy_path
            else default_policy_text().encode()
        )
        templates = {
            p.relative_to(request.templates_dir).as_posix(): sha256_file(p)
            for p in sorted(request.templates_dir.rglob("*"))
            if p.is_file()
        }
        write_seal(
            result.batch_dir,
            {
                "batch_id": result.batch_id,
                "tool_version": __version__,
                "status": "complete",
                "as_of": request.as_of.isoformat(),
                "finished_at": summary["finished_at"],
                "policy": {
                    "name": request.policy.source_name,
                    "sha256": sha256_bytes(policy_bytes),
                },
                "templates": templates,
                "inputs": summary["inputs"],
                "counts": summary["counts"],
                "reasons": summary["reasons"],
            },
            key,
        )

    def _apply_force(self, store: StateStore, batch_id: str) -> frozenset[str]:
        """Free the keys of the pieces an operator forces, keep a record of it, return the keys."""
        keys = set()
        operator = getpass.getuser()
        for piece_id in self.request.force:
            record = store.letter_by_piece(piece_id)
            if record is None:  # checked before the run started; released by a run since
                continue
            store.release_letter(record.letter_key)
            keys.add(record.letter_key)
            store.record_force(
                batch_id,
                piece_id,
                record.letter_key,
                operator,
                self.request.force_reason,
                self.now().isoformat(timespec="seconds"),
            )
            self.say(f"forced: {piece_id} may be produced again (by {operator})")
        return frozenset(keys)

    def _produce(
        self,
        store: StateStore,
        plan: Plan,
        batch_id: str,
        pdf_dir: Path,
        renderer: Renderer,
        result: BatchResult,
    ) -> list[ManifestRow]:
        """Render each planned letter once; skip those already sent; resume those pending.

        Letters go through in windows: each is reserved and prepared in order, the window is
        rendered by the worker pool, and each result is linted, written and committed in order.
        Returns every account's manifest row, in the order of the accounts file.
        """
        rows = list(plan.rows)
        mine = {r.letter_key: r for r in store.letters_of_batch(batch_id)}
        self._sequence = max(
            [int(r.piece_id.rsplit("-", 1)[1]) for r in mine.values()]
            + [store.last_piece_number(batch_id)]  # held (dropped) pieces' numbers stay spent
        )
        self.reporter.stage("render", len(plan.letters))
        started = time.perf_counter()
        policy = self.request.policy
        small = len(plan.letters) < IN_PROCESS_BELOW
        with BatchRenderer(
            self.request.templates_dir, policy.envelope, policy.output, self.request.jobs
        ) as pool:
            for start in range(0, len(plan.letters), RENDER_WINDOW):
                window = [
                    self._prepare(
                        store, letter, mine, batch_id, pdf_dir, plan, renderer, result, rows
                    )
                    for letter in plan.letters[start : start + RENDER_WINDOW]
                ]
                todo = [item for item in window if item is not None and item.job is not None]
                rendered = pool.render_all((item.job for item in todo if item.job), small=small)
                for item, pdf in zip(todo, rendered, strict=True):
                    self._finish(store, item, pdf, pdf_dir, result, rows)
                    self.reporter.advance()
        self.reporter.end_stage()
        result.render_seconds = time.perf_counter() - started
        self.say(f"letters: {result.letters} ({result.letters - result.reused} rendered now)")
        return [row for _, row in sorted(rows, key=lambda numbered: numbered[0])]

    def _prepare(
        self,
        store: StateStore,
        letter: LetterSpec,
        mine: dict[str, LetterRecord],
        batch_id: str,
        pdf_dir: Path,
        plan: Plan,
        renderer: Renderer,
        result: BatchResult,
        rows: list[tuple[int, ManifestRow]],
    ) -> Prepared | None:
        """Reserve the letter and build what its render needs; None when it is settled already."""
        known = mine.get(letter.key) or store.letter(letter.key)
        if known is not None and known.batch_id != batch_id and known.status == "rendered":
            # the decisions saw no such letter: it was recorded since (a safety net)
            detail = f"piece {known.piece_id} in batch {known.batch_id}"
            rows += manifest_rows_for_letter(
                batch_id, letter, Status.SUPPRESSED, ("already_sent", detail), {}
            )
            self.reporter.advance()
            return None
        if known is not None and known.batch_id != batch_id:  # pending in a dead batch: no PDF
            store.release_letter(known.letter_key)
            known = None
        if known is None:
            self._sequence += 1
            known = LetterRecord(
                letter.key,
                f"{batch_id}-{self._sequence:06d}",
                batch_id,
                letter.customer_id,
                letter.stage.name,
                letter.key.split("|")[2],
                "pending",
                None,
                None,
                None,
            )
            address = letter.recipient.address
            facts = LetterFacts(
                letter.mail_date.isoformat(),
                letter.kind,
                letter.recipient.role,
                (
                    address.line1,
                    address.line2,
                    address.city,
                    address.state,
                    address.zip,
                    address.country,
                )
                if address
                else (),
            )
            store.reserve_letter(
                known,
                [d.account.account_id for d in letter.decisions],
                self.now().isoformat(timespec="seconds"),
                facts,
                self._sequence,
            )
        policy = self.request.policy
        pdf_path = pdf_dir / f"{known.piece_id}.pdf"
        relative = str(pdf_path.relative_to(pdf_dir.parent))
        address = letter.recipient.address
        assert address is not None
        record = {
            "piece_id": known.piece_id,
            "template_version": renderer.template_version(letter.template),
        }
        try:
            marks = assign_marks(
                store,
                known.piece_id,
                letter.mail_class,
                "" if address.is_foreign else address.zip,
                policy.articles,
                policy.imb,
                self.now().isoformat(timespec="seconds"),
            )
        except PoolExhausted as exc:
            store.drop_pending(known.piece_id)
            record = {"template_version": record["template_version"]}
            rows += manifest_rows_for_letter(
                batch_id, letter, Status.HELD, ("article_pool_empty", str(exc)), record
            )
            self.reporter.advance()
            return None
        record["article_number"] = marks.article_number
        if (
            known.status == "rendered"
            and pdf_path.is_file()
            and sha256_file(pdf_path) == known.pdf_sha256
        ):
            result.reused += 1
            record |= {
                "pdf_path": relative,
                "pdf_sha256": known.pdf_sha256 or "",
                "pages": str(known.pages),
            }
            self._release(letter, record, result, rows, batch_id)
            self.reporter.advance()
            return None
        content = letter_content(
            known.piece_id, policy, letter, plan.choices[letter.customer_id], marks
        )
        job = RenderJob(letter.template, content.context, known.piece_id)
        return Prepared(letter, known, record, content.lint, job, batch_id)

    def _release(
        self,
        letter: LetterSpec,
        record: dict[str, str],
        result: BatchResult,
        rows: list[tuple[int, ManifestRow]],
        batch_id: str,
    ) -> None:
        rows += manifest_rows_for_letter(batch_id, letter, Status.GENERATED, None, record)
        result.letters += 1
        result.pages += int(record["pages"])

    def _finish(
        self,
        store: StateStore,
        item: Prepared,
        pdf: RenderedPdf | RenderFailure,
        pdf_dir: Path,
        result: BatchResult,
        rows: list[tuple[int, ManifestRow]],
    ) -> None:
        """Lint, write and commit a rendered letter, or hold it (`lint:<rule>`, `render_error`)."""
        piece_id = item.known.piece_id
        if isinstance(pdf, RenderFailure):
            store.drop_pending(piece_id)
            rows += manifest_rows_for_letter(
                item.batch_id, item.letter, Status.HELD, ("render_error", pdf.reason), {}
            )
            if self.log:
                self.log.write(f"held {piece_id}: render_error")
            return
        digest = sha256_bytes(pdf.data)
        record = {**item.record, "pdf_sha256": digest, "pages": str(pdf.pages)}
        failures = lint_letter(pdf.runs, item.lint, self.request.policy.envelope)
        if failures:
            held_dir = make_private_dir(pdf_dir.parent / "held")
            write_bytes_atomic(held_dir / f"{piece_id}.pdf", pdf.data)
            store.drop_pending(piece_id)
            if self.log:
                self.log.write(f"held {piece_id}: {rule_of(failures[0])}")
            rows += manifest_rows_for_letter(
                item.batch_id,
                item.letter,
                Status.HELD,
                (f"lint:{rule_of(failures[0])}", " | ".join(failures)),
                {**record, "piece_id": ""},
            )
            return
        pdf_path = pdf_dir / f"{piece_id}.pdf"
        relative = str(pdf_path.relative_to(pdf_dir.parent))
        write_bytes_atomic(pdf_path, pdf.data)
        store.complete_letter(piece_id, relative, digest, pdf.pages)
        if self.log:
            self.log.write(f"rendered {piece_id} ({pdf.pages} pages)")
        self._release(item.letter, {**record, "pdf_path": relative}, result, rows, item.batch_id)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A reserved letter ready to render: what it needs, and what its result is checked against."""

    letter: LetterSpec
    known: LetterRecord
    record: dict[str, str]
    lint: LintSpec
    job: RenderJob | None
    batch_id: str


def run_batch(
    request: RunRequest,
    reporter: Reporter | None = None,
    now: Callable[[], datetime] = datetime.now,
    renderer_factory: Callable[..., Renderer] = Renderer,
) -> BatchResult:
    """Run (or resume) one batch end to end under the state lock."""
    return BatchRun(request, reporter or QuietReporter(), now, renderer_factory).execute()
