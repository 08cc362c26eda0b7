"""Accountable-mail numbers and postal barcodes: check digits, GS1-128 (IMpb) and Intelligent Mail.

Domestic tracking numbers (PIC) end in a mod-10 check digit (weights 3, 1, ... from the right);
international registered numbers are UPU S10 (`RR123456785US`, mod-11 check digit). The IMpb
barcode is GS1-128 of `420` + destination ZIP, FNC1, then the tracking number (python-barcode);
the Intelligent Mail barcode's bars come from ReportLab's USPS-B-3200 encoder.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from barcode import Gs1_128
from markupsafe import Markup
from reportlab.graphics.barcode.usps4s import USPS_4State

S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
_S10 = re.compile(r"^([A-Z]{2})(\d{8})(\d)([A-Z]{2})$")


def mod10_check_digit(digits: str) -> int:
    """The IMpb check digit of `digits` (the tracking number without its last digit)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def s10_check_digit(serial: str) -> int:
    """The UPU S10 check digit of an 8-digit serial."""
    remainder = sum(int(d) * w for d, w in zip(serial, S10_WEIGHTS, strict=True)) % 11
    return {0: 5, 1: 0}.get(remainder, 11 - remainder)


def valid_article_number(number: str) -> bool:
    """True for a tracking number (20, 22 or 26 digits) or an S10 number, check digit right."""
    if number.isdigit() and len(number) in (20, 22, 26):
        return mod10_check_digit(number[:-1]) == int(number[-1])
    match = _S10.match(number)
    if match is None:
        return False
    return s10_check_digit(match[2]) == int(match[3])


def domestic_number(
    channel: str, service_type: str, mailer_id: str, serial: int, length: int = 22
) -> str:
    """A tracking number: channel, service type, mailer ID, zero-padded serial, check digit."""
    head = f"{channel}{service_type}{mailer_id}"
    body = f"{head}{serial:0{length - 1 - len(head)}d}"
    if len(body) != length - 1:
        raise ValueError(f"serial {serial} does not fit a {length}-digit number after {head}")
    return body + str(mod10_check_digit(body))


def s10_number(prefix: str, serial: int, country: str = "US") -> str:
    """An S10 number such as `RR123456785US`."""
    digits = f"{serial:08d}"
    if len(digits) != 8:
        raise ValueError(f"serial {serial} has more than 8 digits")
    return f"{prefix}{digits}{s10_check_digit(digits)}{country}"


def display_number(number: str) -> str:
    """The number as printed for people: digits in groups of four."""
    if number.isdigit():
        return " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    return number


IMPB_MODULE_MM, IMPB_HEIGHT_MM, IMPB_QUIET_MM, IMPB_MARGIN_MM = 0.33, 12.0, 3.0, 1.0
PX_PER_MM = 96 / 25.4


def _bar_runs(pattern: str) -> Iterator[tuple[int, int]]:
    """(first module, width in modules) of each bar in a 0/1 module pattern."""
    for match in re.finditer("1+", pattern):
        yield match.start(), len(match.group())


def _bars_path(bars: Iterable[tuple[float, float, float, float]], digits: int) -> str:
    """One SVG path for many bars (x, y, width, height): far cheaper to lay out than one element
    each, since every element of an inline SVG is styled like an HTML element."""
    return "".join(
        f"M{x:.{digits}f} {y:.{digits}f}h{w:.{digits}f}v{h:.{digits}f}h-{w:.{digits}f}z"
        for x, y, w, h in bars
    )


def impb_svg(article_number: str, zip5: str) -> Markup:
    """The IMpb GS1-128 barcode (`420` + ZIP, FNC1, tracking number) as inline SVG.

    python-barcode encodes the modules; the bars are drawn as one path where its SVG writer would
    write one rectangle each, at the same places (0.33 mm modules, 12 mm tall, 3 mm quiet zones).
    """
    data = f"420{zip5}{Gs1_128.FNC1_CHAR}{article_number}" if zip5 else article_number
    pattern = Gs1_128(data).build()[0]
    width = len(pattern) * IMPB_MODULE_MM + 2 * IMPB_QUIET_MM
    height = IMPB_HEIGHT_MM + 2 * IMPB_MARGIN_MM
    bars = [
        (
            (IMPB_QUIET_MM + start * IMPB_MODULE_MM) * PX_PER_MM,
            IMPB_MARGIN_MM * PX_PER_MM,
            modules * IMPB_MODULE_MM * PX_PER_MM,
            IMPB_HEIGHT_MM * PX_PER_MM,
        )
        for start, modules in _bar_runs(pattern)
    ]
    path = _bars_path(bars, 3)
    return Markup(
        f'<svg style="width:100%;height:100%" xmlns="http://www.w3.org/2000/svg" '
        f'width="{width:.3f}mm" height="{height:.3f}mm" preserveAspectRatio="none">'
        f'<rect width="100%" height="100%" fill="white"/><path d="{path}" fill="black"/></svg>'
    )


def imb_bars(tracking: str, routing: str) -> str:
    """The 65 bars of an Intelligent Mail barcode: F (full), A (ascender), D (descender), T."""
    return str(USPS_4State(tracking, routing).barcodes)


def imb_svg(tracking: str, routing: str) -> Markup:
    """The Intelligent Mail barcode as inline SVG, 22 bars to the inch, 0.145 in tall."""
    bars = imb_bars(tracking, routing)
    pitch, width, height = 1 / 22, 0.02, 0.145
    tracker, half = 0.05, 0.0475
    rects = []
    for index, bar in enumerate(bars):
        top = 0.0 if bar in "FA" else half
        bottom = height if bar in "FD" else half + tracker
        rects.append((index * pitch, top, width, bottom - top))
    total = (len(bars) - 1) * pitch + width
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {total:.4f} {height}" '
        f'style="width:{total:.4f}in;height:{height}in"><path d="{_bars_path(rects, 4)}"/></svg>'
    )
