"""What every part of the SQLite store shares: the connection and its transactions."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction, taken at once (`BEGIN IMMEDIATE`), rolled back on any exception.

    A stop signal (KeyboardInterrupt) may land between any two steps, the COMMIT included: the
    connection is never left inside a transaction, or the run's closing write would fail."""
    try:
        db.execute("BEGIN IMMEDIATE")
        yield db
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:  # not after a BEGIN that failed, nor a COMMIT that was done
            db.execute("ROLLBACK")
        raise


class SqliteBase:
    """The connection the store's parts share; `SqliteStore` opens it."""

    db_path: Path
    db: sqlite3.Connection

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self.db)
