"""E2E fixtures: the real ``ontolab`` command in a subprocess against a real mirror."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from ontolab.testing import Mirror


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@pytest.fixture
def project(tmp_path: Path, mirror: Mirror) -> Path:
    """A directory with an ontolab.yaml that reaches only the mirror."""
    config = {
        "data_dir": "data",
        "http": {"allowed_hosts": [mirror.host_port], "backoff_base_s": 0.05, "retries": 2},
        "resolvers": {
            "obo": {"base_url": f"{mirror.base_url}/obo"},
            "ols": {"base_url": f"{mirror.base_url}/ols4"},
        },
        "ontologies": [
            {"id": "hp", "resolver": "obo", "format": "obo"},
            {"id": "kisao", "resolver": ["ols", "obo"]},
        ],
    }
    (tmp_path / "ontolab.yaml").write_text(yaml.safe_dump(config))
    return tmp_path


@pytest.fixture
def ontolab(project: Path) -> Callable[..., Result]:
    """Run ``python -m ontolab ARGS`` in the project directory."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Result:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("ONTOLAB_")}
        environ.update(env or {})
        done = subprocess.run(
            [sys.executable, "-m", "ontolab", *args],
            cwd=project,
            env=environ,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    return run
