"""Options every command takes, and settings resolved once per invocation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ontolab.cli._output import setup_logging
from ontolab.settings import OntolabSettings, load_settings

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
