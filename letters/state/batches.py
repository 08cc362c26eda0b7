"""Batches in the SQLite store: begun, finished, listed."""

from __future__ import annotations

import json
import sqlite3
from typing import Any, ClassVar

from letters.state.base import SqliteBase
from letters.state.records import BatchRecord


class SqliteBatches(SqliteBase):
    """The `batches` table."""

    _BATCH_COLUMNS: ClassVar[str] = (
        "batch_id, as_of, started_at, finished_at, status, batch_dir, request_json, pid, host,"
        " counts_json"
    )

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
