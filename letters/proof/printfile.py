"""The print shop's files: every released piece of a batch, in ZIP-code order, in bounded parts.

`print-file-001.pdf`, `print-file-002.pdf`, ... hold at most `PART_PIECES` pieces each (memory stays
flat however large the batch); `print-order.csv` gives each piece its part and first page.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

import pikepdf

from letters.fsutil import atomic_open, write_csv
from letters.proof.manifest import ManifestRow

PART_PIECES = 500
PRINT_ORDER = "print-order.csv"
ORDER_COLUMNS = (
    "sequence",
    "piece_id",
    "file",
    "first_page",
    "pages",
    "country",
    "zip",
    "mail_class",
)


def part_name(number: int, pages: int | None = None) -> str:
    """The name of a print file part: `print-file-001.pdf`, or `print-file-2p-001.pdf` for the
    two-page pieces of a print file split by page count."""
    return (
        f"print-file-{number:03d}.pdf" if pages is None else f"print-file-{pages}p-{number:03d}.pdf"
    )


@dataclass(frozen=True, slots=True)
class PrintPiece:
    """What the print file needs of a released piece."""

    piece_id: str
    pdf_path: str
    pages: str
    country: str
    zip: str
    mail_class: str


def print_pieces(rows: Iterable[ManifestRow]) -> list[PrintPiece]:
    """Each released piece of a batch once (a piece covering several accounts has several rows)."""
    pieces: dict[str, PrintPiece] = {}
    for row in rows:
        if row.status == "generated" and row.pdf_path and row.piece_id not in pieces:
            pieces[row.piece_id] = PrintPiece(
                row.piece_id, row.pdf_path, row.pages, row.country, row.zip, row.mail_class
            )
    return list(pieces.values())


def write_print_file(
    batch_dir: Path,
    pieces: Sequence[PrintPiece],
    part_pieces: int = PART_PIECES,
    split_by_pages: bool = False,
) -> int:
    """Write the print file parts (domestic pieces by ZIP, then foreign) and print-order.csv; with
    `split_by_pages`, one run of parts per page count (fewest pages first), so that an inserter
    runs one program per file."""
    order = sorted(pieces, key=lambda r: (r.country != "US", r.country, r.zip, r.piece_id))
    groups: dict[int | None, list[PrintPiece]] = {}
    for piece in order:
        groups.setdefault(int(piece.pages) if split_by_pages else None, []).append(piece)
    lines: list[list[str]] = []
    for pages in sorted(groups, key=lambda p: p or 0):
        group = groups[pages]
        for start in range(0, len(group), part_pieces):
            name = part_name(start // part_pieces + 1, pages)
            _write_part(batch_dir, name, group[start : start + part_pieces], len(lines), lines)
    write_csv(batch_dir / PRINT_ORDER, ORDER_COLUMNS, lines)
    return len(order)


def _write_part(
    batch_dir: Path, name: str, part: Sequence[PrintPiece], done: int, lines: list[list[str]]
) -> None:
    # qpdf (through pikepdf) copies the pieces' pages about eight times faster than pypdf; each
    # piece is read into memory, so a part never holds hundreds of files open, and the part's
    # /ID is made from its content, so the same pieces give the same bytes
    with pikepdf.new() as writer:
        page = 1
        for sequence, row in enumerate(part, start=done + 1):
            piece = pikepdf.open(io.BytesIO((batch_dir / row.pdf_path).read_bytes()))
            writer.pages.extend(piece.pages)
            lines.append(
                [
                    str(sequence),
                    row.piece_id,
                    name,
                    str(page),
                    row.pages,
                    row.country,
                    row.zip,
                    row.mail_class,
                ]
            )
            page += int(row.pages)
        with atomic_open(batch_dir / name, "wb") as handle:
            writer.save(cast(BinaryIO, handle), deterministic_id=True)
