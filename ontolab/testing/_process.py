"""The lifecycle the throwaway test servers share.

``ManagedServer`` gives a server with ``start()`` and ``stop()`` its ``with`` block.
``ServerProcess`` owns what a server that runs one subprocess needs: a private temporary
directory (removed at interpreter exit if nobody stopped it), a loopback port, the process
and its log file in that directory, a readiness wait that says why it failed, and a stop
that terminates, then kills after a grace period, and is safe to call twice.
"""

from __future__ import annotations

import atexit
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Self

__all__ = ["ManagedServer", "ServerProcess", "free_port"]

_HOST = "127.0.0.1"
_KILL_WAIT_S = 10.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (for a test server)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        return int(sock.getsockname()[1])


class ManagedServer:
    """A server that ``with`` starts on entry and stops on exit."""

    def start(self) -> Self:
        """Start the server and return it."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop the server; safe to call twice."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ServerProcess:
    """One server subprocess with a private temporary directory that holds its log.

    Parameters
    ----------
    program
        What the process is called in error messages (``"prometheus"``).
    prefix
        Prefix of the temporary directory's name.
    log_name
        File name of the log inside the directory.
    stop_grace_s
        How long :meth:`stop` waits after SIGTERM before it sends SIGKILL.
    log_tail_chars
        How much of the log's end :meth:`log_tail` returns.
    """

    def __init__(
        self,
        program: str,
        *,
        prefix: str,
        log_name: str,
        stop_grace_s: float,
        log_tail_chars: int,
    ) -> None:
        self.program = program
        self.directory: Path | None = None
        self.port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._prefix = prefix
        self._log_name = log_name
        self._stop_grace_s = stop_grace_s
        self._log_tail_chars = log_tail_chars
        self._log: BinaryIO | None = None

    def open(self) -> Path:
        """Make the temporary directory and pick a port; return the directory."""
        directory = Path(tempfile.mkdtemp(prefix=self._prefix))
        self.directory = directory
        # A test that never reaches stop() must not leave the process or directory behind.
        atexit.register(self.stop)
        self.port = free_port()
        return directory

    def spawn(
        self,
        argv: Sequence[str],
        *,
        ready: Callable[[], bool],
        timeout_s: float,
        poll_s: float,
        not_ready: str,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        stdout_to_log: bool = False,
    ) -> None:
        """Start ``argv`` and poll ``ready()`` until it is true; stop everything on failure.

        The log gets the process's stderr, and its stdout too with ``stdout_to_log``.

        Raises
        ------
        RuntimeError
            When the process exits first, or ``ready()`` is still false after ``timeout_s``
            (the message is ``"<program> <not_ready> within Ns"``); the log's tail follows.
        """
        if self.directory is None:
            raise RuntimeError(f"{self.program}: spawn() before open()")
        self._log = (self.directory / self._log_name).open("wb")
        self.process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log if stdout_to_log else subprocess.DEVNULL,
            stderr=subprocess.STDOUT if stdout_to_log else self._log,
        )
        try:
            self._wait_ready(self.process, ready, timeout_s, poll_s, not_ready)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Terminate the process (kill it after the grace period) and delete the directory."""
        atexit.unregister(self.stop)
        process, directory = self.process, self.directory
        self.process, self.directory, self.port = None, None, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(self._stop_grace_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(_KILL_WAIT_S)
        if self._log is not None:
            self._log.close()
            self._log = None
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)

    def log_tail(self) -> str:
        """The end of the log, or ``""`` when there is none (yet, or any more)."""
        if self.directory is None:
            return ""
        try:
            text = (self.directory / self._log_name).read_text(errors="replace")
        except OSError:
            return ""
        return text[-self._log_tail_chars :]

    def _wait_ready(
        self,
        process: subprocess.Popen[bytes],
        ready: Callable[[], bool],
        timeout_s: float,
        poll_s: float,
        not_ready: str,
    ) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{self.program} exited with {process.returncode}:\n{self.log_tail()}"
                )
            if ready():
                return
            time.sleep(poll_s)
        raise RuntimeError(
            f"{self.program} {not_ready} within {timeout_s:.0f}s:\n{self.log_tail()}"
        )
