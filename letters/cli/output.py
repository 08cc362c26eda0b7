"""Everything the CLI shows: progress on a terminal (bars) or under cron (plain lines), the
summary tables, and each command's report. Tables only on a terminal; without one, plain greppable
lines and no colour.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from addresses.batch import DedupeSummary, Explanation, ResolveSummary, reject_line
from addresses.csvio import Reject
from letters.errors import LettersError
from letters.model import ChannelDecision
from letters.ops.context import BatchResult
from letters.ops.progress import QuietReporter, Reporter
from letters.ops.status import BatchListing, DebtorHistory
from letters.proof.events import ReconcileReport
from letters.proof.manifest import ManifestRow
from letters.proof.seal import VerifyReport
from letters.render.preview import PreviewFiles
from letters.state import shown

err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)


class RateColumn(ProgressColumn):
    """Items per second."""

    def render(self, task: Task) -> Text:
        """The current rate, e.g. `12.3/s`."""
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.1f}/s" if speed else "-/s")


class PlainReporter:
    """No colour, no animation: one line per event and one line per finished stage."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._stage = ""
        self._total = 0
        self._done = 0
        self._started = 0.0

    def line(self, message: str) -> None:
        """Print one line."""
        self.console.print(message, markup=False, highlight=False, soft_wrap=True)

    def stage(self, name: str, total: int) -> None:
        """Remember a stage; its line comes when it ends."""
        self._stage, self._total, self._done, self._started = name, total, 0, time.perf_counter()

    def advance(self, count: int = 1) -> None:
        """Count progress silently."""
        self._done += count

    def end_stage(self) -> None:
        """Print the stage's line: count, time and rate."""
        elapsed = time.perf_counter() - self._started
        rate = self._done / elapsed if elapsed else 0.0
        self.line(f"{self._stage}: {self._done}/{self._total} in {elapsed:.1f}s ({rate:.1f}/s)")


class BarReporter:
    """Rich progress bars per stage, with counts, rate and time remaining."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
        )
        self._task: TaskID | None = None

    def line(self, message: str) -> None:
        """Print a line above the bars."""
        self.progress.console.print(message, markup=False, highlight=False, soft_wrap=True)

    def stage(self, name: str, total: int) -> None:
        """Start a bar."""
        if not self.progress.live.is_started:
            self.progress.start()
        self._task = self.progress.add_task(name, total=total)

    def advance(self, count: int = 1) -> None:
        """Move the bar."""
        if self._task is not None:
            self.progress.advance(self._task, count)

    def end_stage(self) -> None:
        """Finish the bar."""
        self.progress.stop()
        self._task = None


def reporter_for(quiet: bool) -> Reporter:
    """Bars on a terminal, plain lines under cron, nothing when asked to be quiet."""
    if quiet:
        return QuietReporter()
    return BarReporter(out) if out.is_terminal else PlainReporter(out)


def print_error(exc: LettersError) -> None:
    """`Error: <message>` on stderr."""
    err.print(f"Error: {exc}", markup=False, soft_wrap=True)


def _say(line: str) -> None:
    out.print(line, markup=False)


def _warn(line: str) -> None:
    err.print(line, markup=False, soft_wrap=True)


def _rows(title: str, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """A table on a terminal; under cron one line per row, cells two spaces apart."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    if not out.is_terminal:  # a header line, so the plain lines say what each cell is
        out.print("  ".join(columns), markup=False, soft_wrap=True)
    for cells in rows:
        if out.is_terminal:
            table.add_row(*cells)
        else:
            out.print("  ".join(cells), markup=False, soft_wrap=True)
    if out.is_terminal:
        out.print(table)


def print_json(data: Any) -> None:
    """Data as indented JSON, for scripts."""
    out.print(json.dumps(data, indent=2), markup=False, highlight=False)


def print_written(paths: Iterable[Path]) -> None:
    """`wrote <path>`, one line per file."""
    for path in paths:
        _say(f"wrote {path}")


def print_init(written: Iterable[Path], work_dir: Path) -> None:
    """What `init` wrote, and where tonight's input goes."""
    print_written(written)
    _say(f"put tonight's CSV files in {work_dir / 'input'}; see crontab.txt")


