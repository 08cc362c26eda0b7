"""The template proof: every letter variant the policy can produce, with sample data and its lint
findings, in one PDF a reviewer reads before approving the templates.

A variant is a template at a stage, for one recipient role, language and mail class. The proof
opens with contents pages (the files it was made from with their SHA-256; each variant, its page
in the proof, its template hash and its lint findings), then each variant's pages, with a bookmark
per variant.
"""

from __future__ import annotations

import html
import io
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from pypdf import PdfReader, PdfWriter
from weasyprint import HTML

from addresses.standardize import standardize
from letters.fsutil import write_bytes_atomic
from letters.intake.policy import Policy, Stage
from letters.model import LetterSpec
from letters.render.check import Sample, check_templates, sample_marks, samples
from letters.render.content import letter_content
from letters.render.pool import BatchRenderer, RenderFailure, RenderJob
from letters.render.renderer import Renderer

FOREIGN = standardize("10 Downing Street", "", "London", "", "SW1A 2AA", "GB").postal_address()
NO_FINDINGS = "no findings"
COLUMNS = ("#", "template", "stage", "role", "language", "mail class", "page", "template hash",
           "lint findings")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Variant:
    """One letter variant of the proof, rendered: where it starts and what the lint found."""

    template: str
    stage: str
    role: str
    language: str
    mail_class: str
    template_hash: str
    pages: int
    first_page: int  # 1-based, in the proof
    findings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ProofReport:
    """What `write_proof` wrote."""

    pdf_path: Path
    pages: int
    variants: tuple[Variant, ...]

    @property
    def with_findings(self) -> int:
        """How many variants the lint found something in."""
        return sum(1 for variant in self.variants if variant.findings)


def _stages_for(policy: Policy, sample: Sample) -> list[Stage]:
    """The stages at which a sample's template can go: its own stage, or any stage for the
    hardship letter and the validation notice."""
    english = sample.template.removeprefix(f"{policy.templates.spanish_folder}/")
    if sample.letter.kind != "demand":
        return list(policy.stages)
    return [stage for stage in policy.stages if stage.template == english] or [sample.letter.stage]


def proof_samples(renderer: Renderer, policy: Policy, as_of: date) -> Iterator[tuple[str, Sample]]:
    """(policy stage name, sample) for every template x stage x role x language x mail class; a
    registered-mail variant goes to a foreign address (as the decisions send it)."""
    for sample in samples(renderer, policy, policy.all_templates(), as_of):
        for stage in _stages_for(policy, sample):
            classes = dict.fromkeys((stage.mail_class, "registered"))
            for mail_class in classes:
                recipient = sample.letter.recipient
                if mail_class != stage.mail_class:
                    recipient = replace(recipient, address=FOREIGN)
                name = "validation" if sample.letter.kind == "validation" else stage.name
                letter = replace(
                    sample.letter,
                    stage=replace(stage, name=name),
                    mail_class=mail_class,
                    recipient=recipient,
                )
                yield stage.name, replace(sample, letter=letter)


def _row(number: int, v: Variant) -> str:
    cells = (number, v.template, v.stage, v.role, v.language, v.mail_class, v.first_page,
             v.template_hash)  # fmt: skip
    findings = "<br>".join(html.escape(f) for f in v.findings) or NO_FINDINGS
    escaped = "".join(f"<td>{html.escape(str(cell))}</td>" for cell in cells)
    return f"<tr>{escaped}<td>{findings}</td></tr>"


def _files_html(files: dict[str, str]) -> str:
    """The files the proof was made from, with the SHA-256 an approval records for each."""
    if not files:
        return ""
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td class=hash>{digest}</td></tr>"
        for name, digest in sorted(files.items())
    )
    return (
        "<p>Made from these files (SHA-256, as <code>letters templates approve</code> records"
        f" them):</p><table class=files><tbody>{rows}</tbody></table>"
    )


def _contents_html(variants: list[Variant], title: str, files: dict[str, str]) -> str:
    rows = "".join(_row(number, v) for number, v in enumerate(variants, start=1))
    head = "".join(f"<th>{name}</th>" for name in COLUMNS)
    return (
        "<html><head><style>@page { size: letter landscape; margin: 0.5in }"
        " body { font-family: DejaVu Sans, sans-serif; font-size: 7.5pt }"
        " table { border-collapse: collapse; width: 100% }"
        " th, td { border: 0.5pt solid #888; padding: 2pt 3pt; text-align: left;"
        " vertical-align: top } td:nth-child(8), .hash { font-family: DejaVu Sans Mono, monospace }"
        " table.files { width: auto; margin-bottom: 12pt }"
        "</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p>{len(variants)} variants, with sample data. Each variant's pages follow in this order."
        f"</p>{_files_html(files)}"
        f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></body></html>"
    )


def _contents(variants: list[Variant], title: str, files: dict[str, str]) -> bytes:
    """The contents pages; the variants' page numbers count them, so lay out until they agree."""
    offset = 1
    while True:
        placed, page = [], offset
        for variant in variants:
            placed.append(replace(variant, first_page=page + 1))
            page += variant.pages
        document = HTML(string=_contents_html(placed, title, files)).render()
        if len(document.pages) == offset:
            variants[:] = placed
            return bytes(document.write_pdf())
        offset = len(document.pages)


def write_proof(
    renderer: Renderer,
    policy: Policy,
    as_of: date,
    pdf_path: Path,
    title: str = "",
    files: dict[str, str] | None = None,
    jobs: int | None = None,
) -> ProofReport:
    """Check the templates, then render every variant with sample data and its lint findings
    into one PDF at `pdf_path`: a contents page (with `files`, name -> SHA-256, when given), then
    each variant's pages. The variants are rendered by `jobs` worker processes (default: one a
    core)."""
    check_templates(renderer, policy, as_of)
    planned: list[tuple[str, LetterSpec, RenderJob]] = []
    for stage_name, sample in proof_samples(renderer, policy, as_of):
        letter = sample.letter
        marks = sample_marks(letter, sample.policy)
        content = letter_content("PROOF", sample.policy, letter, sample.choice, marks)
        job = RenderJob(letter.template, content.context, "PROOF", content.lint)
        planned.append((stage_name, letter, job))
    # the variants are laid out (and linted) side by side, as a run's letters are
    rendered: list[tuple[Variant, bytes]] = []
    with BatchRenderer(renderer.templates_dir, renderer.profile, renderer.output, jobs) as pool:
        outcomes = pool.render_all(job for _, _, job in planned)
        for (stage_name, letter, _), pdf in zip(planned, outcomes, strict=True):
            if isinstance(pdf, RenderFailure):  # the first error stops the proof, at its line
                raise pdf.error(letter.template)
            variant = Variant(
                letter.template, stage_name, letter.recipient.role, letter.language,
                letter.mail_class, renderer.template_version(letter.template), pdf.pages, 0,
                pdf.lint_failures or (),
            )  # fmt: skip
            rendered.append((variant, pdf.data))
    variants = [variant for variant, _ in rendered]
    title = title or f"Template proof: {renderer.templates_dir}"
    contents = _contents(variants, title, files or {})
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(contents)))
    for variant, (_, data) in zip(variants, rendered, strict=True):
        writer.append(PdfReader(io.BytesIO(data)))
        label = " · ".join((variant.template, variant.stage, variant.role, variant.mail_class))
        writer.add_outline_item(title=label, page_number=variant.first_page - 1)
    buffer = io.BytesIO()
    writer.write(buffer)
    write_bytes_atomic(pdf_path, buffer.getvalue())
    return ProofReport(pdf_path, len(writer.pages), tuple(variants))
