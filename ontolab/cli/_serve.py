"""``ontolab serve``: the HTTP service (``/healthz``, ``/readyz``, ``/metrics``, ``/api/v1``).

FastAPI, uvicorn and asyncio are imported inside the command, so ``ontolab serve --help``
and every other command start without them (asyncio alone costs the CLI ~20 ms).
"""

from __future__ import annotations

import signal
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError

from ontolab.cli._options import ConfigOption, JsonOption, settings_from
from ontolab.cli._output import EXIT_ENVIRONMENT, EXIT_OK, emit_json, err_console, guarded
from ontolab.errors import ConfigError
from ontolab.settings import OntolabSettings, ServiceSettings

if TYPE_CHECKING:
    import socket
    from types import FrameType

    import uvicorn


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _settings(
    config: Any, host: str | None, port: int | None, refresh_every: str | None
) -> OntolabSettings:
    settings = settings_from(config)
    service: dict[str, Any] = {}
    if host is not None:
        service["host"] = host
    if port is not None:
        service["port"] = port
    if refresh_every is not None:
        service["refresh_every"] = refresh_every
    if not service:
        return settings
    try:
        merged = ServiceSettings.model_validate({**settings.service.model_dump(), **service})
    except ValidationError as exc:
        problems = "; ".join(str(e["msg"]) for e in exc.errors())
        raise ConfigError(f"invalid option: {problems}", code="E_CONFIG_INVALID") from None
    return settings.model_copy(update={"service": merged})


def serve(
    host: Annotated[
        str | None, typer.Option("--host", help="Listen address (default: service.host).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", min=0, max=65535, help="Port (default: service.port; 0: any free)."),
    ] = None,
    refresh_every: Annotated[
        str | None,
        typer.Option(
            "--refresh-every",
            help="Pull everything in the background this often ('6h', '30m'), one at a time.",
        ),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """HTTP service: /healthz, /readyz, /metrics and the read-only JSON API /api/v1."""
    settings = guarded(lambda: _settings(config, host, port, refresh_every), as_json=as_json)
    listen = settings.service
    if not _is_loopback(listen.host):
        exposed = "with a bearer token" if listen.token else "WITHOUT a token"
        err_console.print(
            f"[yellow]warning[/] listening on {listen.host}, beyond this machine, {exposed}; "
            "set ONTOLAB_SERVICE__TOKEN and put TLS in front (docs/service.md)"
        )
    import uvicorn

    from ontolab.service import create_app

    app = guarded(lambda: create_app(settings), as_json=as_json)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=listen.host,
            port=listen.port,
            log_config=None,  # ontolab's logging (settings.log_level / log_format) applies
            access_log=settings.log_level == "debug",
            lifespan="on",
        )
    )
    sock = _bind(listen.host, listen.port, as_json=as_json)
    import asyncio

    _quiet_signals()
    ok = asyncio.run(_run(server, sock, as_json=as_json))
    raise typer.Exit(EXIT_OK if ok else EXIT_ENVIRONMENT)


def _bind(host: str, port: int, *, as_json: bool) -> socket.socket:
    """The listening socket, bound here so a busy port is a clear error (exit 3), not a
    traceback from inside the server."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say TCP, and
    # without it every keep-alive answer waits ~40 ms for a delayed ACK (headers and body
    # go out as two writes).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        message = f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another --port"
        if as_json:
            emit_json(
                {"ok": False, "exit_code": EXIT_ENVIRONMENT, "error_code": "E_SERVE_BIND",
                 "message": message}
            )  # fmt: skip
        else:
            err_console.print(f"[bold red]error[/] [E_SERVE_BIND] {message}")
        raise typer.Exit(EXIT_ENVIRONMENT) from None
    return sock


def _quiet_signals() -> None:
    """After a graceful stop, uvicorn re-raises the signal that stopped it, which would end
    the process with -15 (SIGTERM) rather than 0: these handlers take that re-raise."""

    def stopped(signum: int, frame: FrameType | None) -> None:
        del signum, frame

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stopped)


async def _run(server: uvicorn.Server, sock: socket.socket, *, as_json: bool) -> bool:
    """Serve until a signal; print the URL once listening (with ``as_json``, also one JSON
    document on stdout). False when it failed to start."""
    import asyncio

    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.02)
    if server.started:
        for listener in server.servers:
            for bound in listener.sockets:
                bound_host, bound_port = bound.getsockname()[:2]
                shown = f"[{bound_host}]" if ":" in bound_host else bound_host
                url = f"http://{shown}:{bound_port}"
                print(f"serving on {url}", file=sys.stderr, flush=True)
                if as_json:
                    emit_json({"url": url, "host": bound_host, "port": bound_port})
    await task
    return bool(server.started)
