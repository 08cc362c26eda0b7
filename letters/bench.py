"""The project's benchmark: generated data through the real pipeline, as ratios and rates."""

from __future__ import annotations

import os
import resource
import time
from datetime import date
from pathlib import Path
from typing import Any

from letters.pipeline import RunRequest, run_batch
from letters.policy import load_policy
from letters.render import default_templates_dir
from letters.sample import write_sample


def font_subsetting_path() -> str:
    """`harfbuzz` when WeasyPrint found libharfbuzz-subset (about 10x faster), else `fonttools`."""
    from weasyprint.text import ffi

    return "harfbuzz" if getattr(ffi, "harfbuzz_subset", None) is not None else "fonttools"


def peak_rss_mb() -> float:
    """Peak resident memory of this process and its finished children, in MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def run_bench(work_dir: Path, accounts: int, seed: int, as_of: date) -> dict[str, Any]:
    """Generate `accounts` sample accounts and time `letters run` on them, end to end."""
    files = write_sample(work_dir / "data", accounts=accounts, seed=seed, as_of=as_of)
    request = RunRequest(
        accounts_path=files.accounts_path,
        source_paths=files.source_paths,
        out_dir=work_dir / "batches",
        as_of=as_of,
        policy=load_policy(None),
        templates_dir=default_templates_dir(),
    )
    started = time.perf_counter()
    result = run_batch(request)
    elapsed = time.perf_counter() - started
    letters = max(result.letters, 1)
    return {
        "accounts": accounts,
        "letters": result.letters,
        "pages": result.pages,
        "end_to_end_seconds": round(elapsed, 3),
        "end_to_end_ms_per_letter": round(1000 * elapsed / letters, 1),
        "render_ms_per_letter": round(1000 * result.render_seconds / letters, 1),
        "letters_per_second": round(result.letters / elapsed, 2) if elapsed else 0.0,
        "font_subsetting": font_subsetting_path(),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "cores": os.cpu_count(),
    }
