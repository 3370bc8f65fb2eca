"""The notebooks are docs and tests: stored clean, named, listed, and runnable by nbval.

Each notebook in ``notebooks/`` is checked on its own (one test id per notebook), so a
failure names the notebook and what to fix.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
CHECK = "# NBVAL_CHECK_OUTPUT"
NAME = re.compile(r"^(\d{2})_[a-z0-9]+(?:_[a-z0-9]+)*\.ipynb$")
PORT = re.compile(r"(?:127\.0\.0\.1|localhost):\d+")
# An absolute path of someone's machine: home dirs, temp dirs, this checkout.
MACHINE_PATHS = re.compile(
    r"(?:^|[\s'\"(=:])(?:/home/|/Users/|/root/|/tmp/|/private/var/|/var/folders/|/work/|[A-Z]:\\\\)"
)
WORKSPACE = re.compile(r"open_workspace\(\s*[\"']([^\"']*)[\"']")


def notebook_paths() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def read(path: Path) -> Any:
    return nbformat.read(path, as_version=nbformat.NO_CONVERT)


def checked(cell: Any) -> bool:
    return cell.cell_type == "code" and CHECK in cell.source


def output_text(cell: Any) -> str:
    parts: list[str] = []
    for output in cell.get("outputs", []):
        text = output.get("text", "")
        parts.append("".join(text) if isinstance(text, list) else text)
        for value in output.get("data", {}).values():
            parts.append(value if isinstance(value, str) else str(value))
        parts.extend(output.get("traceback", []))
    return "\n".join(parts)


def test_there_are_notebooks() -> None:
    assert len(notebook_paths()) >= 4, "notebooks/ should hold the executable tutorials"


@pytest.fixture(params=notebook_paths(), ids=lambda p: p.name)
def path(request: pytest.FixtureRequest) -> Path:
    return Path(request.param)


def test_valid_nbformat_4_with_a_python3_kernel(path: Path) -> None:
    notebook = read(path)
    assert notebook.nbformat == 4
    nbformat.validate(notebook)
    assert notebook.metadata.get("kernelspec", {}).get("name") == "python3", (
        f"{path.name}: kernelspec must be python3 (nbval and papermill start that kernel)"
    )


def test_named_and_titled_by_number(path: Path) -> None:
    match = NAME.match(path.name)
    assert match, f"{path.name}: name notebooks NN_lower_case_words.ipynb"
    first = read(path).cells[0]
    assert first.cell_type == "markdown", f"{path.name}: the first cell is the title (markdown)"
    assert first.source.startswith(f"# {match.group(1)} "), (
        f"{path.name}: the first cell starts with '# {match.group(1)} · Title'"
    )


def test_outputs_stripped_except_checked_cells(path: Path) -> None:
    notebook = read(path)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    dirty = [c.source.splitlines()[0] for c in code if not checked(c) and c.outputs]
    assert not dirty, f"{path.name}: strip the outputs of unchecked cells: {dirty}"
    counted = [c.source.splitlines()[0] for c in code if not checked(c) and c.execution_count]
    assert not counted, f"{path.name}: set execution_count to null in: {counted}"
    marked = [c for c in code if checked(c)]
    assert marked, f"{path.name}: mark at least one cell whose output matters with {CHECK}"
    empty = [c.source.splitlines()[1:2] for c in marked if not c.outputs]
    assert not empty, f"{path.name}: checked cells without a stored output: {empty}"
    # nbval skips, and then fails, a cell with outputs but no execution count:
    # "Unrun reference cell has outputs".
    unrun = [c.source.splitlines()[1:2] for c in marked if c.execution_count is None]
    assert not unrun, f"{path.name}: checked cells need their execution_count: {unrun}"
    errors = [c.source.splitlines()[1:2] for c in marked if any(
        o.output_type == "error" for o in c.outputs
    )]  # fmt: skip
    assert not errors, f"{path.name}: a checked cell stores an error: {errors}"


def test_no_machine_paths_or_ports_in_stored_outputs(path: Path) -> None:
    leaks = [str(ROOT), str(Path.home()), tempfile.gettempdir()]
    for cell in read(path).cells:
        text = output_text(cell)
        assert not PORT.search(text), f"{path.name}: a loopback port is stored: {cell.source!r}"
        assert not MACHINE_PATHS.search(text), (
            f"{path.name}: an absolute path is stored in the output of {cell.source!r}"
        )
        found = [leak for leak in leaks if leak not in ("", "/") and leak in text]
        assert not found, f"{path.name}: {found} is stored in the output of {cell.source!r}"


def test_workspace_is_its_own_and_relative(path: Path) -> None:
    number = path.name[:2]
    for cell in read(path).cells:
        if cell.cell_type != "code":
            continue
        for folder in WORKSPACE.findall(cell.source):
            # Relative to the notebook's folder (nbval and papermill run there), and one
            # per notebook: a fresh=True workspace shared by two notebooks would be wiped
            # by one while the other runs.
            assert folder.startswith(f"workspaces/{number}-"), (
                f"{path.name}: open_workspace({folder!r}) should be 'workspaces/{number}-...'"
            )


@pytest.mark.parametrize("listing", ["notebooks/README.md", "docs/notebooks.md"])
def test_listed_in_the_docs(path: Path, listing: str) -> None:
    text = (ROOT / listing).read_text(encoding="utf-8")
    assert path.name in text, f"{listing} should list {path.name}"


def test_sanitizer_hides_ports_and_timestamps() -> None:
    # nbval compares checked cells after these replacements: a rerun on another day, with
    # another free port, must compare equal.
    sections = re.findall(
        r"^regex:\s*(.+)\nreplace:\s*(.*)$",
        (NOTEBOOKS / "sanitize.cfg").read_text(encoding="utf-8"),
        re.MULTILINE,
    )
    text = "mirror 127.0.0.1:40123 at 2026-11-26 07:31:35.809381 and 2025-01-16T10:00:00Z"
    for regex, replace in sections:
        text = re.sub(regex, replace, text)
    assert text == "mirror 127.0.0.1:PORT at TIMESTAMP and TIMESTAMP"
