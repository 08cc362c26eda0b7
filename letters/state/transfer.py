"""`letters state migrate`: move a SQLite state into an empty PostgreSQL database.

Both states are locked for the move (no run or send may write to either meanwhile). Every table
is copied whole in one server transaction, so the server holds all of the state or none of it;
the identity counters are then set past the copied ids. The SQLite file is left as it was.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from letters.errors import UsageError
from letters.state import run_lock
from letters.state.lock import RunLock
from letters.state.pgschema import ORDERED, newest_tables
from letters.state.postgres import PostgresStore, server_url, shown
from letters.state.sqlite import SqliteStore


@dataclass
class MigrateReport:
    """What was moved: rows per table."""

    source: Path
    target: str
    rows: dict[str, int] = field(default_factory=dict)


def migrate_state(source: Path, target: Path) -> MigrateReport:
    """Copy the SQLite state at `source` into the empty PostgreSQL database `target`."""
    url = server_url(target)
    if url is None:
        raise UsageError(f"--to: expected a postgresql:// URL, got {str(target)!r}")
    if server_url(source) is not None or not source.is_file():
        raise UsageError(f"--from: {source}: no SQLite state database here")
    SqliteStore(source).close()  # brought up to the newest schema first, as any run would
    locks = [RunLock(source), RunLock(source, ".send-lock"), run_lock(target),
             run_lock(target, ".send-lock")]  # fmt: skip
    held = []
    try:
        for lock in locks:
            lock.acquire("migrating the state")
            held.append(lock)
        return _copy(source, url)
    finally:
        for lock in held:
            lock.release()


def _copy(source: Path, url: str) -> MigrateReport:
    report = MigrateReport(source, shown(url))
    tables = [(name, columns) for name, _sql, columns in newest_tables() if columns]
    reader = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    store = PostgresStore(url)
    db = store.db
    try:
        for name, _columns in tables:
            row = db.execute(f'SELECT 1 FROM "{name}" LIMIT 1').fetchone()
            if row is not None:
                raise UsageError(f"--to: {shown(url)} already holds a state (table {name})")
        db.execute("BEGIN IMMEDIATE")
        try:
            for name, columns in tables:
                report.rows[name] = _copy_table(reader, store, name, columns)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    finally:
        reader.close()
        store.close()
    return report


def _copy_table(reader: sqlite3.Connection, store: PostgresStore, name: str,
                columns: list[str]) -> int:  # fmt: skip
    names = ", ".join(columns)
    order = " ORDER BY rowid" if name in ORDERED else ""
    raw = store.db.raw  # type: ignore[attr-defined]
    copied = 0
    with raw.cursor().copy(f'COPY "{name}" ({names}) FROM STDIN') as copy:
        for row in reader.execute(f'SELECT {names} FROM "{name}"{order}'):
            copy.write_row(row)
            copied += 1
    for (column,) in raw.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attidentity <> ''",
        (name,),
    ):
        if column in columns:  # a copied id: the next one comes after the highest
            raw.execute(
                f"SELECT setval(pg_get_serial_sequence(%s, %s),"
                f' COALESCE((SELECT max("{column}") FROM "{name}"), 0) + 1, false)',
                (name, column),
            )
    return copied
