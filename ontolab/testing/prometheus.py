"""A real, throwaway Prometheus server on 127.0.0.1 that scrapes what a test points it at.

Prometheus runs from a fresh temporary directory (config, rules and TSDB), scrapes its
targets every ``scrape_interval_s`` and answers PromQL over its HTTP API. It is the Debian
``prometheus`` package's binary (``make test`` installs it); any ``prometheus`` on ``PATH``
works. Extra rule files (alerting rules) can be loaded alongside, with a short evaluation
interval, so a test can watch an alert go pending and firing.
"""

from __future__ import annotations

import atexit
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import httpx
import yaml

from ontolab.testing.postgres import free_port

__all__ = ["PrometheusServer"]

_HOST = "127.0.0.1"
_LOG_TAIL_CHARS = 3000


class PrometheusServer:
    """Prometheus scraping ``targets`` (``host:port`` on loopback), listening on 127.0.0.1.

    Parameters
    ----------
    targets
        ``host:port`` pairs scraped at ``/metrics`` under job ``ontolab``.
    scrape_interval_s
        Scrape and rule-evaluation interval (seconds; short, for tests).
    rule_files
        Rule files loaded as they are (alerting or recording rules).
    binary
        The ``prometheus`` program (default: the one on ``PATH``).
    timeout_s
        How long :meth:`start` waits for the server to be ready.
    """

    def __init__(
        self,
        targets: Sequence[str],
        *,
        scrape_interval_s: float = 1.0,
        rule_files: Sequence[Path] = (),
        binary: str | None = None,
        timeout_s: float = 60.0,
    ) -> None:
        self.targets = list(targets)
        self.scrape_interval_s = scrape_interval_s
        self.rule_files = [Path(p).resolve() for p in rule_files]
        self._binary = binary
        self._timeout_s = timeout_s
        self._root: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._port: int | None = None
        self._log: BinaryIO | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> PrometheusServer:
        """Write the config, start Prometheus and wait until it is ready; return ``self``."""
        if self._process is not None:
            raise RuntimeError("this PrometheusServer is already running")
        binary = self._binary or shutil.which("prometheus")
        if binary is None:
            raise RuntimeError(
                "prometheus not found on PATH; install it (`apt-get install prometheus`, "
                "which `make test` does as root)"
            )
        root = Path(tempfile.mkdtemp(prefix="ontolab-prom-"))
        self._root = root
        atexit.register(self.stop)
        config = root / "prometheus.yml"
        config.write_text(yaml.safe_dump(self.config()))
        self._port = free_port()
        self._log = (root / "prometheus.log").open("wb")
        self._process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={root / 'data'}",
                f"--web.listen-address={_HOST}:{self._port}",
                "--web.enable-lifecycle",
                "--log.level=warn",
            ],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server and delete its directory; safe to call twice."""
        atexit.unregister(self.stop)
        process, root = self._process, self._root
        self._process, self._root, self._port = None, None, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what it is -------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """The ``prometheus.yml`` written at start."""
        interval = f"{max(1, round(self.scrape_interval_s * 1000))}ms"
        return {
            "global": {"scrape_interval": interval, "evaluation_interval": interval},
            "rule_files": [str(p) for p in self.rule_files],
            "scrape_configs": [
                {
                    "job_name": "ontolab",
                    "scrape_interval": interval,
                    "scrape_timeout": interval,
                    "static_configs": [{"targets": self.targets}],
                }
            ],
        }

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        if self._port is None:
            raise RuntimeError("the PrometheusServer is not running; call start() or use `with`")
        return f"http://{_HOST}:{self._port}"

    def log_tail(self) -> str:
        """The end of the server's log, for failure messages."""
        if self._root is None:
            return ""
        try:
            return (self._root / "prometheus.log").read_text(errors="replace")[-_LOG_TAIL_CHARS:]
        except OSError:
            return ""

    # -- asking it --------------------------------------------------------------------------
    def api(self, path: str, **params: str) -> Any:
        """GET ``/api/v1/<path>`` and return its ``data`` (raises on an error status)."""
        response = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        body = response.json()
        if response.status_code != 200 or body.get("status") != "success":
            raise RuntimeError(f"Prometheus {path} failed: {body}")
        return body["data"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant PromQL query: one ``{"metric": {...}, "value": [ts, "v"]}`` per series."""
        data = self.api("query", query=promql)
        return list(data["result"])

    def wait_for(self, promql: str, *, timeout_s: float = 30.0) -> list[dict[str, Any]]:
        """Poll ``promql`` until it returns at least one series; return them."""
        deadline = time.monotonic() + timeout_s
        while True:
            result = self.query(promql)
            if result:
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"no series for {promql!r} within {timeout_s:.0f}s; targets: "
                    f"{self.api('targets')['activeTargets']}\n{self.log_tail()}"
                )
            time.sleep(min(0.5, self.scrape_interval_s))

    def alerts(self) -> list[dict[str, Any]]:
        """Active alerts (pending and firing) with their labels and state."""
        return list(self.api("alerts")["alerts"])

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self._timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"prometheus exited with {self._process.returncode}:\n{self.log_tail()}"
                )
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(
            f"prometheus not ready within {self._timeout_s:.0f}s:\n{self.log_tail()}"
        )
