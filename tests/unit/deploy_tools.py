"""What the deploy tests (tests/unit/test_deploy_*.py) share: the validators of the test
extra, and running a command to collect its exit status and output.

Imported by module name: pytest puts tests/unit (no ``__init__.py``) on ``sys.path``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path


def tool(name: str) -> str:
    """A validator from the test extra: beside this interpreter, else on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    assert found, f"{name} is missing: install the test extra (pip install -e '.[test]')"
    return found


def broken_copies(source: Path, breakages: list[tuple[str, str]], folder: Path) -> list[Path]:
    """One copy of ``source`` in ``folder`` per ``(old, new)``, its first ``old`` made ``new``.

    Each breakage in a file of its own, so a validator has to report every one of them.
    """
    text = source.read_text()
    copies = []
    for number, (old, new) in enumerate(breakages):
        assert old in text, f"{source.name} no longer contains {old!r}"
        path = folder / f"{source.stem}-{number}{source.suffix}"
        path.write_text(text.replace(old, new, 1))
        copies.append(path)
    return copies


def run(
    argv: Sequence[str],
    *,
    timeout: float = 120,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``argv`` run to its end, output collected as text; a non-zero exit does not raise."""
    return subprocess.run(
        list(argv),
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
    )


def ontolab_help(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """``ontolab ARGV --help`` in this interpreter: exit 0 when ontolab accepts ARGV."""
    return run([sys.executable, "-m", "ontolab", *argv, "--help"], timeout=60)
