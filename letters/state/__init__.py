"""State: the `StateStore` protocol, its SQLite implementation, and the run lock."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from letters.state.protocol import StateStore
from letters.state.sqlite import DB_ENV, DEFAULT_DB_NAME, SqliteStore


def configured_db_path(db: Path | None) -> Path | None:
    """The state database the operator named: an explicit `--db`, else `$LETTERS_DB`, else None."""
    if db is not None:
        return db
    from_env = os.environ.get(DB_ENV)
    return Path(from_env) if from_env else None


def db_path_for(db: Path | None, out_dir: Path) -> Path:
    """The state database: an explicit `--db`, else `$LETTERS_DB`, else `letters.db` in OUT."""
    return configured_db_path(db) or out_dir / DEFAULT_DB_NAME


def open_store(db_path: Path) -> StateStore:
    """Open (creating and migrating if need be) the state at `db_path`."""
    return SqliteStore(db_path)


@contextmanager
def opened_store(db_path: Path) -> Iterator[StateStore]:
    """The state at `db_path`, open for a `with` block and closed after it."""
    store = open_store(db_path)
    try:
        yield store
    finally:
        store.close()
