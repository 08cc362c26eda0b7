"""A real PostgreSQL server for the tests: Debian's `postgresql`, started once per test process.

The server is made with `initdb` in a private temporary folder (as the `postgres` user when the
tests run as root, since PostgreSQL refuses to run as root), listens on 127.0.0.1 on a free port
and is stopped at the end of the session. Each test gets a database of its own.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest


def _binary(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name) or ""]
    if not found[-1]:
        raise RuntimeError(f"PostgreSQL's {name} is missing: `make install` installs postgresql")
    return found[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    """A running server: its data folder, port, and how to run its programs."""

    root: Path
    port: int

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _as_owner(self, *args: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *args] if os.getuid() == 0 else list(args)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root}"
            " -c fsync=off -c full_page_writes=off -c max_connections=60"
        )
        subprocess.run(
            self._as_owner(_binary("pg_ctl"), "-D", str(self.data), "-o", options,
                           "-l", str(self.root / "log"), "-w", "-s", "start"),
            check=True,
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(
            self._as_owner(_binary("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-s", "stop"),
            check=False,
        )

    def new_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)


@contextlib.contextmanager
def running_server() -> Iterator[PgServer]:
    """Make and start a server; stop it and remove its files afterwards."""
    root = Path(tempfile.mkdtemp(prefix="letters-pg-"))
    if os.getuid() == 0:
        shutil.chown(root, "postgres")
    server = PgServer(root, _free_port())
    try:
        subprocess.run(
            server._as_owner(_binary("initdb"), "-D", str(server.data), "-A", "trust",
                             "-U", "postgres", "-E", "UTF8", "--no-sync", "--no-instructions"),
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        server.start()
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One real PostgreSQL server for this test process."""
    with running_server() as server:
        yield server


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """A new empty database on the test server, as a `postgresql://` URL."""
    return pg_server.new_database()
