"""The server state: PostgreSQL through psycopg 3, for hosts with no lasting local disk.

`PostgresStore` is put together from the same parts as `SqliteStore` and runs the same
statements: `PgConnection` speaks the few words of SQLite's dialect they use in PostgreSQL's
(`?` placeholders, `INSERT OR IGNORE`, `max(a, b)`, `rowid`). So every exactly-once and recovery
rule is one code path on both stores. A write transaction takes a transaction-level advisory lock
first, so writers queue one at a time as SQLite's `BEGIN IMMEDIATE` makes them.

The schema is SQLite's, carried over by `letters.state.pgschema`, and versioned by the same
migration numbers. A connection that fails is a `StateUnavailable` (exit 1) naming the server,
never its password; the batch is then left `running` and the next run recovers it as any
interrupted batch.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import weakref
import zlib
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from letters.errors import ExitCode, LettersError
from letters.state.records import LockedError
from letters.state.sqlite import StoreParts

URL_PREFIXES = ("postgresql://", "postgres://")
WRITE_LOCK = 0x6C657474  # the advisory lock every write transaction takes ("lett")
CONNECT_TIMEOUT = 10


class StateUnavailable(LettersError):
    """The state's server cannot be reached, or went away mid-run."""

    exit_code = ExitCode.FATAL


def server_url(db: Path | str) -> str | None:
    """The PostgreSQL URL a `--db` value names, or None for a SQLite file. (A URL given as a
    `Path` has lost one slash of `//`; it is put back.)"""
    text = str(db)
    for prefix in URL_PREFIXES:
        if text.startswith(prefix):
            return text
        if text.startswith(prefix[:-1]):  # `postgresql:/host/db`
            return prefix + text[len(prefix) - 1 :]
    return None


def shown(db: Path | str) -> str:
    """A state's name for messages and logs: a URL without its password."""
    url = server_url(db)
    if url is None:
        return str(db)
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def unavailable(url: str, exc: Exception) -> StateUnavailable:
    """One line naming the server and what went wrong (libpq's first line, no password)."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return StateUnavailable(f"{shown(url)}: the state database is unavailable: {reason}")


@lru_cache(maxsize=512)
def translate(sql: str) -> str:
    """A statement of the store's parts in PostgreSQL's dialect."""
    text = sql.replace("%", "%%").replace("?", "%s")
    if "INSERT OR IGNORE INTO" in text:
        text = text.replace("INSERT OR IGNORE INTO", "INSERT INTO") + " ON CONFLICT DO NOTHING"
    text = text.replace("max(value, excluded.value)", "GREATEST(counters.value, excluded.value)")
    return re.sub(r"\bORDER BY rowid\b", "ORDER BY seq", text)


_OPEN: weakref.WeakSet[PgConnection] = weakref.WeakSet()


def _forget_in_child() -> None:
    # A forked render worker shares each connection's socket. Were it ever to close its copy
    # politely (libpq's goodbye), the server would end the run's session; /dev/null over the
    # child's copy of the descriptor keeps anything the child does off the wire.
    for conn in list(_OPEN):
        with contextlib.suppress(Exception):
            fd = conn.raw.pgconn.socket
            null = os.open(os.devnull, os.O_RDWR)
            os.dup2(null, fd)
            os.close(null)


os.register_at_fork(after_in_child=_forget_in_child)


class PgConnection:
    """The part of `sqlite3.Connection` the store uses, on one autocommit psycopg connection."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.raw = psycopg.connect(
                url, autocommit=True, connect_timeout=CONNECT_TIMEOUT, application_name="letters"
            )
        except psycopg.Error as exc:
            raise unavailable(url, exc) from None
        self.total_changes = 0
        _OPEN.add(self)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        """Run one statement; `BEGIN IMMEDIATE` begins a write transaction (see the module)."""
        try:
            if sql == "BEGIN IMMEDIATE":
                self.raw.execute("BEGIN")
                return self.raw.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            cursor = self.raw.execute(translate(sql), tuple(params))
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise unavailable(self.url, exc) from None
        if cursor.rowcount > 0 and not sql.lstrip().upper().startswith("SELECT"):
            self.total_changes += cursor.rowcount
        return cursor

    @property
    def in_transaction(self) -> bool:
        """True between a `BEGIN` and its end, as `sqlite3.Connection.in_transaction`."""
        status = self.raw.info.transaction_status
        return status in (
            psycopg.pq.TransactionStatus.INTRANS,
            psycopg.pq.TransactionStatus.INERROR,
        )

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for each row."""
        for row in rows:
            self.execute(sql, row)

    def close(self) -> None:
        """Close the connection (a dead one closes quietly)."""
        _OPEN.discard(self)
        with contextlib.suppress(psycopg.Error):
            self.raw.close()


class PostgresStore(StoreParts):
    """The state in a PostgreSQL database: the same parts and rules as `SqliteStore`."""

    def __init__(self, url: str) -> None:
        from letters.state.pgschema import migrate_server

        self.db_path = Path(url)
        self.url = url
        conn = PgConnection(url)
        try:
            migrate_server(conn, url)
        except BaseException:
            conn.close()
            raise
        self.db = conn  # type: ignore[assignment]  # the part of sqlite3.Connection used

    def close(self) -> None:
        """Close the connection."""
        self.db.close()


class AdvisoryLock:
    """The run lock on a server state: a session-level advisory lock on a connection of its own.

    The server lets go of it when that connection ends, however the holder dies (a `kill -9`
    closes the socket), so a stale lock is simply taken over, as with the `flock` of SQLite's
    lock file. The holder names itself in its connection's `application_name`, which a second
    run reads back for its error message.
    """

    def __init__(self, url: str, suffix: str = ".lock") -> None:
        self.url = url
        self.name = suffix.lstrip(".")
        self.key = zlib.crc32(f"letters{suffix}".encode())  # < 2**32: pg_locks.objid
        self._conn: PgConnection | None = None

    def acquire(self, batch_id: str) -> None:
        """Take the lock or raise `LockedError` naming the batch that holds it."""
        conn = PgConnection(self.url)
        got = conn.execute("SELECT pg_try_advisory_lock(?)", (self.key,)).fetchone()
        if not (got and got[0]):
            row = conn.execute(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a"
                " ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted"
                " AND l.classid = 0 AND l.objid = ? AND l.database = (SELECT oid FROM"
                " pg_database WHERE datname = current_database())",
                (self.key,),
            ).fetchone()
            conn.close()
            holder = row[0] if row and row[0] else "an unknown batch"
            raise LockedError(f"another run holds the {self.name} on {shown(self.url)}: {holder}")
        self._conn = conn
        self.describe(batch_id)

    def describe(self, batch_id: str) -> None:
        """Name the batch that holds the lock (at most 63 characters are kept)."""
        assert self._conn is not None
        holder = f"batch {batch_id} (pid {os.getpid()} on {socket.gethostname()})"
        self._conn.execute("SELECT set_config('application_name', ?, false)", (holder,))

    def release(self) -> None:
        """Let go of the lock (closing its connection lets go of it too)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
