"""How the CLI reports: one exit-code table, JSON on stdout, humans on a rich console."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer

from ontolab.errors import (
    CatalogError,
    ConfigError,
    LockFileError,
    OntolabError,
    StorageError,
)

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import TaskID

    from ontolab.obs import LogFormat

T = TypeVar("T")

EXIT_OK = 0
EXIT_FAILED = 1  # the run finished, but some ontology failed or was rejected
EXIT_USAGE = 2  # usage or configuration error
EXIT_ENVIRONMENT = 3  # catalog or environment problem: locked, corrupt, disk full

# The one table from the error tree to exit codes (first match wins).
EXIT_CODES: tuple[tuple[type[OntolabError], int], ...] = (
    (ConfigError, EXIT_USAGE),
    (LockFileError, EXIT_USAGE),
    (CatalogError, EXIT_ENVIRONMENT),
    (StorageError, EXIT_ENVIRONMENT),
    (OntolabError, EXIT_FAILED),
)


class _LazyConsole:
    """A rich Console built on first use: ``--json`` runs never import rich (tens of ms)."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return getattr(self._console, name)


err_console: Console = _LazyConsole(stderr=True, highlight=False)  # type: ignore[assignment]
out_console: Console = _LazyConsole(highlight=False)  # type: ignore[assignment]


# Failure reasons of receipt rows that are environment problems, not the ontology's fault.
ENVIRONMENT_REASONS = frozenset({"storage", "catalog"})


def exit_code_for(exc: OntolabError) -> int:
    return next(code for cls, code in EXIT_CODES if isinstance(exc, cls))


def exit_code_for_rows(reasons: list[str | None]) -> int:
    """0 when nothing failed; 3 when a failure was the environment's (disk full); else 1."""
    failed = [r for r in reasons if r is not None]
    if not failed:
        return EXIT_OK
    return EXIT_ENVIRONMENT if ENVIRONMENT_REASONS.intersection(failed) else EXIT_FAILED


def emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
    sys.stdout.flush()


def fail(exc: OntolabError, *, as_json: bool) -> NoReturn:
    code = exit_code_for(exc)
    if as_json:
        emit_json({"ok": False, "exit_code": code, **exc.to_dict()})
    else:
        err_console.print(f"[bold red]error[/] {exc}")
    raise typer.Exit(code)


def guarded(fn: Callable[[], T], *, as_json: bool) -> T:
    """Run a command body; map ontolab errors to the exit-code table."""
    try:
        return fn()
    except OntolabError as exc:
        fail(exc, as_json=as_json)


def setup_logging(level: str, log_format: LogFormat = "console") -> None:
    """stderr logging as the settings ask (configured in one place: ``ontolab.obs``)."""
    from ontolab.obs import configure_logging

    configure_logging(level, log_format)


class RichProgress:
    """Download bars on stderr; drawn only for a terminal (a pipe or a log gets none)."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=err_console,
            transient=True,
        )
        self._tasks: dict[str, TaskID] = {}

    def start(self, ontology: str, total: int | None, done: int) -> None:
        self._tasks[ontology] = self._bars.add_task(ontology, total=total, completed=done)

    def advance(self, ontology: str, nbytes: int) -> None:
        self._bars.advance(self._tasks[ontology], nbytes)

    def finish(self, ontology: str) -> None:
        task = self._tasks.pop(ontology, None)
        if task is not None:
            self._bars.remove_task(task)


@contextmanager
def progress_bars() -> Iterator[RichProgress | None]:
    if not err_console.is_terminal:
        yield None
        return
    bars = RichProgress()
    with bars._bars:
        yield bars
