"""Atomic, owner-only file writing: a temporary name in the same folder, renamed when complete."""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

PRIVATE_FILE_MODE = 0o600


@contextlib.contextmanager
def atomic_open(target_path: Path, mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file next to `target_path`; rename it into place only on success.

    A crash leaves at most a `.tmp-*` file, never a half-written target.
    """
    fd, tmp_name = tempfile.mkstemp(prefix=f".tmp-{target_path.name}-", dir=target_path.parent)
    tmp_path = Path(tmp_name)
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_path, target_path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_csv(target_path: Path, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """Write a CSV file atomically (temporary name, then rename), readable by the owner only.

    A missing parent folder is created, readable by the owner only.
    """
    target_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with atomic_open(target_path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)
