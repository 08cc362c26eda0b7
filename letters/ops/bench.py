"""The project's benchmark: generated data through the real commands, reported as rates and ratios.

Each part runs what an operator runs: `letters run` end to end, `letters addresses resolve` in a
subprocess (so its peak memory is its own), and `letters addresses dedupe` on the Chicago data.
The peer suites (other projects' test data, `letters/ops/peers.py`) run here too, and the
end-to-end runs with what they are compared with (`letters/ops/benchscale.py`).
"""

from __future__ import annotations

import csv
import os
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from addresses.batch import DedupeColumns, dedupe_file, pair_scores
from addresses.config import EngineConfig, load_config
from letters.intake.policy import load_policy
from letters.ops.accuracy import address_accuracy, knowable, read_truth
from letters.ops.benchscale import (
    AS_OF,
    bench_cluster,
    bench_end_to_end,
    bench_overhead,
    bench_postgres,
    bench_reference,
    sample_letters,
    versus_reference,
)
from letters.ops.feeds import write_feed_sample
from letters.ops.peers import bench_peers
from letters.ops.sample import write_sample
from letters.render.renderer import default_templates_dir

RECORDS_PER_ACCOUNT = 1.92  # what `letters sample` writes on average, to size the resolve data
CHICAGO = Path("../shared/reference/data/chicago-early-childhood-sites.csv")


