"""A real PostgreSQL server for the tests (`letters.ops.pgtrial`), started once per test process.

Each test gets a database of its own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from letters.ops.pgtrial import PgServer, running_server

__all__ = ["PgServer", "pg_server", "pg_url"]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One real PostgreSQL server for this test process."""
    with running_server() as server:
        yield server


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """A new empty database on the test server, as a `postgresql://` URL."""
    return pg_server.new_database()
