"""The batch renderer: same bytes as one at a time, recycling, and a failing worker fails one letter."""

from __future__ import annotations

import os
import time
from dataclasses import replace

import pytest

import letters.render.pool as batchrender
from letters.intake.envelope import DEFAULT_PROFILE
from letters.render.lint import lint_letter
from letters.render.pool import BatchRenderer, RenderFailure, RenderJob
from letters.render.renderer import RenderedPdf, Renderer, default_templates_dir
from tests.helpers import account, letter_for

VARIANTS = [{}, {"due_date": "2026-08-01"}, {"hardship": "yes"}, {"language": "es"},
            {"large_print": "yes"}, {"due_date": "2026-11-10"}]  # fmt: skip


def _jobs() -> list[RenderJob]:
    jobs = []
    for n, overrides in enumerate(VARIANTS):
        letter, content = letter_for([account(**overrides)])
        jobs.append(RenderJob(letter.template, content.context, f"P-{n:06d}"))
    return jobs


def test_batch_bytes_equal_one_at_a_time_and_workers_recycle() -> None:
    jobs = _jobs() * 2
    single = Renderer(default_templates_dir())
    expected = [single.render(j.template, j.context, j.identifier).data for j in jobs]
    with BatchRenderer(default_templates_dir(), jobs=2, recycle_after=3) as pool:
        results = list(pool.render_all(jobs))
    assert all(isinstance(r, RenderedPdf) for r in results)
    assert [r.data for r in results if isinstance(r, RenderedPdf)] == expected


def test_a_worker_lints_what_it_renders_and_sends_back_the_findings_not_the_text() -> None:
    letter, content = letter_for([account()])
    spec = replace(content.lint, required=(*content.lint.required, ("extra", "Not in letter")))
    jobs = [RenderJob(letter.template, content.context, "P-1", lint) for lint in (None, spec)]
    with BatchRenderer(default_templates_dir(), jobs=1) as pool:
        plain, linted = list(pool.render_all(jobs))

    assert isinstance(plain, RenderedPdf) and isinstance(linted, RenderedPdf)
    assert plain.lint_failures is None and plain.runs
    assert linted.runs == () and linted.data == plain.data
    assert linted.lint_failures == tuple(lint_letter(plain.runs, spec, DEFAULT_PROFILE))
    assert linted.lint_failures == ("missing:extra: 'Not in letter' not found",)


def test_a_worker_has_its_next_letter_before_the_caller_takes_a_result() -> None:
    """While the run commits one result (and prepares more letters), the worker that sent it
    renders the next letter instead of waiting for the run to come back."""
    jobs = _jobs()[:3]
    busy_at_each_result = []
    with BatchRenderer(default_templates_dir(), jobs=1) as pool:
        for result in pool.render_all(jobs, small=True):
            assert isinstance(result, RenderedPdf)
            busy_at_each_result.append([worker.job for worker in pool._workers])
    assert busy_at_each_result == [[1], [2], [None]]


def _flaky_render(job: RenderJob) -> RenderedPdf:
    if job.identifier == "CRASH":
        os._exit(1)  # a worker dying mid-letter, as a segfault would
    if job.identifier == "HANG":
        time.sleep(60)
    return _real_render(job)


_real_render = batchrender._render


def test_a_crashing_or_hanging_worker_fails_only_its_letter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(batchrender, "_render", _flaky_render)  # inherited by the forked workers
    good = _jobs()[:3]
    jobs = [good[0], RenderJob(good[1].template, good[1].context, "CRASH"), good[1],
            RenderJob(good[2].template, good[2].context, "HANG"), good[2]]  # fmt: skip
    # A lost or stuck letter costs `timeout` seconds; a warm worker renders one in ~0.1 s.
    with BatchRenderer(default_templates_dir(), jobs=2, timeout=3) as pool:
        results = list(pool.render_all(jobs))
    kinds = [type(r).__name__ for r in results]
    assert kinds == ["RenderedPdf", "RenderFailure", "RenderedPdf", "RenderFailure", "RenderedPdf"]
    failures = [r for r in results if isinstance(r, RenderFailure)]
    assert all(f.reason.startswith("render_error") for f in failures)


def _greedy_render(job: RenderJob) -> RenderedPdf:
    if job.identifier == "GREEDY":
        bytearray(1 << 30)  # a template that wants a gigabyte, as `{{ 'A' * 10**9 }}` would
    return _real_render(job)


def test_a_crashed_worker_is_noticed_at_once_not_at_the_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(batchrender, "_render", _flaky_render)
    good = _jobs()[0]
    jobs = [good, RenderJob(good.template, good.context, "CRASH"), good]
    started = time.monotonic()
    with BatchRenderer(default_templates_dir(), jobs=2, timeout=60) as pool:
        results = list(pool.render_all(jobs))
    assert time.monotonic() - started < 20  # warm-up included; the timeout would be 60 s
    assert [type(r).__name__ for r in results] == ["RenderedPdf", "RenderFailure", "RenderedPdf"]
    crash = results[1]
    assert isinstance(crash, RenderFailure)
    assert crash.reason == "render_error: the render worker died (exit code 1)"


def test_every_render_has_a_memory_and_a_time_limit_even_a_small_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(batchrender, "_render", _flaky_render)
    good = _jobs()[0]
    jobs = [RenderJob(good.template, good.context, "HANG"), good]
    with BatchRenderer(default_templates_dir(), jobs=2, timeout=1) as pool:
        results = list(pool.render_all(jobs, small=True))  # a tiny batch: one worker, same limits
    assert [type(r).__name__ for r in results] == ["RenderFailure", "RenderedPdf"]
    assert isinstance(results[0], RenderFailure)
    assert results[0].reason == "render_error: no result within 1s"

    monkeypatch.setattr(batchrender, "_render", _greedy_render)
    jobs = [RenderJob(good.template, good.context, "GREEDY"), good]
    with BatchRenderer(default_templates_dir(), jobs=1, memory_mb=256) as pool:
        results = list(pool.render_all(jobs, small=True))
    assert isinstance(results[0], RenderFailure)
    assert results[0].reason == "render_error: MemoryError: "
    assert isinstance(results[1], RenderedPdf)  # the worker goes on
