"""Envelope window geometry, in inches from the top-left of the letter's first page.

The positions of everything that shows through a window are generated from the profile as CSS, so
an operator changes envelopes in the policy (`[envelope]`), not in the stylesheet.
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


def _place(selector: str, window: Rect, inset: float) -> str:
    area = window.shrunk(inset)
    return (
        f"{selector} {{ position: absolute; top: {area.y - PAGE_MARGIN_TOP:.4f}in; "
        f"left: {area.x - PAGE_MARGIN_LEFT:.4f}in; width: {area.width:.4f}in; "
        f"max-height: {area.height:.4f}in; overflow: visible; }}"
    )


def geometry_css(profile: WindowProfile) -> str:
    """The stylesheet that places the window blocks and fold marks for a profile."""
    lowest = max(w.y + w.height for w in profile.windows().values()) + profile.play
    rules = [
        f"@page {{ margin-top: {PAGE_MARGIN_TOP}in; margin-left: {PAGE_MARGIN_LEFT}in; }}",
        _place(".return-address", profile.return_window, profile.clearance),
        _place(".recipient", profile.recipient_window, profile.clearance),
        _place(".service", profile.service_window, profile.clearance),
        f".window-clear {{ height: {lowest + 0.1 - PAGE_MARGIN_TOP:.4f}in; }}",
    ]
    if profile.fold_marks:
        for number, fold in enumerate((FOLD_PANEL, 2 * FOLD_PANEL), start=1):
            rules.append(
                f".fold-{number} {{ position: absolute; top: {fold - PAGE_MARGIN_TOP:.4f}in; "
                f"left: {-PAGE_MARGIN_LEFT + 0.15:.4f}in; width: 0.2in; "
                "border-top: 0.5pt solid #888; }"
            )
    else:
        rules.append(".fold-1, .fold-2 { display: none; }")
    return "\n".join(rules)


def outline_css(profile: WindowProfile) -> str:
    """For previews: draw each window (dashed) and its play (dotted) over the first page."""
    rules = []
    for name, window in profile.windows().items():
        for suffix, rect, style in (
            ("", window, "dashed"),
            ("-play", window.grown(profile.play), "dotted"),
        ):
            rules.append(
                f".outline-{name}{suffix} {{ position: absolute; "
                f"top: {rect.y - PAGE_MARGIN_TOP:.4f}in; left: {rect.x - PAGE_MARGIN_LEFT:.4f}in; "
                f"width: {rect.width:.4f}in; height: {rect.height:.4f}in; "
                f"border: 0.75pt {style} #d00; box-sizing: border-box; }}"
            )
    return "\n".join(rules)
