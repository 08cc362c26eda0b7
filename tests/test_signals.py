"""Signals and children: Ctrl-C, SIGTERM and kill -9 at each stage, with real processes.

Each run is `python -m letters.cli.app run` in its own process group, so "every process of the
run" is every process of that group (read from /proc: a zombie is dead and does not count).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from letters.errors import ExitCode
from letters.intake.policy import default_policy_text
from letters.ops.sample import SampleFiles
from letters.state.lock import RunLock
from tests.helpers import (
    WriteCsv,
    batch_dirs,
    manifest,
    only_batch,
    run_command,
    run_in_process,
    start_process,
)

AS_OF = "2026-11-20"
LOCK_NAME = "letters.db.lock"


def _policy(out_dir: Path) -> Path:
    return out_dir / "helpers-policy.toml"


def _start(sample: SampleFiles, out_dir: Path) -> subprocess.Popen[str]:
    """A run with its end-of-batch helpers in processes of their own, however small the batch."""
    accounts, sources = sample.accounts_path, sample.source_paths
    out_dir.mkdir(parents=True, exist_ok=True)
    policy = _policy(out_dir)
    policy.write_text(
        default_policy_text().replace("helper_processes_from = 100", "helper_processes_from = 1"),
        encoding="utf-8",
    )
    command = run_command(accounts, sources, out_dir, "--jobs", "2", "--policy", str(policy),
                          as_of=AS_OF)  # fmt: skip
    return start_process(command)


def _stat(pid: str) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name: state, ppid, pgrp, ..."""
    with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
        return handle.read().rsplit(")", 1)[1].split()


def _group(pgid: int) -> list[int]:
    """The live (not zombie) processes of a process group."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = _stat(entry)
        except OSError:  # gone meanwhile
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry))
    return members


def _children(pid: int) -> list[int]:
    """The live children of a process (its render workers, or its end-of-batch helpers)."""
    children = []
    for member in _group(pid):
        try:
            if member != pid and int(_stat(str(member))[1]) == pid:
                children.append(member)
        except OSError:  # gone meanwhile
            continue
    return children


def _holds_lock(pid: int) -> bool:
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        descriptors = os.listdir(fd_dir)
    except OSError:  # it exited meanwhile
        return False
    for fd in descriptors:
        try:
            if os.readlink(fd_dir / fd).endswith(LOCK_NAME):
                return True
        except OSError:  # closed meanwhile (the listing's own descriptor, for one)
            continue
    return False


def _wait_until(
    condition: Callable[[], bool], what: str, process: subprocess.Popen[str], limit: float = 120
) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the run ended before {what}: {process.communicate()}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.005)


def _rendering(out_dir: Path, process: subprocess.Popen[str]) -> None:
    """Wait until the run has written two letters (and has more to render)."""
    _wait_until(lambda: len(list(out_dir.glob("*/pdf/*.pdf"))) >= 2, "two PDFs", process)


def _ending(out_dir: Path, process: subprocess.Popen[str]) -> None:
    """Wait until rendering is over: the end stage (print file, mailing book) has begun."""

    def logged() -> bool:
        return any("INFO letters: " in log.read_text() for log in out_dir.glob("*/run.log"))

    _wait_until(logged, "the end stage", process)


def _assert_group_gone(pgid: int, within: float = 2.0) -> None:
    deadline = time.monotonic() + within
    while (left := _group(pgid)) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not left, f"processes of the run still running {within}s after it ended: {left}"


def _statuses(out_dir: Path, batch_dir: Path) -> tuple[str, str]:
    """The batch's status in summary.json and in the state."""
    summary = json.loads((batch_dir / "summary.json").read_text())["status"]
    with sqlite3.connect(out_dir / "letters.db") as db:
        (state,) = db.execute(
            "SELECT status FROM batches WHERE batch_id = ?", (batch_dir.name,)
        ).fetchone()
    return summary, state


def _assert_interrupted(out_dir: Path, stderr: str) -> Path:
    (batch_dir,) = batch_dirs(out_dir)
    assert stderr.splitlines()[-1] == (
        f"Error: interrupted; batch {batch_dir.name} can be resumed with --resume {batch_dir.name}"
    )
    assert "Traceback" not in stderr
    assert _statuses(out_dir, batch_dir) == ("interrupted", "interrupted")
    return batch_dir


def _two_debtors(write_accounts: WriteCsv, write_sources: WriteCsv) -> SampleFiles:
    accounts = write_accounts({}, {"account_id": "A2", "customer_id": "C2"})
    sources = write_sources({}, {"customer_id": "C2", "line1": "9 Oak Ave", "line2": ""})
    return SampleFiles(accounts, (sources,), accounts.with_name("no-ground-truth.csv"))


