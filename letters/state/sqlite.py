"""Batch state: letters produced, decisions, batches, the run lock. SQLite by default.

The pipeline talks only to `StateStore`; `SqliteStore` is the embedded implementation (one file,
migrations by `PRAGMA user_version`). Every letter is recorded `pending` before its PDF is written
and `rendered` after, each in its own transaction, so a killed run loses nothing and resumes.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any, Protocol

from letters.errors import ExitCode, LettersError
from letters.model import History

DB_ENV = "LETTERS_DB"
DEFAULT_DB_NAME = "letters.db"

MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema
    """
    CREATE TABLE batches (
        batch_id TEXT PRIMARY KEY,
        as_of TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT NOT NULL CHECK (status IN ('running', 'complete', 'interrupted', 'failed')),
        batch_dir TEXT NOT NULL,
        request_json TEXT NOT NULL,
        pid INTEGER,
        host TEXT,
        counts_json TEXT
    );
    CREATE TABLE letters (
        letter_key TEXT PRIMARY KEY,
        piece_id TEXT NOT NULL UNIQUE,
        batch_id TEXT NOT NULL REFERENCES batches(batch_id),
        customer_id TEXT NOT NULL,
        stage TEXT NOT NULL,
        cycle TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'rendered')),
        article_number TEXT,
        pdf_path TEXT,
        pdf_sha256 TEXT,
        pages INTEGER,
        created_at TEXT NOT NULL
    );
    CREATE INDEX letters_customer ON letters(customer_id);
    CREATE INDEX letters_batch ON letters(batch_id);
    CREATE TABLE letter_accounts (
        piece_id TEXT NOT NULL,
        account_id TEXT NOT NULL,
        PRIMARY KEY (piece_id, account_id)
    );
    CREATE TABLE decisions (
        batch_id TEXT NOT NULL,
        account_id TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        status TEXT NOT NULL,
        reason_code TEXT NOT NULL,
        reason_detail TEXT NOT NULL,
        stage TEXT NOT NULL,
        piece_id TEXT NOT NULL,
        PRIMARY KEY (batch_id, account_id)
    );
    CREATE INDEX decisions_customer ON decisions(customer_id);
    CREATE TABLE forced (
        id INTEGER PRIMARY KEY,
        batch_id TEXT NOT NULL,
        forced_piece_id TEXT NOT NULL,
        letter_key TEXT NOT NULL,
        operator TEXT NOT NULL,
        reason TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE TABLE address_evidence (
        id INTEGER PRIMARY KEY,
        customer_id TEXT NOT NULL,
        source TEXT NOT NULL,
        line1 TEXT NOT NULL, line2 TEXT NOT NULL, city TEXT NOT NULL, state TEXT NOT NULL,
        zip TEXT NOT NULL, country TEXT NOT NULL,
        observed_at TEXT NOT NULL,
        status TEXT NOT NULL,
        ref TEXT NOT NULL UNIQUE
    );
    CREATE TABLE article_pool (
        article_number TEXT PRIMARY KEY,
        state TEXT NOT NULL CHECK (state IN ('free', 'used')),
        piece_id TEXT,
        used_at TEXT
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        piece_id TEXT,
        article_number TEXT,
        event TEXT NOT NULL,
        occurred_at TEXT NOT NULL,
        detail TEXT NOT NULL,
        imported_at TEXT NOT NULL,
        UNIQUE (piece_id, article_number, event, occurred_at)
    );
    """,
    # 2: what the decisions need to know of earlier letters
    """
    ALTER TABLE letters ADD COLUMN mail_date TEXT;
    ALTER TABLE letters ADD COLUMN kind TEXT;
    ALTER TABLE letters ADD COLUMN recipient_role TEXT
    """,
    # 3: where accountable-mail numbers come from, and barcode serials
    """
    ALTER TABLE article_pool ADD COLUMN pool TEXT;
    ALTER TABLE article_pool ADD COLUMN ordinal INTEGER;
    CREATE INDEX article_pool_free ON article_pool(pool, state, ordinal);
    ALTER TABLE letters ADD COLUMN imb_serial INTEGER;
    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)
    """,
    # 4: the address each piece was sent to (returned mail becomes evidence against it)
    """
    ALTER TABLE letters ADD COLUMN address_json TEXT;
    CREATE INDEX letters_article ON letters(article_number);
    CREATE INDEX evidence_customer ON address_evidence(customer_id)
    """,
)


class PoolExhausted(LettersError):
    """No unused article number is left in a pool."""

    exit_code = ExitCode.FATAL


class LockedError(LettersError):
    """Another run holds the lock on the state."""

    exit_code = ExitCode.LOCKED


class StateError(LettersError):
    """The state cannot be opened or does not hold what was asked for."""

    exit_code = ExitCode.USAGE


@dataclass(frozen=True, slots=True)
class LetterRecord:
    """One letter as the state knows it."""

    letter_key: str
    piece_id: str
    batch_id: str
    customer_id: str
    stage: str
    cycle: str
    status: str
    pdf_path: str | None
    pdf_sha256: str | None
    pages: int | None


@dataclass(frozen=True, slots=True)
class LetterFacts:
    """What later decisions need to know of a letter."""

    mail_date: str
    kind: str
    recipient_role: str
    address: tuple[str, ...] = ()  # line1, line2, city, state, zip, country


@dataclass(frozen=True, slots=True)
class BatchRecord:
    """One batch as the state knows it."""

    batch_id: str
    as_of: str
    started_at: str
    finished_at: str | None
    status: str
    batch_dir: str
    request: dict[str, Any]
    pid: int | None
    host: str | None
    counts: dict[str, Any]


class StateStore(Protocol):
    """What the pipeline needs from the state; a server database can implement it later."""

    def begin_batch(self, batch: BatchRecord) -> None: ...
    def finish_batch(
        self, batch_id: str, status: str, finished_at: str, counts: dict[str, Any]
    ) -> None: ...
    def batch(self, batch_id: str) -> BatchRecord | None: ...
    def batches(self) -> list[BatchRecord]: ...
    def letter(self, letter_key: str) -> LetterRecord | None: ...
    def letter_by_piece(self, piece_id: str) -> LetterRecord | None: ...
    def reserve_letter(
        self,
        record: LetterRecord,
        account_ids: Sequence[str],
        created_at: str,
        facts: LetterFacts,
        sequence: int = 0,
    ) -> None: ...
    def last_piece_number(self, batch_id: str) -> int: ...
    def complete_letter(
        self, piece_id: str, pdf_path: str, pdf_sha256: str, pages: int
    ) -> None: ...
    def release_letter(self, letter_key: str) -> None: ...
    def history(self, customer_id: str, exclude_batch_id: str) -> History: ...
    def drop_pending(self, piece_id: str) -> None: ...
    def load_pool(self, pool: str, numbers: Sequence[str]) -> int: ...
    def assign_article(
        self,
        piece_id: str,
        pool: str,
        make: Callable[[int], str] | None,
        first: int,
        last: int,
        at: str,
    ) -> str: ...
    def assign_imb_serial(self, piece_id: str, name: str, modulus: int) -> int: ...
    def evidence(self) -> list[tuple[Any, ...]]: ...
    def record_decisions(self, batch_id: str, rows: Iterable[tuple[str, ...]]) -> None: ...
    def record_force(
        self, batch_id: str, piece_id: str, letter_key: str, operator: str, reason: str, at: str
    ) -> None: ...
    def letters_of_batch(self, batch_id: str) -> list[LetterRecord]: ...
    def close(self) -> None: ...


def default_db_path(out_dir: Path) -> Path:
    """`$LETTERS_DB` if set, else `letters.db` in the output folder."""
    from_env = os.environ.get(DB_ENV)
    return Path(from_env) if from_env else out_dir / DEFAULT_DB_NAME


class SqliteStore:
    """The embedded state: one SQLite file in WAL mode, every write its own transaction."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        db_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(db_path, os.O_RDWR | os.O_CREAT, 0o600)
            os.close(fd)
            self.db = sqlite3.connect(db_path, isolation_level=None, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StateError(f"{db_path}: cannot use the state database: {exc}") from None

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StateError(f"{self.db_path}: made by a newer letters (schema {version})")
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self._tx():
                for statement in script.split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {number}")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    # batches
    def begin_batch(self, batch: BatchRecord) -> None:
        """Record a batch as running (or running again, on resume)."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO batches (batch_id, as_of, started_at, status, batch_dir, request_json,"
                " pid, host) VALUES (?, ?, ?, 'running', ?, ?, ?, ?)"
                " ON CONFLICT(batch_id) DO UPDATE"
                " SET status = 'running', finished_at = NULL, pid = excluded.pid,"
                " host = excluded.host",
                (
                    batch.batch_id,
                    batch.as_of,
                    batch.started_at,
                    batch.batch_dir,
                    json.dumps(batch.request, sort_keys=True),
                    batch.pid,
                    batch.host,
                ),
            )

    def finish_batch(
        self, batch_id: str, status: str, finished_at: str, counts: dict[str, Any]
    ) -> None:
        """Mark a batch complete, interrupted or failed, with its counts."""
        with self._tx() as db:
            db.execute(
                "UPDATE batches SET status = ?, finished_at = ?, counts_json = ?"
                " WHERE batch_id = ?",
                (status, finished_at, json.dumps(counts, sort_keys=True), batch_id),
            )

    def _batch(self, row: sqlite3.Row | tuple[Any, ...]) -> BatchRecord:
        return BatchRecord(
            batch_id=row[0],
            as_of=row[1],
            started_at=row[2],
            finished_at=row[3],
            status=row[4],
            batch_dir=row[5],
            request=json.loads(row[6]),
            pid=row[7],
            host=row[8],
            counts=json.loads(row[9]) if row[9] else {},
        )

    _BATCH_COLUMNS = (
        "batch_id, as_of, started_at, finished_at, status, batch_dir, request_json, pid, host,"
        " counts_json"
    )

    def batch(self, batch_id: str) -> BatchRecord | None:
        """One batch, or None."""
        row = self.db.execute(
            f"SELECT {self._BATCH_COLUMNS} FROM batches WHERE batch_id = ?", (batch_id,)
        ).fetchone()
        return self._batch(row) if row else None

    def batches(self) -> list[BatchRecord]:
        """Every batch, newest first."""
        rows = self.db.execute(
            f"SELECT {self._BATCH_COLUMNS} FROM batches ORDER BY started_at DESC, batch_id DESC"
        ).fetchall()
        return [self._batch(row) for row in rows]

    # letters
    _LETTER_COLUMNS = (
        "letter_key, piece_id, batch_id, customer_id, stage, cycle, status, pdf_path, pdf_sha256,"
        " pages"
    )

    def _letter_where(self, column: str, value: str) -> LetterRecord | None:
        row = self.db.execute(
            f"SELECT {self._LETTER_COLUMNS} FROM letters WHERE {column} = ?", (value,)
        ).fetchone()
        return LetterRecord(*row) if row else None

    def letter(self, value: str) -> LetterRecord | None:
        """The letter recorded under a key, or None."""
        return self._letter_where("letter_key", value)

    def letter_by_piece(self, value: str) -> LetterRecord | None:
        """The letter with a piece id, or None."""
        return self._letter_where("piece_id", value)

    def letters_of_batch(self, batch_id: str) -> list[LetterRecord]:
        """Every letter recorded in a batch, by piece id."""
        rows = self.db.execute(
            f"SELECT {self._LETTER_COLUMNS} FROM letters WHERE batch_id = ? ORDER BY piece_id",
            (batch_id,),
        ).fetchall()
        return [LetterRecord(*row) for row in rows]

    def reserve_letter(
        self,
        record: LetterRecord,
        account_ids: Sequence[str],
        created_at: str,
        facts: LetterFacts,
        sequence: int = 0,
    ) -> None:
        """Record a letter as pending before its PDF is written; its key must be new.

        `sequence` is the piece's number within its batch; the highest one given is kept, so a
        piece number stays spent even when its letter is dropped (held) later.
        """
        with self._tx() as db:
            db.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?)"
                " ON CONFLICT(name) DO UPDATE SET value = max(value, excluded.value)",
                (f"piece:{record.batch_id}", sequence),
            )
            db.execute(
                f"INSERT INTO letters ({self._LETTER_COLUMNS}, created_at, mail_date, kind,"
                " recipient_role, address_json)"
                " VALUES (?, ?, ?, ?, ?, ?, 'pending', NULL, NULL, NULL, ?, ?, ?, ?, ?)",
                (
                    record.letter_key,
                    record.piece_id,
                    record.batch_id,
                    record.customer_id,
                    record.stage,
                    record.cycle,
                    created_at,
                    facts.mail_date,
                    facts.kind,
                    facts.recipient_role,
                    json.dumps(list(facts.address)),
                ),
            )
            db.executemany(
                "INSERT OR IGNORE INTO letter_accounts (piece_id, account_id) VALUES (?, ?)",
                [(record.piece_id, account_id) for account_id in account_ids],
            )

    def last_piece_number(self, batch_id: str) -> int:
        """The highest piece number a batch has handed out (0 for none)."""
        row = self.db.execute(
            "SELECT value FROM counters WHERE name = ?", (f"piece:{batch_id}",)
        ).fetchone()
        return int(row[0]) if row else 0

    def complete_letter(self, piece_id: str, pdf_path: str, pdf_sha256: str, pages: int) -> None:
        """Mark a pending letter rendered, once its PDF is in place under its real name."""
        with self._tx() as db:
            db.execute(
                "UPDATE letters SET status = 'rendered', pdf_path = ?, pdf_sha256 = ?, pages = ?"
                " WHERE piece_id = ?",
                (pdf_path, pdf_sha256, pages, piece_id),
            )

    def history(self, customer_id: str, exclude_batch_id: str) -> History:
        """What earlier batches sent this debtor: keys, last mail date, a validation notice."""
        rows = self.db.execute(
            "SELECT letter_key, mail_date, kind, piece_id, batch_id FROM letters"
            " WHERE customer_id = ? AND status = 'rendered' AND batch_id != ?",
            (customer_id, exclude_batch_id),
        ).fetchall()
        dates = [date.fromisoformat(row[1]) for row in rows if row[1]]
        return History(
            sent={row[0]: f"piece {row[3]} in batch {row[4]}" for row in rows},
            last_mail_date=max(dates, default=None),
            validation_sent=any(row[2] == "validation" for row in rows),
            validation_mail_date=max(
                (date.fromisoformat(row[1]) for row in rows if row[2] == "validation" and row[1]),
                default=None,
            ),
        )

    def drop_pending(self, piece_id: str) -> None:
        """Forget a pending letter that will not be released (it failed its checks)."""
        with self._tx() as db:
            db.execute("DELETE FROM letter_accounts WHERE piece_id = ?", (piece_id,))
            db.execute("DELETE FROM letters WHERE piece_id = ? AND status = 'pending'", (piece_id,))

    def load_pool(self, pool: str, numbers: Sequence[str]) -> int:
        """Add numbers to a pool in the given order; numbers already known are left as they are."""
        with self._tx() as db:
            start = db.execute(
                "SELECT coalesce(max(ordinal), 0) FROM article_pool WHERE pool = ?", (pool,)
            ).fetchone()[0]
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO article_pool (article_number, state, pool, ordinal)"
                " VALUES (?, 'free', ?, ?)",
                [(number, pool, start + i) for i, number in enumerate(numbers, start=1)],
            )
            return db.total_changes - before

    def _next_counter(self, db: sqlite3.Connection, name: str, first: int) -> int:
        row = db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        value = (row[0] if row else first - 1) + 1
        db.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?)"
            " ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, value),
        )
        return int(value)

    def assign_article(
        self,
        piece_id: str,
        pool: str,
        make: Callable[[int], str] | None,
        first: int,
        last: int,
        at: str,
    ) -> str:
        """The piece's article number: the one it has, else the next unused one of the pool.

        `make` builds a number from a serial for a range pool; without it the pool is a loaded
        list. A number is never handed out twice; an exhausted pool raises `PoolExhausted`.
        """
        with self._tx() as db:
            row = db.execute(
                "SELECT article_number FROM letters WHERE piece_id = ?", (piece_id,)
            ).fetchone()
            if row and row[0]:
                return str(row[0])
            if make is None:
                free = db.execute(
                    "SELECT article_number FROM article_pool WHERE pool = ? AND state = 'free'"
                    " ORDER BY ordinal LIMIT 1",
                    (pool,),
                ).fetchone()
                if free is None:
                    raise PoolExhausted(f"article numbers: pool {pool!r} has no unused number left")
                number = str(free[0])
                db.execute(
                    "UPDATE article_pool SET state = 'used', piece_id = ?, used_at = ?"
                    " WHERE article_number = ?",
                    (piece_id, at, number),
                )
            else:
                while True:
                    serial = self._next_counter(db, f"article:{pool}", first)
                    if serial > last:
                        raise PoolExhausted(f"article numbers: range {pool!r} is used up at {last}")
                    number = make(serial)
                    taken = db.execute(
                        "SELECT 1 FROM article_pool WHERE article_number = ?", (number,)
                    ).fetchone()
                    if not taken:
                        break
                db.execute(
                    "INSERT INTO article_pool"
                    " (article_number, state, piece_id, used_at, pool, ordinal)"
                    " VALUES (?, 'used', ?, ?, ?, ?)",
                    (number, piece_id, at, pool, serial),
                )
            db.execute(
                "UPDATE letters SET article_number = ? WHERE piece_id = ?", (number, piece_id)
            )
            return number

    def assign_imb_serial(self, piece_id: str, name: str, modulus: int) -> int:
        """The piece's Intelligent Mail serial: the one it has, else the next of the counter."""
        with self._tx() as db:
            row = db.execute(
                "SELECT imb_serial FROM letters WHERE piece_id = ?", (piece_id,)
            ).fetchone()
            if row and row[0] is not None:
                return int(row[0])
            serial = self._next_counter(db, f"imb:{name}", 1) % modulus
            db.execute("UPDATE letters SET imb_serial = ? WHERE piece_id = ?", (serial, piece_id))
            return serial

    def letter_by_article(self, value: str) -> LetterRecord | None:
        """The letter with an article number, or None."""
        return self._letter_where("article_number", value)

    def letter_details(self, piece_id: str) -> dict[str, Any]:
        """What else the state knows of a piece: article number, mail date, kind, address."""
        row = self.db.execute(
            "SELECT article_number, mail_date, kind, recipient_role, address_json FROM letters"
            " WHERE piece_id = ?",
            (piece_id,),
        ).fetchone()
        if row is None:
            return {}
        return {
            "article_number": row[0] or "",
            "mail_date": row[1] or "",
            "kind": row[2] or "",
            "recipient_role": row[3] or "",
            "address": json.loads(row[4]) if row[4] else [],
        }

    def events_of(self, piece_id: str) -> list[tuple[str, str, str]]:
        """(event, occurred_at, detail) of a piece, oldest first."""
        rows = self.db.execute(
            "SELECT event, occurred_at, detail FROM events WHERE piece_id = ?"
            " ORDER BY occurred_at, id",
            (piece_id,),
        ).fetchall()
        return [(str(a), str(b), str(c)) for a, b, c in rows]

    def add_event(
        self,
        piece_id: str,
        article_number: str,
        event: str,
        occurred_at: str,
        detail: str,
        imported_at: str,
    ) -> bool:
        """Record an event once; False when the same event was imported before."""
        with self._tx() as db:
            before = db.total_changes
            db.execute(
                "INSERT OR IGNORE INTO events"
                " (piece_id, article_number, event, occurred_at, detail,"
                " imported_at) VALUES (?, ?, ?, ?, ?, ?)",
                (piece_id, article_number, event, occurred_at, detail, imported_at),
            )
            return db.total_changes > before

    def add_evidence(
        self, customer_id: str, address: Sequence[str], observed_at: str, status: str, ref: str
    ) -> bool:
        """Record returned mail against an address once (keyed by `ref`)."""
        line1, line2, city, state, zip_code, country = (list(address) + [""] * 6)[:6]
        with self._tx() as db:
            before = db.total_changes
            db.execute(
                "INSERT OR IGNORE INTO address_evidence (customer_id, source, line1, line2, city,"
                " state, zip, country, observed_at, status, ref)"
                " VALUES (?, 'returned_mail', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    customer_id,
                    line1,
                    line2,
                    city,
                    state,
                    zip_code,
                    country,
                    observed_at,
                    status,
                    ref,
                ),
            )
            return db.total_changes > before

    def evidence(self) -> list[tuple[Any, ...]]:
        """Every returned-mail record as a row.

        Columns: id, customer, line1, line2, city, state, zip, country, date, status.
        """
        return self.db.execute(
            "SELECT id, customer_id, line1, line2, city, state, zip, country, observed_at, status"
            " FROM address_evidence ORDER BY id"
        ).fetchall()

    def customer_of(self, identifier: str) -> str | None:
        """The customer_id a customer or account id belongs to, from letters and decisions."""
        for query in (
            "SELECT customer_id FROM decisions WHERE customer_id = ? LIMIT 1",
            "SELECT customer_id FROM letters WHERE customer_id = ? LIMIT 1",
            "SELECT customer_id FROM decisions WHERE account_id = ? LIMIT 1",
            "SELECT l.customer_id FROM letter_accounts a JOIN letters l ON l.piece_id = a.piece_id"
            " WHERE a.account_id = ? LIMIT 1",
        ):
            row = self.db.execute(query, (identifier,)).fetchone()
            if row:
                return str(row[0])
        return None

    def timeline(self, customer_id: str) -> list[tuple[str, str, str]]:
        """(when, what, detail) of every letter, decision and event for a debtor, newest first."""
        rows: list[tuple[str, str, str]] = []
        for piece, batch, stage, status, mail, article, created, kind in self.db.execute(
            "SELECT piece_id, batch_id, stage, status, mail_date, article_number, created_at, kind"
            " FROM letters WHERE customer_id = ?",
            (customer_id,),
        ):
            accounts = ",".join(
                r[0]
                for r in self.db.execute(
                    "SELECT account_id FROM letter_accounts WHERE piece_id = ? ORDER BY account_id",
                    (piece,),
                )
            )
            what = f"letter {piece} ({kind or 'demand'}, stage {stage}, {status})"
            detail = f"batch {batch}; mail date {mail}; accounts {accounts}" + (
                f"; article {article}" if article else ""
            )
            rows.append((mail or created, what, detail))
            for event, occurred, event_detail in self.events_of(piece):
                rows.append((occurred, f"event {event} for {piece}", event_detail))
        for batch, account, status, code, detail, piece, started in self.db.execute(
            "SELECT d.batch_id, d.account_id, d.status, d.reason_code, d.reason_detail,"
            " d.piece_id, b.started_at FROM decisions d JOIN batches b ON b.batch_id = d.batch_id"
            " WHERE d.customer_id = ?",
            (customer_id,),
        ):
            what = f"decision {account}: {status} {code}" + (f" (piece {piece})" if piece else "")
            rows.append((started, what, f"batch {batch}; {detail}"))
        for observed, status, line1, city in self.db.execute(
            "SELECT observed_at, status, line1, city FROM address_evidence WHERE customer_id = ?",
            (customer_id,),
        ):
            rows.append((observed, f"address evidence: {status}", f"{line1}, {city}"))
        return sorted(rows, key=lambda r: r[0], reverse=True)

    def release_letter(self, letter_key: str) -> None:
        """Forget a letter's key so it may be produced again (only `--force` does this)."""
        with self._tx() as db:
            db.execute(
                "UPDATE letters SET letter_key = letter_key || '#forced@' || piece_id"
                " WHERE letter_key = ?",
                (letter_key,),
            )

    def record_force(
        self, batch_id: str, piece_id: str, letter_key: str, operator: str, reason: str, at: str
    ) -> None:
        """Keep a record of who forced which piece to be produced again, and why."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO forced (batch_id, forced_piece_id, letter_key, operator, reason, at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (batch_id, piece_id, letter_key, operator, reason, at),
            )

    def record_decisions(self, batch_id: str, rows: Iterable[tuple[str, ...]]) -> None:
        """Store every account's outcome in a batch.

        Each row: account, customer, status, reason code, reason detail, stage, piece id.
        """
        with self._tx() as db:
            db.execute("DELETE FROM decisions WHERE batch_id = ?", (batch_id,))
            db.executemany(
                "INSERT INTO decisions (batch_id, account_id, customer_id, status, reason_code,"
                " reason_detail, stage, piece_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                ((batch_id, *row) for row in rows),
            )


class RunLock:
    """An exclusive lock on the state, held by one run at a time.

    It is an `flock` on `<db>.lock`: the kernel releases it when the holder dies, however it dies,
    so a stale lock from a killed run is simply taken over. The file names the holder.
    """

    def __init__(self, db_path: Path) -> None:
        self.lock_path = db_path.with_name(db_path.name + ".lock")
        self._handle: IO[str] | None = None

    def acquire(self, batch_id: str) -> None:
        """Take the lock or raise `LockedError` naming the batch that holds it."""
        self.lock_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        handle = os.fdopen(fd, "r+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = handle.read().strip() or "an unknown batch"
            handle.close()
            raise LockedError(
                f"another run holds the lock on {self.lock_path.name}: {holder}"
            ) from None
        self._handle = handle
        self.describe(batch_id)

    def describe(self, batch_id: str) -> None:
        """Name the batch that holds the lock, for a second run's error message."""
        assert self._handle is not None
        self._handle.seek(0)
        self._handle.truncate()
        self._handle.write(f"batch {batch_id} (pid {os.getpid()} on {socket.gethostname()})\n")
        self._handle.flush()

    def release(self) -> None:
        """Let go of the lock."""
        if self._handle is not None:
            self._handle.seek(0)
            self._handle.truncate()
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def pid_alive(pid: int | None, host: str | None) -> bool:
    """Whether a run's process still exists (a run on another host cannot be seen: alive)."""
    if host and host != socket.gethostname():
        return True
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
