"""One batch run's context: what every stage (start, produce, finish) reads and adds to."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from letters.errors import ExitCode
from letters.intake.request import RunRequest
from letters.ops.progress import Reporter
from letters.proof.rows import Numbered
from letters.render.renderer import Renderer
from letters.state.approvals import ApprovalRecord
from letters.state.protocol import StateStore


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
    closed: list[dict[str, Any]] = field(default_factory=list)  # unfinished batches it closed
    # files whose rows name no configured address source: {"file", "source", "rows"}
    unknown_sources: list[dict[str, Any]] = field(default_factory=list)
    messages: dict[str, int] = field(default_factory=dict)  # e-mail: queued, and each reason

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
            "closed_batches": self.closed,
            "unknown_sources": self.unknown_sources,
            "messages": self.messages,
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


@dataclass(slots=True)
class BatchContext:
    """Everything one batch's stages share: the request, the state, the folder, the results."""

    request: RunRequest
    reporter: Reporter
    now: Callable[[], datetime]
    store: StateStore
    renderer: Renderer
    db_path: Path
    identity: dict[str, Any]
    batch_id: str = ""
    batch_dir: Path = Path()
    resumed: bool = False
    started: datetime = datetime.min
    log: BatchLog | None = None
    result: BatchResult = field(default_factory=lambda: BatchResult("", Path()))
    rows: list[Numbered] = field(default_factory=list)  # (input line, manifest row)
    references: dict[str, str] = field(default_factory=dict)  # account id -> payment reference
    forced: frozenset[str] = frozenset()  # letter keys an operator forced to go again
    in_process_helpers: bool = False  # the end-of-batch helpers run here instead of spawned
    approval: ApprovalRecord | None = None  # the template approval the letters are made under

    @property
    def pdf_dir(self) -> Path:
        """Where released letters' PDFs go."""
        return self.batch_dir / "pdf"

    def stamp(self) -> str:
        """The run's clock, to the second, for the state's records."""
        return self.now().isoformat(timespec="seconds")

    def say(self, message: str) -> None:
        """Report a line to the operator and the batch log."""
        self.reporter.line(message)
        if self.log:
            self.log.write(message)

    def note(self, message: str) -> None:
        """Write a line to the batch log only (per-letter detail the operator need not see)."""
        if self.log:
            self.log.write(message)
