"""``ontolab promote`` and ``ontolab rollback``: move the latest pointer by hand.

Blue/green for data: the versions stay stored, only the pointer moves, in one transaction
with a ``latest_history`` row naming who moved it and why (``ontolab db history``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ontolab.cli._options import ConfigOption, JsonOption
from ontolab.cli._output import emit_json, err_console, guarded
from ontolab.errors import CatalogError

if TYPE_CHECKING:
    from ontolab.catalog import CatalogBackend, Promotion
    from ontolab.settings import OntolabSettings

log = logging.getLogger("ontolab.cli")

ReasonOption = Annotated[
    str | None, typer.Option("--reason", help="Why; recorded in the pointer's history.")
]


def _moved(config: Path | None, move: Any) -> Promotion:
    from ontolab.catalog import Event, Recorder
    from ontolab.cli._db import open_for
    from ontolab.cli._options import settings_from
    from ontolab.obs import event_sinks

    catalog = open_for(config, read_only=False)
    try:
        if not catalog.exists():
            # Moving a pointer never creates a catalog: there would be nothing to point at.
            raise CatalogError(
                f"there is no catalog at {catalog.location} yet; run 'ontolab init' or "
                "'ontolab pull'",
                code="E_CATALOG_MISSING",
                path=catalog.location,
            )
        done: Promotion = move(catalog)
        if done.changed:
            # The same event a pull writes when it promotes, so 'db events' tells the story.
            settings = settings_from(config)
            sinks = event_sinks(settings)
            Recorder(catalog, sinks=sinks).event(
                Event(
                    f"latest.{done.action}",
                    ontology=done.ontology,
                    version=done.version,
                    stage="promote",
                    message=done.reason,
                    payload={"previous": done.previous, "actor": done.actor},
                )
            )
            _write_textfile(catalog, settings)
        return done
    finally:
        catalog.close()


def _write_textfile(catalog: CatalogBackend, settings: OntolabSettings) -> None:
    """Refresh the metrics textfile (the live version moved); never fails the command."""
    path = settings.metrics_textfile
    if path is None:
        return
    try:
        from ontolab.obs import write_textfile

        write_textfile(catalog, path, settings)
    except Exception:  # the pointer has moved; a metrics file must not turn that into an error
        log.warning("cannot write the metrics textfile %s", path, exc_info=True)


def _report(done: Promotion, *, as_json: bool) -> None:
    if as_json:
        emit_json(
            {
                "ontology": done.ontology,
                "action": done.action,
                "version": done.version,
                "previous": done.previous,
                "changed": done.changed,
                "actor": done.actor,
                "reason": done.reason,
                "at": done.at.isoformat(),
            }
        )
    elif done.changed:
        err_console.print(
            f"{done.ontology}: {done.action} {done.previous or '(nothing live)'} -> {done.version}"
        )
    else:
        err_console.print(f"{done.ontology}: {done.version} is already live; nothing moved")


def promote(
    ontology: Annotated[str, typer.Argument(help="Ontology id.")],
    version: Annotated[str, typer.Argument(help="A good version of it ('ontolab db versions').")],
    reason: ReasonOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make VERSION (a good one) the live version of ONTOLOGY."""
    from ontolab.catalog import promote as move

    done = guarded(
        lambda: _moved(config, lambda c: move(c, ontology, version, reason=reason)),
        as_json=as_json,
    )
    _report(done, as_json=as_json)


def rollback(
    ontology: Annotated[str, typer.Argument(help="Ontology id.")],
    reason: ReasonOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Return ONTOLOGY to the good version that was live before the current one."""
    from ontolab.catalog import rollback as move

    done = guarded(
        lambda: _moved(config, lambda c: move(c, ontology, reason=reason)), as_json=as_json
    )
    _report(done, as_json=as_json)
