"""The run lock: one batch run at a time on a state, and whether a run's process still lives."""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path
from typing import IO

from letters.state.records import LockedError

_HELD: set[RunLock] = set()  # the locks this process holds, closed in every forked child


def _forget_in_child() -> None:
    # A forked child shares the lock's open file: the lock would outlive the run as long as the
    # child does (a kill -9 of the run, then "another run holds the lock" naming a dead pid).
    # Closing the child's copy of the descriptor lets go of nothing the parent holds.
    for lock in list(_HELD):
        if lock._handle is not None:
            lock._handle.close()
            lock._handle = None
    _HELD.clear()


os.register_at_fork(after_in_child=_forget_in_child)


class RunLock:
    """An exclusive lock on the state, held by one run at a time.

    It is an `flock` on `<db>.lock`: the kernel releases it when the holder dies, however it dies,
    so a stale lock from a killed run is simply taken over. The file names the holder. A forked
    child does not keep it (its copy is closed at the fork; spawned processes never get it).
    """

    def __init__(self, db_path: Path, suffix: str = ".lock") -> None:
        # `letters send` holds its own lock (`.send-lock`): a nightly run and a daytime send
        # may overlap; two sends may not
        self.lock_path = db_path.with_name(db_path.name + suffix)
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
        _HELD.add(self)
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
        _HELD.discard(self)
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
