"""Docs stay true: every error code the code can raise is documented, every command too."""

from __future__ import annotations

import re
from pathlib import Path

from typer.main import get_command

from ontolab.cli import app

ROOT = Path(__file__).resolve().parents[2]
CODE = re.compile(r'"(E_[A-Z0-9_]+)"')


def test_every_error_code_is_in_docs_errors_md() -> None:
    documented = (ROOT / "docs" / "errors.md").read_text()
    raised = {
        code
        for path in (ROOT / "ontolab").rglob("*.py")
        if "testing" not in path.parts
        for code in CODE.findall(path.read_text())
    }
    assert raised, "the pattern found no codes"
    missing = sorted(c for c in raised if c not in documented)
    assert missing == []


def test_every_cli_command_is_in_docs_cli_md() -> None:
    documented = (ROOT / "docs" / "cli.md").read_text()
    group = get_command(app)
    names = sorted(group.commands)  # type: ignore[attr-defined]
    assert {"init", "plan", "plan-diff", "pull"} <= set(names)
    assert [n for n in names if f"`ontolab {n}" not in documented] == []


def test_readme_opens_with_the_two_commands() -> None:
    first_lines = (ROOT / "README.md").read_text().splitlines()[:4]
    assert any(line.startswith("make demo") for line in first_lines)
    assert any(line.startswith("make test") for line in first_lines)
