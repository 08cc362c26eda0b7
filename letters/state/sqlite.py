"""The embedded state: one SQLite file, the `StateStore` the pipeline uses by default.

Migrations run by `PRAGMA user_version` (see `schema`). Every letter is recorded `pending` before
its PDF is written and `rendered` after, each in its own transaction, so a killed run loses nothing
and resumes. The store is put together from one part per concern: batches, letters, postal numbers,
tracking, template approvals, payment references, the review queue, lint-held letters, and
contact points and messages.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from letters.state.approvals import SqliteApprovals
from letters.state.archive import SqliteArchive
from letters.state.batches import SqliteBatches
from letters.state.held import SqliteHeld
from letters.state.letters import SqliteLetters
from letters.state.messages import SqliteMessages
from letters.state.postal import SqlitePostal
from letters.state.records import StateError
from letters.state.references import SqliteReferences
from letters.state.review import SqliteReview
from letters.state.schema import migrate
from letters.state.tracking import SqliteTracking

DB_ENV = "LETTERS_DB"
DEFAULT_DB_NAME = "letters.db"


class StoreParts(
    SqliteBatches,
    SqliteLetters,
    SqliteArchive,
    SqlitePostal,
    SqliteTracking,
    SqliteApprovals,
    SqliteReferences,
    SqliteReview,
    SqliteHeld,
    SqliteMessages,
):
    """Every part of a store, one per concern; `PostgresStore` is made of the same parts."""


class SqliteStore(StoreParts):
    """The embedded state: one SQLite file in WAL mode, every write its own transaction."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        try:
            db_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(db_path, os.O_RDWR | os.O_CREAT, 0o600)
            os.close(fd)
            self.db = sqlite3.connect(db_path, isolation_level=None, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA foreign_keys=ON")
            migrate(self.db, db_path)
        except sqlite3.DatabaseError as exc:
            raise StateError(f"{db_path}: cannot use the state database: {exc}") from None
        except OSError as exc:  # a read-only file or folder, a missing permission
            raise StateError(
                f"{db_path}: cannot open the state database: {exc.strerror or exc}"
            ) from None

    def close(self) -> None:
        """Close the connection."""
        self.db.close()
