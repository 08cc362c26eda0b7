"""File helpers: private permissions and atomic writes (temporary name, then rename).

An operating-system failure while writing (a read-only folder, a full disk) becomes a
`FileSystemError` naming the file and the system's reason, never a traceback.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from addresses import files
from addresses.files import PRIVATE_FILE_MODE
from addresses.hygiene import spreadsheet_safe_rows
from letters.errors import FileSystemError, LettersError, os_error_text

__all__ = [
    "PRIVATE_FILE_MODE",
    "atomic_open",
    "make_private_dir",
    "sha256_bytes",
    "sha256_file",
    "write_bytes_atomic",
    "write_csv",
    "write_text_atomic",
]

PRIVATE_DIR_MODE = 0o700


@contextlib.contextmanager
def os_errors_named(target_path: Path, doing: str = "cannot write") -> Iterator[None]:
    """Turn an `OSError` inside the block into a `FileSystemError` naming `target_path`."""
    try:
        yield
    except LettersError:
        raise
    except OSError as exc:
        raise FileSystemError(f"{target_path}: {doing}: {os_error_text(exc)}") from exc


def make_private_dir(dir_path: Path) -> Path:
    """Create a folder (and missing parents) readable by the owner only.

    A folder that already exists keeps its mode: `--out /tmp` or a shared group folder is never
    narrowed; only what this call creates is owner-only.
    """
    missing = []
    probe = dir_path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        with os_errors_named(folder, "cannot create the folder"):
            try:
                folder.mkdir(mode=PRIVATE_DIR_MODE)
            except FileExistsError:
                continue  # made by someone else meanwhile: theirs, with their mode
            os.chmod(folder, PRIVATE_DIR_MODE)  # exactly owner-only, whatever the umask
    if not dir_path.is_dir():
        raise FileSystemError(f"{dir_path}: not a folder")
    return dir_path


@contextlib.contextmanager
def atomic_open(target_path: Path, mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """`addresses.files.atomic_open` (temporary name, renamed on success), with a failure to
    write reported as a `FileSystemError` naming the file."""
    with os_errors_named(target_path), files.atomic_open(target_path, mode, **kwargs) as handle:
        yield handle


def write_csv(
    target_path: Path,
    columns: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    for_people: bool = True,
) -> None:
    """Write a CSV file atomically and owner-only (see `addresses.files.write_csv`).

    A CSV for people (the default: operators open them in a spreadsheet) has every cell made
    inert by `addresses.hygiene.spreadsheet_safe`; `for_people=False` writes data files (inputs)
    exactly.
    """
    with os_errors_named(target_path):
        files.write_csv(target_path, columns, spreadsheet_safe_rows(rows) if for_people else rows)


def write_bytes_atomic(target_path: Path, data: bytes) -> None:
    """Write bytes to `target_path` atomically with owner-only permissions."""
    with atomic_open(target_path, "wb") as handle:
        handle.write(data)


def write_text_atomic(target_path: Path, text: str) -> None:
    """Write UTF-8 text to `target_path` atomically with owner-only permissions."""
    with atomic_open(target_path, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of a byte string."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(file_path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with file_path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
