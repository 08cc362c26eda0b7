"""Envelope window geometry, in inches from the top-left of the letter's first page."""

from __future__ import annotations

from dataclasses import dataclass


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

    def contains(self, x: float, y: float, width: float, height: float) -> bool:
        """True when the box lies wholly inside this rectangle."""
        return (
            x >= self.x and y >= self.y
            and x + width <= self.x + self.width and y + height <= self.y + self.height
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class WindowProfile:
    """A double-window envelope: where its windows fall on the folded letter, and its play."""

    name: str
    return_window: Rect
    recipient_window: Rect
    play: float = 0.125  # how far the insert can slide each way
    clearance: float = 0.125  # clear space kept between text and a window's edge


# The common #10 double-window profile (reference, section 4; verify against your supplier).
DEFAULT_PROFILE = WindowProfile(
    name="no10-double-window",
    return_window=Rect(0.5, 0.5, 3.5, 0.79),
    recipient_window=Rect(0.875, 2.04, 3.5, 0.875),
)
