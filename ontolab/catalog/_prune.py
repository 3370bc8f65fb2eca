"""Prune: remove old versions and what only they used, then orphans; never a live or pinned one.

Per ontology the ``keep`` newest versions stay, and so do the live version and every pinned
one (``versions.pinned``, or a sha256 pinned by the config or ``ontolab.lock``), whatever
their age. Rows go first, in one transaction, then the storage no row refers to any more:
blobs, extracted files, terms tables, and any orphans doctor would report, so a prune cut
short leaves orphans (which the next prune or doctor removes), never a row pointing at
nothing. The foreign key from ``latest`` to ``versions`` makes deleting a live version fail
even if this logic were wrong; it is the safety net, not the rule.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ontolab.catalog._backend import CatalogBackend, Connection, dicts, utcnow
from ontolab.catalog._checkup import duckdb_index_damage
from ontolab.catalog._storage import (
    Item,
    Layout,
    Locks,
    VersionKey,
    dir_name,
    find_orphans,
    load_references,
    lock_name,
    remove,
)
from ontolab.errors import CatalogError, ConfigError

DEFAULT_KEEP = 3
# What prune removes besides old versions; partial downloads (a pull may resume them) and
# strays are doctor's business.
_PRUNED_KINDS = frozenset({"blob", "extracted", "terms", "scratch"})


@dataclass(frozen=True)
class PrunedVersion:
    """A version prune removed (or, in a dry run, would remove)."""

    ontology: str
    version: str
    status: str
    created_at: datetime | None


@dataclass(frozen=True)
class Removed:
    """A file or tree prune deleted (or would delete)."""

    kind: str  # blob, extracted, terms, scratch
    path: str
    size: int
    ontology: str | None
    orphan: bool  # no pruned version used it: it was left over already


@dataclass
class PruneReport:
    """What prune removed, or with ``dry_run`` what it would remove, and the bytes freed."""

    dry_run: bool
    keep: int
    older_than_days: float | None
    versions: list[PrunedVersion] = field(default_factory=list)
    removed: list[Removed] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)  # ontologies a running pull holds

    @property
    def bytes_freed(self) -> int:
        """Bytes deleted (a dry run: bytes that would be)."""
        return sum(r.size for r in self.removed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "keep": self.keep,
            "older_than_days": self.older_than_days,
            "bytes_freed": self.bytes_freed,
            "versions": [asdict(v) for v in self.versions],
            "removed": [asdict(r) for r in self.removed],
            "busy": self.busy,
        }

    def __repr__(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        return (
            f"<PruneReport {verb} {len(self.versions)} versions, {len(self.removed)} paths, "
            f"{self.bytes_freed} B>"
        )

    def _repr_html_(self) -> str:
        verb = "would free" if self.dry_run else "freed"
        rows = "".join(
            f"<tr><td>{html.escape(v.ontology)}</td><td>{html.escape(v.version)}</td>"
            f"<td>{v.status}</td><td>{v.created_at or ''}</td></tr>"
            for v in self.versions
        )
        return (
            f"<div><b>ontolab prune</b>: {len(self.versions)} version(s), "
            f"{len(self.removed)} path(s), {verb} {self.bytes_freed} bytes"
            "<table><tr><th>ontology</th><th>version</th><th>status</th><th>created</th></tr>"
            f"{rows}</table></div>"
        )


def prune(
    catalog: CatalogBackend,
    data_dir: Path,
    *,
    keep: int = DEFAULT_KEEP,
    older_than_days: float | None = None,
    dry_run: bool = False,
    pinned_sha256: Iterable[str] = (),
) -> PruneReport:
    """Remove each ontology's versions beyond the ``keep`` newest, then unreferenced storage.

    Parameters
    ----------
    keep
        Versions to keep per ontology, newest first (by when they were fetched); the live
        and pinned versions are kept on top of these.
    older_than_days
        Only remove versions created more than this many days ago.
    dry_run
        Change nothing; report what would go and the bytes that would be freed.
    pinned_sha256
        sha256 pins (the config's and the lock file's): versions with these bytes stay.

    Raises
    ------
    CatalogError
        ``E_CATALOG_MISSING``: there is no catalog; without it every file would look
        unused, so nothing is removed. ``E_CATALOG_INDEX_DAMAGED``: a DuckDB index lacks
        rows (see ``D_CATALOG_INDEX_DAMAGED`` in docs/doctor.md); nothing is removed.
    """
    if keep < 0:
        raise ConfigError(f"keep is {keep}; it must be 0 or more", code="E_CONFIG_INVALID")
    if not catalog.exists():
        raise CatalogError(
            f"there is no catalog at {catalog.location}; prune removes nothing without the "
            "catalog that says what is in use",
            code="E_CATALOG_MISSING",
            path=catalog.location,
        )
    report = PruneReport(dry_run, keep, older_than_days)
    layout = Layout(Path(data_dir))
    cutoff = utcnow() - timedelta(days=older_than_days) if older_than_days is not None else None
    with Locks(layout.locks) as locks:
        busy = locks.busy_files()
        with catalog.reader() as con:
            rows = dicts(
                con.execute(
                    "SELECT v.ontology, v.version, v.status, v.sha256, v.created_at, v.pinned, "
                    "(l.version IS NOT NULL) AS live FROM versions v LEFT JOIN latest l "
                    "ON l.ontology = v.ontology AND l.version = v.version"
                )
            )
        doomed = _choose(rows, keep, cutoff, set(pinned_sha256))
        for ontology in sorted({o for o, _ in doomed}):
            if lock_name(ontology) in busy or (not dry_run and not locks.take(ontology)):
                report.busy.append(ontology)
        doomed = {k: v for k, v in doomed.items() if k[0] not in report.busy}
        drop = _artifacts_to_drop(rows, doomed)
        if dry_run:
            with catalog.reader() as con:
                refs = load_references(con, without=doomed, drop_artifacts=drop)
        else:
            doomed = _delete(catalog, doomed, drop)
            with catalog.reader() as con:
                refs = load_references(con)
        report.versions = [
            PrunedVersion(o, v, str(row["status"]), row["created_at"])
            for (o, v), row in sorted(doomed.items())
        ]
        mine = {(dir_name(o), str(row["sha256"])) for (o, _), row in doomed.items()}
        for item in find_orphans(layout, refs):
            if item.kind not in _PRUNED_KINDS or not _may_remove(item, busy, locks, dry_run):
                continue
            owned = (
                item.path.name in {sha for _, sha in drop}
                if item.kind == "blob"
                else (item.ontology, _sha_of(item.path)) in mine
            )
            size = item.size if dry_run else remove(item.path, stop=layout.root_of(item.path))
            report.removed.append(
                Removed(item.kind, str(item.path), size, item.ontology, orphan=not owned)
            )
    return report


def _choose(
    rows: list[dict[str, Any]], keep: int, cutoff: datetime | None, pins: set[str]
) -> dict[VersionKey, dict[str, Any]]:
    """The versions to remove: beyond the ``keep`` newest, not live, not pinned, old enough."""
    by_ontology: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_ontology.setdefault(str(row["ontology"]), []).append(row)
    doomed: dict[VersionKey, dict[str, Any]] = {}
    for ontology, versions in by_ontology.items():
        versions.sort(key=lambda r: (r["created_at"] or datetime.min, r["version"]), reverse=True)
        for row in versions[keep:]:
            if row["live"] or row["pinned"] or row["sha256"] in pins:
                continue
            if cutoff is not None and (row["created_at"] is None or row["created_at"] >= cutoff):
                continue
            doomed[(ontology, str(row["version"]))] = row
    return doomed


def _artifacts_to_drop(
    rows: list[dict[str, Any]], doomed: dict[VersionKey, dict[str, Any]]
) -> set[tuple[str, str]]:
    """(ontology, sha256) of artifact rows no remaining version of the ontology uses."""
    remaining = {
        (str(r["ontology"]), str(r["sha256"]))
        for r in rows
        if (str(r["ontology"]), str(r["version"])) not in doomed
    }
    return {(o, str(r["sha256"])) for (o, _), r in doomed.items()} - remaining


def _delete(
    catalog: CatalogBackend,
    doomed: dict[VersionKey, dict[str, Any]],
    drop: set[tuple[str, str]],
) -> dict[VersionKey, dict[str, Any]]:
    """Delete the versions' rows; return those deleted (a version that became live or
    pinned meanwhile, through 'ontolab promote', stays)."""
    if not doomed:
        return doomed
    damage = duckdb_index_damage(catalog)
    if damage is not None:
        raise CatalogError(
            f"an index of the catalog lacks rows ({damage}), so deleting them would fail half-way; "
            "nothing was removed. 'ontolab doctor --fix' rebuilds the catalog file with whole "
            "indexes; prune again after that",
            code="E_CATALOG_INDEX_DAMAGED",
            path=catalog.location,
        )
    # DuckDB checks a foreign key against rows deleted earlier in the same transaction, so
    # the children that have one (gate results) go first, in their own transaction.
    with catalog.transaction() as con:
        for ontology, version in sorted(doomed):
            con.execute(
                "DELETE FROM gate_results WHERE ontology = ? AND version = ?", [ontology, version]
            )
    with catalog.transaction() as con:
        held = _still_needed(con, doomed)
        doomed = {k: v for k, v in doomed.items() if k not in held}
        for ontology, version in sorted(doomed):
            for table in ("files", "validations", "terms", "imports", "versions"):
                con.execute(
                    f"DELETE FROM {table} WHERE ontology = ? AND version = ?",  # noqa: S608
                    [ontology, version],
                )
        for ontology, sha in sorted(drop):
            con.execute(
                "DELETE FROM artifacts WHERE ontology = ? AND sha256 = ? AND NOT EXISTS "
                "(SELECT 1 FROM versions v WHERE v.ontology = ? AND v.sha256 = ?)",
                [ontology, sha, ontology, sha],
            )
    return doomed


def _still_needed(con: Connection, doomed: dict[VersionKey, dict[str, Any]]) -> set[VersionKey]:
    ontologies = sorted({o for o, _ in doomed})
    marks = ", ".join("?" * len(ontologies))
    live = con.execute(
        f"SELECT ontology, version FROM latest WHERE ontology IN ({marks})",  # noqa: S608
        ontologies,
    ).fetchall()
    pinned = con.execute(
        f"SELECT ontology, version FROM versions WHERE pinned AND ontology IN ({marks})",  # noqa: S608
        ontologies,
    ).fetchall()
    return {(str(o), str(v)) for o, v in [*live, *pinned]}


def _may_remove(item: Item, busy: set[str], locks: Locks, dry_run: bool) -> bool:
    """Whether no running pull may own ``item`` (taking its ontology's lock if removing)."""
    if item.ontology is None:
        return not busy and (dry_run or not locks.busy_files())
    if lock_name(item.ontology) in busy:
        return False
    return dry_run or locks.take(item.ontology)


def _sha_of(path: Path) -> str:
    """The artifact sha256 an ``extracted/<o>/<sha>`` or ``terms/<o>/<sha>[/file]`` path is
    under."""
    return path.name if len(path.name) == 64 else path.parent.name
