"""The template check before any letter (issue 13, defect 6 and the template parts of defect 9):
every planted template problem stops `letters run` with one `Error: <file>:<line>: ...` line and
exit 1, with nothing rendered; the loader, the sandbox limits and `preview` (with `--watch`)."""

from __future__ import annotations

import shutil
import time
from dataclasses import replace
from pathlib import Path

import pytest
from jinja2.exceptions import SecurityError
from typer.testing import CliRunner

from letters.cli.app import app
from letters.errors import TemplateError
from letters.intake.policy import Policy, load_policy
from letters.render.check import check_templates, collector_policy, samples
from letters.render.renderer import Renderer, default_templates_dir
from letters.render.sandbox import MAX_OUTPUT
from tests.helpers import AS_OF, WriteCsv, cli_args, error_lines, run_in_process

runner = CliRunner()

CLASS_ESCAPE = (
    "base.html:12: template error: access to attribute '__class__' of 'str' object is unsafe."
)
OUTSIDE = "outside the templates folder"
PLANTS = {
    "class_escape": ("base.html", 12, "{{ ''.__class__ }}", CLASS_ESCAPE),
    "img_outside": ("base.html", 12, '<img src="file:///etc/passwd">',
                    f"base.html:12: template resource refused: file:///etc/passwd: {OUTSIDE}"),
    "include_dotdot": ("base.html", 12, "{% include '../../etc/passwd' %}",
                       "base.html:12: template error: template not found: ../../etc/passwd "
                       "(refused: '..' in the name)"),
    "missing_include": ("partials/itemization.html", 1, "{% include 'partials/nothing.html' %}",
                        "partials/itemization.html:1: template error: template not found: "
                        "partials/nothing.html"),
    "big_range": ("base.html", 12, "{% for i in range(100000) %}{% endfor %}",
                  "base.html:12: template error: range() of 100,000 items: at most 10,000 allowed"),
    "big_string": ("base.html", 12, "{{ 'A'*100000000 }}",
                   "base.html:12: template error: '*' would build 100,000,000 items: "
                   "at most 100,000 allowed"),
    "recursive_macro": ("base.html", 12, "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
                        "base.html:12: template error: recursion too deep "
                        "(a macro or include that calls itself?)"),
    "syntax_error": ("reminder.html", 12, "<p>{{ total_due( }}</p>",
                     "reminder.html:12: template error: unexpected '}', expected ')'"),
    "font_outside": ("letter.css", 5, "@font-face { font-family: X; src: url(file:///etc/x.ttf); }",
                     f"letter.css:5: template resource refused: file:///etc/x.ttf: {OUTSIDE}"),
}  # fmt: skip


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    """A copy of the shipped templates to plant problems in."""
    return Path(shutil.copytree(default_templates_dir(), tmp_path / "templates"))


def plant(templates_dir: Path, name: str, line: int, text: str) -> None:
    """Insert `text` as line `line` of a template file."""
    path = templates_dir / name
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(line - 1, text)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def nothing_written(tmp_path: Path, out: Path) -> bool:
    """No batch folder under `out` and no PDF anywhere."""
    folders = [p for p in out.iterdir() if p.is_dir()] if out.exists() else []
    return not folders and not list(tmp_path.rglob("*.pdf"))


def _check(templates_dir: Path, policy: Policy | None = None, **limits: float) -> None:
    policy = policy or load_policy(None)
    check_templates(Renderer(templates_dir), policy, AS_OF, **limits)  # type: ignore[arg-type]


def test_shipped_templates_pass_the_check_for_every_variant() -> None:
    policy = load_policy(None)
    renderer = Renderer(default_templates_dir())
    check_templates(renderer, policy, AS_OF)
    variants = {(s.template, s.letter.recipient.role) for s in samples(renderer, policy, policy.all_templates(), AS_OF)}  # fmt: skip
    for template in (
        "reminder.html",
        "notice.html",
        "final.html",
        "hardship.html",
        "es/final.html",
    ):
        for role in ("debtor", "attorney", "representative"):
            assert (template, role) in variants


