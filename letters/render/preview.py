"""Previews for template authors: one account or one template to a PDF and a PNG of each page.

A preview never opens the batch state and never takes an article number: its postal marks are
fixed example numbers, so nothing it does can reach the mail.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import pypdfium2

from addresses.model import AddressChoice
from letters.decide.gates import decide_customer
from letters.decide.plan import resolve_addresses
from letters.errors import LettersError, UsageError
from letters.fsutil import make_private_dir, write_bytes_atomic
from letters.intake.accounts import account_from_values
from letters.intake.policy import Policy
from letters.intake.request import RunRequest
from letters.intake.sources import load_inputs
from letters.model import History, LetterSpec
from letters.render.check import (
    SAMPLE_ACCOUNT,
    check_templates,
    collector_policy,
    sample_choice,
    sample_marks,
    template_kind,
)
from letters.render.content import letter_content
from letters.render.renderer import Renderer


class PreviewError(LettersError):
    """The account gets no letter, or the template cannot be previewed."""


@dataclass(frozen=True, slots=True)
class PreviewFiles:
    """What a preview wrote."""

    pdf_path: Path
    png_paths: tuple[Path, ...]
    pages: int
    lint: tuple[str, ...]


def write_preview(renderer: Renderer, policy: Policy, letter: LetterSpec, choice: AddressChoice,
           out_dir: Path, name: str, outlines: bool) -> PreviewFiles:  # fmt: skip
    """Render one letter as a preview (sample postal marks) to `out_dir`/`name`.pdf and a PNG of
    each page, with the lint's findings."""
    from letters.render.lint import lint_letter

    content = letter_content("PREVIEW", policy, letter, choice, sample_marks(letter, policy))
    pdf = renderer.render(letter.template, content.context, "PREVIEW", outlines=outlines)
    make_private_dir(out_dir)
    pdf_path = out_dir / f"{name}.pdf"
    write_bytes_atomic(pdf_path, pdf.data)
    pngs = []
    document = pypdfium2.PdfDocument(pdf.data)
    for number in range(len(document)):
        image = document[number].render(scale=110 / 72).to_pil()
        png_path = out_dir / f"{name}-{number + 1}.png"
        image.save(png_path)
        png_path.chmod(0o600)
        pngs.append(png_path)
    failures = () if outlines else tuple(lint_letter(pdf.runs, content.lint, policy.envelope))
    return PreviewFiles(pdf_path, tuple(pngs), pdf.pages, failures)


def preview_account(
    request: RunRequest, account_id: str, out_dir: Path, outlines: bool
) -> PreviewFiles:
    """Render the letter one account would get tonight (no history: as if it were the first)."""
    inputs = load_inputs(request)
    accounts, records = inputs.accounts, inputs.records
    target = next((a for a in accounts if a.account_id == account_id), None)
    if target is None:
        raise UsageError(
            f"--account: {account_id!r} is not a readable row of {request.accounts_path.name}"
        )
    mine = [a for a in accounts if a.customer_id == target.customer_id]
    choice = resolve_addresses(request, records, {target.customer_id})[target.customer_id]
    renderer = Renderer(request.templates_dir, request.policy.envelope, request.policy.output)
    outcome = decide_customer(
        mine, choice, request.policy, request.as_of, History(), renderer.template_exists
    )
    letter = next(
        (
            lt
            for lt in outcome.letters
            if any(d.account.account_id == account_id for d in lt.decisions)
        ),
        None,
    )
    if letter is None:
        decision = next(d for d in outcome.decisions if d.account.account_id == account_id)
        raise PreviewError(
            f"{account_id}: no letter: {decision.reason_code}: {decision.reason_detail}"
        )
    check_templates(renderer, request.policy, request.as_of, [letter.template])
    return write_preview(renderer, request.policy, letter, choice, out_dir, account_id, outlines)


def preview_template(policy: Policy, templates_dir: Path, template: str, as_of: date, out_dir: Path,
                     outlines: bool) -> PreviewFiles:  # fmt: skip
    """Render any template with sample data (a sample debtor in Chicago)."""
    renderer = Renderer(templates_dir, policy.envelope, policy.output)
    if not renderer.template_exists(template):
        raise UsageError(f"--template: no template {template!r} in {templates_dir}")
    check_templates(renderer, policy, as_of, [template])
    sample = dict(
        SAMPLE_ACCOUNT,
        language="es" if template.startswith(f"{policy.templates.spanish_folder}/") else "en",
    )
    account = account_from_values(sample, 0)
    choice = sample_choice()
    kind = template_kind(policy, template)
    as_policy = collector_policy(policy) if kind == "validation" else policy
    stem = Path(template).name
    outcome = decide_customer([account], choice, as_policy, as_of, History(), lambda _name: False)
    if not outcome.letters:
        raise PreviewError(f"the sample account gets no letter on {as_of}: pick another --as-of")
    letter = replace(outcome.letters[0], template=template, language=sample["language"], kind=kind)
    return write_preview(
        renderer, as_policy, letter, choice, out_dir, stem.removesuffix(".html"), outlines
    )