def print_result(result: BatchResult) -> None:
    """A run's summary: accounts by outcome, then letters, pages and rate, and where the batch
    is. Under cron it is one greppable line, printed once."""
    rendered = result.letters - result.reused
    rate = rendered / result.render_seconds if result.render_seconds else 0.0
    letters = (
        f"letters {result.letters} ({rendered} rendered now), pages {result.pages}, "
        f"{rate:.1f} letters/s"
    )
    rejected = ""
    if result.rejected_rows:
        rejected = (
            f"{result.rejected_rows} input rows rejected: see {result.batch_dir / 'rejects.csv'}"
        )
    if result.messages:
        letters += "; e-mail " + " ".join(f"{k}={v}" for k, v in result.messages.items())
    if not out.is_terminal:
        counts = " ".join(f"{status}={count}" for status, count in sorted(result.counts.items()))
        parts = [f"accounts {counts}", letters, f"folder {result.batch_dir}", rejected]
        _say(f"batch {result.batch_id} {result.status}: " + "; ".join(p for p in parts if p))
        return
    table = Table(title=f"Batch {result.batch_id}")
    table.add_column("status")
    table.add_column("accounts", justify="right")
    for status, count in sorted(result.counts.items()):
        table.add_row(status, str(count))
    out.print(table)
    _say(letters)
    _say(f"batch folder: {result.batch_dir}")
    if rejected:
        _say(rejected)


def print_decisions(rows: list[ManifestRow], as_of: date, out_path: Path) -> None:
    """A dry run's decisions, one row per account, and a count per outcome."""
    columns = ("account", "customer", "status", "reason", "stage", "template", "mail class")
    cells = (
        (r.account_id, r.customer_id, r.status, r.reason_code, r.stage, r.template, r.mail_class)
        for r in rows
    )
    if out.is_terminal:
        _rows(f"Decisions as of {as_of}", columns, cells)
    else:
        for line in cells:
            _say("  ".join(cell or "-" for cell in line))
    counts = Counter((row.status, row.reason_code) for row in rows)
    summary = ", ".join(f"{status}/{code}={n}" for (status, code), n in sorted(counts.items()))
    _say(f"{len(rows)} accounts: {summary}; wrote {out_path}")


def print_channel_decisions(decisions: Sequence[ChannelDecision], out_path: Path) -> None:
    """A dry run's e-mail decisions: one line per debtor (no address), and a count per outcome."""
    if not decisions:
        return
    for d in decisions:
        _say(f"  {d.customer_id}  {d.channel}  {d.stage or '-'}  {d.status}  {d.reason_code}")
    counts = Counter((d.status.value, d.reason_code) for d in decisions)
    summary = ", ".join(f"{status}/{code}={n}" for (status, code), n in sorted(counts.items()))
    _say(f"{len(decisions)} e-mail decisions: {summary}; wrote {out_path}")


def print_rejected_rows(rejects: Sequence[Reject]) -> None:
    """Each rejected input row on stderr as `file:line: field: reason` (never its values), and
    a count."""
    for reject in rejects:
        _warn(f"rejected: {reject_line(reject)}")
    if rejects:
        _warn(f"{len(rejects)} input rows rejected (accounts, address sources and contacts)")


def print_preview(files: PreviewFiles) -> None:
    """What a preview wrote, and what the lint found."""
    _say(
        f"wrote {files.pdf_path} ({files.pages} pages) and "
        + ", ".join(str(p) for p in files.png_paths)
    )
    for failure in files.lint:
        _say(f"lint: {failure}")


def print_watching(templates_dir: Path) -> None:
    """The line `preview --watch` starts with."""
    _say(f"watching {templates_dir} (Ctrl-C to stop)")


def print_stopped_watching() -> None:
    """The line `preview --watch` ends with."""
    _say("stopped watching")


def print_verify(batch_dir: Path, report: VerifyReport) -> None:
    """Each problem on stderr, then whether the batch is intact."""
    for problem in report.problems:
        _warn(f"{batch_dir.name}: {problem}")
    if not report.intact:
        _say(f"{batch_dir.name}: NOT intact: {len(report.problems)} problem(s)")
        return
    signed = "signature checked" if report.signed else "not signed"
    _say(f"{batch_dir.name}: intact ({report.checked} files, {signed})")


