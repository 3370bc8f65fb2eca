"""A real, throwaway JupyterLab server on 127.0.0.1 for browser tests of notebooks.

``jupyter lab`` runs from the current interpreter's environment with a random token and
private config, data, runtime and IPython directories in a temporary directory, so neither
the developer's settings, kernels nor workspaces leak in. The environment's own data paths
stay on the search path: that is where the ipywidgets lab extension and the ``python3``
kernel spec live, and that kernel runs with the server's interpreter. The server stops
itself after ``lifetime_s`` seconds or when the process that started it goes away, so a
crashed test leaves nothing running.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from ontolab.testing._process import ManagedServer, ServerProcess

__all__ = ["JupyterLabServer"]

_HOST = "127.0.0.1"
_LOG_TAIL_CHARS = 4000
_STOP_GRACE_S = 20.0

# Runs `jupyter lab` in-process with a watchdog thread: SIGTERM (the server's clean shutdown,
# which also stops its kernels) once the lifetime is over or the parent has gone, then a hard
# exit if the shutdown hangs. Kernels poll their parent and exit with it.
_LAUNCHER = """\
import os, signal, sys, threading, time
lifetime, grace = float(sys.argv[1]), float(sys.argv[2])
parent = os.getppid()
def watch():
    deadline = time.monotonic() + lifetime
    while time.monotonic() < deadline and os.getppid() == parent:
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(grace)
    os._exit(124)
threading.Thread(target=watch, name="lifetime", daemon=True).start()
sys.argv = ["jupyter-lab", *sys.argv[3:]]
from jupyterlab.labapp import main
sys.exit(main())
"""

# Lab front-end plugins that reach the internet or pop up a prompt over the page.
_DISABLED_PLUGINS = ("@jupyterlab/apputils-extension:announcements",)


class JupyterLabServer(ManagedServer):
    """JupyterLab serving ``root_dir`` on 127.0.0.1, with a random token.

    Parameters
    ----------
    root_dir
        The directory the file browser shows and notebooks open from.
    lifetime_s
        The server stops itself this many seconds after it starts, whatever happens.
    timeout_s
        How long :meth:`start` waits for ``/api/status`` to answer.
    python
        The interpreter that runs ``jupyter lab`` (default: the current one).
    env
        The environment of the server and so of its kernels (default: this process's);
        the private Jupyter directories are set on top of it.

    Examples
    --------
    >>> with JupyterLabServer(tmp_path) as lab:  # doctest: +SKIP
    ...     page.goto(lab.lab_url("01_quickstart.ipynb"))
    """

    def __init__(
        self,
        root_dir: Path,
        *,
        lifetime_s: float = 900.0,
        timeout_s: float = 120.0,
        python: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.root_dir = Path(root_dir).resolve()
        self.lifetime_s = lifetime_s
        self.token = secrets.token_hex(24)
        self.python = python or sys.executable
        self.env = dict(os.environ if env is None else env)
        self._timeout_s = timeout_s
        self._proc = ServerProcess(
            "jupyter lab",
            prefix="ontolab-jupyter-",
            log_name="jupyterlab.log",
            stop_grace_s=_STOP_GRACE_S,
            log_tail_chars=_LOG_TAIL_CHARS,
        )

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> JupyterLabServer:
        """Start JupyterLab and wait until its API answers; return ``self``."""
        if self._proc.process is not None:
            raise RuntimeError("this JupyterLabServer is already running")
        if not self.root_dir.is_dir():
            raise RuntimeError(f"JupyterLab root directory {self.root_dir} does not exist")
        env = self._environment(self._proc.open())
        self._proc.spawn(
            [self.python, "-c", _LAUNCHER, str(self.lifetime_s), str(_STOP_GRACE_S), *self.argv()],
            ready=self._answers,
            timeout_s=self._timeout_s,
            poll_s=0.2,
            not_ready="did not answer /api/status",
            cwd=self.root_dir,
            env=env,
            stdout_to_log=True,
        )
        return self

    def stop(self) -> None:
        """Stop the server (and so its kernels) and delete its directory; safe to call twice."""
        self._proc.stop()

    # -- what it is -------------------------------------------------------------------------
    def argv(self) -> list[str]:
        """The ``jupyter lab`` options: loopback, this port and token, no browser, no news."""
        if self._proc.port is None:
            raise RuntimeError("the JupyterLabServer is not running; call start() or use `with`")
        return [
            f"--ServerApp.ip={_HOST}",
            f"--ServerApp.port={self._proc.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root_dir}",
            "--no-browser",
            # CI and this project's machines run as root; the server is on loopback only
            "--ServerApp.allow_root=True",
            # window.jupyterapp, so a browser test can run commands (run all cells)
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
        ]

    @property
    def port(self) -> int:
        """The TCP port on 127.0.0.1."""
        if self._proc.port is None:
            raise RuntimeError("the JupyterLabServer is not running; call start() or use `with`")
        return self._proc.port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{_HOST}:{self.port}"

    def lab_url(self, path: str = "") -> str:
        """The address that opens ``path`` (relative to ``root_dir``) in JupyterLab, logged in."""
        tree = f"/tree/{quote(path)}" if path else ""
        return f"{self.url}/lab{tree}?token={self.token}"

    def log_tail(self) -> str:
        """The end of the server's log, for failure messages."""
        return self._proc.log_tail()

    # -- asking it --------------------------------------------------------------------------
    def api(self, path: str) -> Any:
        """GET ``/api/<path>`` with the token and return its JSON (raises on an error status)."""
        response = httpx.get(
            f"{self.url}/api/{path}",
            headers={"Authorization": f"token {self.token}"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()

    def kernel_commands(self) -> list[list[str]]:
        """The command lines of the kernels this server runs right now."""
        import psutil

        if self._proc.process is None:
            return []
        commands = []
        for child in psutil.Process(self._proc.process.pid).children(recursive=True):
            try:
                cmdline = child.cmdline()
            except psutil.Error:
                continue  # gone since it was listed
            if any("ipykernel" in part for part in cmdline):
                commands.append(cmdline)
        return commands

    # -- internals --------------------------------------------------------------------------
    def _environment(self, home: Path) -> dict[str, str]:
        dirs = {
            "JUPYTER_CONFIG_DIR": home / "config",
            "JUPYTER_DATA_DIR": home / "data",
            "JUPYTER_RUNTIME_DIR": home / "runtime",
            "IPYTHONDIR": home / "ipython",
        }
        for path in dirs.values():
            path.mkdir()
        labconfig = dirs["JUPYTER_CONFIG_DIR"] / "labconfig"
        labconfig.mkdir()
        disabled = dict.fromkeys(_DISABLED_PLUGINS, True)
        (labconfig / "page_config.json").write_text(json.dumps({"disabledExtensions": disabled}))
        env = dict(self.env)
        # Only the private user dirs and the environment's own paths: a JUPYTER_PATH or
        # JUPYTER_CONFIG_PATH of the developer's could bring other kernels or extensions.
        for name in ("JUPYTER_PATH", "JUPYTER_CONFIG_PATH", "JUPYTERLAB_SETTINGS_DIR"):
            env.pop(name, None)
        env.update({name: str(path) for name, path in dirs.items()})
        env["JUPYTERLAB_WORKSPACES_DIR"] = str(home / "workspaces")
        return env

    def _answers(self) -> bool:
        try:
            self.api("status")
        except httpx.HTTPError:
            return False
        return True
