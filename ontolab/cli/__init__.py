"""The ``ontolab`` command: a thin Typer face over the public API."""

from __future__ import annotations

import os

# The CLI uses no pydantic plugins, and looking for them scans the entry points of every
# installed distribution: about 0.1 s on each command. An explicit setting is respected.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

import typer

from ontolab._version import __version__
from ontolab.cli._db import db
from ontolab.cli._doctor import doctor, prune
from ontolab.cli._obs import obs
from ontolab.cli._promote import promote, rollback
from ontolab.cli._pull import plan, plan_diff, pull
from ontolab.cli._serve import serve
from ontolab.cli._setup import init
from ontolab.cli._show import diff, show
from ontolab.cli._validate import validate

app = typer.Typer(
    name="ontolab",
    help="A trustworthy local mirror of ontologies.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command()(init)
app.command()(plan)
app.command("plan-diff")(plan_diff)
app.command()(pull)
app.command()(promote)
app.command()(rollback)
app.add_typer(db)
app.add_typer(obs)
app.command()(show)
app.command()(diff)
app.command()(validate)
app.command()(doctor)
app.command()(prune)
app.command()(serve)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ontolab {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """A trustworthy local mirror of ontologies."""


def main() -> None:
    app()


__all__ = [
    "app",
    "main",
]
