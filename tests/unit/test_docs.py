"""Docs stay true: every error code is in docs/errors.md (commands: test_docs_cli.py)."""

from __future__ import annotations

import re
from pathlib import Path

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


def test_readme_opens_with_the_two_commands() -> None:
    first_lines = (ROOT / "README.md").read_text().splitlines()[:4]
    assert any(line.startswith("make demo") for line in first_lines)
    assert any(line.startswith("make test") for line in first_lines)


def test_relative_links_in_the_docs_point_at_files_that_exist() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert pages and broken == []
