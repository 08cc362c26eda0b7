"""Payment references in the SQLite store: one per account, unique, registered on first use.

A reference is ten hashed digits and a Luhn check digit (`letters.model.reference_candidate`), so
two accounts can draw the same one. The state registers each account's first candidate that no
other account holds, once, and keeps it: every later letter, and a rebuilt state, gives the account
the same reference, and no two accounts ever share one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping

from letters.model import reference_candidate
from letters.state.base import SqliteBase

MAX_ATTEMPTS = 1000  # ten digits: a thousand taken candidates in a row would be a broken hash


def _free_candidate(account_id: str, holder: Callable[[str], str | None]) -> str:
    """The account's first candidate that no other account holds (`holder`: who holds one)."""
    for attempt in range(MAX_ATTEMPTS):
        candidate = reference_candidate(account_id, attempt)
        if holder(candidate) in (None, account_id):
            return candidate
    raise RuntimeError(f"{account_id}: no free payment reference in {MAX_ATTEMPTS} candidates")


class SqliteReferences(SqliteBase):
    """The `payment_references` table: account id <-> reference, both unique."""

    def payment_reference(self, account_id: str, at: str) -> str:
        """The account's registered payment reference; on first use, register its first candidate
        that no other account holds."""
        return self.payment_references([account_id], at)[account_id]

    def payment_references(self, account_ids: Iterable[str], at: str) -> dict[str, str]:
        """Every account's registered reference (account id -> reference), registering the
        missing ones, all in one transaction."""
        with self._tx() as db:
            found = {}
            for account_id in dict.fromkeys(account_ids):
                registered = _registered(db, account_id)
                if registered is None:
                    registered = _free_candidate(account_id, lambda r: _holder(db, r))
                    db.execute(
                        "INSERT INTO payment_references (reference, account_id, created_at)"
                        " VALUES (?, ?, ?)",
                        (registered, account_id, at),
                    )
                found[account_id] = registered
        return found

    def lookup_payment_references(self, account_ids: Iterable[str]) -> dict[str, str]:
        """What `payment_references` would give each account, writing nothing (the dry run)."""
        found: dict[str, str] = {}
        claimed: dict[str, str] = {}  # reference -> account, for those not registered yet

        def holder(reference: str) -> str | None:
            return _holder(self.db, reference) or claimed.get(reference)

        for account_id in dict.fromkeys(account_ids):
            reference = _registered(self.db, account_id)
            if reference is None:
                reference = _free_candidate(account_id, holder)
                claimed[reference] = account_id
            found[account_id] = reference
        return found

    def restore_payment_references(self, references: Mapping[str, str], at: str) -> int:
        """Register references read back from a sealed batch (account id -> reference) and say
        how many were new; an account or a reference the state holds already keeps its own."""
        with self._tx() as db:
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO payment_references (reference, account_id, created_at)"
                " VALUES (?, ?, ?)",
                [(reference, account, at) for account, reference in references.items()],
            )
            return db.total_changes - before


def _registered(db: sqlite3.Connection, account_id: str) -> str | None:
    row = db.execute(
        "SELECT reference FROM payment_references WHERE account_id = ?", (account_id,)
    ).fetchone()
    return str(row[0]) if row else None


def _holder(db: sqlite3.Connection, reference: str) -> str | None:
    row = db.execute(
        "SELECT account_id FROM payment_references WHERE reference = ?", (reference,)
    ).fetchone()
    return str(row[0]) if row else None
