"""Page marks: a small QR code on every page of a letter with its piece id and `page x of n`.

A page put in the wrong envelope discloses one debtor's debt to another, so every page carries
`PIECE_ID|x|n` as a QR code (the mail room's scanner or an inserter camera checks each envelope's
pages) next to the same text in the page footer. The codes are drawn into the PDF WeasyPrint is
about to write (its `finisher` hook), as filled squares in one extra content stream per page: the
page count is known by then, nothing is laid out twice, and identical input gives identical bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pydyf
import segno

POINTS_PER_INCH = 72.0
# Bottom-left corner, in the left margin beside the footer's piece id and below every window and
# fold mark: 0.2 in from the left edge and from the bottom of the sheet, 0.4 in square.
MARK_X = 0.2
MARK_Y = 0.2
MARK_SIZE = 0.4


def mark_text(piece_id: str, page: int, pages: int) -> str:
    """What a page's code holds: `PIECE_ID|x|n` (x counts from 1)."""
    return f"{piece_id}|{page}|{pages}"


def qr_operations(data: str, x: float, y: float, size: float) -> bytes:
    """PDF drawing operations for a QR code of `data`, `size` points square, its lower-left corner
    at (x, y) in PDF points; one filled rectangle per dark module, no quiet zone drawn."""
    code = segno.make_qr(data, error="m")
    matrix = [list(row) for row in code.matrix]
    count = len(matrix)
    module = size / count
    parts = ["q 0 0 0 rg"]
    for row_number, row in enumerate(matrix):
        top = y + size - (row_number + 1) * module
        column = 0
        while column < count:
            if not row[column]:
                column += 1
                continue
            start = column
            while column < count and row[column]:
                column += 1  # one rectangle per run of dark modules keeps the stream small
            parts.append(
                f"{x + start * module:.3f} {top:.3f} {(column - start) * module:.3f} "
                f"{module:.3f} re"
            )
    parts.append("f Q")
    return "\n".join(parts).encode("ascii")


def page_marks(piece_id: str) -> Callable[[Any, pydyf.PDF], None]:
    """A WeasyPrint `finisher` that draws each page's code (`mark_text`) in its corner."""

    def finish(_document: Any, pdf: pydyf.PDF) -> None:
        kids = pdf.pages["Kids"]
        numbers = [kids[i] for i in range(0, len(kids), 3)]
        for index, number in enumerate(numbers, start=1):
            page = pdf.objects[number]
            data = mark_text(piece_id, index, len(numbers))
            streams = []
            for content in (b"q", b"Q", qr_operations(data, *_corner(page))):
                stream = pydyf.Stream([content], compress=True)
                pdf.add_object(stream)
                streams.append(stream.reference)
            original = page["Contents"]
            # the page's own stream is bracketed by q/Q so the code is drawn in page coordinates
            page["Contents"] = pydyf.Array([streams[0], original, streams[1], streams[2]])

    return finish


def _corner(page: pydyf.Dictionary) -> tuple[float, float, float]:
    box = page["MediaBox"]
    left, bottom = float(box[0]), float(box[1])
    return (
        left + MARK_X * POINTS_PER_INCH,
        bottom + MARK_Y * POINTS_PER_INCH,
        MARK_SIZE * POINTS_PER_INCH,
    )
