"""The benchmark's end-to-end figures: `letters run` on generated accounts, on the process pool, on
a local Dask cluster and against PostgreSQL, and what those runs are compared with: the pool alone
on the same letters, and a fixed reference letter that our templates cannot move.

Every figure comes from runs of one `letters bench`; each ratio is between figures of that run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from letters.errors import LettersError
from letters.intake.policy import load_policy
from letters.intake.request import RunRequest
from letters.ops.sample import SampleFiles, write_sample
from letters.render.renderer import default_templates_dir

AS_OF = date(2026, 11, 20)
BENCH_BATCH = "20261120-000000-b0b0"  # sample letters' piece ids are shaped like a run's
BENCH_DB_ENV = "LETTERS_BENCH_DB"  # a PostgreSQL server to use instead of a throwaway one
CLUSTER_SIZES = (1, 2)  # `--cluster local:N`
# the letters a page of the book is priced against: spread over the run's, whose first ones are
# not its average (1.39 letters a page against the first 30 of 1,000 accounts, 2.21 of 10,000)
BOOK_SAMPLE_LETTERS = 30

# A plain one-page business letter, fixed here so that no template change moves it: the yardstick
# the end-to-end figures are divided by. Only DejaVu fonts, nothing fetched.
REFERENCE_LETTER = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Reference letter</title><style>
@page { size: Letter; margin: 0.9in 1in 1in 1in;
        @bottom-center { content: "Harbor Street Supply Co. - 1200 Harbor Street - Portland, OR";
                         font: 7.5pt "DejaVu Sans"; color: #666; } }
body { font: 10.5pt/1.45 "DejaVu Serif"; color: #111; }
header { border-bottom: 1.5pt solid #1d3d5c; padding-bottom: 6pt; margin-bottom: 26pt; }
header h1 { font: bold 17pt "DejaVu Sans"; color: #1d3d5c; margin: 0; letter-spacing: 0.5pt; }
header p { font: 8.5pt "DejaVu Sans"; margin: 2pt 0 0 0; color: #444; }
.date { margin-bottom: 20pt; }
.address { margin-bottom: 22pt; line-height: 1.3; }
p { margin: 0 0 10pt 0; text-align: justify; }
.closing { margin-top: 18pt; }
.signature { margin-top: 34pt; line-height: 1.3; }
.signature b { font-family: "DejaVu Sans"; }
</style></head><body>
<header><h1>HARBOR STREET SUPPLY CO.</h1>
<p>1200 Harbor Street, Suite 400 &middot; Portland, OR 97209 &middot; (503) 555-0142</p></header>
<div class="date">November 20, 2026</div>
<div class="address">Ms. Eleanor Whitfield<br>Purchasing Manager<br>Cascade Valley Hardware<br>
4471 Riverside Avenue, Unit 12<br>Eugene, OR 97401</div>
<p>Dear Ms. Whitfield,</p>
<p>Thank you for your order of October 28 and for the time you and your team gave us during our
visit to your Riverside Avenue store. We were glad to see the new garden department taking shape,
and we appreciate the confidence you have shown in our products over the past six years.</p>
<p>As we discussed, the spring catalogue will include the revised line of weatherproof fasteners,
together with the outdoor lighting fixtures your customers asked about. Samples of both will reach
you by the second week of December, and our regional representative, Mr. Daniel Osei, will call to
arrange a convenient time to review them with your staff before you place the seasonal order.</p>
<p>We have also reviewed the delivery schedule you proposed. Beginning in January, shipments will
arrive on Tuesdays and Fridays rather than once a week, which should keep your shelves stocked
through the busier months without adding to your storage needs. Should any delivery arrive
incomplete or damaged, please let us know within five business days and we will replace it at no
charge.</p>
<p>Finally, I would like to invite you to our annual trade open house on February 12, where we will
present next year's range and share the results of our customer survey. A formal invitation will
follow; in the meantime, please do not hesitate to contact me with any question.</p>
<p class="closing">Sincerely,</p>
<div class="signature"><b>Margaret L. Donovan</b><br>Director of Customer Accounts<br>
Harbor Street Supply Co.</div>
</body></html>
"""


def _no_fetch(url: str, *_args: Any, **_kwargs: Any) -> dict[str, Any]:
    raise ValueError(f"the reference letter fetches nothing: {url}")


