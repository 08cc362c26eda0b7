"""Template approvals in the SQLite store: who approved which template set, and when."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from letters.state.base import SqliteBase


@dataclass(frozen=True, slots=True)
class ApprovalRecord:
    """One approval: the SHA-256 of every approved file (by name), who approved it and when."""

    approval_id: int
    approved_at: str
    approved_by: str
    note: str
    files: dict[str, str] = field(default_factory=dict)  # name -> SHA-256 hex


class SqliteApprovals(SqliteBase):
    """The `template_approvals` table."""

    def add_approval(self, approved_at: str, approved_by: str, note: str,
                     files: dict[str, str]) -> ApprovalRecord:  # fmt: skip
        """Record an approval of these file hashes; it becomes the latest."""
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO template_approvals (approved_at, approved_by, note, files_json)"
                " VALUES (?, ?, ?, ?)",
                (approved_at, approved_by, note, json.dumps(files, sort_keys=True)),
            )
        assert cursor.lastrowid is not None
        return ApprovalRecord(cursor.lastrowid, approved_at, approved_by, note, dict(files))

    def latest_approval(self) -> ApprovalRecord | None:
        """The newest approval, or None when templates were never approved."""
        row = self.db.execute(
            "SELECT approval_id, approved_at, approved_by, note, files_json"
            " FROM template_approvals ORDER BY approval_id DESC LIMIT 1"
        ).fetchone()
        return _approval(row) if row else None


def _approval(row: tuple[Any, ...]) -> ApprovalRecord:
    return ApprovalRecord(row[0], row[1], row[2], row[3], json.loads(row[4]))
