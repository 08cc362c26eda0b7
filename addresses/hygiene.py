"""Text hygiene at both ends: what comes in (names, address lines) and what goes out (CSV cells).

In: control characters and bidirectional controls in a name or an address line reject the row
(they can make text print in another order: data `HTIMS` shown as `SMITH`), while the harmless
cases are normalised: a line break or tab becomes a space and zero-width characters are removed.
Address lines holding characters no postal address has (`=`, `{`, `<`, `|`, `$` ...) fail the
standardizer's hard check `characters`.

Out: `spreadsheet_safe` makes a cell that a spreadsheet would run as a formula inert (OWASP's CSV
injection guidance: a leading `'`). Every CSV written for people goes through it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence

from addresses.csvio import RowError

# A spreadsheet runs a cell starting with one of these as a formula (OWASP); the full-width forms
# are read as the same by some spreadsheets.
FORMULA_STARTS = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")
# A plain number (a negative amount like -12.00) is a number to a spreadsheet, never a formula:
# it stays as it is, so amount columns still sum.
PLAIN_NUMBER = re.compile(r"-?(?:[0-9]+|[0-9]{1,3}(?:,[0-9]{3})+)(?:\.[0-9]+)?\Z")

BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff")
LINE_BREAKS = frozenset("\t\n\r\x0b\x0c\x85\u2028\u2029")
# Anything worth a second look; text without any of these is returned untouched (the fast path).
_SUSPECT = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2028\u2029\u2060-\u2064\u2066-\u2069"
    "\ufeff]"
)
# Characters no postal address line has. Legitimate and kept: # / - & ' . , ( ) : % (`%` is an
# old "care of" sign) and @ (rare, but harmless once the CSV cell is made safe).
ADDRESS_FORBIDDEN = "={}<>|+\\^~`[];$*!?"
# ... nor does it have control or bidirectional characters (line breaks and zero-width characters
# are only spacing: the standardizer drops them, as `clean_text` does).
_ADDRESS_BAD = re.compile(
    "[" + re.escape(ADDRESS_FORBIDDEN) + "\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u061c\u200e\u200f"
    "\u202a-\u202e\u2066-\u2069]"
)


def spreadsheet_safe(cell: str) -> str:
    """`cell` made inert for a spreadsheet: a leading `'` when it would start a formula (a plain
    number such as `-12.00` stays a number)."""
    if cell and cell[0] in FORMULA_STARTS and not PLAIN_NUMBER.match(cell):
        return "'" + cell
    return cell


def spreadsheet_safe_rows(rows: Iterable[Sequence[str]]) -> Iterator[list[str]]:
    """Each row's cells through `spreadsheet_safe`, lazily (a big file never sits in memory)."""
    for row in rows:
        yield [spreadsheet_safe(str(cell)) for cell in row]


def char_name(char: str) -> str:
    """`U+202E RIGHT-TO-LEFT OVERRIDE`, or just `U+0007` for a character without a name."""
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X} {name}" if name else f"U+{ord(char):04X}"


def clean_text(value: str, field_name: str) -> str:
    """A name or an address line, safe to print: raise `RowError` on a control or bidirectional
    control character; turn line breaks and tabs into one space; drop zero-width characters."""
    if not _SUSPECT.search(value):
        return value
    for char in value:
        if char in BIDI_CONTROLS:
            raise RowError(
                field_name,
                f"contains a bidirectional control character ({char_name(char)}):"
                " the text could print in another order than it is stored",
            )
        if char not in LINE_BREAKS and char not in ZERO_WIDTH and _SUSPECT.match(char):
            raise RowError(field_name, f"contains a control character ({char_name(char)})")
    kept = "".join(char for char in value if char not in ZERO_WIDTH)
    if any(char in LINE_BREAKS for char in kept):
        kept = " ".join(kept.split())
    return kept


def address_characters(fields: dict[str, str]) -> tuple[bool, str]:
    """The `characters` check of an address: (passed, detail). Fails when a line holds a character
    no address has (`=1+1 Main`, `{{ 7*7 }} Elm St`) or an invisible or control character."""
    found = [
        f"{name} has "
        + " ".join(_shown(char) for char in dict.fromkeys(_ADDRESS_BAD.findall(text)))
        for name, text in fields.items()
        if _ADDRESS_BAD.search(text)
    ]
    if found:
        return False, "; ".join(found) + ": no address has these"
    return True, "letters, digits and address punctuation only"


def _shown(char: str) -> str:
    return repr(char) if char.isprintable() and not _SUSPECT.match(char) else char_name(char)
