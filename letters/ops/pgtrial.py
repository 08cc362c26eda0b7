"""A throwaway PostgreSQL server, for the tests and the benchmark.

The server is made with `initdb` in a private temporary folder (as the `postgres` user when we run
as root, since PostgreSQL refuses to run as root), listens on 127.0.0.1 on a free port, and is
stopped and its folder removed when the `running_server()` block ends, however it ends.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from letters.errors import LettersError

OWNER = "postgres"  # the user the server runs as when we are root
SCRATCH = "-c fsync=off -c full_page_writes=off"  # for tests: nothing to keep after a crash
MAX_CONNECTIONS = "-c max_connections=60"


class ServerUnavailable(LettersError):
    """No throwaway server can be made here: the PostgreSQL programs, or the user, are missing."""


def binary(name: str) -> str:
    """The path of one of PostgreSQL's programs: the newest installed version's, else on PATH."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name) or ""]
    if not found[-1]:
        raise ServerUnavailable(f"PostgreSQL's {name} is missing: `make install` installs it")
    return found[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_owner(args: Sequence[str]) -> list[str]:
    """The command, run as the `postgres` user when we are root."""
    return ["runuser", "-u", OWNER, "--", *args] if os.getuid() == 0 else list(args)


def _run(args: Sequence[str], check: bool = True) -> None:
    """Run a PostgreSQL program quietly; a failure's last output lines are in the error."""
    done = subprocess.run(_as_owner(args), capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise LettersError(f"{Path(args[0]).name} failed ({done.returncode}): {' | '.join(tail)}")


@dataclass
class PgServer:
    """A running server: its folder and port, how to reach it, start and stop it."""

    root: Path
    port: int
    durable: bool = False  # fsync on, as a production server (the benchmark compares SQLite's)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, dbname: str = "postgres") -> str:
        """The `postgresql://` URL of one of its databases."""
        return f"postgresql://{OWNER}@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> None:
        """Start the server (again, after `stop`) and wait until it accepts connections."""
        settings = MAX_CONNECTIONS if self.durable else f"{MAX_CONNECTIONS} {SCRATCH}"
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} {settings}"
        log = str(self.root / "log")
        _run([binary("pg_ctl"), "-D", str(self.data), "-o", options, "-l", log, "-w", "start"])

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: `smart`, `fast` (ends every session) or `immediate` (no shutdown)."""
        _run([binary("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"], check=False)

    def new_database(self) -> str:
        """Create an empty database and return its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)


def _private_root() -> Path:
    if os.getuid() == 0:
        try:
            pwd.getpwnam(OWNER)
        except KeyError:
            raise ServerUnavailable(
                f"no {OWNER!r} user to run PostgreSQL as (not as root)"
            ) from None
        if shutil.which("runuser") is None:
            raise ServerUnavailable("runuser is missing: needed to run PostgreSQL as root")
    root = Path(tempfile.mkdtemp(prefix="letters-pg-"))
    if os.getuid() == 0:
        shutil.chown(root, OWNER)
    return root


@contextlib.contextmanager
def running_server(durable: bool = False) -> Iterator[PgServer]:
    """Make and start a server (`durable`: with fsync, as in production); stop it and remove its
    files afterwards. Raises `ServerUnavailable` when PostgreSQL is not installed here."""
    initdb, _ = binary("initdb"), binary("pg_ctl")
    root = _private_root()
    server = PgServer(root, _free_port(), durable)
    try:
        _run([initdb, "-D", str(server.data), "-A", "trust", "-U", OWNER, "-E", "UTF8",
              "--no-sync", "--no-instructions"])  # fmt: skip
        server.start()
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
