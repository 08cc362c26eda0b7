"""Postal numbers in the SQLite store: the article-number pool, counters, IMb serials."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

from letters.state.base import SqliteBase
from letters.state.records import PoolExhausted


class SqlitePostal(SqliteBase):
    """The `article_pool` and `counters` tables, and the numbers they hand out to pieces."""

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
