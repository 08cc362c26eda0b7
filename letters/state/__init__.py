"""State: the `StateStore` protocol, its SQLite implementation, and the run lock."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from letters.state.lock import RunLock
from letters.state.protocol import StateStore
from letters.state.sqlite import DB_ENV, DEFAULT_DB_NAME, SqliteStore

if TYPE_CHECKING:
    from letters.state.postgres import AdvisoryLock

__all__ = ["StateStore", "open_store", "opened_store", "run_lock", "shown", "state_exists"]


def shown(db: Path) -> str:
    """A state's name for messages: its path, or its server URL without the password."""
    if _server_url(db) is None:
        return str(db)
    from letters.state.postgres import shown as shown_url

    return shown_url(db)


def _server_url(db: Path) -> str | None:
    text = str(db)
    if not text.startswith(("postgresql:", "postgres:")):
        return None  # psycopg is imported only for a server state
    from letters.state.postgres import server_url

    return server_url(db)


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
    """Open (creating and migrating if need be) the state at `db_path`: a SQLite file, or a
    PostgreSQL database when it is a `postgresql://` URL."""
    url = _server_url(db_path)
    if url is not None:
        from letters.state.postgres import PostgresStore

        return PostgresStore(url)
    return SqliteStore(db_path)


def state_exists(db_path: Path) -> bool:
    """Whether there is a state to read (a server state always is: it is made on first use)."""
    return _server_url(db_path) is not None or db_path.is_file()


def run_lock(db_path: Path, suffix: str = ".lock") -> RunLock | AdvisoryLock:
    """The lock one run (or, with `.send-lock`, one send) holds on the state at a time."""
    url = _server_url(db_path)
    if url is not None:
        from letters.state.postgres import AdvisoryLock

        return AdvisoryLock(url, suffix)
    return RunLock(db_path, suffix)


@contextmanager
def opened_store(db_path: Path) -> Iterator[StateStore]:
    """The state at `db_path`, open for a `with` block and closed after it."""
    store = open_store(db_path)
    try:
        yield store
    finally:
        store.close()
