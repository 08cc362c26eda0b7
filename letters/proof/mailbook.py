"""The firm mailing book (PS Form 3877 style) for a batch's certified and registered pieces.

One numbered line per piece in article-number order with addressee and address, postage and fees
from the policy, totals per page and for the book, unused lines struck through, and room for the
post office's postmark: presented with the mail, postmarked, it is the sender's proof of mailing.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

import pikepdf

from letters.fsutil import atomic_open, write_bytes_atomic, write_csv
from letters.intake.policy import Policy
from letters.model import format_money
from letters.proof.manifest import ManifestRow
from letters.proof.seal import TEMPORARY_PREFIX
from letters.render.pool import BatchRenderer, RenderFailure, RenderJob
from letters.render.renderer import Renderer

if TYPE_CHECKING:  # Dask is imported only for a cluster
    from letters.render.cluster import ClusterRenderer

BOOK_PDF = "mailing-book.pdf"
BOOK_CSV = "mailing-book.csv"
TEMPLATE = "mailing_book.html"
PAGES_PER_RENDER = 10  # pages laid out at once: 10 keep the book's peak memory ~30 MB lower than 20
ACCOUNTABLE = ("certified", "certified_return_receipt", "registered")
BOOK_COLUMNS = (
    "line",
    "article_number",
    "piece_id",
    "mail_class",
    "addressee",
    "address",
    "postage",
    "fee",
    "return_receipt_fee",
    "total",
)


@dataclass(frozen=True, slots=True)
class BookLine:
    """One piece in the book."""

    number: int
    article_number: str
    piece_id: str
    mail_class: str
    addressee: str
    address: str
    postage: Decimal
    fee: Decimal
    return_receipt_fee: Decimal

    @property
    def total(self) -> Decimal:
        """Postage and every fee of the piece."""
        return self.postage + self.fee + self.return_receipt_fee


def book_lines(rows: Sequence[ManifestRow], policy: Policy) -> list[BookLine]:
    """The accountable pieces of a batch, one line each, by article number."""
    prices = policy.mailing_book
    pieces: dict[str, ManifestRow] = {}
    for row in rows:
        if row.status == "generated" and row.mail_class in ACCOUNTABLE and row.article_number:
            pieces.setdefault(row.piece_id, row)
    lines = []
    for number, row in enumerate(sorted(pieces.values(), key=lambda r: r.article_number), start=1):
        foreign = row.country not in ("US", "")
        last_line = f"{row.city} {row.state} {row.zip}".strip()
        parts = (row.address_line1, row.address_line2, last_line, row.country if foreign else "")
        address = ", ".join(part for part in parts if part)
        lines.append(
            BookLine(
                number=number,
                article_number=row.article_number,
                piece_id=row.piece_id,
                mail_class=row.mail_class,
                addressee=row.recipient_name,
                address=address,
                postage=prices.postage_international if foreign else prices.postage,
                fee=prices.registered_fee
                if row.mail_class == "registered"
                else prices.certified_fee,
                return_receipt_fee=(
                    prices.return_receipt_fee
                    if row.mail_class == "certified_return_receipt"
                    else Decimal(0)
                ),
            )
        )
    return lines


def _page_context(lines: list[BookLine], per_page: int, first: int) -> list[dict[str, object]]:
    """The pages of `lines`, the first of which is line `first` (from 0) of the book."""
    pages = []
    for start in range(0, len(lines), per_page):
        chunk = lines[start : start + per_page]
        pages.append(
            {
                "lines": [
                    {
                        "number": line.number,
                        "article_number": line.article_number,
                        "addressee": line.addressee,
                        "address": line.address,
                        "postage": format_money(line.postage),
                        "fee": format_money(line.fee),
                        "return_receipt_fee": format_money(line.return_receipt_fee)
                        if line.return_receipt_fee
                        else "",
                        "total": format_money(line.total),
                    }
                    for line in chunk
                ],
                "unused": per_page - len(chunk),
                "number": (first + start) // per_page + 1,
                "count": len(chunk),
                "total": format_money(sum((line.total for line in chunk), Decimal(0))),
            }
        )
    return pages


def write_mailing_book(
    batch_dir: Path,
    batch_id: str,
    rows: Sequence[ManifestRow],
    policy: Policy,
    renderer: Renderer,
    mail_date: str,
) -> int:
    """Write mailing-book.pdf and mailing-book.csv when the batch has accountable pieces."""
    return write_book(batch_dir, batch_id, book_lines(rows, policy), policy, renderer, mail_date)


def write_book(
    batch_dir: Path,
    batch_id: str,
    lines: list[BookLine],
    policy: Policy,
    renderer: Renderer,
    mail_date: str,
) -> int:
    """Write the book of `lines` (none: no files) in this process; returns how many lines."""
    if not lines:
        return 0
    context = book_context(batch_id, lines, policy, mail_date)
    per_page = policy.mailing_book.lines_per_page
    write_book_csv(batch_dir, lines)
    parts = book_parts(lines, per_page)
    join_book(batch_dir, [render_book_part(renderer, context, part, per_page) for part in parts])
    return len(lines)


def book_parts(lines: list[BookLine], per_page: int) -> list[BookPart]:
    """The book cut into parts of `PAGES_PER_RENDER` pages, each laid out on its own (so a book
    of thousands of lines never holds one huge layout in memory, and parts can be laid out side
    by side)."""
    size = per_page * PAGES_PER_RENDER
    return [BookPart(first, lines[first : first + size]) for first in range(0, len(lines), size)]


@dataclass(frozen=True, slots=True)
class BookPart:
    """Consecutive lines of the book, the first of which is line `first` (from 0)."""

    first: int
    lines: list[BookLine]


def book_context(
    batch_id: str, lines: list[BookLine], policy: Policy, mail_date: str
) -> dict[str, object]:
    """What every page of the book shows: sender, batch, mailing date, page count, totals."""
    per_page = policy.mailing_book.lines_per_page
    return {
        "sender": {"name": policy.sender.name, "address": policy.sender.address},
        "batch_id": batch_id,
        "mail_date": mail_date,
        "page_count": -(-len(lines) // per_page),
        "last_page": -(-len(lines) // per_page),
        "pieces": len(lines),
        "total": format_money(sum((line.total for line in lines), Decimal(0))),
        "postage_total": format_money(sum((line.postage for line in lines), Decimal(0))),
        "fee_total": format_money(
            sum((line.fee + line.return_receipt_fee for line in lines), Decimal(0))
        ),
    }


def book_part_job(context: dict[str, object], part: BookPart, per_page: int) -> RenderJob:
    """One part of the book as a render job: what the run's renderer (its pool or its cluster)
    lays out as it lays out a letter. Only its PDF comes back: nothing reads a book's text runs
    (about 1,500 a part)."""
    pages = _page_context(part.lines, per_page, part.first)
    identifier = f"{context['batch_id']}-mailing-book-{part.first // per_page}"
    return RenderJob(TEMPLATE, {**context, "pages": pages}, identifier, keep_text=False)


def render_book_part(
    renderer: Renderer, context: dict[str, object], part: BookPart, per_page: int
) -> bytes:
    """One part of the book as PDF bytes."""
    job = book_part_job(context, part, per_page)
    return renderer.render(job.template, job.context, job.identifier).data


def _write_part(batch_dir: Path, part: BookPart, pdf: bytes) -> Path:
    """A part of the book in its temporary file, until `join_book` joins the parts."""
    path = batch_dir / f"{TEMPORARY_PREFIX}book-{part.first:08d}.pdf"
    write_bytes_atomic(path, pdf)
    return path


def render_book_parts(
    renderer: BatchRenderer | ClusterRenderer,
    context: dict[str, object],
    parts: Sequence[BookPart],
    per_page: int,
    batch_dir: Path,
) -> list[Path]:
    """Lay out the book's parts on a renderer (a cluster's workers), each written to its part
    file as it comes back, so the run never holds the book's bytes; `join_book` joins them."""
    files = []
    jobs = (book_part_job(context, part, per_page) for part in parts)
    for part, outcome in zip(parts, renderer.render_all(jobs), strict=True):
        if isinstance(outcome, RenderFailure):
            raise outcome.error(TEMPLATE)
        files.append(_write_part(batch_dir, part, outcome.data))
    return files


