"""The `letters templates` commands: `proof` every variant, `approve` the set, show its `status`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from letters.cli.options import (
    AsOfOption,
    DbOption,
    PolicyOption,
    StateDirOption,
    TemplatesOption,
    as_of_date,
)
from letters.intake.policy import load_policy
from letters.ops.approval import (
    ApprovalStatus,
    approval_status,
    approve_templates,
    proof_templates,
)
from letters.render.proofbook import ProofReport
from letters.render.renderer import default_templates_dir
from letters.state import shown

ProofOutOption = Annotated[Path, typer.Option("--out", help="The proof PDF to write.")]
ByOption = Annotated[str, typer.Option("--by", help="Who approves the templates (recorded).")]
NoteOption = Annotated[str, typer.Option("--note", help="Why, or what was reviewed (recorded).")]


def proof(
    out: ProofOutOption = Path("proof.pdf"),
    policy: PolicyOption = None,
    templates: TemplatesOption = None,
    as_of: AsOfOption = None,
) -> None:
    """Render every letter variant the policy can produce into one PDF for review.

    Sample data, each variant's lint findings and template hash; read it before approving.

    Example: letters templates proof --out proof.pdf --policy policy.toml
    """
    folder = templates or default_templates_dir()
    _print_proof(proof_templates(load_policy(policy), folder, as_of_date(as_of), out))


def approve(
    by: ByOption,
    note: NoteOption = "",
    policy: PolicyOption = None,
    templates: TemplatesOption = None,
    db: DbOption = None,
    out_dir: StateDirOption = Path("."),
) -> None:
    """Record the current templates, notices and policy wording as approved, in the state.

    The SHA-256 of every file and of the policy's wording, with who approved and when.

    Example: letters templates approve --by "J. Rivera" --note "proof of 2 Dec" --out batches
    """
    folder = templates or default_templates_dir()
    _print_status(approve_templates(load_policy(policy), folder, by, note, db, out_dir))


def status(
    policy: PolicyOption = None,
    templates: TemplatesOption = None,
    db: DbOption = None,
    out_dir: StateDirOption = Path("."),
) -> None:
    """Show the latest approval and, per file, the approved hash against the current one.

    Example: letters templates status --out batches
    """
    folder = templates or default_templates_dir()
    _print_status(approval_status(load_policy(policy), folder, db, out_dir))


def _print_proof(report: ProofReport) -> None:
    typer.echo(
        f"{report.pdf_path}: {len(report.variants)} variants on {report.pages} pages, "
        f"{report.with_findings} with lint findings"
    )
    for variant in report.variants:
        for finding in variant.findings:
            typer.echo(
                f"{variant.template} {variant.stage} {variant.role} {variant.language} "
                f"{variant.mail_class}: {finding}"
            )


def _print_status(found: ApprovalStatus) -> None:
    approval = found.approval
    if approval is None:
        typer.echo(f"{shown(found.db_path)}: no template approval on record")
    else:
        note = f": {approval.note}" if approval.note else ""
        typer.echo(
            f"approval {approval.approval_id} of {approval.approved_at} by "
            f"{approval.approved_by}{note}"
        )
    for item in found.files:
        typer.echo(
            f"{item.state:<8}  {item.name}  approved {item.approved[:16] or '-'}  "
            f"current {item.current[:16] or '-'}"
        )
    typer.echo(f"{len(found.pending)} pending, {len(found.files) - len(found.pending)} approved")
