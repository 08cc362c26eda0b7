"""A run's processes: children that die with the run, and signals held off during a commit.

Render workers and end-of-batch helpers call `become_child` first: the kernel kills them when the
run dies however it dies (Linux `PR_SET_PDEATHSIG`), Ctrl-C to the process group is left to the
run (which stops them itself), and a render worker's memory is capped (`RLIMIT_AS`).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal
import sys
import threading
from collections.abc import Iterator

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel SIGKILL this process when its parent dies; exit now if it already has."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # The parent may have died between the fork and the line above: then nothing would kill us.
    if os.getppid() != parent_pid:
        os._exit(1)


def address_space_bytes() -> int:
    """This process's current virtual address space (0 where /proc is not available)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            pages = int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def limit_memory(extra_bytes: int) -> None:
    """Cap the address space at its present size plus `extra_bytes` (a fork starts with its
    parent's mappings, so a fixed cap would punish a large run, not a greedy render)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = address_space_bytes() + extra_bytes
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def become_child(parent_pid: int, memory_bytes: int | None = None) -> None:
    """Start of a worker or helper: die with the run, leave stop signals to it, cap memory."""
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the run decides
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a fork inherits the CLI's "raise" handler
    if memory_bytes:
        limit_memory(memory_bytes)


_STOP = threading.Event()  # a stop signal arrived (set by `stop_now`, cleared by a new run)


def stop_now(_signum: int = 0, _frame: object = None) -> None:
    """A stop signal's handler: remember the stop, then raise KeyboardInterrupt.

    Python drops an exception raised in a destructor or a weakref callback ("Exception ignored
    in ..."), and a signal can land in one; `stop_requested` still says the stop came.
    """
    _STOP.set()
    raise KeyboardInterrupt


def stop_requested() -> bool:
    """True once a stop signal arrived in this run, even if its KeyboardInterrupt got lost."""
    return _STOP.is_set()


def clear_stop() -> None:
    """A new run starts: no stop requested yet."""
    _STOP.clear()


@contextlib.contextmanager
def signals_held() -> Iterator[list[int]]:
    """Hold SIGINT and SIGTERM off for a step that must not be cut in half (closing a batch).

    Yields the list of signals that arrived meanwhile; the caller decides what they still mean.
    Outside the main thread (where handlers cannot be set) nothing is held.
    """
    caught: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return

    def hold(signum: int, _frame: object) -> None:
        caught.append(signum)

    previous = {signum: signal.signal(signum, hold) for signum in STOP_SIGNALS}
    try:
        yield caught
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
