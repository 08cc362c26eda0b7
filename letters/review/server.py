"""Serving the review page (`letters review serve`): uvicorn on 127.0.0.1 only, a random token a
session, stopped quietly by Ctrl-C or SIGTERM, its previews removed after."""

from __future__ import annotations

import secrets
import shutil
import signal
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from letters.errors import UsageError, os_error_text
from letters.review.page import HOST, PageSettings, create_app


class _Stopped(Exception):
    """A stop signal (Ctrl-C, SIGTERM) arrived outside uvicorn's own handling."""


@contextmanager
def _stop_signals() -> Iterator[None]:
    """Ctrl-C or SIGTERM ends serving quietly: before uvicorn takes the signals over, and when it
    passes them on after its graceful shutdown."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(_signum: int, _frame: object) -> None:
        raise _Stopped

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    except _Stopped:
        pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _listen(port: int) -> socket.socket:
    """A socket listening on 127.0.0.1:`port` (0: a free port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
        sock.listen(64)
    except OSError as exc:
        sock.close()
        raise UsageError(
            f"port {port}: cannot listen on {HOST}:{port}: {os_error_text(exc)}"
        ) from None
    return sock


def serve(settings: PageSettings, port: int, started: Callable[[str], None]) -> None:
    """Serve the review page on 127.0.0.1:`port` until Ctrl-C or SIGTERM; `started` gets the URL
    to open (with the session's token) once the server listens."""
    token = secrets.token_urlsafe(32)
    with _stop_signals():
        sock = _listen(port)
        preview_dir = Path(tempfile.mkdtemp(prefix="letters-review-"))  # owner-only
        try:
            config = uvicorn.Config(
                create_app(settings, token, preview_dir), http="h11", loop="asyncio", ws="none",
                lifespan="off", log_config=None, log_level="warning", access_log=False,
                server_header=False, proxy_headers=False, timeout_graceful_shutdown=5,
            )  # fmt: skip
            server = uvicorn.Server(config)
            started(f"http://{HOST}:{sock.getsockname()[1]}/?token={token}")
            server.run(sockets=[sock])
        finally:
            sock.close()
            shutil.rmtree(preview_dir, ignore_errors=True)
