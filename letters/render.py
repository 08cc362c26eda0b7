"""Render letters: sandboxed Jinja templates to HTML, then WeasyPrint to PDF bytes.

The stylesheet is parsed once and the font configuration shared across letters; the renderer reads
only files below the templates folder and never the network.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from pypdf import PdfReader
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import FatalURLFetchingError, URLFetcher

from letters.errors import TemplateError

STYLESHEET_NAME = "letter.css"


def default_templates_dir() -> Path:
    """The templates shipped with the package (the repository's top-level `templates/`)."""
    package_dir = Path(__file__).resolve().parent
    for candidate in (package_dir / "templates", package_dir.parent / "templates"):
        if (candidate / STYLESHEET_NAME).is_file():
            return candidate
    raise TemplateError(f"default templates not found next to {package_dir}")


def format_money(amount: Decimal, currency: str = "USD") -> str:
    """`$1,234.56` for USD, `EUR 1,234.56` otherwise; negative amounts with a minus sign."""
    sign = "-" if amount < 0 else ""
    figure = f"{abs(amount):,.2f}"
    return f"{sign}${figure}" if currency == "USD" else f"{sign}{currency} {figure}"


class LocalFileFetcher(URLFetcher):  # type: ignore[misc]
    """A WeasyPrint URL fetcher that serves only `file:` URLs below one folder."""

    def __init__(self, root_dir: Path) -> None:
        super().__init__(allowed_protocols={"file"}, fail_on_errors=True)
        self._root = root_dir.resolve()

    def fetch(self, url: str, headers: Any = None) -> Any:
        """Refuse anything that is not a local file under the templates folder."""
        if not url.startswith("file:"):
            raise ValueError(f"only local template files may be read, not {url}")
        local = Path(unquote(urlparse(url).path)).resolve()
        if not local.is_relative_to(self._root):
            raise ValueError(f"{local} is outside the templates folder")
        return super().fetch(url, headers)


@dataclass(frozen=True, slots=True)
class RenderedPdf:
    """One letter as PDF bytes, with its page count."""

    data: bytes
    pages: int


class Renderer:
    """Turns a template name and a context into PDF bytes; safe to reuse for a whole batch."""

    def __init__(self, templates_dir: Path) -> None:
        self.templates_dir = templates_dir.resolve()
        if not (self.templates_dir / STYLESHEET_NAME).is_file():
            raise TemplateError(f"{self.templates_dir}: no {STYLESHEET_NAME} in templates folder")
        self.env = SandboxedEnvironment(
            loader=jinja2.FileSystemLoader(self.templates_dir),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.fetcher = LocalFileFetcher(self.templates_dir)
        self.font_config = FontConfiguration()
        self.stylesheet = CSS(
            filename=str(self.templates_dir / STYLESHEET_NAME),
            font_config=self.font_config,
            url_fetcher=self.fetcher,
        )

    def check_templates(self, names: list[str]) -> None:
        """Compile each template (and what it includes) so a broken one fails before any letter."""
        for name in names:
            try:
                self.env.get_template(name)
            except jinja2.TemplateSyntaxError as exc:
                raise TemplateError(
                    f"{exc.name or name}:{exc.lineno}: template error: {exc.message}"
                ) from None
            except jinja2.TemplateNotFound as exc:
                raise TemplateError(f"{name}: template not found: {exc.name}") from None

    def render_html(self, template_name: str, context: dict[str, Any]) -> str:
        """Fill a template; an undefined variable or a runtime error names the template and line."""
        try:
            return self.env.get_template(template_name).render(context)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"{exc.name}:{exc.lineno}: template error: {exc.message}") from None
        except jinja2.TemplateError as exc:
            raise TemplateError(f"{template_name}: template error: {exc}") from None

    def render_pdf(self, html: str, identifier: str) -> RenderedPdf:
        """Lay out and write one PDF; identical input gives identical bytes."""
        try:
            document = HTML(
                string=html, base_url=str(self.templates_dir) + "/", url_fetcher=self.fetcher
            ).render(stylesheets=[self.stylesheet], font_config=self.font_config)
            data = document.write_pdf(pdf_identifier=identifier.encode("utf-8"))
        except FatalURLFetchingError as exc:
            raise TemplateError(f"template resource refused: {exc}") from None
        return RenderedPdf(data=data, pages=len(document.pages))

    def render(self, template_name: str, context: dict[str, Any], identifier: str) -> RenderedPdf:
        """Template to PDF in one call."""
        return self.render_pdf(self.render_html(template_name, context), identifier)


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
