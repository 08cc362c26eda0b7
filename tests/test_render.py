"""The renderer: reproducible bytes, escaping, embedded fonts, template safety."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from letters.errors import TemplateError
from letters.model import format_money
from letters.render.renderer import Renderer, default_templates_dir, pdf_fonts, pdf_text
from tests.helpers import account, letter_for


def _context(name: str = "Ada Lovelace") -> dict[str, Any]:
    return letter_for([account(full_name=name)])[1].context


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(default_templates_dir())


def test_identical_input_gives_identical_bytes(renderer: Renderer) -> None:
    first = renderer.render("reminder.html", _context(), "P1")
    second = Renderer(default_templates_dir()).render("reminder.html", _context(), "P1")
    assert first.data == second.data
    assert first.pages == 1


def test_data_is_escaped_and_printed_as_written(renderer: Renderer) -> None:
    name = '<b>Bob & "Sue"</b>'
    html = renderer.render_html("reminder.html", _context(name))
    assert "<b>Bob" not in html
    assert name in pdf_text(renderer.render_pdf(html, "P1").data)


def test_fonts_are_embedded(renderer: Renderer) -> None:
    fonts = pdf_fonts(renderer.render("final.html", _context(), "P1").data)
    assert fonts
    assert all(fonts.values()), fonts


def test_undefined_variable_names_the_template(renderer: Renderer) -> None:
    context = _context()
    del context["total_due"]
    with pytest.raises(
        TemplateError, match=r"^reminder\.html:6: template error: 'total_due' is undefined$"
    ):
        renderer.render_html("reminder.html", context)


def test_broken_template_fails_with_name_and_line(tmp_path: Path) -> None:
    for item in default_templates_dir().iterdir():
        if item.is_file():
            (tmp_path / item.name).write_bytes(item.read_bytes())
    (tmp_path / "partials").mkdir()
    (tmp_path / "broken.html").write_text("line one\n{% if %}\n", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"^broken.html:2: template error"):
        Renderer(tmp_path).check_templates(["broken.html"])


def test_network_and_outside_files_are_refused(renderer: Renderer) -> None:
    for url in ("https://example.com/x.png", "file:///etc/passwd"):
        with pytest.raises(ValueError):
            renderer.fetcher.fetch(url)


def test_format_money() -> None:
    from decimal import Decimal

    assert format_money(Decimal("1234.5")) == "$1,234.50"
    assert format_money(Decimal("-3")) == "-$3.00"
    assert format_money(Decimal("7"), "EUR") == "EUR 7.00"
