"""A real, throwaway Prometheus server on 127.0.0.1 that scrapes what a test points it at.

Prometheus runs from a fresh temporary directory (config, rules and TSDB), scrapes its
targets every ``scrape_interval_s`` and answers PromQL over its HTTP API. It is the Debian
``prometheus`` package's binary (``make test`` installs it); any ``prometheus`` on ``PATH``
works. Extra rule files (alerting rules) can be loaded alongside, with a short evaluation
interval, so a test can watch an alert go pending and firing.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml

from ontolab.testing._process import ManagedServer, ServerProcess

__all__ = ["PrometheusServer"]

_HOST = "127.0.0.1"
_LOG_TAIL_CHARS = 3000
_STOP_GRACE_S = 10.0


class PrometheusServer(ManagedServer):
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
        self._proc = ServerProcess(
            "prometheus",
            prefix="ontolab-prom-",
            log_name="prometheus.log",
            stop_grace_s=_STOP_GRACE_S,
            log_tail_chars=_LOG_TAIL_CHARS,
        )

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> PrometheusServer:
        """Write the config, start Prometheus and wait until it is ready; return ``self``."""
        if self._proc.process is not None:
            raise RuntimeError("this PrometheusServer is already running")
        binary = self._binary or shutil.which("prometheus")
        if binary is None:
            raise RuntimeError(
                "prometheus not found on PATH; install it (`apt-get install prometheus`, "
                "which `make test` does as root)"
            )
        root = self._proc.open()
        config = root / "prometheus.yml"
        config.write_text(yaml.safe_dump(self.config()))
        self._proc.spawn(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={root / 'data'}",
                f"--web.listen-address={_HOST}:{self._proc.port}",
                "--web.enable-lifecycle",
                "--log.level=warn",
            ],
            ready=self._ready,
            timeout_s=self._timeout_s,
            poll_s=0.1,
            not_ready="not ready",
        )
        return self

    def stop(self) -> None:
        """Stop the server and delete its directory; safe to call twice."""
        self._proc.stop()

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
        if self._proc.port is None:
            raise RuntimeError("the PrometheusServer is not running; call start() or use `with`")
        return f"http://{_HOST}:{self._proc.port}"

    def log_tail(self) -> str:
        """The end of the server's log, for failure messages."""
        return self._proc.log_tail()

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

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False
