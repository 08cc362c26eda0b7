"""The cluster renderer on real Dask clusters: same bytes as the pool, templates that travel, a
worker killed mid-batch, a letter that hangs, a scheduler that goes away, a run killed outright."""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from distributed import Client
from pypdf import PdfReader

import letters.render.cluster as cluster_module
from letters.errors import ExitCode, LettersError, TemplateError, UsageError
from letters.intake.envelope import DEFAULT_PROFILE, OutputConfig
from letters.intake.policy import load_policy
from letters.ops.context import BatchContext
from letters.ops.messages import queue_messages
from letters.proof.mailbook import BOOK_PDF, write_mailing_book
from letters.proof.manifest import ManifestRow
from letters.render.cluster import (
    ClusterLost,
    ClusterRenderer,
    ClusterUnavailable,
    RenderSettings,
    parse_cluster,
)
from letters.render.pool import BatchRenderer, Outcome, RenderFailure, RenderJob, open_renderer
from letters.render.renderer import RenderedPdf, Renderer, default_templates_dir
from tests.helpers import (
    AS_OF,
    CERTIFIED,
    RecordingReporter,
    WriteCsv,
    account,
    letter_for,
    manifest,
    only_batch,
    run_in_process,
)

VARIANTS = [{}, {"due_date": "2026-08-01"}, {"language": "es"}, {"large_print": "yes"}]
BIN = Path(sys.executable).parent
# nested loops the sandbox allows (each range under its limit) that would run for hours
HANG = "{% for i in range(9999) %}{% for j in range(9999) %}{% for k in range(9999) %}" + (
    "{% endfor %}{% endfor %}{% endfor %}<p>never</p>"
)


def _jobs(count: int) -> list[RenderJob]:
    """`count` real letters (the variants in turn), each with its own PDF identifier."""
    decided = [letter_for([account(**overrides)]) for overrides in VARIANTS]
    return [
        RenderJob(letter.template, content.context, f"P-{n:06d}")
        for n, (letter, content) in ((n, decided[n % len(decided)]) for n in range(count))
    ]


def _identifiers(results: list[Outcome]) -> list[str]:
    """The PDF identifier (the first /ID of the trailer) of each rendered letter."""
    found = []
    for result in results:
        assert isinstance(result, RenderedPdf), result
        match = re.search(rb"/ID \[\(([^)]*)\)", result.data)
        assert match is not None
        found.append(match.group(1).decode())
    return found


def _worker_pids(address: str) -> list[int]:
    with Client(address, set_as_default=False) as client:  # type: ignore[no-untyped-call]
        pids: dict[str, int] = client.run(os.getpid)
    return list(pids.values())


