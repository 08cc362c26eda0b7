"""The letter that would go to a held debtor if the reviewer chose an address: rendered as a
preview (sample postal marks, nothing recorded), as the review commands and page show it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from addresses.model import AddressChoice, ChoiceStatus, PostalAddress
from letters.decide.gates import decide_customer
from letters.intake.policy import Policy
from letters.render.preview import PreviewError, PreviewFiles, write_preview
from letters.render.renderer import Renderer
from letters.review.queue import ReviewItem
from letters.state.protocol import StateStore


def would_go(
    store: StateStore,
    item: ReviewItem,
    address: PostalAddress,
    policy: Policy,
    templates_dir: Path,
    out_dir: Path,
) -> PreviewFiles:
    """Render the letter the debtor would get on the run date that held them, were `address`
    chosen, to `out_dir` (a PDF and a PNG per page). `PreviewError` when no letter would go."""
    choice = AddressChoice(
        item.customer_id, ChoiceStatus.SELECTED, address, 1.0, ("reviewer",),
        reasons=("selected: chosen by a reviewer",),
    )  # fmt: skip
    renderer = Renderer(templates_dir, policy.envelope, policy.output)
    outcome = decide_customer(
        list(item.accounts),
        choice,
        policy,
        date.fromisoformat(item.entry.as_of),
        store.history(item.customer_id, ""),
        renderer.template_exists,
    )
    letter = next((lt for lt in outcome.letters if lt.recipient.role == "debtor"), None)
    if letter is None:
        why = "; ".join(sorted({f"{d.reason_code}: {d.reason_detail}" for d in outcome.decisions}))
        raise PreviewError(f"{item.customer_id}: no letter would go ({why or 'no accounts'})")
    return write_preview(
        renderer, policy, letter, choice, out_dir, f"{item.customer_id}-would-go", False
    )
