"""How a run reports progress: rich bars on a terminal, plain greppable lines under cron."""

from __future__ import annotations

import time

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
from rich.text import Text


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
