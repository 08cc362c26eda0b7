"""The tree's shape holds: small modules and classes, stages that import only earlier stages."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from letters.cli.app import app

ROOT = Path(__file__).resolve().parent.parent
MAX_MODULE_LINES = 450
MAX_CLASS_LINES = 250
MAX_COMMAND_LINES = 40
# Each stage may import the ones before it (and the shared modules); never a later one.
ORDER = ("intake", "decide", "render", "proof", "state", "review", "send", "ops", "cli")
SHARED = {"errors", "fsutil", "model", "processes", "__init__"}
ALLOWED = {
    "intake": set(),
    "decide": {"intake"},
    "render": {"intake", "decide", "state"},  # article numbers are drawn from the state's pool
    "proof": {"intake", "decide", "render", "state"},
    "state": set(),
    "review": {"intake", "decide", "render", "proof", "state"},
    "send": {"intake", "state"},
    "ops": {"intake", "decide", "render", "proof", "state", "review", "send"},
    "cli": {"intake", "decide", "render", "proof", "state", "review", "send", "ops"},
}


def _modules() -> list[Path]:
    return sorted([*(ROOT / "letters").rglob("*.py"), *(ROOT / "addresses").rglob("*.py")])


def test_no_module_or_class_is_too_long() -> None:
    too_long = []
    for path in _modules():
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n")
        if lines > MAX_MODULE_LINES:
            too_long.append(f"{path.relative_to(ROOT)}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                length = node.end_lineno - node.lineno + 1
                if length > MAX_CLASS_LINES:
                    too_long.append(f"{path.relative_to(ROOT)}: class {node.name}: {length} lines")
    assert too_long == []


def test_cli_commands_are_short() -> None:
    commands = [c.callback for c in app.registered_commands]
    commands += [c.callback for g in app.registered_groups if g.typer_instance
                 for c in g.typer_instance.registered_commands]  # fmt: skip
    assert len(commands) >= 13  # every command of the README, sub-commands included
    long_commands = []
    for callback in commands:
        assert callback is not None
        length = len(inspect.getsource(callback).splitlines())
        if length >= MAX_COMMAND_LINES:
            long_commands.append(f"{callback.__module__}.{callback.__name__}: {length} lines")
    assert long_commands == []


def _imported_stages(path: Path) -> set[str]:
    stages = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("letters."):
            stages.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            stages |= {a.name.split(".")[1] for a in node.names if a.name.startswith("letters.")}
    return stages - SHARED


def test_stages_import_only_earlier_stages() -> None:
    wrong = []
    for stage in ORDER:
        for path in sorted((ROOT / "letters" / stage).rglob("*.py")):
            for other in _imported_stages(path) - ALLOWED[stage] - {stage}:
                wrong.append(f"{path.relative_to(ROOT)} imports letters.{other}")
    assert wrong == []


def test_addresses_knows_nothing_of_letters() -> None:
    wrong = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "addresses").rglob("*.py"))
        if "letters" in {n.split(".")[0] for n in _all_imports(path)}
    ]
    assert wrong == []


def _all_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
    return names


def test_only_the_cli_prints() -> None:
    printing = []
    for path in _modules():
        if "cli" in path.relative_to(ROOT).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            bare = getattr(func, "id", "") in {"print", "exit", "input"}
            from_sys = (
                isinstance(func, ast.Attribute)
                and getattr(func.value, "id", "") == "sys"
                and func.attr in {"exit", "argv"}
            )
            if bare or from_sys:
                printing.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert printing == []
