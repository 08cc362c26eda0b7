"""Envelope window geometry, in inches from the top-left of the letter's first page.

The positions of everything that shows through a window are generated from the profile as CSS, so
an operator changes envelopes in the policy (`[envelope]`), not in the stylesheet.
"""

from __future__ import annotations

from letters.intake.envelope import (
    FOLD_PANEL,
    PAGE_MARGIN_LEFT,
    PAGE_MARGIN_TOP,
    Rect,
    WindowProfile,
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
