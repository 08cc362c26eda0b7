"""Letters the lint held: a reviewer reads the PDF in the batch's `held/` folder, then releases it
(the next run puts the same PDF into its print file, recorded as `released`) or voids it, always
with who and why. The command line's `review held`, `review release` and `review void` call these.
"""

from __future__ import annotations

from datetime import datetime

from letters.review.queue import ReviewError, clean_field
from letters.state.protocol import StateStore
from letters.state.records import HeldLetter

WAITING = ("held", "released")  # released: waiting for the next run to mail it
ALL = ("held", "released", "voided", "mailed")
ACTIONS = {"release": "released", "void": "voided"}


def list_held(store: StateStore, include_done: bool = False) -> list[HeldLetter]:
    """The held letters waiting for a reviewer or for the next run, oldest first (with
    `include_done`, also those voided or mailed)."""
    return store.held_letters(ALL if include_done else WAITING)


def held_letter(store: StateStore, piece_id: str) -> HeldLetter:
    """One held letter, in any status; a `ReviewError` when there is none with this piece id."""
    held = store.held_letter(piece_id)
    if held is None:
        raise ReviewError(f"{piece_id}: no letter held with this piece id", "piece_id")
    return held


def decide_held(
    store: StateStore, piece_id: str, action: str, reviewer: str, note: str, now: datetime
) -> tuple[HeldLetter, bool]:
    """Release or void a held letter, with who and why; the letter as recorded and whether that
    changed anything (the same decision again changes nothing). A letter already mailed or
    voided cannot be decided again."""
    status = ACTIONS.get(action)
    if status is None:
        raise ReviewError(f"decision: {action!r} is not one of {', '.join(ACTIONS)}")
    reviewer = clean_field(reviewer, "reviewer", required=True)
    note = clean_field(note, "note", required=action == "void")
    held = held_letter(store, piece_id)
    if held.status == status and (held.decided_by, held.note) == (reviewer, note):
        return held, False
    if held.status not in WAITING:
        when = f" in batch {held.released_batch}" if held.released_batch else ""
        raise ReviewError(f"{piece_id}: already {held.status}{when}; nothing to decide", "piece_id")
    at = now.isoformat(timespec="seconds")
    if not store.decide_held_letter(piece_id, status, reviewer, at, note):
        raise ReviewError(f"{piece_id}: no longer waiting (a run mailed or voided it)", "piece_id")
    return held_letter(store, piece_id), True
