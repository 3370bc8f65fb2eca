"""The CLI docs stay true: the generated reference is current, every command has a guide."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from ontolab.cli import _reference

ROOT = Path(__file__).resolve().parents[2]
CLI_MD = ROOT / "docs" / "cli.md"


def _headings() -> list[str]:
    return [line for line in CLI_MD.read_text().splitlines() if line.startswith("#")]


def _named_by(path: tuple[str, ...], headings: list[str]) -> bool:
    """Whether a heading names ``ontolab db latest`` as such or as ``ontolab db latest|...``."""
    for heading in headings:
        for span in re.findall(r"`(ontolab [^`]*)`", heading):
            words = span.split()
            prefix_matches = words[: len(path) - 1] == list(path[:-1]) and len(words) >= len(path)
            if prefix_matches and path[-1] in words[len(path) - 1].split("|"):
                return True
    return False


def test_cli_reference_is_current() -> None:
    checked_in = (ROOT / "docs" / "cli-reference.md").read_text()
    assert checked_in == _reference.render(), "docs/cli-reference.md is out of date: run make docs"


def test_help_does_not_depend_on_what_else_is_imported(tmp_path: Path) -> None:
    # typing caches `Literal[...] | None` by set equality: a module spelling the same choices
    # in another order, imported first, reordered --help choices (seen only in the full run).
    code = (
        "import importlib, pkgutil, sys, ontolab\n"
        "for m in pkgutil.walk_packages(ontolab.__path__, 'ontolab.'):\n"
        "    if not m.name.endswith('__main__') and '.testing.' not in m.name:\n"
        "        importlib.import_module(m.name)\n"
        "from ontolab.service import create_app\n"
        "from ontolab.settings import load_settings\n"
        "create_app(load_settings(environ={}, data_dir=sys.argv[1]))  # routes: annotations\n"
        "from ontolab.cli import _reference\n"
        "sys.stdout.write(_reference.render())\n"
    )
    rendered = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], check=True, capture_output=True, text=True
    ).stdout
    assert rendered == (ROOT / "docs" / "cli-reference.md").read_text()


def test_reference_renders_every_command_and_sub_command() -> None:
    text = _reference.render()
    paths = [" ".join(path) for path, _cmd, _ctx in _reference.commands()]
    assert {"ontolab pull", "ontolab db latest", "ontolab db backup", "ontolab obs tail"} <= set(
        paths
    )
    for path in paths:
        assert f"## `{path}`" in text
        assert f"Usage: {path} " in text
    assert "\x1b[" not in text, "colour codes leaked into the reference"
    assert max(len(line) for line in text.splitlines()) <= 100 + len("## ``")


def test_every_command_and_sub_command_has_help_and_a_heading_in_cli_md() -> None:
    headings = _headings()
    undocumented, helpless = [], []
    for path, command, _ctx in _reference.commands():
        if len(path) == 1:
            continue
        if not (command.help or command.short_help or "").strip():
            helpless.append(" ".join(path))
        if not _named_by(path, headings):
            undocumented.append(" ".join(path))
    assert helpless == [], "commands without help text"
    assert undocumented == [], "add a heading naming these commands to docs/cli.md"


def test_heading_matcher_rejects_a_command_that_is_not_named() -> None:
    headings = ["## `ontolab db latest|versions [ID]`", "## `ontolab db backup PATH`"]
    assert _named_by(("ontolab", "db", "versions"), headings)
    assert _named_by(("ontolab", "db", "backup"), headings)
    assert not _named_by(("ontolab", "db", "restore"), headings)
    assert not _named_by(("ontolab", "obs", "latest"), headings)
