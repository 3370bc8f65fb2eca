"""The ``Mirror`` facade: server lifecycle, publishing, fault injection and the log."""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import Any

from ontolab.testing._mirror_api import release_path
from ontolab.testing._mirror_files import FileStore, check_segment, guess_extension
from ontolab.testing._mirror_http import MirrorHandler, logger
from ontolab.testing._mirror_model import (
    Fault,
    OlsFileLocation,
    Release,
    RequestRecord,
)
from ontolab.testing._mirror_state import MirrorState
from ontolab.testing._process import ManagedServer

__all__ = ["Mirror", "MirrorServer"]

_HOST = "127.0.0.1"
_OLS_KNOBS = ("release", "null", "iri")


class MirrorServer(ThreadingHTTPServer):
    """Threading HTTP server that tracks its connections so ``stop`` can cut them."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], state: MirrorState) -> None:
        self.state = state
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, MirrorHandler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse DNS lookup, which can stall for seconds."""
        super(ThreadingHTTPServer, self).server_bind()  # TCPServer.server_bind
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request_thread(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        """Serve one connection, remembering its socket while it is open."""
        assert isinstance(request, socket.socket)
        with self._connections_lock:
            self._connections.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.discard(request)

    def close_connections(self) -> None:
        """Shut down open connections so idle keep-alive threads exit promptly."""
        with self._connections_lock:
            open_now = list(self._connections)
        for sock in open_now:
            # The socket may be closing concurrently; a failed shutdown means it is gone.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log handler errors instead of printing tracebacks to stderr."""
        if isinstance(sys.exc_info()[1], OSError):
            logger.debug("connection from %s failed", client_address, exc_info=True)
        else:
            logger.exception("mirror handler crashed serving %s", client_address)


class Mirror(ManagedServer):
    """A local HTTP server that imitates the hosts ontologies are downloaded from.

    One server on ``127.0.0.1`` answers OBO PURLs (``/obo/{id}.owl`` redirecting to
    ``/obo/{id}/releases/{version}/{file}``), the OLS4 ontology API
    (``/ols4/api/ontologies/{id}``), the BioPortal API (``/bioportal/ontologies/{ACRONYM}/
    latest_submission`` and ``/download``, API key required) and static files
    (``/files/...``). Files are served from disk with strong ETags, ``Last-Modified``,
    conditional requests and byte ranges; faults can be injected per path.

    Parameters
    ----------
    port
        Port to bind on 127.0.0.1; 0 picks a free ephemeral port.
    bioportal_api_key
        The only API key the simulated BioPortal accepts.

    Examples
    --------
    >>> import httpx
    >>> with Mirror() as mirror:
    ...     mirror.publish("syn", "2024-01-01", b"format-version: 1.2\\n")
    ...     response = httpx.get(mirror.purl("syn"), follow_redirects=True)
    >>> response.status_code, response.url.path
    (200, '/obo/syn/releases/2024-01-01/syn.obo')
    """

    def __init__(self, port: int = 0, *, bioportal_api_key: str = "test-key") -> None:
        self._requested_port = port
        self._state = MirrorState(bioportal_api_key)
        self._server: MirrorServer | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._files = FileStore()

    def __repr__(self) -> str:
        where = self._state.base_url if self._server else "not running"
        return f"<Mirror {where}>"

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> Mirror:
        """Bind and serve in a daemon thread; return ``self``."""
        if self._server is not None:
            raise RuntimeError("this Mirror is already running")
        if self._stopped:
            raise RuntimeError("a stopped Mirror cannot be restarted; create a new Mirror")
        server = MirrorServer((_HOST, self._requested_port), self._state)
        self._server = server
        self._state.base_url = f"http://{_HOST}:{server.server_address[1]}"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"ontolab-mirror-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut open connections and delete the mirror's temporary files."""
        server, thread = self._server, self._thread
        if server is not None:
            self._state.stopping.set()
            server.shutdown()
            server.close_connections()
            server.server_close()
            if thread is not None:
                thread.join(timeout=5.0)
            self._server, self._thread, self._stopped = None, None, True
        self._files.close()

    @property
    def port(self) -> int:
        """The bound TCP port."""
        if self._server is None:
            raise RuntimeError("the Mirror is not running; call start() or use `with Mirror()`")
        return int(self._server.server_address[1])

    @property
    def host_port(self) -> str:
        """``"127.0.0.1:PORT"``."""
        return f"{_HOST}:{self.port}"

    @property
    def base_url(self) -> str:
        """``"http://127.0.0.1:PORT"``, without a trailing slash."""
        return f"http://{self.host_port}"

    @property
    def ols_api_url(self) -> str:
        """Base of the simulated OLS4 API, ``{base_url}/ols4/api``."""
        return f"{self.base_url}/ols4/api"

    @property
    def bioportal_api_url(self) -> str:
        """Base of the simulated BioPortal API, ``{base_url}/bioportal``."""
        return f"{self.base_url}/bioportal"

    def url(self, path: str) -> str:
        """Return the absolute URL of ``path`` on this mirror."""
        return self.base_url + "/" + path.lstrip("/")

    def purl(self, ontology_id: str, filename: str | None = None) -> str:
        """Return the OBO PURL of a file of the current release (default: its main file).

        ``{id}.{ext}`` names map to ``/obo/{id}.{ext}``, products to ``/obo/{id}/{file}``.
        """
        oid = ontology_id.lower()
        name = filename or self._current(oid).main
        if name.startswith(f"{oid}.") and "/" not in name:
            return self.url(f"/obo/{name}")
        return self.url(f"/obo/{oid}/{name}")

    def release_url(
        self, ontology_id: str, version: str | None = None, filename: str | None = None
    ) -> str:
        """Return the URL a PURL redirects to: ``/obo/{id}/releases/{version}/{file}``."""
        current = self._current(ontology_id)
        name = filename or current.main
        return self.url(release_path(ontology_id.lower(), version or current.version, name))

    def _current(self, ontology_id: str) -> Release:
        entry = self._state.ontology(ontology_id)
        if entry is None or entry.current is None:
            raise KeyError(f"nothing published for {ontology_id!r}; call publish() first")
        return entry.current

    # -- content ------------------------------------------------------------------------

    def publish(
        self,
        ontology_id: str,
        version: str,
        source: Path | bytes,
        *,
        filename: str | None = None,
        products: Mapping[str, Path | bytes] | None = None,
        title: str | None = None,
        license: str | None = None,
        last_modified: datetime | None = None,
        number_of_terms: int | None = None,
        ols_file_location: OlsFileLocation | None = None,
        bioportal_restricted: bool | None = None,
        bioportal_no_file: bool | None = None,
    ) -> None:
        """Publish a release of ``ontology_id``; it becomes the current release.

        Parameters
        ----------
        ontology_id, version
            Lower-cased in URLs; a repeated version replaces the earlier publish.
        source
            A file served in place (never modify it while published) or bytes, written to
            the mirror's temporary directory.
        filename
            Name of the main file; default ``{id}.{ext}`` with the extension of ``source``
            (sniffed for bytes: OBO, RDF/XML, JSON or Turtle).
        products
            Extra files of the release by name, e.g. ``{"go-basic.obo": path}``.
        title, license, number_of_terms
            Metadata reported by the OLS and BioPortal APIs.
        last_modified
            ``Last-Modified`` of the release files; default now.
        ols_file_location, bioportal_restricted, bioportal_no_file
            API knobs, as for :meth:`configure`.
        """
        oid = ontology_id.lower()
        check_segment("version", version)
        name = filename or f"{oid}{guess_extension(source)}"
        when = last_modified or datetime.now(UTC)
        files = {name: self._files.stage(name, source, when)}
        for product, content in (products or {}).items():
            files[product] = self._files.stage(product, content, when)
        release = Release(
            ontology_id=oid,
            version=version,
            main=name,
            files=files,
            submission_id=self._state.next_submission_id(oid),
            published=datetime.now(UTC),
            title=title,
            license=license,
            number_of_terms=number_of_terms,
        )
        self.configure(
            oid,
            ols_file_location=ols_file_location,
            bioportal_restricted=bioportal_restricted,
            bioportal_no_file=bioportal_no_file,
        )
        self._state.update(oid, release)

    def configure(
        self,
        ontology_id: str,
        *,
        ols_file_location: OlsFileLocation | None = None,
        bioportal_restricted: bool | None = None,
        bioportal_no_file: bool | None = None,
    ) -> None:
        """Set API knobs of ``ontology_id``; None leaves a knob unchanged.

        Parameters
        ----------
        ols_file_location
            What OLS reports as ``config.fileLocation``: ``"release"`` (the release file
            on this mirror, the default), ``"null"`` (JSON null) or ``"iri"`` (the
            ontology IRI ``http://purl.obolibrary.org/obo/{id}.owl``, not downloadable).
        bioportal_restricted
            BioPortal downloads answer 403 (licence-restricted).
        bioportal_no_file
            BioPortal downloads answer 404 (no file for the submission).
        """
        if ols_file_location is not None and ols_file_location not in _OLS_KNOBS:
            raise ValueError(f"ols_file_location must be one of {_OLS_KNOBS}")
        self._state.update(
            ontology_id,
            ols_file_location=ols_file_location,
            bioportal_restricted=bioportal_restricted,
            bioportal_no_file=bioportal_no_file,
        )

    def add_file(
        self, path_in_url: str, source: Path | bytes, *, last_modified: datetime | None = None
    ) -> str:
        """Serve ``source`` at ``/files/{path_in_url}``; return its absolute URL if running."""
        rel = path_in_url.lstrip("/").removeprefix("files/")
        if not rel or any(part in ("", ".", "..") for part in rel.split("/")):
            raise ValueError(f"not a clean relative path: {path_in_url!r}")
        served = self._files.stage(PurePosixPath(rel).name, source, last_modified)
        self._state.add_static(rel, served)
        return self.url(f"/files/{rel}") if self._server else f"/files/{rel}"

    # -- faults -------------------------------------------------------------------------

    def inject(
        self, pattern: str, fault: Fault, times: int | None = 1, *, ranged: bool | None = None
    ) -> None:
        """Apply ``fault`` to the next ``times`` requests whose path matches ``pattern``.

        ``ranged=False`` limits it to requests without a ``Range`` header (whole-file
        downloads, not 64 KiB probes); ``ranged=True`` to requests with one.

        ``pattern`` matches as a substring of the path or as an ``fnmatch`` glob;
        ``times=None`` keeps the fault forever. Body faults (reset, truncate, trickle,
        wrong bytes) only fire on GET responses that carry a file body.
        """
        if times is not None and times < 1:
            raise ValueError("times must be >= 1, or None for a permanent fault")
        self._state.arm(pattern, fault, times, ranged)

    def clear_faults(self) -> None:
        """Disarm every injected fault."""
        self._state.disarm_all()

    # -- request log --------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot of the request log, oldest first.

        Waits up to a second for in-flight requests, so a test that reads the log right
        after its client returned sees that request recorded.
        """
        self._state.wait_idle(1.0)
        return self._state.log()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no request is being served; return False on timeout."""
        return self._state.wait_idle(timeout)

    def clear_log(self) -> None:
        """Forget all recorded requests."""
        self._state.wait_idle(1.0)
        self._state.clear_log()

    def requests_for(self, path_substring: str) -> list[RequestRecord]:
        """Return the recorded requests whose path contains ``path_substring``."""
        return [r for r in self.requests if path_substring in r.path]

    def body_bytes_sent(self, path_prefix: str | None = None) -> int:
        """Return the body bytes written, optionally only for paths under ``path_prefix``."""
        return sum(
            r.bytes_sent
            for r in self.requests
            if path_prefix is None or r.path.startswith(path_prefix)
        )
