"""A real, throwaway PostgreSQL server on 127.0.0.1 for tests and benchmarks.

The server runs from a fresh temporary directory with durability switched off (fsync, full
page writes and synchronous commit), so it is fast and leaves nothing behind. PostgreSQL
refuses to run as root, so under root the cluster belongs to the ``postgres`` system user
(or ``nobody`` when there is none).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shlex
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from ontolab.testing._process import ManagedServer, free_port

__all__ = ["PostgresServer"]

_HOST = "127.0.0.1"
_USER = "ontolab"
_DATABASE = "ontolab"
_DEBIAN_ROOT = Path("/usr/lib/postgresql")
_LOG_TAIL_LINES = 30


def _find_bin_dir() -> Path:
    """Return the directory holding ``initdb`` and ``pg_ctl``.

    ``initdb`` on ``PATH`` wins (symlinks resolved, so ``pg_ctl`` comes from the same
    installation); otherwise the newest ``/usr/lib/postgresql/<version>/bin``.

    Raises
    ------
    RuntimeError
        When no PostgreSQL server installation is found.
    """
    candidates: list[Path] = []
    on_path = shutil.which("initdb")
    if on_path is not None:
        candidates.append(Path(on_path).resolve().parent)
    candidates += sorted(
        _DEBIAN_ROOT.glob("*/bin"), key=lambda p: _version_key(p.parent.name), reverse=True
    )
    for bin_dir in candidates:
        if _is_server_bin_dir(bin_dir):
            return bin_dir
    raise RuntimeError(
        f"PostgreSQL server programs (initdb, pg_ctl) not found on PATH or in {_DEBIAN_ROOT}/*/bin;"
        " install PostgreSQL (`apt-get install postgresql`, which `make test` does as root)"
    )


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else -1 for part in name.split("."))


def _is_server_bin_dir(bin_dir: Path) -> bool:
    return all(os.access(bin_dir / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres"))


class PostgresServer(ManagedServer):
    """A PostgreSQL cluster in a temporary directory, listening on 127.0.0.1 only.

    Parameters
    ----------
    bin_dir
        Directory with ``initdb``, ``pg_ctl`` and ``postgres``. By default the directory of
        ``initdb`` on ``PATH``, else the newest ``/usr/lib/postgresql/<version>/bin``.
    timeout_s
        Upper bound for each ``initdb`` / ``pg_ctl`` call and for connecting.

    Examples
    --------
    >>> import psycopg
    >>> with PostgresServer() as pg:
    ...     with psycopg.connect(pg.url) as conn:
    ...         conn.execute("SELECT 1").fetchone()
    (1,)
    """

    def __init__(self, bin_dir: Path | None = None, *, timeout_s: float = 60.0) -> None:
        self._bin_dir = bin_dir
        self._timeout_s = timeout_s
        self._root: Path | None = None
        self._port: int | None = None
        self._run_as: pwd.struct_passwd | None = None

    def start(self) -> PostgresServer:
        """Create the cluster, start the server and create database ``ontolab``; return ``self``.

        Raises
        ------
        RuntimeError
            When PostgreSQL is missing or a step fails (the server log's tail is included).
        """
        if self._root is not None:
            raise RuntimeError("this PostgresServer is already running")
        bin_dir = self._bin_dir if self._bin_dir is not None else _find_bin_dir()
        if not _is_server_bin_dir(bin_dir):
            raise RuntimeError(
                f"{bin_dir} lacks initdb/pg_ctl/postgres; install PostgreSQL "
                "(`apt-get install postgresql`)"
            )
        self._bin_dir = bin_dir
        if os.geteuid() == 0:
            self._run_as = _unprivileged_user()
        # Under root, /tmp (world-traversable, unlike a TMPDIR such as /root/tmp) lets the
        # server user reach the directory; mkdtemp makes it unique and private.
        tmp = "/tmp" if self._run_as else None  # noqa: S108
        root = Path(tempfile.mkdtemp(prefix="ontolab-pg-", dir=tmp))
        if self._run_as is not None:
            os.chown(root, self._run_as.pw_uid, self._run_as.pw_gid)
        self._root = root
        atexit.register(self.stop)
        try:
            self._run(
                "initdb",
                *("-D", str(self.data_dir), "-A", "trust", "-U", _USER),
                *("--no-sync", "-E", "UTF8", "--locale=C"),
            )
            self._port = self._start_server()
            self._create_database()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server immediately and delete its directory; safe to call twice.

        Raises
        ------
        RuntimeError
            When ``pg_ctl stop`` fails; the directory is removed and a postmaster that is
            still running is killed regardless.
        """
        atexit.unregister(self.stop)
        root = self._root
        if root is None:
            return
        try:
            if (root / "data" / "postmaster.pid").exists():
                self._pg_ctl_stop(root / "data")
        finally:
            self._root, self._port = None, None
            shutil.rmtree(root, ignore_errors=True)

    @property
    def port(self) -> int:
        """The TCP port on 127.0.0.1."""
        if self._port is None:
            raise RuntimeError("the PostgresServer is not running; call start() or use `with`")
        return self._port

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory (inside the temporary directory)."""
        if self._root is None:
            raise RuntimeError("the PostgresServer is not running; call start() or use `with`")
        return self._root / "data"

    @property
    def url(self) -> str:
        """``postgresql://ontolab@127.0.0.1:PORT/ontolab``."""
        return self.url_for(_DATABASE)

    def url_for(self, database: str) -> str:
        """The URL of another database on this server, as user ``ontolab``."""
        return f"postgresql://{_USER}@{_HOST}:{self.port}/{quote(database, safe='')}"

    def _start_server(self) -> int:
        options = "-h {host} -p {port} -k {sockets} -F -c fsync=off -c full_page_writes=off"
        options += " -c synchronous_commit=off -c max_connections=50"
        attempt = 0
        while True:
            # The probed port can be taken before postgres binds it; then try a fresh one.
            attempt += 1
            port = free_port()
            sockets = shlex.quote(str(self._root))
            try:
                self._run(
                    "pg_ctl",
                    *("-D", str(self.data_dir), "-l", str(self._log_path)),
                    *("-o", options.format(host=_HOST, port=port, sockets=sockets)),
                    *("-w", "-t", str(max(1, int(self._timeout_s))), "start"),
                )
            except RuntimeError:
                if attempt >= 3 or "Address already in use" not in self._log_tail():
                    raise
                continue
            return port

    def _create_database(self) -> None:
        import psycopg

        admin_url = self.url_for("postgres")
        try:
            with psycopg.connect(
                admin_url, autocommit=True, connect_timeout=max(1, int(self._timeout_s))
            ) as conn:
                conn.execute(f'CREATE DATABASE "{_DATABASE}"')
        except psycopg.Error as exc:
            raise RuntimeError(
                f"could not create database {_DATABASE!r} on {admin_url}: {exc}\n{self._log_tail()}"
            ) from exc

    def _pg_ctl_stop(self, data_dir: Path) -> None:
        try:
            self._run("pg_ctl", "-D", str(data_dir), "-m", "immediate", "-w", "-t", "10", "stop")
        except RuntimeError:
            _kill_postmaster(data_dir)
            raise

    @property
    def _log_path(self) -> Path:
        return self.data_dir.parent / "server.log"

    def _log_tail(self) -> str:
        try:
            lines = self._log_path.read_text(errors="replace").splitlines()
        except (OSError, RuntimeError):
            return "(no server log)"
        return "server log (tail):\n" + "\n".join(lines[-_LOG_TAIL_LINES:])

    def _run(self, tool: str, *args: str) -> None:
        assert self._bin_dir is not None
        argv: Sequence[str] = [str(self._bin_dir / tool), *args]
        # libpq variables (PGDATA, PGPORT, ...) must not redirect the tools; LC_ALL=C keeps
        # messages English, which _start_server matches on.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")} | {"LC_ALL": "C"}
        run_as = self._run_as
        try:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=self._timeout_s + 10,
                env=env,
                cwd=self._root,  # the server user may not be able to read the caller's cwd
                user=run_as.pw_uid if run_as else None,
                group=run_as.pw_gid if run_as else None,
                extra_groups=[] if run_as else None,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RuntimeError(f"{tool} failed: {exc}\n{self._log_tail()}") from exc
        if done.returncode != 0:
            output = (done.stdout + done.stderr).strip()
            raise RuntimeError(
                f"{shlex.join(argv)} exited with {done.returncode}:\n{output}\n{self._log_tail()}"
            )


def _unprivileged_user() -> pwd.struct_passwd:
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("running as root, but neither a `postgres` nor a `nobody` user exists")


def _kill_postmaster(data_dir: Path) -> None:
    """SIGKILL the postmaster of ``data_dir`` if it still runs (Linux; elsewhere a no-op)."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError, IndexError):
        return
    # A stale pid file may name a reused pid; only kill a postgres serving this directory.
    if os.fsencode(data_dir) in cmdline:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
