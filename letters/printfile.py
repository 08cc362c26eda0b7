"""The print shop's file: every released piece of a batch in one PDF, in ZIP-code order."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pypdf import PdfWriter

from letters.fsutil import atomic_open, write_csv
from letters.manifest import ManifestRow

PRINT_FILE = "print-file.pdf"
PRINT_ORDER = "print-order.csv"
ORDER_COLUMNS = ("sequence", "piece_id", "country", "zip", "first_page", "pages", "mail_class")


def write_print_file(batch_dir: Path, rows: Sequence[ManifestRow]) -> int:
    """Write print-file.pdf (domestic pieces by ZIP, then foreign) and print-order.csv."""
    pieces: dict[str, ManifestRow] = {}
    for row in rows:
        if row.status == "generated" and row.pdf_path:
            pieces.setdefault(row.piece_id, row)
    order = sorted(pieces.values(), key=lambda r: (r.country != "US", r.country, r.zip, r.piece_id))
    writer = PdfWriter()
    lines = []
    page = 1
    for sequence, row in enumerate(order, start=1):
        writer.append(str(batch_dir / row.pdf_path))
        lines.append(
            [
                str(sequence),
                row.piece_id,
                row.country,
                row.zip,
                str(page),
                row.pages,
                row.mail_class,
            ]
        )
        page += int(row.pages)
    with atomic_open(batch_dir / PRINT_FILE, "wb") as handle:
        writer.write(handle)
    write_csv(batch_dir / PRINT_ORDER, ORDER_COLUMNS, lines)
    return len(order)
