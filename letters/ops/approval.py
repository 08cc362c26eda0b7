"""Template approval: the hash of everything a letter's wording comes from, approved by a person.

The approved set is every file of the templates folder (templates, partials, the stylesheet), the
state notices data and the policy's wording fields (canonical JSON). `letters templates approve`
records it in the state; a run with `[templates] require_approval = true` refuses a set that
differs from the latest approval, before anything is rendered.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from letters.errors import LettersError, UsageError
from letters.intake.policy import Policy
from letters.render.check import check_templates
from letters.render.proofbook import ProofReport, write_proof
from letters.render.renderer import Renderer
from letters.state import db_path_for, open_store, state_exists
from letters.state.approvals import ApprovalRecord
from letters.state.protocol import StateStore

NOTICES_NAME = "state_notices.toml"  # the notices data, as it is named in an approval
WORDING_NAME = "policy wording"  # the policy's printed fields, as named in an approval
NEXT_STEP = "run letters templates proof, then letters templates approve"


class NotApprovedError(LettersError):
    """`require_approval` is on and the templates differ from the latest approval (exit 1)."""


@dataclass(frozen=True, slots=True)
class FileState:
    """One file of the set: its approved and current SHA-256 ('' where it has none)."""

    name: str
    approved: str
    current: str

    @property
    def state(self) -> str:
        """`approved`, `changed`, `new` (not in the approval) or `removed` (no longer there)."""
        if self.approved == self.current:
            return "approved"
        return "new" if not self.approved else "removed" if not self.current else "changed"


@dataclass(frozen=True, slots=True)
class ApprovalStatus:
    """The latest approval (or None) and every file's state against it."""

    approval: ApprovalRecord | None
    files: tuple[FileState, ...]
    db_path: Path

    @property
    def pending(self) -> tuple[FileState, ...]:
        """The files that differ from the approval (all of them when there is none)."""
        return tuple(f for f in self.files if f.state != "approved")


def policy_wording(policy: Policy) -> dict[str, Any]:
    """The policy fields that are printed in a letter or choose what is printed."""
    return {
        "sender": asdict(policy.sender),
        "intended_actions": list(policy.rules.intended_actions),
        "time_barred": policy.rules.time_barred,
        "validation_extra_days": policy.rules.validation_extra_days,
        "templates": {
            "hardship": policy.templates.hardship,
            "validation": policy.templates.validation,
            "spanish_folder": policy.templates.spanish_folder,
        },
        "stages": [
            {"name": s.name, "template": s.template, "mail_class": s.mail_class}
            for s in policy.stages
        ],
    }


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def template_set(policy: Policy, templates_dir: Path) -> dict[str, str]:
    """Name -> SHA-256 of every file the letters' wording comes from (see the module doc)."""
    root = templates_dir.resolve()
    found = {
        path.relative_to(root).as_posix(): _sha256(path.read_bytes())
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.name.startswith(".")
    }
    notices = resources.files("letters").joinpath(f"data/{NOTICES_NAME}").read_bytes()
    found[NOTICES_NAME] = _sha256(notices)
    wording = json.dumps(policy_wording(policy), sort_keys=True, separators=(",", ":"))
    found[WORDING_NAME] = _sha256(wording.encode("utf-8"))
    return found


def compare(approval: ApprovalRecord | None, current: dict[str, str]) -> tuple[FileState, ...]:
    """Every file of the approval and of the current set, with both hashes."""
    approved = approval.files if approval else {}
    names = sorted(set(approved) | set(current))
    return tuple(FileState(n, approved.get(n, ""), current.get(n, "")) for n in names)


def latest_approval_in(
    db_path: Path, store_factory: Callable[[Path], StateStore] = open_store
) -> ApprovalRecord | None:
    """The newest approval in the state at `db_path`; None (and no database made) without one."""
    if not state_exists(db_path):
        return None
    store = store_factory(db_path)
    try:
        return store.latest_approval()
    finally:
        store.close()


def approved_for_run(
    approval: ApprovalRecord | None, policy: Policy, templates_dir: Path
) -> ApprovalRecord | None:
    """`approval` (the latest) when the current set is exactly what it approved, else None; with
    `require_approval` a set that differs raises `NotApprovedError` naming the changed files."""
    current = template_set(policy, templates_dir)
    if approval is not None and approval.files == current:
        return approval
    if not policy.templates.require_approval:
        return None
    if approval is None:
        raise NotApprovedError(f"templates not approved: no approval on record; {NEXT_STEP}")
    changed = ", ".join(f.name for f in compare(approval, current) if f.state != "approved")
    at = datetime.fromisoformat(approval.approved_at).strftime("%Y-%m-%d %H:%M")
    raise NotApprovedError(
        f"templates not approved: {changed} changed since the approval of {at} by "
        f"{approval.approved_by}; {NEXT_STEP}"
    )


def approve_templates(
    policy: Policy,
    templates_dir: Path,
    by: str,
    note: str,
    db: Path | None,
    out_dir: Path,
    as_of: date | None = None,
    now: Callable[[], datetime] = lambda: datetime.now().astimezone(),
    store_factory: Callable[[Path], StateStore] = open_store,
) -> ApprovalStatus:
    """Check the templates, then record the current set as approved by `by` (with `note`)."""
    if not by.strip():
        raise UsageError("--by: say who approves the templates")
    renderer = Renderer(templates_dir, policy.envelope, policy.output)
    check_templates(renderer, policy, as_of or now().date())
    files = template_set(policy, templates_dir)
    db_path = db_path_for(db, out_dir)
    store = store_factory(db_path)
    try:
        approval = store.add_approval(now().isoformat(timespec="seconds"), by.strip(), note, files)
    finally:
        store.close()
    return ApprovalStatus(approval, compare(approval, files), db_path)


def approval_status(
    policy: Policy,
    templates_dir: Path,
    db: Path | None,
    out_dir: Path,
    store_factory: Callable[[Path], StateStore] = open_store,
) -> ApprovalStatus:
    """The latest approval and, per file, its approved hash against the current one (a state
    that does not exist yet is not made)."""
    db_path = db_path_for(db, out_dir)
    approval = latest_approval_in(db_path, store_factory)
    return ApprovalStatus(approval, compare(approval, template_set(policy, templates_dir)), db_path)


def approval_summary(approval: ApprovalRecord | None) -> dict[str, Any] | None:
    """What summary.json says of the approval a batch's letters were made under."""
    if approval is None:
        return None
    return {
        "id": approval.approval_id,
        "approved_at": approval.approved_at,
        "approved_by": approval.approved_by,
    }


def proof_templates(
    policy: Policy, templates_dir: Path, as_of: date, pdf_path: Path
) -> ProofReport:
    """Write the template proof (every variant with sample data and lint findings) to a PDF."""
    renderer = Renderer(templates_dir, policy.envelope, policy.output)
    title = f"Template proof: {templates_dir}"
    return write_proof(
        renderer, policy, as_of, pdf_path, title, template_set(policy, templates_dir)
    )
