"""``make demo`` runs ``python -m ontolab.testing.demo``: the README's first command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def test_the_demo_pulls_offline_rerun_is_conditional_and_metrics_are_fresh(
    tmp_path: Path,
) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ONTOLAB_")}
    done = subprocess.run(
        [sys.executable, "-m", "ontolab.testing.demo", "--dir", str(tmp_path / "demo")],
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    second = next(line for line in out.splitlines() if line.startswith("second pull:"))
    assert second.endswith(" 0 bytes of ontology files sent"), out  # no bodies moved again
    assert 'ontolab_live_version_info{ontology="hp",version="2025-01-16"} 1.0' in out
    assert 'ontolab_upstream_newer{ontology="hp"} 0.0' in out
    assert (tmp_path / "demo" / "data" / "metrics" / "ontolab.prom").is_file()
