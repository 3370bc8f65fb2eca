"""A version's files and validations, and the download route that serves a stored file
safely: only what the catalog records, only from inside the store.

A download names a member of a version; the member is looked up in the catalog's ``files``
rows (never joined onto a directory), so ``..``, absolute and encoded names match nothing.
The recorded path is then resolved (symlinks too) and must lie inside the data dir's
``store/`` or ``extracted/``; the file is opened without following a final symlink, and
what was opened is checked again through ``/proc/self/fd`` where Linux offers it, so a
symlink planted in the store (or swapped in after the check) never serves a file elsewhere.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from ontolab.catalog import listings
from ontolab.service._models import FileEntry, Validation
from ontolab.service._pages import Page, PageParams, plain_rows
from ontolab.service._params import OntologyPath, VersionPath
from ontolab.service._problems import problem
from ontolab.service._reader import canonical, json_columns, reader_of, require_version, sql_page

__all__ = ["CHUNK", "StoredFile", "add_file_routes", "open_stored", "stream"]

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredFile:
    """A file of a version as the catalog records it."""

    ontology: str
    version: str
    member: str
    path: str
    size: int | None
    sha256: str | None


def _roots(data_dir: Path) -> tuple[Path, ...]:
    return tuple((data_dir / area).resolve() for area in ("store", "extracted"))


def _inside(path: Path, roots: tuple[Path, ...]) -> bool:
    return any(path != root and path.is_relative_to(root) for root in roots)


def _opened_path(fd: int) -> Path | None:
    """What an open descriptor really is (Linux); None where the system cannot say."""
    link = Path(f"/proc/self/fd/{fd}")
    try:
        return Path(os.readlink(link))
    except OSError:
        return None


def open_stored(found: StoredFile, data_dir: Path) -> int | JSONResponse:
    """An open descriptor on the file, or the problem response that refuses it."""
    where = f"{found.member} of {found.ontology} {found.version}"
    recorded = Path(found.path)
    roots = _roots(data_dir)
    try:
        # Recorded paths are absolute (data_dir is made absolute when settings load); a
        # relative one would resolve against this process's working directory.
        real = recorded.resolve(strict=True) if recorded.is_absolute() else None
    except (OSError, RuntimeError):  # missing, or a symlink loop
        return problem(
            404,
            "E_API_FILE_MISSING",
            f"{where} is recorded but missing from the data dir; 'ontolab doctor' reports it",
            ontology=found.ontology,
        )
    if real is None or not _inside(real, roots):
        log.warning("refused to serve %s: %s resolves outside the store", where, recorded)
        return problem(
            404,
            "E_API_FILE_OUTSIDE_STORE",
            f"{where} does not resolve to a file inside the store; it is not served",
            ontology=found.ontology,
        )
    try:
        fd = os.open(real, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return problem(
            404, "E_API_FILE_MISSING", f"{where} cannot be opened", ontology=found.ontology
        )
    opened = _opened_path(fd)
    if not stat.S_ISREG(os.fstat(fd).st_mode) or (
        opened is not None and not _inside(opened, roots)
    ):
        os.close(fd)
        log.warning("refused to serve %s: it changed under the check", where)
        return problem(
            404,
            "E_API_FILE_OUTSIDE_STORE",
            f"{where} does not resolve to a file inside the store; it is not served",
            ontology=found.ontology,
        )
    return fd


def _chunks(fd: int) -> Iterator[bytes]:
    with os.fdopen(fd, "rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def stream(fd: int, found: StoredFile) -> StreamingResponse:
    """Stream an opened file, with its size, sha256 (ETag) and name."""
    name = Path(found.member).name or "file"
    headers = {
        "Content-Length": str(os.fstat(fd).st_size),
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
        "X-Content-Type-Options": "nosniff",
    }
    if found.sha256:
        headers["ETag"] = f'"{found.sha256}"'
    return StreamingResponse(_chunks(fd), media_type="application/octet-stream", headers=headers)


def _url(request: Request, *parts: str, tail: str = "") -> str:
    path = "/".join(quote(p, safe="") for p in parts)
    return f"{str(request.base_url).rstrip('/')}/api/v1/{path}/{quote(tail, safe='/')}"


def add_file_routes(
    router: APIRouter, pages: Any, *, responses: dict[int | str, Any], data_dir: Path
) -> None:
    """Add the files, download and validations routes of a version to ``router``."""
    not_found = responses

    @router.get(
        "/ontologies/{ontology}/versions/{version}/files",
        tags=["files"],
        response_model=Page[FileEntry],
        responses=not_found,
    )
    def files(
        request: Request, ontology: OntologyPath, version: VersionPath, page: PageParams = pages
    ) -> dict[str, Any]:
        """The files of a version: the download, or what was extracted from it."""
        with reader_of(request).view() as view:
            ontology = canonical(view, ontology)
            require_version(view, ontology, version)
            rows, total = sql_page(view, listings.files(ontology, version), page.limit, page.offset)
        for row in rows:
            row["download"] = _url(
                request, "ontologies", ontology, "versions", version, "files", tail=row["member"]
            )
        return page.page(plain_rows(rows), total)

    @router.get(
        "/ontologies/{ontology}/versions/{version}/files/{member:path}",
        tags=["files"],
        response_class=StreamingResponse,
        response_model=None,
        responses={
            200: {
                "description": "The file's bytes.",
                "content": {"application/octet-stream": {"schema": {"type": "string"}}},
            },
            **not_found,
        },
    )
    def download(
        request: Request, ontology: OntologyPath, version: VersionPath, member: str
    ) -> StreamingResponse | JSONResponse:
        """Stream a stored file of a version. Only files the catalog records for the version
        are served, and only from inside the data dir's store."""
        with reader_of(request).view() as view:
            ontology = canonical(view, ontology)
            require_version(view, ontology, version)
            rows = view.files(ontology, version).rows(named=True)
        row = next((r for r in rows if r["member"] == member), None)
        if row is None:
            return problem(
                404,
                "E_API_FILE_NOT_RECORDED",
                f"{ontology} {version} has no file {member[:200]!r}; GET .../files lists them",
                ontology=ontology,
            )
        found = StoredFile(ontology, version, member, row["path"], row["size"], row["sha256"])
        opened = open_stored(found, data_dir)
        return opened if isinstance(opened, JSONResponse) else stream(opened, found)

    @router.get(
        "/ontologies/{ontology}/versions/{version}/validations",
        tags=["files"],
        response_model=Page[Validation],
        responses=not_found,
    )
    def validations(
        request: Request, ontology: OntologyPath, version: VersionPath, page: PageParams = pages
    ) -> dict[str, Any]:
        """Validator results of a version, newest first."""
        with reader_of(request).view() as view:
            ontology = canonical(view, ontology)
            require_version(view, ontology, version)
            rows, total = sql_page(
                view, listings.validations(ontology, version), page.limit, page.offset
            )
        return page.page(plain_rows(json_columns(rows, "metrics", "messages")), total)
