"""The batch renderer: letters rendered by warm worker processes, results in submission order.

Each worker keeps its parsed stylesheets and font configuration for its whole life (and freezes
the garbage collector's view of them), renders one letter per task with the same `Renderer` the
one-at-a-time path uses, so the bytes are identical, and is replaced after `recycle_after`
letters so that memory stays flat however large the batch. Every render happens in a worker, even
for a batch of one letter, so every render has the same limits: a time limit (`timeout`, from the
moment the letter is handed over) and a memory cap (`RLIMIT_AS`). A letter whose worker crashes
(noticed at once, from the process's sentinel), runs out of memory or hangs fails alone
(`RenderFailure`); its worker is replaced and the rest go on.

Workers die with the run (`letters.processes.become_child`), ignore the process group's Ctrl-C
(the run stops them), never hold the run's lock, and are killed at once when rendering is cut
short by an exception.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import signal
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from letters.errors import TemplateError
from letters.intake.envelope import DEFAULT_PROFILE, OutputConfig, WindowProfile
from letters.processes import become_child
from letters.render.lint import LintSpec, lint_letter
from letters.render.renderer import RenderedPdf, Renderer

if TYPE_CHECKING:
    from letters.render.cluster import ClusterRenderer

_WORKER: Renderer | None = None
ONE_WORKER_BELOW = 8  # fewer letters than this render one after another in a single worker
MIB = 1 << 20
_FORK = multiprocessing.get_context("fork")

Settings = tuple[Path, WindowProfile, OutputConfig]


@dataclass(frozen=True, slots=True)
class RenderJob:
    """One letter to render: its template, its data and its PDF identifier."""

    template: str
    context: dict[str, Any]
    identifier: str
    lint: LintSpec | None = None  # checked where it renders: the findings come back, not the text
    keep_text: bool = True  # without a lint spec: whether the text runs come back with the PDF


def render_job(renderer: Renderer, job: RenderJob) -> RenderedPdf:
    """Render one job; a job with a lint spec comes back linted, without its text runs (the
    check costs the run's coordinator nothing, and the text never travels back)."""
    pdf = renderer.render(job.template, job.context, job.identifier)
    if job.lint is None:
        return pdf if job.keep_text else RenderedPdf(pdf.data, pdf.pages)
    failures = tuple(lint_letter(pdf.runs, job.lint, renderer.profile))
    return RenderedPdf(pdf.data, pdf.pages, lint_failures=failures)


@dataclass(frozen=True, slots=True)
class RenderFailure:
    """A letter that could not be rendered, and why."""

    reason: str

    def error(self, template: str) -> TemplateError:
        """The failure as the error a command stops with: a template's own error as it names
        its file and line; any other (a worker that died, a timeout) under the template's name."""
        said = self.reason.removeprefix(f"render_error: {TemplateError.__name__}: ")
        return TemplateError(said if said != self.reason else f"{template}: {said}")


Outcome = RenderedPdf | RenderFailure


def _start_worker(templates_dir: Path, profile: WindowProfile, output: OutputConfig) -> None:
    global _WORKER
    _WORKER = Renderer(templates_dir, profile, output)
    gc.collect()
    gc.freeze()  # the warm renderer is long-lived: keep the collector from walking it
    gc.set_threshold(50_000, 20, 20)


def _render(job: RenderJob) -> RenderedPdf:
    assert _WORKER is not None
    return render_job(_WORKER, job)


def _worker_main(conn: Connection, settings: Settings, parent_pid: int, memory: int) -> None:
    """A worker's life: become the run's child, warm up, then render each job it is sent."""
    become_child(parent_pid, memory)
    _start_worker(*settings)
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        try:
            reply: Outcome = _render(job)
        except Exception as exc:  # MemoryError included: the letter fails, the worker goes on
            reply = RenderFailure(f"render_error: {type(exc).__name__}: {exc}")
        conn.send(reply)


@dataclass(slots=True)
class _Worker:
    process: BaseProcess
    conn: Connection
    tasks: int = 0
    job: int | None = None  # the index of the letter it is rendering
    since: float = 0.0


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"killed by {signal.Signals(-exitcode).name}"
    return f"exit code {exitcode}"


class Lifetime:
    """A renderer used in a `with` block: closed when the block ends, killed when it fails."""

    def close(self) -> None:
        """Stop the workers once they are done."""
        raise NotImplementedError

    def terminate(self) -> None:
        """Stop the workers now."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: object, *_exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.terminate()


class BatchRenderer(Lifetime):
    """Renders many letters over `jobs` processes; results come back in submission order."""

    def __init__(
        self,
        templates_dir: Path,
        profile: WindowProfile = DEFAULT_PROFILE,
        output: OutputConfig | None = None,
        jobs: int | None = None,
        recycle_after: int = 400,
        timeout: float | None = None,
        memory_mb: int | None = None,
    ) -> None:
        output = output or OutputConfig()
        self.settings: Settings = (templates_dir, profile, output)
        self.jobs = max(1, jobs or os.cpu_count() or 1)
        self.recycle_after = recycle_after
        self.timeout = float(timeout or output.render_timeout_seconds)
        self.memory_bytes = (memory_mb or output.render_memory_mb) * MIB
        self._workers: list[_Worker] = []
        self._retired: list[BaseProcess] = []
        self._frozen = False

    def _add_worker(self) -> _Worker:
        if not self._frozen:
            # Forked workers share the caller's heap (every account, address and decision of the
            # night) page by page until something writes to it; the garbage collector walking it
            # would copy all of it into each worker. Frozen, it is left alone until `close`.
            gc.freeze()
            self._frozen = True
        self._retired = [p for p in self._retired if p.exitcode is None]  # reap the recycled
        ours, theirs = _FORK.Pipe()
        args = (theirs, self.settings, os.getpid(), self.memory_bytes)
        process = _FORK.Process(target=_worker_main, args=args, name="letters-render", daemon=True)
        process.start()
        theirs.close()
        worker = _Worker(process, ours)
        self._workers.append(worker)
        return worker

    def render_all(self, jobs: Iterable[RenderJob], small: bool = False) -> Iterator[Outcome]:
        """Render every job, yielding each result in order; `small` uses a single worker."""
        width = 1 if small else self.jobs
        window = width * 6
        source = iter(jobs)
        queued: deque[tuple[int, RenderJob]] = deque()
        results: dict[int, Outcome] = {}
        submitted = done = 0
        while True:
            while submitted - done < window:
                upcoming = next(source, None)
                if upcoming is None:
                    break
                queued.append((submitted, upcoming))
                submitted += 1
            if done in results:
                yield results.pop(done)
                done += 1
                continue
            if done == submitted:
                return
            self._dispatch(queued, width)
            self._collect(results)
            # the worker that replied starts its next letter now, not after the coordinator has
            # committed the results and prepared the letters that follow
            self._dispatch(queued, width)

    def _dispatch(self, queued: deque[tuple[int, RenderJob]], width: int) -> None:
        """Hand queued letters to idle workers, starting workers up to `width` busy ones."""
        while queued and sum(w.job is not None for w in self._workers) < width:
            idle = [w for w in self._workers if w.job is None]
            worker = idle[0] if idle else self._add_worker()
            index, job = queued.popleft()
            worker.job, worker.since = index, time.monotonic()
            with contextlib.suppress(OSError):  # a worker gone: `_collect` reports its letter
                worker.conn.send(job)

    def _collect(self, results: dict[int, Outcome]) -> None:
        """Wait for a reply, a dead worker or the first deadline; settle whatever happened."""
        busy = [w for w in self._workers if w.job is not None]
        deadline = min(w.since for w in busy) + self.timeout
        wait(
            [w.conn for w in busy] + [w.process.sentinel for w in busy],
            max(0.0, deadline - time.monotonic()),
        )
        now = time.monotonic()
        for worker in busy:
            index = worker.job
            assert index is not None
            broken = False
            if worker.conn.poll():
                try:
                    results[index] = worker.conn.recv()
                except (EOFError, OSError):
                    broken = True  # it died mid-letter
                else:
                    worker.job = None
                    worker.tasks += 1
                    if worker.tasks >= self.recycle_after:
                        self._workers.remove(worker)
                        self._retire(worker)
                    continue
            if broken or not worker.process.is_alive():
                code = _death(worker.process.exitcode)
                results[index] = RenderFailure(f"render_error: the render worker died ({code})")
                self._discard(worker)
            elif now - worker.since >= self.timeout:
                results[index] = RenderFailure(
                    f"render_error: no result within {self.timeout:.0f}s"
                )
                self._discard(worker)

    def _retire(self, worker: _Worker) -> None:
        """Tell a worker to exit once idle; it is waited for at `close`."""
        with contextlib.suppress(OSError):
            worker.conn.send(None)
        worker.conn.close()
        self._retired.append(worker.process)

    def _discard(self, worker: _Worker) -> None:
        """Kill a worker that hung or died, and forget it."""
        self._workers.remove(worker)
        worker.process.kill()
        worker.process.join()
        worker.conn.close()

    def close(self) -> None:
        """Stop the workers once they are done (each is told to exit, then waited for)."""
        for worker in self._workers:
            self._retire(worker)
        self._workers = []
        for process in self._retired:
            process.join(5)
        self.terminate()

    def terminate(self) -> None:
        """Kill every worker now (rendering was cut short: a signal or an error)."""
        for worker in self._workers:
            worker.conn.close()
            self._retired.append(worker.process)
        self._workers = []
        for process in self._retired:
            if process.exitcode is None:
                process.kill()
            process.join()
        self._retired = []
        if self._frozen:
            gc.unfreeze()
            self._frozen = False


def open_renderer(
    cluster: str | None,
    templates_dir: Path,
    profile: WindowProfile,
    output: OutputConfig,
    jobs: int | None,
) -> BatchRenderer | ClusterRenderer:
    """The local pool of `jobs` processes by default; the Dask cluster `cluster` when given."""
    if cluster is None:
        return BatchRenderer(templates_dir, profile, output, jobs)
    from letters.render.cluster import ClusterRenderer  # Dask is imported only for a cluster

    return ClusterRenderer(cluster, templates_dir, profile, output)