def bench_reference(work_dir: Path, letters: int) -> dict[str, Any]:
    """The reference letter rendered `letters` times one at a time after one warm-up render (kept
    as `reference-letter.pdf`), in this process: its milliseconds per letter."""
    from weasyprint import HTML

    document = HTML(string=REFERENCE_LETTER, url_fetcher=_no_fetch).render()
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / "reference-letter.pdf").write_bytes(document.write_pdf())
    started = time.perf_counter()
    for _ in range(letters):
        HTML(string=REFERENCE_LETTER, url_fetcher=_no_fetch).write_pdf()
    elapsed = time.perf_counter() - started
    return {
        "reference_letters": letters,
        "reference_pages": len(document.pages),
        "reference_ms_per_letter": round(1000 * elapsed / letters, 1),
    }


def versus_reference(figures: dict[str, Any]) -> dict[str, Any]:
    """End-to-end milliseconds per letter (the large run's when there is one) ÷ the reference's."""
    end_to_end = figures.get("end_to_end_ms_per_letter_large", figures["end_to_end_ms_per_letter"])
    return {"end_to_end_vs_reference": round(end_to_end / figures["reference_ms_per_letter"], 2)}


def e2e_sample(work_dir: Path, accounts: int) -> SampleFiles:
    """The generated accounts every end-to-end figure of this size uses (seed 1: the same files
    each time they are written)."""
    return write_sample(work_dir / f"e2e-data-{accounts}", accounts=accounts, seed=1, as_of=AS_OF)


