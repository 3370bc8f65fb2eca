"""The container healthchecks shipped in deploy/, run for real against ``ontolab serve``:
the image's HEALTHCHECK one-liner and the compose file's, healthy while the service
answers, unhealthy once it is gone."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.e2e
Serve = Callable[..., Any]  # the `serve` fixture: starts `ontolab serve`, returns a Served

ROOT = Path(__file__).resolve().parents[2]


def image_healthcheck() -> list[str]:
    text = (ROOT / "deploy" / "docker" / "Dockerfile").read_text().replace("\\\n", " ")
    line = next(li for li in text.splitlines() if li.startswith("HEALTHCHECK"))
    return list(json.loads(line.split(" CMD ", 1)[1]))


def compose_healthchecks() -> dict[str, list[str]]:
    compose = yaml.safe_load((ROOT / "deploy" / "compose" / "compose.yaml").read_text())
    return {
        name: service["healthcheck"]["test"][1:]
        for name, service in compose["services"].items()
        if name.startswith("ontolab-") and "test" in service.get("healthcheck", {})
    }


def run_check(argv: list[str], port: int) -> int:
    # "python" inside the image is this interpreter here; the compose checks name the port.
    argv = [sys.executable if a == "python" else re.sub(r"\b8765\b", str(port), a) for a in argv]
    done = subprocess.run(
        argv, env={"ONTOLAB_SERVICE__PORT": str(port)}, check=False, capture_output=True, timeout=30
    )
    return done.returncode


def test_the_shipped_healthchecks_follow_the_service(serve: Serve) -> None:
    served = serve()
    port = int(served.url.rsplit(":", 1)[1])
    checks = {"image": image_healthcheck(), **compose_healthchecks()}
    assert set(checks) == {"image", "ontolab-api", "ontolab-scheduler"}
    for name, argv in checks.items():
        assert run_check(argv, port) == 0, name
    assert served.stop() == 0
    for name, argv in checks.items():
        assert run_check(argv, port) != 0, name
