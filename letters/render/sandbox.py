"""The Jinja side of rendering: a loader that never leaves the templates folder, a sandbox with
size limits, and one-line error messages that name the template file and line.

Templates are edited by operators, so they are treated as untrusted code: no attribute escapes
(Jinja's sandbox), no files but plain ones inside the folder, no huge ranges or strings.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

MAX_RANGE = 10_000  # items in one range()
MAX_SEQUENCE = 100_000  # characters or items one `*` may build
MAX_EXPONENT = 1_000  # the largest exponent of `**`
MAX_OUTPUT = 2_000_000  # characters of HTML one letter may produce (the shipped ones: about 5,000)


class LimitExceeded(Exception):
    """A render ran past a limit (time, size); its message says which."""


class FolderLoader(jinja2.FileSystemLoader):
    """A `FileSystemLoader` for one folder that refuses symbolic links (of the file or any folder
    on its way), `..`, and anything that resolves outside the folder."""

    def __init__(self, root_dir: Path) -> None:
        self.root_dir = root_dir.resolve()
        super().__init__(str(self.root_dir), followlinks=False)

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        """The template's source, once its path is known to be a plain file inside the folder."""
        pieces = template.replace("\\", "/").split("/")
        if ".." in pieces:
            raise jinja2.TemplateNotFound(template, f"{template} (refused: '..' in the name)")
        path = self.root_dir
        for piece in (p for p in pieces if p not in ("", ".")):
            path = path / piece
            if path.is_symlink():
                raise jinja2.TemplateNotFound(
                    template, f"{template} (refused: {piece} is a symbolic link)"
                )
        if not path.resolve().is_relative_to(self.root_dir):
            raise jinja2.TemplateNotFound(
                template, f"{template} (refused: outside the templates folder)"
            )
        if not path.is_file():
            raise jinja2.TemplateNotFound(template, template)  # no search path in the message
        return super().get_source(environment, template)

    def list_templates(self) -> list[str]:
        """The plain template files of the folder (no symbolic links)."""
        return [
            name
            for name in super().list_templates()
            if not any(
                (self.root_dir / Path(*name.split("/")[: n + 1])).is_symlink()
                for n in range(name.count("/") + 1)
            )
        ]


def limited_range(*args: int) -> range:
    """`range()` for templates: at most MAX_RANGE items."""
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise SecurityError(f"range() of {len(numbers):,} items: at most {MAX_RANGE:,} allowed")
    return numbers


def _sized(value: Any) -> bool:
    return isinstance(value, str | list | tuple)


class LimitedSandbox(SandboxedEnvironment):
    """Jinja's sandbox, with `range()`, `*` on strings and lists, and `**` kept small."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = limited_range

    def call_binop(
        self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any
    ) -> Any:
        """Refuse a `*` that would build a string or list over MAX_SEQUENCE, or a huge `**`."""
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                size = len(sequence) * count if _sized(sequence) and isinstance(count, int) else 0
                if size > MAX_SEQUENCE:
                    raise SecurityError(
                        f"'*' would build {size:,} items: at most {MAX_SEQUENCE:,} allowed"
                    )
        if operator == "**" and isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
            raise SecurityError(f"'**' with exponent {right}: at most {MAX_EXPONENT:,} allowed")
        return super().call_binop(context, operator, left, right)


def render_limited(template: jinja2.Template, context: dict[str, Any]) -> str:
    """Fill a template, refusing output over MAX_OUTPUT characters as it grows."""
    parts: list[str] = []
    size = 0
    for chunk in template.generate(context):
        size += len(chunk)
        if size > MAX_OUTPUT:
            raise SecurityError(f"the letter's HTML is over {MAX_OUTPUT:,} characters")
        parts.append(chunk)
    return "".join(parts)


def template_location(exc: BaseException, root_dir: Path) -> str:
    """`name:line` of the innermost template line the exception passed through, or ''."""
    if isinstance(exc, jinja2.TemplateSyntaxError) and exc.lineno:
        name = exc.name or (Path(exc.filename).name if exc.filename else "")
        if name:
            return f"{name}:{exc.lineno}"
    prefix = str(root_dir) + "/"
    found = ""
    for frame, line in traceback.walk_tb(exc.__traceback__):
        filename = frame.f_code.co_filename
        if filename.startswith(prefix):
            found = f"{filename.removeprefix(prefix)}:{line}"
    return found


def _what(exc: BaseException) -> str:
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return exc.message or str(exc)
    if isinstance(exc, jinja2.TemplateNotFound):
        return f"template not found: {exc.message or exc.name}"
    if isinstance(exc, RecursionError):
        return "recursion too deep (a macro or include that calls itself?)"
    if isinstance(exc, MemoryError):
        return "out of memory"
    if isinstance(exc, jinja2.TemplateError | SecurityError | LimitExceeded):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def describe(exc: BaseException, root_dir: Path, template_name: str) -> str:
    """One line for a template failure: `base.html:12: template error: <what went wrong>`."""
    where = template_location(exc, root_dir) or template_name
    return f"{where}: template error: {_what(exc)}"
