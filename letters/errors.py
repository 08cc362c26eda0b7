"""The one base exception, its subclasses, and the documented exit codes."""

from __future__ import annotations

from enum import IntEnum


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