def sample_letters(
    work_dir: Path, files: SampleFiles, limit: int | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """(template, context) of the letters `letters run` would render from these files on a fresh
    state (its plan, in its order; up to `limit`), with the payment references, article numbers
    and barcodes a run gives them, from a scratch state file."""
    from addresses.config import load_config
    from letters.decide.plan import plan_batch
    from letters.intake.sources import load_inputs
    from letters.model import PieceId
    from letters.proof.rows import plan_account_ids
    from letters.render.articles import assign_marks
    from letters.render.content import letter_content
    from letters.render.renderer import Renderer
    from letters.state import open_store

    policy, templates = load_policy(None), default_templates_dir()
    request = RunRequest(files.accounts_path, files.source_paths, work_dir, AS_OF, policy,
                         templates, load_config(None))  # fmt: skip
    exists = Renderer(templates).template_exists
    plan = plan_batch(request, load_inputs(request), lambda _said: None, template_exists=exists)
    scratch = work_dir / f"bench-marks-{uuid.uuid4().hex[:8]}.db"
    store = open_store(scratch)
    letters: list[tuple[str, dict[str, Any]]] = []
    try:
        references = store.payment_references(plan_account_ids(plan), "bench")
        for number, letter in enumerate(plan.letters[:limit], start=1):
            piece = PieceId(BENCH_BATCH, number).text
            address = letter.recipient.address
            zip_code = "" if address is None or address.is_foreign else address.zip
            marks = assign_marks(
                store, piece, letter.mail_class, zip_code, policy.articles, policy.imb, "bench"
            )
            choice = plan.choices[letter.customer_id]
            content = letter_content(piece, policy, letter, choice, marks, references=references)
            letters.append((letter.template, content.context))
    finally:
        store.close()
        for made in scratch.parent.glob(f"{scratch.name}*"):  # with its -wal and -shm
            made.unlink()
    return letters


def _book_sample(batch_dir: Path, count: int) -> list[Any]:
    """The first `count` lines of a batch's mailing book, read back from mailing-book.csv."""
    import csv
    from decimal import Decimal

    from letters.proof.mailbook import BOOK_CSV, BookLine

    with (batch_dir / BOOK_CSV).open(encoding="utf-8", newline="") as handle:
        rows = [row for _, row in zip(range(count), csv.DictReader(handle), strict=False)]
    return [
        BookLine(int(row["line"]), row["article_number"], row["piece_id"], row["mail_class"],
                 row["addressee"], row["address"], Decimal(row["postage"]), Decimal(row["fee"]),
                 Decimal(row["return_receipt_fee"]))
        for row in rows
    ]  # fmt: skip


def book_page_vs_letter(
    batch_dir: Path, letters: Sequence[tuple[str, dict[str, Any]]], rounds: int = 3
) -> float:
    """The CPU time of one page of this batch's mailing book ÷ that of one of its letters, both
    laid out in this process, one after the other, `rounds` times (the least of each): how many
    letters' render work each page of the book adds to the run, at any speed of the machine."""
    from letters.proof.mailbook import PAGES_PER_RENDER, book_context, book_parts, render_book_part
    from letters.render.renderer import Renderer

    policy = load_policy(None)
    per_page = policy.mailing_book.lines_per_page
    lines = _book_sample(batch_dir, per_page * PAGES_PER_RENDER)
    part = book_parts(lines, per_page)[0]
    context = book_context("bench", lines, policy, AS_OF.isoformat())
    renderer = Renderer(default_templates_dir(), policy.envelope, policy.output)
    renderer.render(*letters[0], "warm-up")
    render_book_part(renderer, context, part, per_page)
    letter_cpu = page_cpu = float("inf")
    pages = -(-len(part.lines) // per_page)
    for _ in range(rounds):
        started = time.process_time()
        for n, (template, context_of_letter) in enumerate(letters):
            renderer.render(template, context_of_letter, f"P{n}")
        letter_cpu = min(letter_cpu, (time.process_time() - started) / len(letters))
        started = time.process_time()
        render_book_part(renderer, context, part, per_page)
        page_cpu = min(page_cpu, (time.process_time() - started) / pages)
    return page_cpu / letter_cpu


def _child_env() -> dict[str, str]:
    """This environment without `$LETTERS_DB`: each run's state is the one the bench names."""
    return {k: v for k, v in os.environ.items() if k != "LETTERS_DB"}


def bench_end_to_end(
    work_dir: Path, accounts: int, label: str = "", extra: Sequence[str] = ()
) -> dict[str, Any]:
    """`letters run` (with the `extra` options) on generated accounts, in its own process, on a
    fresh state: time per letter and peak memory, keys ending in `label`."""
    files = e2e_sample(work_dir, accounts)
    out = work_dir / f"e2e-batches{label}"
    shutil.rmtree(out, ignore_errors=True)  # a fresh state: an earlier bench's letters went
    command = [sys.executable, "-m", "letters.cli.app", "run", str(files.accounts_path),
               "--out", str(out), "--as-of", AS_OF.isoformat(), "--json", *extra]  # fmt: skip
    for source in files.source_paths:
        command += ["--sources", str(source)]
    code = (
        "import resource, subprocess, sys, time; t = time.perf_counter();"
        " p = subprocess.run(sys.argv[1:], capture_output=True, text=True);"
        " sys.stderr.write(p.stderr); print(time.perf_counter() - t); print(p.returncode);"
        " print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); print(p.stdout)"
    )
    done = subprocess.run([sys.executable, "-c", code, *command], capture_output=True,
                          text=True, check=True, env=_child_env())  # fmt: skip
    elapsed, returncode, rss, *summary = done.stdout.splitlines()
    if int(returncode) not in (0, 3):
        raise RuntimeError(f"letters run{label} failed ({returncode}): {done.stderr[-2000:]}")
    letters = json.loads("\n".join(summary))["letters"]
    return {
        f"end_to_end_accounts{label}": accounts,
        f"end_to_end_letters{label}": letters,
        f"end_to_end_seconds{label}": round(float(elapsed), 1),
        f"end_to_end_ms_per_letter{label}": round(1000 * float(elapsed) / max(letters, 1), 1),
        f"end_to_end_peak_rss_mb{label}": round(int(rss) / 1024, 1),
    }


def bench_overhead(
    work_dir: Path, figures: dict[str, Any], label: str = "", jobs: int | None = None
) -> dict[str, Any]:
    """The process pool alone on exactly the letters the end-to-end run `label` rendered (after
    the pool's start-up; the PDFs are dropped), and that run's milliseconds per letter ÷ the pool's.
    """
    from letters.render.pool import BatchRenderer, RenderFailure, RenderJob

    policy = load_policy(None)
    sample = sample_letters(work_dir, e2e_sample(work_dir, figures[f"end_to_end_accounts{label}"]))
    jobs_list = [RenderJob(t, c, f"P{n}") for n, (t, c) in enumerate(sample)]
    failures = 0
    with BatchRenderer(default_templates_dir(), policy.envelope, policy.output, jobs) as pool:
        for _ in pool.render_all(jobs_list[: 2 * pool.jobs]):
            pass  # the pool's start-up is no letter's (as in the renderer comparison)
        started = time.perf_counter()
        for result in pool.render_all(jobs_list):
            failures += isinstance(result, RenderFailure)
        elapsed = time.perf_counter() - started
    pool_ms = 1000 * elapsed / max(len(sample), 1)
    run_letters = figures[f"end_to_end_letters{label}"]
    return _book_share(work_dir / f"e2e-batches{label}", sample, run_letters, label) | {
        f"pool_letters{label}": len(sample),
        f"pool_failures{label}": failures,
        f"pool_same_letters{label}": len(sample) == run_letters,
        f"pool_ms_per_letter{label}": round(pool_ms, 1),
        f"end_to_end_overhead{label}": round(
            figures[f"end_to_end_ms_per_letter{label}"] / pool_ms, 3
        ),
    }


def _book_share(out: Path, sample: Sequence[tuple[str, dict[str, Any]]], letters: int,
                label: str, rounds: int = 3) -> dict[str, Any]:  # fmt: skip
    """The end-to-end run's mailing book: its pages, what a page costs in letters, and the share
    of the pool's render work the book adds (on cores the workers fill, the run's overhead cannot
    go below 1 + that share)."""
    from pypdf import PdfReader

    from letters.proof.mailbook import BOOK_PDF

    books = sorted(out.glob(f"*/{BOOK_PDF}"))
    if not books or not sample:
        return {f"end_to_end_book_pages{label}": 0}
    pages = len(PdfReader(books[-1]).pages)
    spread = sample[:: max(1, len(sample) // BOOK_SAMPLE_LETTERS)][:BOOK_SAMPLE_LETTERS]
    ratio = book_page_vs_letter(books[-1].parent, spread, rounds)
    return {
        f"end_to_end_book_pages{label}": pages,
        f"book_page_vs_letter{label}": round(ratio, 2),
        f"end_to_end_book_share{label}": round(pages * ratio / max(letters, 1), 3),
    }


def bench_cluster(work_dir: Path, accounts: int, figures: dict[str, Any],
                  extra: Sequence[str] = ()) -> dict[str, Any]:  # fmt: skip
    """`letters run --cluster local:1` and `local:2` on the `accounts` sample: ms per letter, the
    speed-up from one worker to two, and two workers against the process pool (same size)."""
    found: dict[str, Any] = {}
    for size in CLUSTER_SIZES:
        label = f"_cluster_local{size}"
        run = bench_end_to_end(work_dir, accounts, label, [*extra, "--cluster", f"local:{size}"])
        found[f"cluster_local{size}_ms_per_letter"] = run.pop(f"end_to_end_ms_per_letter{label}")
        found |= run
    one, two = found["cluster_local1_ms_per_letter"], found["cluster_local2_ms_per_letter"]
    found["cluster_local2_speedup"] = round(one / two, 2)
    found["cluster_local2_vs_pool"] = round(two / figures["end_to_end_ms_per_letter"], 2)
    return found


@contextmanager
def _bench_database() -> Iterator[str]:
    """A new empty database: on `$LETTERS_BENCH_DB`'s server (dropped afterwards), else on a
    throwaway server. Raises `LettersError` when neither can be had."""
    import psycopg

    from letters.ops.pgtrial import running_server

    given = os.environ.get(BENCH_DB_ENV, "")
    if not given:
        with running_server(durable=True) as server:  # fsync on, as SQLite's synchronous=FULL
            yield server.new_database()
        return
    if not given.startswith(("postgresql://", "postgres://")):
        raise LettersError(f"${BENCH_DB_ENV}: expected a postgresql:// URL")
    name = f"letters_bench_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(given, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
    except psycopg.Error as exc:
        raise LettersError(f"${BENCH_DB_ENV}: cannot create a database: {exc}") from None
    try:
        yield urlsplit(given)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(given, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def bench_postgres(work_dir: Path, accounts: int, figures: dict[str, Any],
                   extra: Sequence[str] = ()) -> dict[str, Any]:  # fmt: skip
    """`letters run --db postgresql://...` on the `accounts` sample, against the SQLite run of the
    same data; `pg_skipped` with the reason when there is no server to use."""
    try:
        with _bench_database() as url:
            run = bench_end_to_end(work_dir, accounts, "_pg", [*extra, "--db", url])
    except LettersError as exc:
        return {"pg_skipped": str(exc)}
    pg_ms, sqlite_ms = run["end_to_end_ms_per_letter_pg"], figures["end_to_end_ms_per_letter"]
    return run | {"pg_vs_sqlite": round(pg_ms / sqlite_ms, 2)}
