"""``ontolab serve``: the ASGI service.

``/healthz``, ``/readyz``, ``/metrics`` and a read-only JSON API under ``/api/v1`` (see
docs/service.md). :func:`create_app` builds the FastAPI app; FastAPI loads on first use, so
importing this package costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ontolab.service._app import create_app


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from ontolab.service._app import create_app

        return create_app
    raise AttributeError(f"module 'ontolab.service' has no attribute {name!r}")


__all__ = ["create_app"]
