"""What every part of the SQLite store shares: the connection and its transactions."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction, taken at once (`BEGIN IMMEDIATE`), rolled back on any exception."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


class SqliteBase:
    """The connection the store's parts share; `SqliteStore` opens it."""

    db_path: Path
    db: sqlite3.Connection

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self.db)