def _alive(pid: int) -> bool:
    """Running (a zombie, dead but not yet reaped by its parent or by init, is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def cluster() -> Iterator[ClusterRenderer]:
    """A `local:2` cluster shared by the module; the other renderers join it by its address.
    Closing it leaves no worker process behind."""
    renderer = ClusterRenderer("local:2", default_templates_dir(), timeout=60)
    try:
        assert renderer.jobs == 2
        yield renderer
        pids = _worker_pids(renderer.address)
    finally:
        renderer.close()
    assert not [pid for pid in pids if _alive(pid)]


def test_cluster_specs_and_the_default_renderer() -> None:
    for good in ("local:1", "local:16", "tcp://127.0.0.1:8786", "tcp://render-1.lan:8786",
                 "tcp://[::1]:8786"):  # fmt: skip
        assert parse_cluster(good) == good
    for bad in ("", "x", "local:0", "local:", "local:-1", "tcp://host", "tcp://host:0",
                "tcp://host:99999", "http://host:8786", "tls://host:8786", "tcp://:8786"):  # fmt: skip
        with pytest.raises(UsageError) as caught:
            parse_cluster(bad)
        assert str(caught.value) == f"--cluster: expected tcp://HOST:PORT or local:N, got {bad!r}"
        assert caught.value.exit_code == ExitCode.USAGE
    assert ClusterLost.exit_code == ExitCode.INTERRUPTED
    with open_renderer(None, default_templates_dir(), DEFAULT_PROFILE, OutputConfig(), 2) as pool:
        assert isinstance(pool, BatchRenderer)
        assert pool.jobs == 2
    with pytest.raises(UsageError):
        open_renderer("local", default_templates_dir(), DEFAULT_PROFILE, OutputConfig(), None)


def test_templates_are_checked_and_kept_private_on_the_worker(tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as caught:
        ClusterRenderer("local:1", tmp_path)  # refused before any cluster starts
    assert str(caught.value) == f"{tmp_path.resolve()}: no letter.css in templates folder"
    sent = RenderSettings(default_templates_dir(), DEFAULT_PROFILE, OutputConfig())
    worker = SimpleNamespace(local_directory=str(tmp_path))
    arrived: RenderSettings = pickle.loads(pickle.dumps(sent))  # as a worker receives it
    arrived.setup(worker)
    assert arrived.folder is not None and arrived.folder.parent == tmp_path
    assert arrived.folder.stat().st_mode & 0o777 == 0o700
    assert (arrived.folder / "letter.css").read_bytes() == (
        default_templates_dir() / "letter.css"
    ).read_bytes()
    assert (arrived.folder / "es" / "notice.html").stat().st_mode & 0o777 == 0o600
    arrived.teardown(worker)
    assert not list(tmp_path.iterdir())

    damaged: RenderSettings = pickle.loads(pickle.dumps(sent))
    damaged.files = damaged.files[1:]
    with pytest.raises(ValueError, match="templates arrived damaged"):
        damaged.setup(worker)


def test_a_worker_with_other_code_is_refused(
    cluster: ClusterRenderer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # what the run says it has (the workers, other processes, still compute their own)
    monkeypatch.setattr(cluster_module, "render_environment", lambda: "letters sources 0ld")
    with pytest.raises(ClusterUnavailable) as caught:
        ClusterRenderer(cluster.address, default_templates_dir())
    message = str(caught.value)
    assert message.startswith(
        f"{cluster.address}: a Dask worker cannot render this run's letters: ValueError: "
        "the worker has python "
    )
    assert message.endswith("; the run has letters sources 0ld")


def test_an_unreachable_scheduler_is_one_line_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster_module, "CONNECT_SECONDS", 0.5)
    address = f"tcp://127.0.0.1:{_free_port()}"  # nothing listens there
    with pytest.raises(ClusterUnavailable) as caught:
        ClusterRenderer(address, default_templates_dir())
    assert str(caught.value) == f"{address}: no Dask scheduler answered within 0.5s"
    assert isinstance(caught.value, LettersError)
    assert caught.value.exit_code == ExitCode.FATAL


def test_bytes_equal_the_local_pool(cluster: ClusterRenderer) -> None:
    jobs = _jobs(4)
    with BatchRenderer(default_templates_dir(), jobs=1) as pool:
        expected = list(pool.render_all(jobs, small=True))
    results = list(cluster.render_all(jobs))
    assert _identifiers(results) == [j.identifier for j in jobs]
    assert [r.data for r in results if isinstance(r, RenderedPdf)] == [
        r.data for r in expected if isinstance(r, RenderedPdf)
    ]


def test_templates_travel_and_a_hanging_letter_fails_alone(
    cluster: ClusterRenderer, tmp_path: Path
) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(default_templates_dir(), templates)
    (templates / "hang.html").write_text(HANG, encoding="utf-8")
    good = _jobs(2)
    jobs = [good[0], RenderJob("hang.html", {}, "P-HANG"), good[1]]
    workers = _worker_pids(cluster.address)
    with ClusterRenderer(cluster.address, templates, timeout=2) as renderer:
        shutil.rmtree(templates)  # the workers have their own copy of the files
        results = list(renderer.render_all(jobs))
    assert results[1] == RenderFailure("render_error: no result within 2s")
    assert _identifiers([results[0], results[2]]) == ["P-000000", "P-000001"]
    # the worker stuck on that letter ends (its nanny starts another); the cluster renders on
    deadline = time.monotonic() + 5
    while all(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len([pid for pid in workers if _alive(pid)]) == 1
    assert _identifiers(list(cluster.render_all(good))) == ["P-000000", "P-000001"]


def test_a_worker_killed_mid_batch_loses_nothing(
    cluster: ClusterRenderer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cluster_module, "IN_FLIGHT_PER_THREAD", 10)  # all 20 sent at once
    jobs = _jobs(20)
    victim = _worker_pids(cluster.address)[0]
    results: list[Outcome] = []
    for result in cluster.render_all(jobs):
        if not results:
            os.kill(victim, signal.SIGKILL)  # its letters are sent again to another worker
        results.append(result)
    assert not _alive(victim)
    assert _identifiers(results) == [j.identifier for j in jobs]


def _certified_batch(write_accounts: WriteCsv, write_sources: WriteCsv, count: int) -> list[Path]:
    """`count` debtors, each sent the certified final letter: a line each in the mailing book."""
    people = [{"account_id": f"A{n}", "customer_id": f"C{n}"} for n in range(count)]
    accounts = write_accounts(*({**CERTIFIED, **person} for person in people))
    sources = write_sources(*({"customer_id": p["customer_id"], "line1": f"{n + 1} Oak Ave"}
                              for n, p in enumerate(people)))  # fmt: skip
    return [accounts, sources]


def _book_here(batch_dir: Path, tmp_path: Path) -> bytes:
    """The batch's mailing book laid out again in this process, from its manifest."""
    policy = load_policy(None)
    rows = [ManifestRow(**row) for row in manifest(batch_dir)]
    here = tmp_path / "here"
    here.mkdir()
    renderer = Renderer(default_templates_dir(), policy.envelope, policy.output)
    mail_date = policy.calendar.mail_date(AS_OF).isoformat()
    write_mailing_book(here, batch_dir.name, rows, policy, renderer, mail_date)
    return (here / BOOK_PDF).read_bytes()