def print_reconcile(report: ReconcileReport) -> None:
    """Rejected, unknown, duplicate and out-of-order rows on stderr; counts per batch; a total."""
    for line in [
        *(r.message for r in report.rejects),
        *report.unknown,
        *report.duplicates,
        *report.out_of_order,
    ]:
        _warn(line)
    for batch_id, counts in sorted(report.batches.items()):
        _say(f"batch {batch_id}: " + " ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    _say(
        f"{report.rows} rows: {report.imported} imported, "
        f"{len(report.duplicates)} already imported, "
        f"{len(report.unknown)} unknown, {len(report.out_of_order)} out of order, "
        f"{len(report.rejects)} rejected; {report.evidence} returned addresses recorded"
    )


def print_history(history: DebtorHistory) -> None:
    """A debtor's timeline, newest first."""
    _rows(
        f"History of {history.customer_id}",
        ("when", "what", "detail"),
        ((e.when, e.what, e.detail) for e in history.entries),
    )


def print_batches(listing: BatchListing) -> None:
    """The batches in a state, newest first."""
    columns = ("batch", "as of", "started", "finished", "status", "letters", "outcomes")
    _rows(
        f"Batches in {shown(listing.db_path)}",
        columns,
        (
            (b.batch_id, b.as_of, b.started_at, b.finished_at or "-", b.status,
             "-" if b.letters is None else str(b.letters),
             " ".join(f"{k}={v}" for k, v in sorted(b.outcomes.items())))
            for b in listing.batches
        ),
    )  # fmt: skip


def print_resolve(summary: ResolveSummary, out_path: Path) -> None:
    """Rejected and flagged rows on stderr, then the counts per status."""
    for reject in summary.rejects:
        _warn(f"rejected: {reject_line(reject)}")
    for flag in sorted(summary.flagged):
        _warn(f"flagged: {flag}")
    counts = " ".join(f"{k}={v}" for k, v in sorted(summary.statuses.items()))
    _say(f"{summary.records} records, {summary.people} people: {counts}")
    _say(
        f"{len(summary.rejects)} rows rejected, {len(summary.flagged)} rows failed a hard check"
        f" (never mailed without review); wrote {out_path}"
    )


def print_explanation(found: Explanation) -> None:
    """Every observation, each candidate's score factors, and the decision."""
    observed = Table(title=f"Observations of {found.customer_id}", show_lines=False)
    for column in ("where", "source", "seen", "status", "standardized", "parse", "failed checks"):
        observed.add_column(column)
    for o in found.observations:
        form = o.standardized
        failed = ", ".join(c.name for c in form.checks if c.passed is False)
        line = " / ".join(form.postal_address().lines())
        observed.add_row(
            o.ref, o.source, str(o.observed_at), o.status or "-", line, form.parse, failed
        )
    out.print(observed)
    ranked = sorted(found.candidates, key=lambda c: -c.confidence)
    for rank, candidate in enumerate(ranked, start=1):
        address = " / ".join(candidate.standardized.postal_address().lines())
        table = Table(title=f"Candidate {rank}: {address}")
        table.add_column("factor")
        table.add_column("contribution", justify="right")
        table.add_column("why")
        for factor in candidate.factors:
            table.add_row(factor.name, f"{factor.contribution:+.3f}", factor.detail)
        table.add_row("confidence", f"{candidate.confidence:.3f}", "clipped to [0, 1]")
        out.print(table)
        _say("  merged: " + ", ".join(o.ref for o in candidate.observations))
    choice = found.choice
    reasons = " | ".join(choice.reasons)
    status = choice.status.value
    # a reason may already start with the status (`selected: reported by ...`): say it once
    _say(
        f"decision: {reasons}"
        if reasons.startswith(f"{status}:")
        else f"decision: {status}: {reasons}"
    )
    for reject in found.rejects:
        _say(f"rejected row: {reject.message}")


def print_dedupe(summary: DedupeSummary, out_path: Path) -> None:
    """Rows without a usable address on stderr, then the counts."""
    for problem in summary.problems:
        _warn(f"not clustered: {problem}")
    _say(
        f"{summary.rows} rows, {summary.clusters} clusters, {len(summary.problems)} rows without "
        f"a usable address; wrote {out_path}"
    )


def print_bench(figures: dict[str, Any], results_path: Path) -> None:
    """The benchmark's figures as a table, and where they were written."""
    table = Table(title="letters bench")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in figures.items():
        table.add_row(key, str(value))
    out.print(table)
    _say(f"results written to {results_path}")
