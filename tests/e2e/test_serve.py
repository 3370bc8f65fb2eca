"""``ontolab serve`` as a real process: real uvicorn on 127.0.0.1, real HTTP, real signals."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e
Run = Callable[..., Any]
Serve = Callable[..., Any]  # the `serve` fixture: starts `ontolab serve`, returns a Served

STOP_TIMEOUT_S = 10.0


def test_serve_answers_probes_metrics_and_api_and_stops_on_sigterm(
    ontolab: Run, serve: Serve
) -> None:
    assert ontolab("pull").code == 0
    served = serve()
    process = served.process
    with httpx.Client(base_url=served.url, timeout=10) as http:
        assert http.get("/healthz").json()["status"] == "ok"
        ready = http.get("/readyz")
        # The checks run for real; a nearly full disk is the only reason this may say no.
        failed = [c["name"] for c in ready.json()["checks"] if not c["ok"]]
        assert failed in ([], ["disk"]), ready.text
        assert ready.status_code == (200 if not failed else 503)

        latest = http.get("/api/v1/latest").json()
        assert {r["ontology"]: r["version"] for r in latest["items"]} == {
            "hp": "2025-01-16",
            "kisao": "2.34",
        }
        metrics = http.get("/metrics")
        assert metrics.status_code == 200
        assert 'ontolab_live_term_count{ontology="hp"}' in metrics.text
        assert 'route="/api/v1/latest"' in metrics.text

        process.send_signal(signal.SIGTERM)
        assert process.wait(STOP_TIMEOUT_S) == 0


def test_serve_needs_a_token_when_one_is_set_and_sigint_stops_it(
    ontolab: Run, serve: Serve
) -> None:
    assert ontolab("pull", "kisao").code == 0
    token = "e2e-token"
    served = serve(env={"ONTOLAB_SERVICE__TOKEN": token})
    process = served.process
    with httpx.Client(base_url=served.url, timeout=10) as http:
        assert http.get("/api/v1/latest").status_code == 401
        answer = http.get("/api/v1/latest", headers={"Authorization": f"Bearer {token}"})
        assert [r["ontology"] for r in answer.json()["items"]] == ["kisao"]
        assert http.get("/healthz").status_code == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(STOP_TIMEOUT_S) == 0
    assert "serving on" in served.stderr()
    assert token not in served.stderr()


def test_serve_refuses_bad_options_and_a_busy_port_with_exit_codes(ontolab: Run) -> None:
    bad = ontolab("serve", "--refresh-every", "soon")
    assert bad.code == 2
    assert "soon" in bad.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = ontolab("serve", "--port", str(busy.getsockname()[1]), "--json", timeout=60)
    assert taken.code == 3
    assert taken.json()["error_code"] == "E_SERVE_BIND"
    assert "Traceback" not in taken.stderr
    helped = ontolab("serve", "--help")
    assert helped.code == 0
    assert "--refresh-every" in helped.stdout


def test_serve_help_does_not_import_the_web_stack(project: Path) -> None:
    code = (
        "import sys\n"
        "from ontolab.cli import app\n"
        "try:\n"
        "    app(['serve', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
