"""File helpers: private permissions and atomic writes (temporary name, then rename)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from addresses.files import PRIVATE_FILE_MODE, atomic_open, write_csv

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


def make_private_dir(dir_path: Path) -> Path:
    """Create a folder (and missing parents) readable by the owner only."""
    dir_path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    os.chmod(dir_path, PRIVATE_DIR_MODE)
    return dir_path


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