def test_a_run_on_a_cluster_lays_out_its_mailing_book_there(
    cluster: ClusterRenderer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    write_accounts: WriteCsv, write_sources: WriteCsv,
) -> None:  # fmt: skip
    """Not on this host's helpers: the book's parts are render tasks like the letters, and the
    book is byte for byte the one laid out here."""
    monkeypatch.setattr("letters.proof.mailbook.PAGES_PER_RENDER", 1)  # a part a page
    lines = load_policy(None).mailing_book.lines_per_page + 1  # two pages, two parts
    accounts, sources = _certified_batch(write_accounts, write_sources, lines)

    def here(*_args: object) -> Path:
        raise AssertionError("the book was laid out on this host")

    monkeypatch.setattr("letters.ops.finish.render_book_part_apart", here)
    out = tmp_path / "out"
    result = run_in_process(accounts, [sources], out, cluster=cluster.address)

    assert result.exit_code == ExitCode.DONE and result.letters == lines
    batch_dir = only_batch(out)
    assert len(PdfReader(batch_dir / BOOK_PDF).pages) == 2
    assert not list(batch_dir.glob(".tmp-*"))
    assert (batch_dir / BOOK_PDF).read_bytes() == _book_here(batch_dir, tmp_path)  # two parts


def test_a_cluster_gone_by_the_end_of_the_batch_leaves_the_book_to_this_host(
    cluster: ClusterRenderer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    write_accounts: WriteCsv, write_sources: WriteCsv,
) -> None:  # fmt: skip
    monkeypatch.setattr("letters.proof.mailbook.PAGES_PER_RENDER", 1)
    monkeypatch.setattr(cluster_module, "CONNECT_SECONDS", 0.5)
    lines = load_policy(None).mailing_book.lines_per_page + 1
    accounts, sources = _certified_batch(write_accounts, write_sources, lines)
    gone = f"tcp://127.0.0.1:{_free_port()}"  # nothing listens there

    def scheduler_gone(ctx: BatchContext, *args: Any) -> None:
        ctx.request = replace(ctx.request, cluster=gone)  # the letters went; the scheduler goes
        queue_messages(ctx, *args)

    monkeypatch.setattr("letters.ops.batch.queue_messages", scheduler_gone)
    reporter = RecordingReporter()
    out = tmp_path / "out"
    result = run_in_process(accounts, [sources], out, reporter=reporter, cluster=cluster.address)

    assert result.exit_code == ExitCode.DONE and result.letters == lines, reporter.lines
    said = f"mailing book: laid out on this host ({gone}: no Dask scheduler answered within 0.5s)"
    assert said in reporter.lines
    batch_dir = only_batch(out)
    assert (batch_dir / BOOK_PDF).read_bytes() == _book_here(batch_dir, tmp_path)
    assert not list(batch_dir.glob(".tmp-*"))


def _scratch(tmp_path: Path) -> dict[str, str]:
    """The environment of a process killed outright: Dask's scratch folders in `tmp_path`."""
    return {**os.environ, "DASK_TEMPORARY_DIRECTORY": str(tmp_path)}


def _quiet(command: list[str], tmp_path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_scratch(tmp_path)
    )


RUN = """
import json, os, sys, time
from distributed import Client
from letters.render.cluster import ClusterRenderer
from letters.render.renderer import default_templates_dir
renderer = ClusterRenderer("local:1", default_templates_dir())
with Client(renderer.address, set_as_default=False) as client:
    print(json.dumps(list(client.run(os.getpid).values())), flush=True)
time.sleep(60)
"""


def test_a_run_killed_outright_leaves_no_worker_behind(tmp_path: Path) -> None:
    run = subprocess.Popen(
        [sys.executable, "-c", RUN], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env=_scratch(tmp_path),
    )  # fmt: skip
    try:
        assert run.stdout is not None
        pids: list[int] = json.loads(run.stdout.readline())
        assert pids and all(_alive(pid) for pid in pids)
        run.kill()  # SIGKILL: no `finally`, no `close`
        run.wait()
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [pid for pid in pids if _alive(pid)]
    finally:
        run.kill()
        run.wait()