@pytest.mark.parametrize("case", sorted(PLANTS))
def test_planted_problem_stops_the_run_before_any_letter(
    case: str, templates: Path, tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    name, line, text, message = PLANTS[case]
    plant(templates, name, line, text)
    out = tmp_path / "out"
    args = cli_args(write_accounts({}), [write_sources({})], out, "--templates", str(templates))
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert error_lines(result.stderr) == [f"Error: {message}"]
    assert "Traceback" not in result.output
    assert nothing_written(tmp_path, out)


@pytest.mark.parametrize("case", ["class_escape", "img_outside", "include_dotdot"])
def test_run_batch_raises_template_error_in_process(
    case: str, templates: Path, tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    name, line, text, message = PLANTS[case]
    plant(templates, name, line, text)
    out = tmp_path / "out"
    with pytest.raises(TemplateError) as caught:
        run_in_process(write_accounts({}), [write_sources({})], out, templates=templates)
    assert str(caught.value) == message
    assert nothing_written(tmp_path, out)


def test_a_problem_only_in_an_attorneys_letter_is_found(templates: Path) -> None:
    plant(templates, "base.html", 12, "{% if recipient.role == 'attorney' %}{{ ''.__class__ }}{% endif %}")  # fmt: skip
    with pytest.raises(TemplateError, match=r"^base\.html:12: template error: access"):
        _check(templates)


def test_a_problem_only_in_a_spanish_template_is_found(templates: Path) -> None:
    plant(templates, "es/notice.html", 4, "{{ ''.__class__ }}")
    with pytest.raises(TemplateError, match=r"^es/notice\.html:4: template error: access"):
        _check(templates)


def test_validation_template_is_checked_for_a_debt_collector(templates: Path) -> None:
    plant(templates, "validation.html", 5, "{{ ''.__class__ }}")
    _check(templates)  # a creditor never sends it
    with pytest.raises(TemplateError, match=r"^validation\.html:5: template error: access"):
        _check(templates, collector_policy(load_policy(None)))


def test_a_loop_too_long_hits_the_time_limit_at_its_line(templates: Path) -> None:
    plant(templates, "base.html", 12, "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}")  # fmt: skip
    started = time.perf_counter()
    with pytest.raises(TemplateError) as caught:
        _check(templates, seconds=1.0)
    assert str(caught.value) == (
        "base.html:12: template error: took longer than the check's 1 s (a loop too long?)"
    )
    assert time.perf_counter() - started < 8


def test_a_memory_hog_hits_the_memory_limit(templates: Path) -> None:
    plant(templates, "base.html", 12, "{{ 'A'|center(900000000) }}")
    with pytest.raises(TemplateError, match=r"(out of memory|process died)"):
        _check(templates, memory_bytes=512 << 20)


def test_output_over_the_limit_is_refused(templates: Path) -> None:
    renderer = Renderer(templates)
    (templates / "huge.html").write_text(
        "{% for i in range(10000) %}{{ 'A' * 1000 }}{% endfor %}", encoding="utf-8"
    )
    with pytest.raises(TemplateError, match=f"over {MAX_OUTPUT:,} characters"):
        renderer.render_html("huge.html", {})


def test_range_multiplication_and_power_limits() -> None:
    env = Renderer(default_templates_dir()).env
    assert env.from_string("{{ range(10000)|length }}").render() == "10000"
    assert env.from_string("{{ ('A' * 100000)|length }}").render() == "100000"
    assert env.from_string("{{ 2 ** 10 }}").render() == "1024"
    for source in ("{{ range(10001)|length }}", "{{ 'A' * 100001 }}", "{{ 100001 * 'A' }}",
                   "{{ [1] * 200000 }}", "{{ 2 ** 100000 }}"):  # fmt: skip
        with pytest.raises(SecurityError):
            env.from_string(source).render()


def test_loader_refuses_symlinks_inside_the_folder(templates: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET", encoding="utf-8")
    (templates / "partials" / "evil.html").symlink_to(secret)
    (templates / "linked").symlink_to(tmp_path)  # a linked folder
    (templates / "partials" / "alias.html").symlink_to(templates / "partials" / "itemization.html")
    renderer = Renderer(templates)
    for name, link in [("partials/evil.html", "evil.html"), ("linked/secret.txt", "linked"),
                       ("partials/alias.html", "alias.html")]:  # fmt: skip
        (templates / "probe.html").write_text(f"{{% include '{name}' %}}", encoding="utf-8")
        with pytest.raises(TemplateError) as caught:
            renderer.render_html("probe.html", {})
        assert str(caught.value) == (
            f"probe.html:1: template error: template not found: {name} "
            f"(refused: {link} is a symbolic link)"
        )
        renderer.env.cache.clear()  # type: ignore[union-attr]
    assert "partials/evil.html" not in renderer.env.list_templates()
    plant(templates, "base.html", 12, "{% include 'partials/evil.html' %}")
    with pytest.raises(TemplateError, match=r"^base\.html:12: .*evil\.html is a symbolic link"):
        _check(templates)


def test_fetcher_records_what_it_refuses(templates: Path) -> None:
    renderer = Renderer(templates)
    for url in ("https://example.com/x.png", "file:///etc/passwd"):
        with pytest.raises(ValueError):
            renderer.fetcher.fetch(url)
    assert [url for url, _reason in renderer.fetcher.refused] == [
        "https://example.com/x.png",
        "file:///etc/passwd",
    ]


@pytest.mark.parametrize("case", ["syntax_error", "big_string"])  # big_string: once 10 GB
def test_preview_prints_one_error_line(case: str, templates: Path, tmp_path: Path) -> None:
    name, line, text, message = PLANTS[case]
    plant(templates, name, line, text)
    args = ["preview", "--template", "reminder.html", "--templates", str(templates),
            "--out", str(tmp_path / "preview"), "--as-of", "2026-11-20"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == [f"Error: {message}"]
    assert not (tmp_path / "preview").exists()


@pytest.mark.parametrize("case", ["syntax_error", "recursive_macro", "font_outside"])
def test_preview_watch_prints_the_error_and_keeps_watching(
    case: str, templates: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, line, text, message = PLANTS[case]
    plant(templates, name, line, text)

    def stop(_seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("letters.cli.workspace.time.sleep", stop)
    args = ["preview", "--template", "reminder.html", "--templates", str(templates),
            "--out", str(tmp_path / "preview"), "--as-of", "2026-11-20", "--watch"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [f"Error: {message}"]
    assert "watching" in result.stdout


def test_check_passes_a_spanish_only_policy_name(templates: Path) -> None:
    policy = load_policy(None)
    renderer = Renderer(templates)
    found = samples(renderer, policy, ["es/final.html"], AS_OF)
    assert {s.letter.language for s in found} == {"es"}
    check_templates(renderer, replace(policy), AS_OF, ["es/final.html"])


def test_a_passed_check_is_not_reused_once_a_template_changes(tmp_path: Path) -> None:
    templates_dir = tmp_path / "templates"
    shutil.copytree(default_templates_dir(), templates_dir)
    policy = load_policy(None)
    check_templates(Renderer(templates_dir), policy, AS_OF)  # passes, and is remembered
    base = templates_dir / "base.html"
    base.write_text(
        base.read_text(encoding="utf-8").replace("<body", "{{ ''.__class__ }}<body", 1),
        encoding="utf-8",
    )
    with pytest.raises(
        TemplateError, match=r"^base\.html:\d+: template error: access to attribute '__class__'"
    ):
        check_templates(Renderer(templates_dir), policy, AS_OF)
