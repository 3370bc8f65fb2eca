"""Options every command takes, and settings resolved once per invocation."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ontolab.cli._output import setup_logging
from ontolab.settings import OntolabSettings, load_settings

if TYPE_CHECKING:
    from ontolab.catalog import CatalogBackend

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Config file (default: $ONTOLAB_CONFIG, ./ontolab.yaml)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")]
IdsArgument = Annotated[
    list[str] | None, typer.Argument(help="Ontology ids (default: all in the config).")
]


def settings_from(config: Path | None) -> OntolabSettings:
    settings = load_settings(config)
    setup_logging(settings.log_level, settings.log_format)
    return settings


def catalog_for(settings: OntolabSettings, *, read_only: bool = False) -> CatalogBackend:
    """The configured catalog, waiting for other processes as the settings say."""
    from ontolab.catalog import open_catalog

    return open_catalog(
        settings.catalog_url,
        lock_timeout_s=settings.catalog_lock_timeout_s,
        read_only=read_only,
    )
