"""The batch renderer: letters rendered by a pool of warm worker processes, in order.

Each worker keeps its parsed stylesheets and font configuration for its whole life (and freezes
the garbage collector's view of them), renders one letter per task with the same `Renderer` the
one-at-a-time path uses, so the bytes are identical, and is replaced after `recycle_after`
letters so that memory stays flat however large the batch. A letter whose worker crashes or hangs
past `timeout` seconds fails alone (`RenderFailure`); the pool is rebuilt and the rest go on.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path
from typing import Any

from letters.intake.envelope import DEFAULT_PROFILE, OutputConfig, WindowProfile
from letters.render.renderer import RenderedPdf, Renderer

_WORKER: Renderer | None = None
IN_PROCESS_BELOW = 8  # fewer letters than this render in the calling process


@dataclass(frozen=True, slots=True)
class RenderJob:
    """One letter to render: its template, its data and its PDF identifier."""

    template: str
    context: dict[str, Any]
    identifier: str


@dataclass(frozen=True, slots=True)
class RenderFailure:
    """A letter that could not be rendered, and why."""

    reason: str


def _start_worker(templates_dir: Path, profile: WindowProfile, output: OutputConfig) -> None:
    global _WORKER
    _WORKER = Renderer(templates_dir, profile, output)
    gc.collect()
    gc.freeze()  # the warm renderer is long-lived: keep the collector from walking it
    gc.set_threshold(50_000, 20, 20)


def _render(job: RenderJob) -> RenderedPdf:
    assert _WORKER is not None
    return _WORKER.render(job.template, job.context, job.identifier)


class BatchRenderer:
    """Renders many letters over `jobs` processes; results come back in submission order."""

    def __init__(
        self,
        templates_dir: Path,
        profile: WindowProfile = DEFAULT_PROFILE,
        output: OutputConfig | None = None,
        jobs: int | None = None,
        recycle_after: int = 400,
        timeout: float = 120.0,
    ) -> None:
        self.settings = (templates_dir, profile, output or OutputConfig())
        self.jobs = max(1, jobs or os.cpu_count() or 1)
        self.recycle_after = recycle_after
        self.timeout = timeout
        self._local: Renderer | None = None
        self._pool: Pool | None = None

    def _new_pool(self) -> Pool:
        # Forked workers share the caller's heap (every account, address and decision of the
        # night) page by page until something writes to it; the garbage collector walking it
        # would copy all of it into each worker. Frozen, it is left alone until `close`.
        gc.freeze()
        context = multiprocessing.get_context("fork")
        return context.Pool(
            self.jobs, _start_worker, self.settings, maxtasksperchild=self.recycle_after
        )

    def _local_renderer(self) -> Renderer:
        if self._local is None:
            self._local = Renderer(*self.settings)
        return self._local

    def render_all(
        self, jobs: Iterable[RenderJob], small: bool = False
    ) -> Iterator[RenderedPdf | RenderFailure]:
        """Render every job, yielding each result in order; `small` renders in this process."""
        if small or self.jobs == 1:
            for job in jobs:
                try:
                    yield self._local_renderer().render(job.template, job.context, job.identifier)
                except Exception as exc:  # a template error is the caller's to raise
                    yield RenderFailure(f"{type(exc).__name__}: {exc}")
            return
        window = self.jobs * 6
        pending: deque[tuple[RenderJob, AsyncResult[RenderedPdf]]] = deque()
        source = iter(jobs)
        pool = self._pool = self._pool or self._new_pool()
        while True:
            while len(pending) < window:
                upcoming = next(source, None)
                if upcoming is None:
                    break
                pending.append((upcoming, pool.apply_async(_render, (upcoming,))))
            if not pending:
                return
            _job, result = pending.popleft()
            try:
                yield result.get(self.timeout)
            except multiprocessing.TimeoutError:
                yield RenderFailure(f"render_error: no result within {self.timeout:.0f}s")
                pool = self._restart(pool, pending)
            except Exception as exc:
                yield RenderFailure(f"render_error: {type(exc).__name__}: {exc}")

    def _restart(
        self, pool: Pool, pending: deque[tuple[RenderJob, AsyncResult[RenderedPdf]]]
    ) -> Pool:
        """Replace a pool whose worker hung or died, and submit its unfinished letters again."""
        pool.terminate()
        pool.join()
        fresh = self._pool = self._new_pool()
        resubmitted = [(job, fresh.apply_async(_render, (job,))) for job, _ in pending]
        pending.clear()
        pending.extend(resubmitted)
        return fresh

    def close(self) -> None:
        """Stop the workers."""
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None
            gc.unfreeze()

    def __enter__(self) -> BatchRenderer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
