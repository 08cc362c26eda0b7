"""The README documents every command, every option of each, and every exit code.

(After sqlite-utils' `test_docs.py`: the check is generated from the typer app itself, so a new
command or option fails here until the README says what it does.)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.core import TyperGroup, TyperOption
from typer.main import get_group

from letters.cli.app import app
from letters.errors import ExitCode

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _commands(group: TyperGroup, prefix: str = "letters") -> list[tuple[str, list[str]]]:
    """Every command and sub-command under `group`: (`letters addresses resolve`, its options)."""
    found: list[tuple[str, list[str]]] = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        options = [o for p in command.params if isinstance(p, TyperOption) for o in p.opts]
        found.append((path, options))
        if isinstance(command, TyperGroup):
            found.extend(_commands(command, path))
    return found


COMMANDS = _commands(get_group(app))
OPTIONS = [
    (path, option)
    for path, options in COMMANDS
    for option in options
    if option.startswith("--") and option != "--help"
]


def _mentions_command(path: str) -> bool:
    """`letters addresses resolve` (or `.venv/bin/letters ...`) appears in the README."""
    return re.search(rf"\b{re.escape(path)}\b", README) is not None


def _mentions_option(option: str) -> bool:
    return re.search(rf"{re.escape(option)}(?![\w-])", README) is not None


def test_the_app_has_commands_and_options() -> None:
    names = {path for path, _ in COMMANDS}
    assert {"letters run", "letters verify", "letters addresses resolve"} <= names
    assert ("letters run", "--force-reason") in OPTIONS


@pytest.mark.parametrize("path", [path for path, _ in COMMANDS])
def test_every_command_is_in_the_readme(path: str) -> None:
    assert _mentions_command(path), f"README.md does not mention `{path}`"


@pytest.mark.parametrize(("path", "option"), OPTIONS, ids=[f"{p} {o}" for p, o in OPTIONS])
def test_every_option_is_in_the_readme(path: str, option: str) -> None:
    assert _mentions_option(option), f"README.md does not mention `{path} {option}`"


@pytest.mark.parametrize("code", list(ExitCode), ids=[code.name for code in ExitCode])
def test_every_exit_code_is_in_the_readme_table(code: ExitCode) -> None:
    section = README.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = {
        int(match.group(1)): match.group(2).strip()
        for match in re.finditer(r"^\| (\d+) \| (.+) \|$", section, re.MULTILINE)
    }
    assert code.value in rows, f"README.md's exit code table lacks {code.value} ({code.name})"
    assert rows[code.value], f"README.md does not say what exit code {code.value} means"
    assert sorted(rows) == sorted(int(c) for c in ExitCode)  # and no code the program lacks
