"""Bearer-token auth for ``/api/v1``: on when ``service.token`` is set.

``/healthz``, ``/readyz`` and ``/metrics`` stay open: orchestrator probes and Prometheus
scrape without credentials, and they reveal no catalog content beyond counts.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

__all__ = ["require_token"]

# auto_error=False: a missing header is answered below, as a problem with WWW-Authenticate.
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="Set ONTOLAB_SERVICE__TOKEN on the server; send 'Authorization: Bearer <token>'.",
)


def require_token(token: SecretStr) -> Any:
    """A dependency that admits only requests carrying ``token``.

    Added to the API only when a token is set, so the OpenAPI document declares the bearer
    scheme exactly when it is enforced.
    """
    expected = token.get_secret_value().encode()

    def check(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        given = credentials.credentials.encode() if credentials is not None else b""
        # Constant-time: the comparison time says nothing about how much of a guess matched.
        if credentials is None or not hmac.compare_digest(given, expected):
            raise HTTPException(
                401,
                detail="this API needs 'Authorization: Bearer <token>' with the service's token",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return Depends(check)