def font_subsetting_path() -> str:
    """`harfbuzz` when WeasyPrint found libharfbuzz-subset (about 10x faster), else `fonttools`."""
    from weasyprint.text import ffi

    return "harfbuzz" if getattr(ffi, "harfbuzz_subset", None) is not None else "fonttools"


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident memory in MiB of this process, or of its largest finished child."""
    return resource.getrusage(who).ru_maxrss / 1024


def bench_renderers(work_dir: Path, letters: int, jobs: int | None) -> dict[str, Any]:
    """(a) a plain one-letter-at-a-time WeasyPrint loop and (b) the batch renderer, same letters."""
    from weasyprint import CSS, HTML

    from letters.render.geometry import geometry_css
    from letters.render.pool import BatchRenderer, RenderFailure, RenderJob
    from letters.render.renderer import Renderer

    policy = load_policy(None)
    templates = default_templates_dir()
    files = write_sample(work_dir / "letters-data", accounts=letters * 2, seed=3, as_of=AS_OF)
    sample = sample_letters(work_dir, files, letters)
    jinja = Renderer(templates)

    def naive_render(template: str, context: dict[str, Any]) -> None:
        html = jinja.render_html(template, context)
        HTML(string=html, base_url=str(templates)).write_pdf(
            stylesheets=[
                CSS(filename=str(templates / "letter.css")),
                CSS(string=geometry_css(policy.envelope)),
            ]
        )

    naive_render(*sample[0])  # one-time process start-up (Pango, fontconfig) is no letter's
    started = time.perf_counter()
    for template, context in sample:  # the obvious way: each letter alone, from scratch
        naive_render(template, context)
    naive = (time.perf_counter() - started) / len(sample)
    jobs_list = [RenderJob(t, c, f"P{n}") for n, (t, c) in enumerate(sample)]
    with BatchRenderer(templates, policy.envelope, policy.output, jobs) as pool:
        started = time.perf_counter()  # likewise the pool's start-up, reported on its own
        list(pool.render_all(jobs_list[: 2 * pool.jobs]))
        pool_start = time.perf_counter() - started
        started = time.perf_counter()
        results = list(pool.render_all(jobs_list))
        batch = (time.perf_counter() - started) / len(sample)
    single = Renderer(templates, policy.envelope, policy.output)
    identical = all(
        not isinstance(r, RenderFailure)
        and r.data == single.render(j.template, j.context, j.identifier).data
        for j, r in list(zip(jobs_list, results, strict=True))[:10]
    )
    return {
        "render_letters": len(sample),
        "render_naive_ms_per_letter": round(1000 * naive, 1),
        "render_batch_ms_per_letter": round(1000 * batch, 1),
        "render_speedup": round(naive / batch, 2),
        "render_pool_start_s": round(pool_start, 2),
        "render_batch_bytes_identical": identical,
        "render_jobs": jobs or os.cpu_count(),
        "font_subsetting": font_subsetting_path(),
    }


def _resolve(
    source_paths: Sequence[Path], out: Path, config_path: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`letters addresses resolve` in its own process."""
    command = [
        sys.executable,
        "-m",
        "letters.cli.app",
        "addresses",
        "resolve",
        *map(str, source_paths),
        "--out",
        str(out),
        "--as-of",
        AS_OF.isoformat(),
        *(["--address-config", str(config_path)] if config_path else []),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode not in (0, 3):
        raise RuntimeError(f"resolve failed ({done.returncode}): {done.stderr[-2000:]}")
    return done


def bench_resolve(work_dir: Path, records: int) -> dict[str, Any]:
    """Generate about `records` source records and time `letters addresses resolve` on them."""
    accounts = max(20, round(records / RECORDS_PER_ACCOUNT))
    files = write_sample(work_dir / "resolve-data", accounts=accounts, seed=7, as_of=AS_OF)
    with_header = sum(sum(1 for _ in p.open(encoding="utf-8")) for p in files.source_paths)
    rows = with_header - len(files.source_paths)
    out = work_dir / "resolved.csv"
    started = time.perf_counter()
    _resolve(files.source_paths, out)
    elapsed = time.perf_counter() - started
    truth = read_truth(files.truth_path)
    known = knowable(files.source_paths, truth, EngineConfig(), AS_OF)
    return {
        "resolve_records": rows,
        "resolve_seconds": round(elapsed, 2),
        "resolve_records_per_s": round(rows / elapsed),
        "resolve_peak_rss_mb": round(peak_rss_mb(resource.RUSAGE_CHILDREN), 1),
        **address_accuracy(out, files.truth_path, known),
    }


def bench_feeds(work_dir: Path, people: int) -> dict[str, Any]:
    """`letters addresses resolve` on the multi-source sample (dated feeds named by glob in its
    address configuration): wrong selections and holds against the ground truth, `feeds_*`."""
    sample = write_feed_sample(work_dir / "feeds-data", people, seed=11, as_of=AS_OF)
    out = work_dir / "feeds-resolved.csv"
    done = _resolve(sample.files.source_paths, out, sample.config_path)
    truth = read_truth(sample.files.truth_path)
    known = knowable(sample.files.source_paths, truth, load_config(sample.config_path), AS_OF)
    figures = address_accuracy(out, sample.files.truth_path, known)
    figures["unknown_source_warnings"] = done.stderr.count("is not a configured source")
    return {f"feeds_{key}": value for key, value in figures.items()}


def bench_dedupe(work_dir: Path, chicago_path: Path) -> dict[str, Any]:
    """Address-only dedupe of the Chicago sites, scored against their `True Id` pairs."""
    if not chicago_path.is_file():
        return {"dedupe_skipped": f"{chicago_path} not found"}
    columns = DedupeColumns("Id", "Address", "Zip", None, None, "Chicago", "IL")
    summary = dedupe_file(chicago_path, work_dir / "chicago-clusters.csv", columns)
    with chicago_path.open(encoding="utf-8", newline="") as handle:
        truth = [row["True Id"] for row in csv.DictReader(handle)]
    precision, recall, found, true = pair_scores(summary.cluster_of, truth)
    return {
        "dedupe_rows": summary.rows,
        "dedupe_precision": round(precision, 4),
        "dedupe_recall": round(recall, 4),
        "dedupe_pairs_found": found,
        "dedupe_true_pairs": true,
    }


def bench_pdf_variants(work_dir: Path, letters: int) -> dict[str, Any]:
    """The same letters rendered as plain PDF and as PDF/A-3b: milliseconds and bytes each."""
    from dataclasses import replace

    from letters.intake.envelope import OutputConfig
    from letters.render.renderer import Renderer

    policy = load_policy(None)
    files = write_sample(work_dir / "letters-data", accounts=letters * 2, seed=3, as_of=AS_OF)
    contents = sample_letters(work_dir, files, letters)
    figures: dict[str, Any] = {"variant_letters": len(contents)}
    for label, variant in (("plain", ""), ("pdfa", "pdf/a-3b")):
        renderer = Renderer(
            default_templates_dir(), policy.envelope, replace(OutputConfig(), pdf_variant=variant)
        )
        renderer.render(*contents[0], "warm-up")
        started = time.perf_counter()
        sizes = [
            len(renderer.render(template, context, f"P{n}").data)
            for n, (template, context) in enumerate(contents)
        ]
        elapsed = time.perf_counter() - started
        figures[f"{label}_ms_per_letter"] = round(1000 * elapsed / len(contents), 1)
        figures[f"{label}_bytes_per_letter"] = round(sum(sizes) / len(sizes))
    return figures


def bench_scale(
    work_dir: Path, accounts: int, large_accounts: int, reference_letters: int, jobs: int | None
) -> dict[str, Any]:
    """`letters run` end to end at `accounts` (and `large_accounts`), each against the pool alone
    on its letters; on a local cluster and against PostgreSQL at `accounts`; the reference letter.
    """
    extra = ["--jobs", str(jobs)] if jobs else []
    figures = bench_end_to_end(work_dir, accounts, "", extra)
    figures |= bench_overhead(work_dir, figures, "", jobs)
    if large_accounts:
        figures |= bench_end_to_end(work_dir, large_accounts, "_large", extra)
        figures |= bench_overhead(work_dir, figures, "_large", jobs)
        small, large = figures["end_to_end_peak_rss_mb"], figures["end_to_end_peak_rss_mb_large"]
        figures["end_to_end_peak_rss_growth"] = round(large / small, 2)
    figures |= bench_cluster(work_dir, accounts, figures, extra)
    figures |= bench_postgres(work_dir, accounts, figures, extra)
    figures |= bench_reference(work_dir, reference_letters)
    return figures | versus_reference(figures)


def run_bench(
    work_dir: Path,
    render_accounts: int,
    resolve_records: int,
    chicago_path: Path = CHICAGO,
    render_letters: int = 150,
    jobs: int | None = None,
    large_accounts: int = 0,
    feed_people: int = 20_000,
) -> dict[str, Any]:
    """Every measurement, in one run on this machine."""
    figures: dict[str, Any] = {"cores": os.cpu_count()}
    # the renderers first, while this process is small: the workers are forked from it
    figures |= bench_renderers(work_dir, render_letters, jobs)
    figures |= bench_dedupe(work_dir, chicago_path)
    figures |= bench_peers(work_dir)
    figures |= bench_resolve(work_dir, resolve_records)
    figures |= bench_feeds(work_dir, feed_people)
    figures |= bench_scale(work_dir, render_accounts, large_accounts, render_letters, jobs)
    figures |= bench_pdf_variants(work_dir, min(render_letters, 60))
    figures["peak_rss_mb"] = max(
        figures.get("resolve_peak_rss_mb", 0), figures["end_to_end_peak_rss_mb"]
    )
    return figures
