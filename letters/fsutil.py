"""File helpers: private permissions and atomic writes (temporary name, then rename)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def make_private_dir(dir_path: Path) -> Path:
    """Create a folder (and missing parents) readable by the owner only."""
    dir_path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    os.chmod(dir_path, PRIVATE_DIR_MODE)
    return dir_path


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
