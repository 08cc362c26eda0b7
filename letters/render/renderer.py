"""Render letters: sandboxed Jinja templates to HTML, then WeasyPrint to PDF bytes.

The stylesheet is parsed once and the font configuration shared across letters; the renderer reads
only files below the templates folder and never the network.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import jinja2
from jinja2 import meta
from pypdf import PdfReader
from weasyprint import CSS, HTML
from weasyprint.formatting_structure.boxes import MarginBox, TextBox
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import FatalURLFetchingError, URLFetcher

from letters.errors import TemplateError
from letters.intake.envelope import DEFAULT_PROFILE, OutputConfig, WindowProfile
from letters.render.geometry import geometry_css, outline_css
from letters.render.pagemarks import page_marks
from letters.render.sandbox import FolderLoader, LimitedSandbox, describe, render_limited

STYLESHEET_NAME = "letter.css"


def default_templates_dir() -> Path:
    """The templates shipped with the package (the repository's top-level `templates/`)."""
    package_dir = Path(__file__).resolve().parent.parent
    for candidate in (package_dir / "templates", package_dir.parent / "templates"):
        if (candidate / STYLESHEET_NAME).is_file():
            return candidate
    raise TemplateError(f"default templates not found next to {package_dir}")


class LocalFileFetcher(URLFetcher):  # type: ignore[misc]
    """A WeasyPrint URL fetcher that serves only `file:` URLs below one folder.

    Every refusal is also kept in `refused` (URL, reason), so that a check can fail on a resource
    that WeasyPrint would otherwise drop with a warning.
    """

    def __init__(self, root_dir: Path) -> None:
        super().__init__(allowed_protocols={"file"}, fail_on_errors=True)
        self._root = root_dir.resolve()
        self.refused: list[tuple[str, str]] = []

    def fetch(self, url: str, headers: Any = None) -> Any:
        """Refuse anything that is not a local file under the templates folder."""
        if not url.startswith("file:"):
            self._refuse(url, "only local files inside the templates folder may be read")
        local = Path(unquote(urlparse(url).path))
        if not local.resolve().is_relative_to(self._root):
            self._refuse(url, "outside the templates folder")
        if any(p.is_symlink() for p in (local, *local.parents) if p.is_relative_to(self._root)):
            self._refuse(url, "a symbolic link")
        return super().fetch(url, headers)

    def _refuse(self, url: str, reason: str) -> None:
        self.refused.append((url, reason))
        raise ValueError(f"{url}: {reason}")

    def last_refusal(self) -> str:
        """`<url>: <reason>` of the latest refused URL, or ''."""
        return ": ".join(self.refused[-1]) if self.refused else ""


def line_of(text: str, candidates: list[Path], root_dir: Path) -> str:
    """`name:line` of the first line among the files that mentions a URL (as written, its path or
    its file name), or ''."""
    path = unquote(urlparse(text).path)
    needles = [n for n in (text, path, Path(path).name) if n]
    for file_path in candidates:
        try:
            lines = file_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for needle in needles:
            for number, line in enumerate(lines, start=1):
                if needle in line:
                    return f"{file_path.relative_to(root_dir)}:{number}"
    return ""


PX_PER_INCH = 96.0  # WeasyPrint lays out in CSS pixels


@dataclass(frozen=True, slots=True)
class TextRun:
    """A piece of text as laid out: its page (0-based) and box in inches from the top-left."""

    page: int
    x: float
    y: float
    width: float
    height: float
    text: str


@dataclass(frozen=True, slots=True)
class RenderedPdf:
    """One letter as PDF bytes, with its page count and the text as laid out on its pages."""

    data: bytes
    pages: int
    runs: tuple[TextRun, ...] = ()
    # linted where it was rendered (a render worker): the findings, and no runs sent back
    lint_failures: tuple[str, ...] | None = None

    @property
    def text(self) -> str:
        """All laid-out text in reading order, one run a line."""
        return "\n".join(run.text for run in self.runs)


def _text_runs(document: Any) -> tuple[TextRun, ...]:
    """Every laid-out piece of text: the flowing body of all pages first, in reading order, then
    the page margins (footers), so that a paragraph running over a page break reads as one."""
    body: list[TextRun] = []
    margins: list[TextRun] = []
    for number, page in enumerate(document.pages):
        for child in page._page_box.children:
            target = margins if isinstance(child, MarginBox) else body
            for box in child.descendants(placeholders=True):
                if isinstance(box, TextBox) and box.text.strip():
                    target.append(TextRun(
                        number, box.position_x / PX_PER_INCH, box.position_y / PX_PER_INCH,
                        box.width / PX_PER_INCH, box.height / PX_PER_INCH, box.text.strip(),
                    ))  # fmt: skip
    return (*body, *margins)


class Renderer:
    """Turns a template name and a context into PDF bytes; safe to reuse for a whole batch."""

    def __init__(
        self,
        templates_dir: Path,
        profile: WindowProfile = DEFAULT_PROFILE,
        output: OutputConfig | None = None,
    ) -> None:
        self.templates_dir = templates_dir.resolve()
        self.profile = profile
        self.output = output or OutputConfig()
        if not (self.templates_dir / STYLESHEET_NAME).is_file():
            raise TemplateError(f"{self.templates_dir}: no {STYLESHEET_NAME} in templates folder")
        self.env = LimitedSandbox(
            loader=FolderLoader(self.templates_dir),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.fetcher = LocalFileFetcher(self.templates_dir)
        self._versions: dict[str, str] = {}
        self.font_config = FontConfiguration()
        stylesheet_path = self.templates_dir / STYLESHEET_NAME
        try:
            main_sheet = CSS(
                filename=str(stylesheet_path),
                font_config=self.font_config,
                url_fetcher=self.fetcher,
            )
        except FatalURLFetchingError:
            refusal = self.fetcher.last_refusal() or "cannot be read"
            where = line_of(refusal.split(": ")[0], [stylesheet_path], self.templates_dir)
            raise TemplateError(
                f"{where or STYLESHEET_NAME}: template resource refused: {refusal}"
            ) from None
        self.stylesheets = [
            main_sheet,
            CSS(string=geometry_css(profile), font_config=self.font_config),
        ]
        self.outline_stylesheet = CSS(string=outline_css(profile), font_config=self.font_config)
        self._blank_page: Any = None

    def check_templates(self, names: list[str]) -> None:
        """Compile each template (and what it includes) so a broken one fails before any letter."""
        for name in names:
            try:
                self.env.get_template(name)
            except jinja2.TemplateNotFound as exc:
                raise TemplateError(f"{name}: template not found: {exc.message}") from None
            except Exception as exc:
                raise TemplateError(describe(exc, self.templates_dir, name)) from None

    def template_exists(self, name: str) -> bool:
        """True when the templates folder has this template."""
        try:
            self.env.get_template(name)
        except jinja2.TemplateNotFound:
            return False
        except jinja2.TemplateSyntaxError:
            return True  # it exists; rendering it reports the error with its line
        return True

    def template_files(self, name: str) -> list[str]:
        """The template and every template it extends or includes, sorted."""
        seen: set[str] = set()
        pending = [name]
        while pending:
            current = pending.pop()
            if current in seen:
                continue
            seen.add(current)
            source = self.env.loader.get_source(self.env, current)[0]  # type: ignore[union-attr]
            pending += [n for n in meta.find_referenced_templates(self.env.parse(source)) if n]
        return sorted(seen)

    def template_version(self, name: str) -> str:
        """A short hash of the template, everything it extends or includes, and the stylesheet."""
        if name not in self._versions:
            digest = hashlib.sha256()
            for part in [*self.template_files(name), STYLESHEET_NAME]:
                digest.update(part.encode() + b"\0" + (self.templates_dir / part).read_bytes())
            self._versions[name] = digest.hexdigest()[:16]
        return self._versions[name]

    def render_html(self, template_name: str, context: dict[str, Any]) -> str:
        """Fill a template; an undefined variable or a runtime error names the template and line."""
        try:
            template = self.env.get_template(template_name)
            defaults = {"preview_outlines": False, "layout_pages": 1, "notice_pages": 1}
            return render_limited(template, {**defaults, **context})
        except Exception as exc:  # template code can raise anything; it is one letter's error
            raise TemplateError(describe(exc, self.templates_dir, template_name)) from None

    def _blank(self) -> Any:
        if self._blank_page is None:
            blank = HTML(string="<html><body></body></html>").render(
                stylesheets=self.stylesheets, font_config=self.font_config
            )
            self._blank_page = blank.pages[0]
        return self._blank_page

    def render_pdf(
        self, html: str, identifier: str, outlines: bool = False, piece_id: str = ""
    ) -> RenderedPdf:
        """Lay out and write one PDF; identical input gives identical bytes.

        With duplex output an odd page count gets a blank back page; `outlines` (previews only)
        draws the envelope windows over the first page; with a `piece_id` every page gets its
        QR code (`pagemarks.py`).
        """
        return self._write(*self._layout(html, outlines), identifier, piece_id)

    def _layout(self, html: str, outlines: bool) -> tuple[Any, tuple[TextRun, ...]]:
        sheets = [*self.stylesheets, self.outline_stylesheet] if outlines else self.stylesheets
        try:
            document = HTML(
                string=html, base_url=str(self.templates_dir) + "/", url_fetcher=self.fetcher
            ).render(stylesheets=sheets, font_config=self.font_config)
        except FatalURLFetchingError as exc:
            refusal = self.fetcher.last_refusal() or str(exc)
            raise TemplateError(f"template resource refused: {refusal}") from None
        return document, _text_runs(document)

    def _write(
        self, document: Any, runs: tuple[TextRun, ...], identifier: str, piece_id: str
    ) -> RenderedPdf:
        if self.output.duplex and len(document.pages) % 2:
            document = document.copy([*document.pages, self._blank()])
        options: dict[str, Any] = {"pdf_identifier": identifier.encode("utf-8")}
        if self.output.pdf_variant:
            options["pdf_variant"] = self.output.pdf_variant
        if piece_id:
            options["finisher"] = page_marks(piece_id)
        try:
            data = document.write_pdf(**options)
        except FatalURLFetchingError as exc:
            refusal = self.fetcher.last_refusal() or str(exc)
            raise TemplateError(f"template resource refused: {refusal}") from None
        return RenderedPdf(data=data, pages=len(document.pages), runs=runs)

    def render(
        self, template_name: str, context: dict[str, Any], identifier: str, outlines: bool = False
    ) -> RenderedPdf:
        """Template to PDF in one call."""
        context = {"preview_outlines": outlines, **context}
        letter = context.get("letter")
        piece_id = str(letter.get("piece_id", "")) if isinstance(letter, dict) else ""
        document, runs = self._layout(self.render_html(template_name, context), outlines)
        if len(document.pages) > 1 and self._uses_page_count(template_name):
            # a template that says "continues on page 2" learns the page count from a first layout
            # (`notice_pages`: of its first notice alone, when a second notice follows in the same
            # envelope, from `layout_marker` on: es/validation.html); only the final one is written
            first = RenderedPdf(data=b"", pages=len(document.pages), runs=runs)
            pages = {
                "layout_pages": first.pages,
                "notice_pages": first_part_pages(first, str(context.get("layout_marker", ""))),
            }
            html = self.render_html(template_name, {**context, **pages})
            document, runs = self._layout(html, outlines)
        return self._write(document, runs, identifier, piece_id)

    def _uses_page_count(self, name: str) -> bool:
        loader = self.env.loader
        assert loader is not None
        return any(
            "layout_pages" in loader.get_source(self.env, part)[0]
            for part in self.template_files(name)
        )


def first_part_pages(pdf: RenderedPdf, marker: str) -> int:
    """The pages before the page that first shows `marker` (where a second notice in the same
    envelope starts); all pages when there is no marker or it is not shown."""
    if marker:
        for run in pdf.runs:
            if marker in run.text:
                return run.page
    return pdf.pages


def pdf_text(data: bytes) -> str:
    """The text of every page of a PDF, for checks and tests."""
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def pdf_fonts(data: bytes) -> dict[str, bool]:
    """Each font used on any page, mapped to whether its program is embedded in the file."""
    fonts: dict[str, bool] = {}
    for page in PdfReader(io.BytesIO(data)).pages:
        resources = page.get("/Resources") or {}
        for font in (resources.get("/Font") or {}).values():
            font = font.get_object()
            descendants = font.get("/DescendantFonts")
            target = descendants[0].get_object() if descendants else font
            descriptor = target.get("/FontDescriptor")
            descriptor = descriptor.get_object() if descriptor else {}
            embedded = any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3"))
            fonts[str(font.get("/BaseFont"))] = embedded
    return fonts