_RENDERERS: dict[tuple[object, ...], Renderer] = {}


def render_book_part_apart(
    templates_dir: Path, policy: Policy, context: dict[str, object], part: BookPart, batch_dir: Path
) -> Path:
    """`render_book_part` for a helper process, written to a temporary part file in `batch_dir`
    (the run never holds the book's bytes: `join_book` joins the files). The helper makes its
    renderer once for the batch (its templates, envelope and output settings) and keeps it for
    the book's other parts."""
    key = (context["batch_id"], templates_dir, policy.envelope, policy.output)
    if key not in _RENDERERS:
        _RENDERERS.clear()  # a process making batches one after another keeps only the last
        _RENDERERS[key] = Renderer(templates_dir, policy.envelope, policy.output)
    pdf = render_book_part(_RENDERERS[key], context, part, policy.mailing_book.lines_per_page)
    return _write_part(batch_dir, part, pdf)


def write_book_csv(batch_dir: Path, lines: list[BookLine]) -> None:
    """mailing-book.csv: the book's lines as data."""
    write_csv(
        batch_dir / BOOK_CSV,
        BOOK_COLUMNS,
        [
            [
                str(line.number),
                line.article_number,
                line.piece_id,
                line.mail_class,
                line.addressee,
                line.address,
                str(line.postage),
                str(line.fee),
                str(line.return_receipt_fee),
                str(line.total),
            ]
            for line in lines
        ],
    )


def join_book(batch_dir: Path, parts: Sequence[bytes | Path]) -> None:
    """mailing-book.pdf from its parts in order (PDF bytes, or part files written by
    `render_book_part_apart`, removed once joined); a book of one part is written as rendered."""
    if len(parts) == 1:
        if isinstance(parts[0], Path):
            os.replace(parts[0], batch_dir / BOOK_PDF)
        else:
            write_bytes_atomic(batch_dir / BOOK_PDF, parts[0])
        return
    with pikepdf.new() as book, contextlib.ExitStack() as opened:
        for pdf in parts:
            part = opened.enter_context(
                pikepdf.open(pdf if isinstance(pdf, Path) else io.BytesIO(pdf))
            )
            if len(book.pages) == 0:  # the title, author and dates every part carries
                book.docinfo = book.copy_foreign(part.docinfo)  # type: ignore[assignment]
            book.pages.extend(part.pages)
        with atomic_open(batch_dir / BOOK_PDF, "wb") as handle:
            book.save(cast(BinaryIO, handle), deterministic_id=True)
    for pdf in parts:
        if isinstance(pdf, Path):
            pdf.unlink()
