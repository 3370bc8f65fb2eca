"""E2E fixtures: the real ``ontolab`` command in a subprocess against a real mirror."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
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


@dataclass
class Served:
    """A running ``ontolab serve`` subprocess."""

    process: subprocess.Popen[str]
    url: str
    lines: list[str] = field(default_factory=list)  # its stderr, as read so far
    reader: threading.Thread | None = None

    def stderr(self) -> str:
        """Its whole stderr, once it has exited."""
        if self.process.poll() is not None and self.reader is not None:
            self.reader.join(10)
        return "".join(self.lines)

    @property
    def host_port(self) -> str:
        return self.url.removeprefix("http://")

    def stop(self, timeout: float = 15) -> int:
        """SIGTERM, then wait; kill if it does not stop in time. Returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        return self.process.returncode


SERVING = re.compile(r"serving on (http://127\.0\.0\.1:\d+)")


@pytest.fixture
def serve(project: Path) -> Iterator[Callable[..., Served]]:
    """Start ``ontolab serve --port 0 ARGS`` in the project; wait until it says where."""
    started: list[Served] = []

    def start(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Served:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("ONTOLAB_")}
        environ.update(env or {})
        process = subprocess.Popen(
            [sys.executable, "-m", "ontolab", "serve", "--port", "0", *args],
            cwd=project,
            env=environ,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        served = Served(process, "")
        started.append(served)
        lines = served.lines
        reader = threading.Thread(target=_read_lines, args=(process, lines), daemon=True)
        served.reader = reader
        reader.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((m for line in lines if (m := SERVING.search(line))), None)
            if found:
                served.url = found[1]
                assert not served.url.endswith(":0")  # port 0 reported as the port bound
                return served
            if process.poll() is not None:
                reader.join(5)
                break
            time.sleep(0.05)
        served.stop()
        raise AssertionError("ontolab serve did not start:\n" + "".join(lines))

    yield start
    for served in started:
        served.stop()
        if served.process.stderr is not None:
            served.process.stderr.close()


def _read_lines(process: subprocess.Popen[str], lines: list[str]) -> None:
    assert process.stderr is not None
    for line in process.stderr:
        lines.append(line)
