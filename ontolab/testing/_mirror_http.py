"""Request handler of the local mirror: routing, HTTP validators, ranges and faults.

File bodies go out with ``socket.sendfile`` straight from disk, so the mirror keeps up
with curl on loopback and is never the bottleneck of a download benchmark.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import struct
import time
from datetime import UTC
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler
from typing import IO, TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

from ontolab.testing import _mirror_api as api
from ontolab.testing._mirror_model import Fault, RequestRecord, ServedFile

if TYPE_CHECKING:
    from ontolab.testing._mirror_server import MirrorServer

__all__ = ["LOOP_PATH", "MirrorHandler", "parse_range"]

logger = logging.getLogger("ontolab.testing.mirror")

LOOP_PATH = "/_mirror/loop/"
_RELEASE = re.compile(r"/obo/([^/]+)/releases/([^/]+)/([^/]+)")
_PURL = re.compile(r"/obo/([^/.]+)(\.[^/]+)")
_PRODUCT = re.compile(r"/obo/([^/]+)/([^/]+)")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_ETAG = re.compile(r'(?:W/)?"[^"]*"')
_OLS = re.compile(r"/ols4/api/ontologies/([^/]+)")
_BIOPORTAL = re.compile(r"/bioportal/ontologies/([^/]+)/(latest_submission|download)")
_APIKEY = re.compile(r"apikey\s+token=([^\s,]+)", re.IGNORECASE)
_XOR = bytes(b ^ 0xFF for b in range(256))
_HTML = (
    b"<!DOCTYPE html>\n<html><head><title>503 Service Temporarily Unavailable</title></head>"
    b"<body><h1>Service Temporarily Unavailable</h1><p>The server is temporarily unable to "
    b"service your request. Please try again later.</p><hr><address>nginx</address></body>"
    b"</html>\n"
)

Unsatisfiable = Literal["unsatisfiable"]


def parse_range(value: str, size: int) -> tuple[int, int] | Unsatisfiable | None:
    """Parse a single ``Range`` header into a half-open ``(start, stop)``.

    Returns None for a header to ignore (malformed or multi-range: serve the full body)
    and ``"unsatisfiable"`` when no requested byte exists (answer 416).
    """
    match = _RANGE.fullmatch(value.replace(" ", ""))
    if match is None or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if size == 0:
        return "unsatisfiable"
    if not first:
        suffix = int(last)
        return (max(0, size - suffix), size) if suffix else "unsatisfiable"
    start = int(first)
    if start >= size:
        return "unsatisfiable"
    end = min(int(last), size - 1) if last else size - 1
    return (start, end + 1) if end >= start else None


class MirrorHandler(BaseHTTPRequestHandler):
    """Serve one connection of the mirror (HTTP/1.1 with keep-alive)."""

    server: MirrorServer
    protocol_version = "HTTP/1.1"
    server_version = "ontolab-mirror/1"
    sys_version = ""
    # Idle keep-alive connections and stalled readers are dropped after this.
    timeout = 60

    def version_string(self) -> str:
        """The ``Server`` header value."""
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Stay silent: tests read ``Mirror.requests`` instead of stderr."""

    def handle(self) -> None:
        """Serve requests until close, treating a vanished client as routine."""
        try:
            super().handle()
        except (ConnectionError, TimeoutError) as exc:
            logger.debug("client went away: %r", exc)

    def do_GET(self) -> None:
        """Answer a GET."""
        self._dispatch()

    def do_HEAD(self) -> None:
        """Answer a HEAD: the headers a GET would get, no body."""
        self._dispatch()

    # -- plumbing -----------------------------------------------------------------------

    def send_response(self, code: int, message: str | None = None) -> None:
        """Send the status line, remembering the code for the request log."""
        self._status = code
        super().send_response(code, message)

    def _dispatch(self) -> None:
        state = self.server.state
        state.begin()
        started = time.monotonic()
        self._status, self._sent, self._fault = 0, 0, ""
        self._path, query = self.path, ""
        try:
            split = urlsplit(self.path)
            self._path, query = unquote(split.path), split.query
            self._route(self._path, query)
        except (ConnectionError, TimeoutError) as exc:
            logger.debug("client went away during %s %s: %r", self.command, self.path, exc)
            self.close_connection = True
        except Exception:
            logger.exception("mirror failed on %s %s", self.command, self.path)
            self.close_connection = True
            if self._status == 0:
                with contextlib.suppress(OSError):
                    self._reply(500, {"Content-Type": "text/plain; charset=utf-8"})
        finally:
            state.finish(
                RequestRecord(
                    method=self.command,
                    path=self._path,
                    query=query,
                    status=self._status,
                    request_headers={k.lower(): v for k, v in self.headers.items()},
                    range=self.headers.get("Range"),
                    bytes_sent=self._sent,
                    started=started,
                    fault=self._fault or None,
                )
            )

    def _reply(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)
            self._sent += len(body)

    def _json(self, status: int, doc: dict[str, Any]) -> None:
        self._reply(status, {"Content-Type": "application/json"}, json.dumps(doc).encode())

    def _redirect(self, location: str) -> None:
        self._reply(302, {"Location": location})

    # -- routing ------------------------------------------------------------------------

    def _route(self, path: str, query: str) -> None:
        state = self.server.state
        if path.startswith(LOOP_PATH):
            self._fault = "redirect_loop"
            other = "b" if path.endswith("/a") else "a"
            self._redirect(f"{state.base_url}{LOOP_PATH}{other}")
        elif (
            fault := state.take_fault(path, body=False, ranged="Range" in self.headers)
        ) is not None:
            self._replace_with(fault)
        elif match := _RELEASE.fullmatch(path):
            self._obo_release(*match.groups())
        elif match := _PURL.fullmatch(path):
            self._purl(match[1], match[1] + match[2], fallback_suffix=match[2])
        elif match := _PRODUCT.fullmatch(path):
            self._purl(match[1], match[2])
        elif match := _OLS.fullmatch(path):
            self._ols(match[1], path)
        elif match := _BIOPORTAL.fullmatch(path):
            self._bioportal(match[1], match[2], query)
        elif path.startswith("/files/") and (static := state.static(path[len("/files/") :])):
            self._serve(static)
        else:
            self._not_found()

    def _not_found(self) -> None:
        self._reply(404, {"Content-Type": "text/plain; charset=utf-8"}, b"Not Found\n")

    def _replace_with(self, fault: Fault) -> None:
        self._fault = fault.label
        if fault.kind == "redirect_to":
            assert fault.location is not None
            self._redirect(fault.location)
        elif fault.kind == "redirect_loop":
            self._redirect(f"{self.server.state.base_url}{LOOP_PATH}a")
        elif fault.kind == "html_page":
            self._reply(fault.code, {"Content-Type": "text/html; charset=utf-8"}, _HTML)
        else:
            headers = {"Content-Type": "text/plain; charset=utf-8"}
            if fault.retry_after is not None:
                headers["Retry-After"] = str(fault.retry_after)
            self._reply(fault.code, headers, fault.body)

    def _obo_release(self, ontology_id: str, version: str, name: str) -> None:
        entry = self.server.state.ontology(ontology_id)
        release = entry.release(version) if entry else None
        served = release.files.get(name) if release else None
        if served is None:
            self._not_found()
        else:
            self._serve(served)

    def _purl(self, ontology_id: str, name: str, fallback_suffix: str = "") -> None:
        entry = self.server.state.ontology(ontology_id)
        release = entry.current if entry else None
        if release is not None and name not in release.files and fallback_suffix:
            # /obo/{id}.obo also reaches a main file with another name but that format.
            name = release.main if release.main.endswith(fallback_suffix) else name
        if release is None or name not in release.files:
            self._not_found()
        else:
            target = api.release_path(ontology_id.lower(), release.version, name)
            self._redirect(self.server.state.base_url + target)

    def _ols(self, ontology_id: str, path: str) -> None:
        state = self.server.state
        entry = state.ontology(ontology_id)
        if entry is None or entry.current is None:
            self._json(404, api.ols_not_found(path))
        else:
            doc = api.ols_ontology(ontology_id.lower(), entry, entry.current, state.base_url)
            self._json(200, doc)

    def _bioportal(self, acronym: str, action: str, query: str) -> None:
        state = self.server.state
        keys = parse_qs(query).get("apikey", [])
        if match := _APIKEY.search(self.headers.get("Authorization", "")):
            keys.append(match[1])
        entry = state.ontology(acronym)
        release = entry.current if entry else None
        if state.api_key not in keys:
            self._json(401, api.bioportal_error(401, api.BIOPORTAL_UNAUTHORIZED))
        elif entry is None or release is None:
            self._json(404, api.bioportal_error(404, api.BIOPORTAL_UNKNOWN))
        elif action == "latest_submission":
            doc = api.bioportal_submission(acronym.upper(), release, state.base_url)
            self._json(200, doc)
        elif entry.bioportal_restricted:
            self._json(403, api.bioportal_error(403, api.BIOPORTAL_RESTRICTED))
        elif entry.bioportal_no_file:
            self._json(404, api.bioportal_error(404, api.BIOPORTAL_NO_FILE))
        else:
            disposition = f'attachment; filename="{release.main}"'
            self._serve(release.files[release.main], {"Content-Disposition": disposition})

    # -- files --------------------------------------------------------------------------

    def _serve(self, served: ServedFile, extra: dict[str, str] | None = None) -> None:
        validators = {"ETag": served.etag, "Last-Modified": served.http_date}
        if self._not_modified(served):
            self._reply(304, validators)
            return
        start, stop, status = 0, served.size, 200
        headers = {
            "Content-Type": served.content_type,
            "Accept-Ranges": "bytes",
            **validators,
            **(extra or {}),
        }
        requested = self.headers.get("Range")
        if requested is not None and self._if_range_holds(served):
            parsed = parse_range(requested, served.size)
            if parsed == "unsatisfiable":
                self._reply(416, {**headers, "Content-Range": f"bytes */{served.size}"})
                return
            if parsed is not None:
                start, stop = parsed
                status = 206
                headers["Content-Range"] = f"bytes {start}-{stop - 1}/{served.size}"
        fault = None
        if self.command == "GET":
            ranged = "Range" in self.headers
            fault = self.server.state.take_fault(self._path, body=True, ranged=ranged)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(stop - start))
        self.end_headers()
        if self.command == "HEAD":
            return
        with served.path.open("rb") as fh:
            if fault is None:
                self._sendfile(fh, start, stop - start)
            else:
                self._fault = fault.label
                self._faulty_body(fault, fh, start, stop - start)

    def _not_modified(self, served: ServedFile) -> bool:
        if (tags := self.headers.get("If-None-Match")) is not None:
            # Weak comparison, as RFC 9110 requires for If-None-Match.
            wanted = served.etag.removeprefix("W/")
            return tags.strip() == "*" or any(
                tag.removeprefix("W/") == wanted for tag in _ETAG.findall(tags)
            )
        if (since := self.headers.get("If-Modified-Since")) is not None:
            try:
                when = parsedate_to_datetime(since)
            except (TypeError, ValueError):
                return False
            when = when if when.tzinfo else when.replace(tzinfo=UTC)
            return served.last_modified <= when
        return False

    def _if_range_holds(self, served: ServedFile) -> bool:
        if (value := self.headers.get("If-Range")) is None:
            return True
        value = value.strip()
        if value.startswith(('"', "W/")):
            # Strong comparison: a weak tag never matches, so the full body is sent.
            return value == served.etag
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return False
        return (when if when.tzinfo else when.replace(tzinfo=UTC)) == served.last_modified

    def _sendfile(self, fh: IO[bytes], offset: int, count: int) -> None:
        if count <= 0:
            return
        try:
            self.connection.sendfile(fh, offset, count)
        finally:
            # sendfile leaves the file position after the last byte sent, even on error.
            self._sent += fh.tell() - offset

    def _faulty_body(self, fault: Fault, fh: IO[bytes], start: int, length: int) -> None:
        if fault.kind in ("reset", "truncate"):
            self._sendfile(fh, start, int(length * fault.at_fraction))
            if fault.kind == "reset":
                self._abort()
            # Either way the promised Content-Length is never met: end the connection.
            self.close_connection = True
        elif fault.kind == "trickle":
            self._trickle(fault, fh, start, length)
        else:
            # wrong_bytes: same length and headers, a flipped block in the middle.
            middle = length // 2
            self._sendfile(fh, start, middle)
            fh.seek(start + middle)
            bad = fh.read(min(4096, length - middle)).translate(_XOR)
            self.wfile.write(bad)
            self._sent += len(bad)
            self._sendfile(fh, start + middle + len(bad), length - middle - len(bad))

    def _trickle(self, fault: Fault, fh: IO[bytes], start: int, length: int) -> None:
        stopping = self.server.state.stopping
        chunk = max(1, fault.bytes_per_s // 20)
        began = time.monotonic()
        sent = 0
        fh.seek(start)
        while sent < length:
            if time.monotonic() - began >= fault.total_s or stopping.is_set():
                # Bounded: give up like a stalled server would, leaving the body short.
                self.close_connection = True
                return
            data = fh.read(min(chunk, length - sent))
            self.wfile.write(data)
            sent += len(data)
            self._sent += len(data)
            # Pace against the start time so that sleeps do not accumulate drift.
            stopping.wait(max(0.0, sent / fault.bytes_per_s - (time.monotonic() - began)))

    def _abort(self) -> None:
        """Close the connection with a TCP RST instead of an orderly FIN."""
        sock = self.connection
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # rfile holds a reference that would defer the real close() until it is closed.
        self.rfile.close()
        sock.close()
        self.close_connection = True
