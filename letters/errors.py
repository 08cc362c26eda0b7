"""The one base exception, its subclasses, and the documented exit codes."""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path


class ExitCode(IntEnum):
    """Process exit codes; documented in the README. Scripts depend on these numbers."""

    DONE = 0
    FATAL = 1  # fatal error, nothing released
    USAGE = 2  # bad command line or unusable option value
    REJECTED_ROWS = 3  # done, but some input rows were rejected (see rejects.csv)
    LOCKED = 4  # another run holds the lock
    INTERRUPTED = 5  # interrupted, resume possible


class LettersError(Exception):
    """Base of every error the library raises on purpose; its message is one line."""

    exit_code: ExitCode = ExitCode.FATAL


class UsageError(LettersError):
    """The command was called wrongly (a missing file, a bad option value)."""

    exit_code = ExitCode.USAGE


class InputFileError(LettersError):
    """A whole input file cannot be used (encoding, missing columns, not CSV)."""

    exit_code = ExitCode.FATAL


class TemplateError(LettersError):
    """A letter template is missing or broken."""

    exit_code = ExitCode.FATAL


class FileSystemError(LettersError):
    """A file or folder cannot be created or written (read-only, disk full, no permission)."""

    exit_code = ExitCode.FATAL


def os_error_text(exc: OSError) -> str:
    """The system's words for an `OSError`, e.g. `No space left on device`."""
    return exc.strerror or exc.__class__.__name__


def not_a_file(path: Path) -> str:
    """Why an input path that should be a file is not: missing, or a folder."""
    if path.is_dir():
        return f"{path}: is a folder, not a file (give a CSV file)"
    return f"{path}: no such file"
