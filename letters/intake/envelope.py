"""The envelope and output settings a policy gives: window positions (inches from the top-left of
the letter's first page, folded for a #10 window envelope) and PDF options.

`letters.render.geometry` turns a profile into CSS; the lint checks text against it.
"""

from __future__ import annotations

from dataclasses import dataclass

PAGE_MARGIN_TOP = 0.6
PAGE_MARGIN_LEFT = 0.75
FOLD_PANEL = 11.0 / 3  # a US Letter sheet tri-folded for a #10 envelope


@dataclass(frozen=True, slots=True)
class Rect:
    """A rectangle: left, top, width, height in inches."""

    x: float
    y: float
    width: float
    height: float

    def grown(self, margin: float) -> Rect:
        """The rectangle with `margin` added on every side."""
        return Rect(
            self.x - margin, self.y - margin, self.width + 2 * margin, self.height + 2 * margin
        )

    def shrunk(self, margin: float) -> Rect:
        """The rectangle with `margin` taken off every side."""
        return self.grown(-margin)

    def intersects(self, x: float, y: float, width: float, height: float) -> bool:
        """True when the box overlaps this rectangle."""
        return (
            x < self.x + self.width
            and x + width > self.x
            and y < self.y + self.height
            and y + height > self.y
        )

    def contains(
        self, x: float, y: float, width: float, height: float, slack: float = 0.005
    ) -> bool:
        """True when the box lies wholly inside this rectangle (within `slack` for rounding)."""
        return (
            x >= self.x - slack
            and y >= self.y - slack
            and x + width <= self.x + self.width + slack
            and y + height <= self.y + self.height + slack
        )


@dataclass(frozen=True, slots=True)
class WindowProfile:
    """A window envelope: where its windows fall on the folded letter, and its play."""

    name: str
    return_window: Rect
    recipient_window: Rect
    service_window: Rect  # accountable-mail endorsement, article number and its barcode
    play: float = 0.125  # how far the insert can slide each way
    clearance: float = 0.125  # clear space kept between text and a window's edge
    fold_marks: bool = True

    def windows(self) -> dict[str, Rect]:
        """Every window by name."""
        return {
            "return": self.return_window,
            "recipient": self.recipient_window,
            "service": self.service_window,
        }


# The common #10 double-window profile (reference, section 4), and a window for the certified-mail
# barcode above the address and right of the return address. Verify against your supplier.
DEFAULT_PROFILE = WindowProfile(
    name="no10-double-window",
    return_window=Rect(0.5, 0.5, 3.5, 0.79),
    recipient_window=Rect(0.875, 2.04, 3.5, 0.875),
    service_window=Rect(4.5, 0.5, 3.5, 1.25),
)


@dataclass(frozen=True, slots=True)
class OutputConfig:
    """PDF options, and the limits of one letter's render."""

    pdf_variant: str = ""  # "" or "pdf/a-3b"
    duplex: bool = False  # pad every piece to an even page count
    render_timeout_seconds: int = 120  # a letter not rendered by then is held (render_error)
    render_memory_mb: int = 2048  # what a render worker may allocate beyond its start
    split_print_file_by_pages: bool = False  # one print file per page count (print-file-2p-001.pdf)
    # from this many letters in a batch, the print file and the mailing book are made in two
    # helper processes of their own; a smaller batch makes them in the run's process, sooner
    helper_processes_from: int = 100
