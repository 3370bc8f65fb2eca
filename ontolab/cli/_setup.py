"""``ontolab init``: a starter config, the data dir and an empty catalog."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ontolab.catalog import SCHEMA_VERSION, open_catalog, redact_url
from ontolab.cli._options import JsonOption
from ontolab.cli._output import emit_json, err_console, guarded
from ontolab.errors import ConfigError
from ontolab.settings import CONFIG_FILENAME, STARTER_CONFIG, load_settings


def init(
    directory: Annotated[Path, typer.Argument(help="Where to create ontolab.yaml.")] = Path(),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing config.")] = False,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Config file to write.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Write a starter ontolab.yaml, create the data dir and an empty catalog."""

    def run() -> dict[str, str | int]:
        path = config or directory / CONFIG_FILENAME
        if path.exists() and not force:
            raise ConfigError(
                f"{path} already exists; pass --force to overwrite it", path=str(path)
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(STARTER_CONFIG, encoding="utf-8")
        settings = load_settings(path)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        catalog = open_catalog(settings.catalog_url)
        catalog.ensure_schema()
        return {
            "config": str(path),
            "data_dir": str(settings.data_dir),
            "catalog": redact_url(settings.catalog_url),
            "schema_version": SCHEMA_VERSION,
        }

    done = guarded(run, as_json=as_json)
    if as_json:
        emit_json(done)
    else:
        err_console.print(f"wrote {done['config']}; data in {done['data_dir']}")
        err_console.print("next: edit 'ontologies:', then run 'ontolab plan' and 'ontolab pull'")
