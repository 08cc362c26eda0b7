"""`letters run --cluster` against a real Dask scheduler and two real workers started by hand, as
the README's "Running on a cluster" has an operator start them: a worker killed mid-batch costs
nothing, a lost scheduler stops the run with exit 5, and the batch resumes on the local pool."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import Client

from letters.errors import ExitCode
from letters.fsutil import sha256_file
from letters.ops.sample import SampleFiles
from tests.helpers import (
    AS_OF,
    RecordingReporter,
    batch_dirs,
    error_lines,
    manifest,
    run_command,
    run_in_process,
    start_process,
    wait_for_pdfs,
)

DASK = Path(sys.executable).with_name("dask")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def scheduler() -> Iterator[tuple[str, list[subprocess.Popen[bytes]]]]:
    """A scheduler and two single-thread workers, each its own process, on 127.0.0.1."""
    address = f"tcp://127.0.0.1:{_free_port()}"
    port = address.rsplit(":", 1)[1]
    commands = [
        ["scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"],
        ["worker", address, "--nthreads", "1", "--no-dashboard", "--no-nanny"],
        ["worker", address, "--nthreads", "1", "--no-dashboard", "--no-nanny"],
    ]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for command in commands:
            processes.append(
                subprocess.Popen(
                    [str(DASK), *command], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            )
        with Client(address, timeout=30) as client:  # type: ignore[no-untyped-call]
            client.wait_for_workers(2, timeout=60)
        yield address, processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()


def test_a_dead_worker_costs_nothing_and_a_lost_scheduler_resumes_on_the_pool(
    ops_sample: SampleFiles,
    scheduler: tuple[str, list[subprocess.Popen[bytes]]],
    tmp_path: Path,
) -> None:
    address, (dask_scheduler, first_worker, _second) = scheduler
    out = tmp_path / "out"
    command = run_command(ops_sample.accounts_path, ops_sample.source_paths, out,
                          "--cluster", address, as_of=AS_OF.isoformat())  # fmt: skip
    run = start_process(command)
    wait_for_pdfs(out, 4, run)
    os.kill(first_worker.pid, signal.SIGKILL)  # its letter in hand goes to the other worker
    wait_for_pdfs(out, 12, run)
    os.kill(dask_scheduler.pid, signal.SIGKILL)
    _stdout, stderr = run.communicate(timeout=120)
    assert run.returncode == ExitCode.INTERRUPTED, stderr
    (batch_dir,) = batch_dirs(out)
    (line,) = error_lines(stderr)
    assert "the Dask scheduler" in line and f"--resume {batch_dir.name}" in line, stderr

    reporter = RecordingReporter()  # the same command without --cluster: the local pool
    resumed = run_in_process(ops_sample.accounts_path, ops_sample.source_paths, out,
                             reporter=reporter)  # fmt: skip
    assert resumed.exit_code == ExitCode.REJECTED_ROWS, reporter.lines
    assert f"batch {batch_dir.name} resumed (as of {AS_OF})" in reporter.lines
    assert 0 < resumed.reused < resumed.letters
    generated = [r for r in manifest(batch_dir) if r["status"] == "generated"]
    pieces = {r["piece_id"]: r["pdf_sha256"] for r in generated}
    assert len({(r["piece_id"], r["customer_id"]) for r in generated}) == len(pieces)
    assert {p.stem for p in (batch_dir / "pdf").iterdir()} == set(pieces)
    assert not list(batch_dir.rglob(".tmp-*"))
    for piece, digest in pieces.items():
        assert sha256_file(batch_dir / "pdf" / f"{piece}.pdf") == digest
