"""``ontolab.lock``: the exact bytes a plan resolved to (url, version, sha256, size).

JSON, sorted, one entry per ontology, so it diffs well in review and is read without YAML.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ontolab._html import facts
from ontolab._version import __version__
from ontolab.errors import LockFileError
from ontolab.models import PlanItem

LOCK_FILENAME = "ontolab.lock"
LOCK_FORMAT = 1
_FIELDS = ("url", "version", "version_iri", "sha256", "size", "resolver", "format")


def write_lock(path: Path, items: Iterable[PlanItem]) -> Path:
    """Write the lock file atomically (temp file + rename)."""
    entries: dict[str, dict[str, Any]] = {}
    for item in sorted(items, key=lambda i: i.ontology):
        if not item.sha256:
            raise LockFileError(
                f"cannot lock {item.ontology}: its sha256 is unknown", ontology_id=item.ontology
            )
        entries[item.ontology] = {
            "url": item.url,
            "version": item.version,
            "version_iri": item.version_iri,
            "sha256": item.sha256,
            "size": item.expected_size,
            "resolver": item.resolver,
            "format": item.format,
        }
    doc = {
        "lock_format": LOCK_FORMAT,
        "generated_by": f"ontolab {__version__}",
        "ontologies": entries,
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_lock(path: Path) -> list[PlanItem]:
    """The pinned items of a lock file; each carries its sha256 as a pin."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise LockFileError(
            f"{path} does not exist; run 'ontolab plan --lock' first", path=str(path)
        ) from exc
    except (OSError, ValueError) as exc:
        raise LockFileError(f"{path} is not a readable lock file: {exc}", path=str(path)) from exc
    if not isinstance(doc, dict) or doc.get("lock_format") != LOCK_FORMAT:
        raise LockFileError(
            f"{path} has lock_format {doc.get('lock_format') if isinstance(doc, dict) else '?'}; "
            f"this ontolab reads {LOCK_FORMAT}",
            path=str(path),
        )
    items = []
    for oid, entry in sorted(doc.get("ontologies", {}).items()):
        missing = [k for k in ("url", "sha256") if not entry.get(k)]
        if missing:
            raise LockFileError(f"{path}: entry {oid!r} lacks {', '.join(missing)}", path=str(path))
        items.append(
            PlanItem(
                ontology=oid,
                resolver=entry.get("resolver") or "url",
                url=entry["url"],
                version=entry.get("version"),
                version_iri=entry.get("version_iri"),
                expected_size=entry.get("size"),
                sha256=entry["sha256"],
                format=entry.get("format"),
            )
        )
    return items


@dataclass(frozen=True)
class PlanChange:
    """One ontology's difference between a baseline (lock or last plan) and now."""

    ontology: str
    change: str  # added | removed | changed | unchanged
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ontology": self.ontology,
            "change": self.change,
            "fields": {k: {"from": a, "to": b} for k, (a, b) in self.fields.items()},
        }

    def _repr_html_(self) -> str:
        moved = [(name, f"{a} → {b}") for name, (a, b) in self.fields.items()]
        return facts(f"{self.ontology}: {self.change}", moved or [("change", self.change)])


_COMPARED = ("version", "url", "expected_size", "version_iri", "etag")


def diff_plans(baseline: Sequence[PlanItem], current: Sequence[PlanItem]) -> list[PlanChange]:
    """Per ontology: added, removed, changed (with the fields that moved) or unchanged.

    A field unknown on either side (None) is not a change: a lock has no ETag, a plan may not
    know the size.
    """
    before = {i.ontology: i for i in baseline}
    after = {i.ontology: i for i in current}
    changes = []
    for oid in sorted(before.keys() | after.keys()):
        old, new = before.get(oid), after.get(oid)
        if old is None:
            changes.append(PlanChange(oid, "added"))
        elif new is None:
            changes.append(PlanChange(oid, "removed"))
        else:
            moved = {
                name: (getattr(old, name), getattr(new, name))
                for name in _COMPARED
                if getattr(old, name) is not None
                and getattr(new, name) is not None
                and getattr(old, name) != getattr(new, name)
            }
            changes.append(PlanChange(oid, "changed" if moved else "unchanged", moved))
    return changes
