"""Staging of the files a mirror serves: temporary copies of bytes, cached digests."""

from __future__ import annotations

import itertools
import shutil
import tempfile
import weakref
from datetime import UTC, datetime
from pathlib import Path

from ontolab.testing._mirror_model import ServedFile, file_digest

__all__ = ["FileStore", "check_segment", "guess_extension"]

_COMPRESSED = (".gz", ".bz2", ".xz", ".zip")
# Shared by all mirrors of the process: test suites publish the same corpus files in
# every test, and the key's size and mtime make a stale digest practically impossible.
_DIGESTS: dict[tuple[str, int, int], tuple[int, str]] = {}


class FileStore:
    """Turns ``Path | bytes`` sources into :class:`ServedFile` objects.

    Paths are served in place; bytes are written once to a private temporary
    directory, deleted by :meth:`close` (or at garbage collection as a fallback).
    Digests of paths are cached by path, size and mtime, so republishing is cheap.
    """

    def __init__(self) -> None:
        self._tmpdir: Path | None = None
        self._cleanup: weakref.finalize[[Path, bool], FileStore] | None = None
        self._counter = itertools.count()

    def stage(self, name: str, source: Path | bytes, last_modified: datetime | None) -> ServedFile:
        """Return ``source`` described for serving as ``name``."""
        check_segment("file name", name)
        if isinstance(source, bytes):
            folder = self._temp_dir() / str(next(self._counter))
            folder.mkdir()
            path = folder / name
            path.write_bytes(source)
            digest = file_digest(path)
        elif isinstance(source, Path):
            path = source.resolve()
            stat = path.stat()
            key = (str(path), stat.st_size, stat.st_mtime_ns)
            if key not in _DIGESTS:
                _DIGESTS[key] = file_digest(path)
            digest = _DIGESTS[key]
        else:
            raise TypeError("source must be a pathlib.Path (a file) or bytes (its content)")
        return ServedFile.describe(path, name, last_modified or datetime.now(UTC), digest)

    def close(self) -> None:
        """Delete the temporary copies."""
        if self._cleanup is not None:
            self._cleanup()

    def _temp_dir(self) -> Path:
        if self._tmpdir is None:
            self._tmpdir = Path(tempfile.mkdtemp(prefix="ontolab-mirror-"))
            # A finalizer rather than __del__: it also runs for a store never closed.
            self._cleanup = weakref.finalize(self, shutil.rmtree, self._tmpdir, True)
        return self._tmpdir


def check_segment(what: str, value: str) -> None:
    if not value or "/" in value or value in (".", ".."):
        raise ValueError(f"{what} must be a single URL path segment, got {value!r}")


def guess_extension(source: Path | bytes) -> str:
    """Guess the extension of ``source``: ``.obo``, ``.owl``, ``.owl.gz``, ..."""
    if isinstance(source, Path):
        suffixes = source.suffixes
        if len(suffixes) > 1 and suffixes[-1] in _COMPRESSED:
            return "".join(suffixes[-2:])
        if suffixes:
            return suffixes[-1]
    else:
        head = source[:1024].lstrip()
        if head.startswith((b"format-version:", b"[Term]")) or b"\n[Term]" in head:
            return ".obo"
        if head.startswith((b"<?xml", b"<rdf:RDF")):
            return ".owl"
        if head.startswith((b"{", b"[")):
            return ".json"
        if head.startswith((b"@prefix", b"PREFIX")):
            return ".ttl"
    raise ValueError("cannot guess the file type of the source: pass filename=")
