"""Errors as RFC 7807 problem documents: the service's one table from the error tree to HTTP.

Every error answer is ``application/problem+json`` with ``type``, ``title``, ``status``,
``detail`` and ``code``, the stable code of docs/errors.md, so a client branches on
``code`` as a script branches on ``--json``'s ``error_code``. Bad input is a 4xx, never a
500; a catalog that is locked, missing or unreadable is a 503 (as it is exit code 3).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from ontolab.errors import (
    CatalogError,
    CatalogLocked,
    ConfigError,
    OntolabError,
    PolicyViolation,
    StorageError,
    UnknownOntology,
)

__all__ = ["PROBLEM_JSON", "Problem", "install_handlers", "problem", "problem_responses"]

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
# Seconds a client should wait before retrying a 503 (a pull holds the DuckDB file briefly).
RETRY_AFTER_S = 5

# The one table from the error tree to HTTP statuses (first match wins).
STATUSES: tuple[tuple[type[OntolabError], int], ...] = (
    (UnknownOntology, 404),
    (CatalogLocked, 503),
    (CatalogError, 503),
    (StorageError, 503),
    (ConfigError, 400),
    (PolicyViolation, 403),
    (OntolabError, 500),
)
# Codes of answers that no ontolab error raises (routing, validation, auth).
_HTTP_CODES = {
    400: "E_API_BAD_REQUEST",
    401: "E_API_UNAUTHORIZED",
    404: "E_API_NOT_FOUND",
    405: "E_API_METHOD_NOT_ALLOWED",
    422: "E_API_INVALID_REQUEST",
}
_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    422: "Invalid request",
    500: "Internal error",
    503: "Service unavailable",
}


class Problem(BaseModel):
    """An RFC 7807 problem document with ontolab's stable error code."""

    type: str = Field(description="urn:ontolab:error:<code>; docs/errors.md explains each code.")
    title: str = Field(description="Short summary of the HTTP status.")
    status: int = Field(description="The HTTP status code, repeated.")
    detail: str = Field(description="What happened and what to do next.")
    code: str = Field(description="Stable error code (E_...), as in docs/errors.md.")
    ontology: str | None = Field(None, description="The ontology concerned, if any.")


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    ontology: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response."""
    body = Problem(
        type=f"urn:ontolab:error:{code}",
        title=_TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        code=code,
        ontology=ontology,
    )
    return JSONResponse(
        body.model_dump(), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries declaring problem+json bodies for ``statuses``."""
    schema = {"$ref": "#/components/schemas/Problem"}
    return {
        status: {
            "model": Problem,
            "description": _TITLES.get(status, "Error"),
            "content": {PROBLEM_JSON: {"schema": schema}},
        }
        for status in statuses
    }


def status_for(exc: OntolabError) -> int:
    return next(status for cls, status in STATUSES if isinstance(exc, cls))


async def _ontolab_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OntolabError)
    status = status_for(exc)
    if status >= 500:
        log.warning("%s %s answered %s: %s", request.method, request.url.path, status, exc)
    headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
    return problem(status, exc.code, exc.message, ontology=exc.ontology_id, headers=headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, f"E_HTTP_{exc.status_code}")
    headers = dict(exc.headers) if exc.headers else None
    return problem(exc.status_code, code, str(exc.detail), headers=headers)


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()))
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return problem(422, "E_API_INVALID_REQUEST", "; ".join(parts) or "invalid request")


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # The traceback goes to the log, never to the client.
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return problem(500, "E_API_INTERNAL", "the service failed to answer; see its log")


def install_handlers(app: FastAPI) -> None:
    """Answer every error with problem+json."""
    app.add_exception_handler(OntolabError, _ontolab_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(Exception, _unexpected)
