"""Where a run reports its progress; the CLI draws bars on a terminal and plain lines under cron."""

from __future__ import annotations

from typing import Protocol


class Reporter(Protocol):
    """Receives a run's messages and the progress of its stages."""

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