def test_ctrl_c_mid_render_stops_at_once_and_no_worker_holds_the_lock(
    ops_sample: SampleFiles, tmp_path: Path
) -> None:
    process = _start(ops_sample, tmp_path)
    _rendering(tmp_path, process)
    workers = _children(process.pid)
    assert workers, "no render worker found"
    assert _holds_lock(process.pid)
    assert not [pid for pid in workers if _holds_lock(pid)], "a render worker holds the lock"
    stopped = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C on a terminal: the whole group
    _stdout, stderr = process.communicate(timeout=30)
    assert time.monotonic() - stopped < 5
    assert process.returncode == ExitCode.INTERRUPTED, stderr
    _assert_interrupted(tmp_path, stderr)
    _assert_group_gone(process.pid)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_during_the_end_stage_stops_with_exit_5_and_resume_completes(
    write_accounts: WriteCsv, write_sources: WriteCsv, tmp_path: Path, signum: signal.Signals
) -> None:
    inputs = _two_debtors(write_accounts, write_sources)
    out_dir = tmp_path / "out"
    process = _start(inputs, out_dir)
    _ending(out_dir, process)
    stopped = time.monotonic()
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=30)
    assert time.monotonic() - stopped < 5
    # without a terminal the output is plain lines: no control sequences, no bars
    assert "\x1b[" not in stdout and "━" not in stdout
    assert "render: " in stdout and "/s)" in stdout
    assert process.returncode == ExitCode.INTERRUPTED, stderr
    batch_dir = _assert_interrupted(out_dir, stderr)
    _assert_group_gone(process.pid)
    assert not (batch_dir / "batch.json").exists()
    resumed = run_in_process(
        inputs.accounts_path, inputs.source_paths, out_dir, policy=_policy(out_dir)
    )
    assert resumed.exit_code == ExitCode.DONE, resumed.summary()
    assert resumed.batch_id == batch_dir.name
    assert _statuses(out_dir, batch_dir) == ("complete", "complete")


def test_kill_9_mid_render_leaves_no_worker_and_a_rerun_proceeds(
    ops_sample: SampleFiles, tmp_path: Path
) -> None:
    process = _start(ops_sample, tmp_path)
    _rendering(tmp_path, process)
    assert _children(process.pid), "no render worker found"
    process.kill()  # the run alone, as an operator's kill -9 would
    process.communicate(timeout=30)
    _assert_group_gone(process.pid)
    # What an immediate re-run does first, and what exited 4 naming a dead pid while forked
    # workers kept the lock (test_operations resumes such a batch to the end).
    lock = RunLock(tmp_path / "letters.db")
    lock.acquire("the next run")
    lock.release()
    # the next night, with other inputs' date: the killed batch is closed and sealed in its own
    # folder with the letters it rendered, and tonight's batch does not send them again
    (killed,) = batch_dirs(tmp_path)
    rendered = {p.stem for p in (killed / "pdf").glob("*.pdf")}
    night = run_in_process(ops_sample.accounts_path, ops_sample.source_paths, tmp_path,
                           as_of=date(2026, 11, 21), policy=_policy(tmp_path))  # fmt: skip
    assert night.summary()["closed_batches"][0]["batch_id"] == killed.name
    assert json.loads((killed / "batch.json").read_text())["status"] == "closed"
    closed = {row["piece_id"] for row in manifest(killed) if row["status"] == "generated"}
    assert closed and closed <= rendered
    tonight = manifest(night.batch_dir)
    assert not closed & {row["piece_id"] for row in tonight if row["status"] == "generated"}
    assert len([r for r in tonight if r["reason_code"] == "already_sent"]) >= len(closed)


def test_kill_9_in_the_end_stage_leaves_no_helper_and_a_rerun_proceeds(
    write_accounts: WriteCsv, write_sources: WriteCsv, tmp_path: Path
) -> None:
    inputs = _two_debtors(write_accounts, write_sources)
    out_dir = tmp_path / "out"
    process = _start(inputs, out_dir)
    _ending(out_dir, process)

    def helpers_running() -> bool:
        for pid in _children(process.pid):
            try:
                if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    return True
            except OSError:  # gone meanwhile
                continue
        return False

    _wait_until(helpers_running, "the end-of-batch helpers", process)
    process.kill()
    process.communicate(timeout=30)
    _assert_group_gone(process.pid)  # the helpers died with the run: they write nothing more
    batch_dir = only_batch(out_dir)
    assert not (batch_dir / "batch.json").exists()
    rerun = run_in_process(
        inputs.accounts_path, inputs.source_paths, out_dir, policy=_policy(out_dir)
    )
    assert rerun.exit_code == ExitCode.DONE, rerun.summary()
    assert rerun.batch_id == batch_dir.name
    assert _statuses(out_dir, batch_dir) == ("complete", "complete")
    assert not list(batch_dir.glob(".tmp-*"))


def test_a_forked_child_does_not_keep_the_run_lock(tmp_path: Path) -> None:
    lock = RunLock(tmp_path / "letters.db")
    lock.acquire("a batch")
    try:
        pid = os.fork()
        if pid == 0:  # the child: it must not have the lock file open
            os._exit(1 if _holds_lock(os.getpid()) else 0)
        _pid, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, "the forked child kept the lock"
        assert _holds_lock(os.getpid())  # and the parent still has it
    finally:
        lock.release()
