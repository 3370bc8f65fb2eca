"""Doctor: reconcile the data dir with the catalog, check settings, hosts and disk.

Each finding has a stable code (``D_...``, listed in :data:`FINDINGS` and docs/doctor.md), a
severity, a subject and a message saying what it is and what ``fix=True`` does. Repairs
follow the pipeline's own rule in reverse, "rows first, then files": catalog rows change in
one transaction, then storage no row refers to is deleted, so a repair cut short leaves
orphans, which the next doctor explains and removes, never a row pointing at nothing.

A pull may be running meanwhile. Pulls hold their ontology's lock (``data_dir/locks``) from
download to the transaction that records the outcome; doctor leaves an ontology whose lock is
held alone (``D_PULL_IN_PROGRESS``), holds the lock itself while repairing one, and leaves
store blobs and scratch whose ontology cannot be told alone while any pull runs.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ontolab.catalog._backend import CatalogBackend, Connection, utcnow
from ontolab.catalog._checkup import check_environment, duckdb_index_damage, rebuild_duckdb
from ontolab.catalog._findings import FINDINGS, DoctorReport, Finding, Severity
from ontolab.catalog._latest import current_actor, demote
from ontolab.catalog._schema import SCHEMA_VERSION
from ontolab.catalog._storage import (
    CatalogState,
    Item,
    Layout,
    Locks,
    References,
    VersionKey,
    find_orphans,
    load_references,
    lock_name,
    remove,
)
from ontolab.errors import CatalogError, CatalogLocked

DEFAULT_MIN_FREE_BYTES = 1_000_000_000
_ORPHAN_CODES = {
    "blob": "D_ORPHAN_BLOB",
    "extracted": "D_ORPHAN_EXTRACTED",
    "terms": "D_ORPHAN_TERMS",
    "scratch": "D_TORN_STAGING",
    "partial": "D_PARTIAL_DOWNLOAD",
    "stray": "D_STRAY_FILE",
}


def doctor(
    catalog: CatalogBackend,
    data_dir: Path,
    *,
    settings: Any = None,
    fix: bool = False,
    deep: bool = False,
    min_free_bytes: int = DEFAULT_MIN_FREE_BYTES,
) -> DoctorReport:
    """Reconcile ``data_dir`` with ``catalog``; with ``fix``, repair what is safe.

    Parameters
    ----------
    catalog
        The catalog the data dir belongs to (doctor trusts it: storage it does not refer
        to is an orphan).
    data_dir
        The data dir: store, staging, extracted files, terms tables, locks.
    settings
        :class:`~ontolab.settings.OntolabSettings` to check hosts, resolver URLs and keys.
    fix
        Repair: demote a live version that is not good, mark versions whose files are gone
        ``failed``, drop rows that point at nothing and staged rows no pull works on, then
        delete orphans, torn scratch and partial downloads. Never touches an ontology whose
        pull is running.
    deep
        Also hash every blob and extracted file (reads everything; sizes are always checked).
    min_free_bytes
        Below this much free space on the data dir's disk, report ``D_DISK_LOW``.
    """
    report = DoctorReport(str(data_dir), catalog.location, fix=fix, deep=deep)
    report.findings.extend(check_environment(catalog, Path(data_dir), settings, min_free_bytes))
    with Locks(Layout(Path(data_dir)).locks) as locks:
        work = _Doctor(catalog, Layout(Path(data_dir)), locks, report, settings)
        if work.open():
            work.reconcile()
    return report


class _Doctor:
    def __init__(
        self,
        catalog: CatalogBackend,
        layout: Layout,
        locks: Locks,
        report: DoctorReport,
        settings: Any,
    ) -> None:
        self.catalog, self.layout, self.locks, self.report = catalog, layout, locks, report
        self.fix, self.deep = report.fix, report.deep
        self.configured = {o.id for o in settings.ontologies} if settings is not None else set()
        self.busy: set[str] = set()  # lock file names other processes hold
        self.repairable = True  # whether catalog rows may be changed

    def add(self, code: str, severity: Severity, subject: str, message: str, **more: Any) -> int:
        self.report.findings.append(Finding(code, severity, subject, message, **more))
        return len(self.report.findings) - 1

    def mark_fixed(self, index: int, size: int | None = None) -> None:
        found = self.report.findings[index]
        self.report.findings[index] = replace(
            found, fixed=True, size=size if size is not None else found.size
        )

    # -- the catalog itself ------------------------------------------------------------------
    def open(self) -> bool:
        """Whether the catalog can be reconciled with storage (migrating it under ``fix``)."""
        where = self.catalog.location
        if not self.catalog.exists():
            stored = any(p.exists() for p in (self.layout.store, self.layout.extracted))
            self.add(
                "D_CATALOG_MISSING",
                "warning" if stored else "info",
                where,
                "there is no catalog here yet"
                + (
                    ", but the data dir holds downloads: is 'catalog' pointing at the right "
                    "place? Nothing is deleted without the catalog that explains it"
                    if stored
                    else "; 'ontolab init' or the first pull creates it"
                ),
            )
            return False
        try:
            version = _schema_version(self.catalog)
        except CatalogLocked:
            raise
        except CatalogError as exc:
            wal = Path(where + ".wal")
            extra = f"; a write-ahead log {wal} is left over" if wal.exists() else ""
            self.add(
                "D_CATALOG_UNREADABLE",
                "error",
                where,
                f"the catalog cannot be read ({exc.message}){extra}; restore it from a backup "
                "('ontolab db restore'); storage was not reconciled",
            )
            return False
        if version > SCHEMA_VERSION:
            self.add(
                "D_SCHEMA_NEWER",
                "error",
                where,
                f"the catalog schema is {version}, newer than this ontolab's {SCHEMA_VERSION}; "
                "upgrade ontolab; storage was not reconciled",
            )
            return False
        if version < SCHEMA_VERSION:
            index = self.add(
                "D_SCHEMA_BEHIND",
                "warning",
                where,
                f"the catalog schema is {version}, this ontolab's is {SCHEMA_VERSION}; --fix "
                "migrates it (as 'ontolab db migrate' does); storage is reconciled after that",
                fixable=True,
            )
            if not self.fix:
                return False
            self.catalog.migrate()
            self.mark_fixed(index)
        damage = duckdb_index_damage(self.catalog)
        if damage is not None:
            index = self.add(
                "D_CATALOG_INDEX_DAMAGED",
                "error",
                where,
                f"an index of the catalog lacks rows ({damage}), so deleting those rows would "
                "fail; --fix rebuilds the file from a full read of every table (as 'ontolab db "
                f"backup' then 'db restore' do), keeping the old one as {Path(where).name}"
                ".pre-restore; run it while no other ontolab command writes",
                fixable=True,
            )
            if self.fix and not self.locks.busy_files():
                rebuild_duckdb(self.catalog)
                if duckdb_index_damage(self.catalog) is None:
                    self.mark_fixed(index)
            self.repairable = self.report.findings[index].fixed
        return True

    # -- reconciliation ----------------------------------------------------------------------
    def reconcile(self) -> None:
        with self.catalog.reader() as con:
            state = CatalogState.read(con)
        if self.fix:
            # Hold every idle ontology's lock for the whole repair, so no pull changes what
            # was checked before it is repaired; the ones that cannot be taken are busy.
            names = {lock_name(o) for o in state.ontologies() | self.configured}
            if self.layout.locks.is_dir():
                names |= {p.name for p in self.layout.locks.glob("*.lock")}
            self.busy = {n for n in names if not self.locks.take_file(n)}
            with self.catalog.reader() as con:  # what a pull recorded before we held its lock
                state = CatalogState.read(con)
        else:
            self.busy = self.locks.busy_files()
        for name in sorted(self.busy):
            self.add(
                "D_PULL_IN_PROGRESS",
                "info",
                str(self.layout.locks / name),
                "a running pull holds this lock: its ontology's staged rows and storage were "
                "not examined, nor were store blobs and scratch whose ontology cannot be told",
            )
        repairs = _Repairs()
        self.check_pointer(state, repairs)
        self.check_versions(state, repairs)
        self.check_blobs(state, repairs)
        self.check_files(state, repairs)
        if self.fix and self.repairable and repairs:
            self.repair(repairs)
        with self.catalog.reader() as con:
            refs = load_references(con)
        self.check_storage(refs, state)

    def idle(self, ontology: str) -> bool:
        return lock_name(ontology) not in self.busy

    def check_pointer(self, state: CatalogState, repairs: _Repairs) -> None:
        for ontology, version in sorted(state.latest.items()):
            status = state.status.get((ontology, version))
            if status == "good":
                continue
            what = f"is {status}" if status else "is not recorded"
            index = self.add(
                "D_LATEST_NOT_GOOD",
                "error",
                f"{ontology}@{version}",
                f"the live version of {ontology} {what}; --fix demotes it to the previous good "
                "version (or to none)",
                fixable=True,
                ontology=ontology,
                version=version,
            )
            repairs.demote[ontology] = f"doctor: the live version {what}"
            repairs.settles.append(index)
        for ontology in sorted(set(state.latest) | set(state.history)):
            live = state.latest.get(ontology)
            if ontology in state.history and state.history[ontology] == live:
                continue
            said = state.history.get(ontology, "<no history>")
            index = self.add(
                "D_HISTORY_MISMATCH",
                "warning",
                ontology,
                f"latest_history ends at {said!s} but the live version of {ontology} is "
                f"{live or 'none'}; --fix records the pointer's position in the history",
                fixable=True,
                ontology=ontology,
            )
            repairs.history[ontology] = (live, None if said == "<no history>" else said)
            repairs.settles.append(index)

    def check_versions(self, state: CatalogState, repairs: _Repairs) -> None:
        for ontology, version in sorted(k for k, s in state.status.items() if s == "staged"):
            if not self.idle(ontology):
                continue
            index = self.add(
                "D_VERSION_STAGED",
                "warning",
                f"{ontology}@{version}",
                f"{ontology} {version} was fetched but never validated (the pull was killed, "
                "or 'plan --lock' fetched it); --fix deletes the version row (the download "
                "stays), so the next pull validates it",
                fixable=True,
                ontology=ontology,
                version=version,
            )
            if state.latest.get(ontology) != version:  # a live one is demoted first
                repairs.drop_versions.add((ontology, version))
                repairs.settles.append(index)
        for ontology, version in sorted(state.dangling):
            index = self.add(
                "D_DANGLING_ROWS",
                "warning",
                f"{ontology}@{version}",
                f"rows of {ontology} {version} remain in files/validations/terms/imports but "
                "the version is not recorded; --fix deletes them",
                fixable=True,
                ontology=ontology,
                version=version,
            )
            repairs.dangling.add((ontology, version))
            repairs.settles.append(index)

    def check_blobs(self, state: CatalogState, repairs: _Repairs) -> None:
        for sha, rows in sorted(state.artifacts.items()):
            owners = {str(r["ontology"]) for r in rows}
            if not all(self.idle(o) for o in owners):
                continue
            path = self.layout.blob(sha)
            size = int(rows[0]["size"])
            who = ", ".join(sorted(owners))
            if not path.is_file():
                index = self.add(
                    "D_BLOB_MISSING",
                    "error",
                    str(path),
                    f"the download of {who} with sha256 {sha[:12]}… is recorded but not in the "
                    "store; --fix deletes its artifact rows, so the next pull downloads it again",
                    fixable=True,
                    ontology=who,
                    path=str(path),
                )
            else:
                drift = _drift(path, size, sha if self.deep else None)
                if drift is None:
                    continue
                index = self.add(
                    "D_HASH_DRIFT",
                    "error",
                    str(path),
                    f"the stored download of {who} {drift}; --fix deletes the blob and its "
                    "artifact rows, so the next pull downloads it again",
                    fixable=True,
                    ontology=who,
                    path=str(path),
                    size=path.stat().st_size,
                )
                repairs.corrupt_blobs.add(sha)
            repairs.drop_artifacts.add(sha)
            repairs.settles.append(index)

    def check_files(self, state: CatalogState, repairs: _Repairs) -> None:
        for (ontology, version), rows in sorted(state.files.items()):
            if not self.idle(ontology) or (ontology, version) in repairs.drop_versions:
                continue
            problem = self._first_problem(rows)
            if problem is not None:
                self._broken(
                    "D_FILE_MISSING", ontology, version, problem, "extracted file", state, repairs
                )
        for (ontology, version), paths in sorted(state.terms.items()):
            if not self.idle(ontology) or (ontology, version) in repairs.fail:
                continue
            missing = next(
                (p for p in map(self.layout.locate, paths) if not p.is_file()),
                None,
            )
            if missing is not None:
                self._broken(
                    "D_TERMS_MISSING",
                    ontology,
                    version,
                    (missing, "is missing"),
                    "terms table",
                    state,
                    repairs,
                )

    def _first_problem(self, rows: list[dict[str, Any]]) -> tuple[Path, str] | None:
        for row in rows:
            path = self.layout.locate(str(row["path"]))
            what = _drift(path, int(row["size"]), str(row["sha256"]) if self.deep else None)
            if what is not None:
                return path, what
        return None

    def _broken(
        self,
        code: str,
        ontology: str,
        version: str,
        problem: tuple[Path, str],
        what: str,
        state: CatalogState,
        repairs: _Repairs,
    ) -> None:
        path, how = problem
        live = state.latest.get(ontology) == version
        index = self.add(
            code,
            "error",
            f"{ontology}@{version}",
            f"the {what} {path} of {ontology} {version} {how}; --fix marks the version failed"
            + (" and demotes it (it is live)" if live else "")
            + f"; 'ontolab validate {ontology} --version {version}' re-extracts it from the "
            "stored download",
            fixable=True,
            ontology=ontology,
            version=version,
            path=str(path),
        )
        repairs.fail[(ontology, version)] = f"doctor: {what} {how}"
        if live:
            repairs.demote[ontology] = f"doctor: {what} of the live version {how}"
        repairs.settles.append(index)

    # -- repairs -----------------------------------------------------------------------------
    def repair(self, repairs: _Repairs) -> None:
        """Apply the catalog repairs in one transaction (the ontologies' locks are held)."""
        if repairs.drop_versions:
            # DuckDB checks a foreign key against rows deleted earlier in the same
            # transaction, so children of deleted versions go first, in their own.
            with self.catalog.transaction() as con:
                _delete_rows(con, ("gate_results",), repairs.drop_versions)
        with self.catalog.transaction() as con:
            _apply(con, repairs)
        for index in repairs.settles:
            self.mark_fixed(index)
        for sha in repairs.corrupt_blobs:
            self.report.bytes_freed += remove(self.layout.blob(sha), stop=self.layout.store)

    def check_storage(self, refs: References, state: CatalogState) -> None:
        known = refs.ontologies | set(state.latest) | self.configured
        for item in find_orphans(self.layout, refs):
            if item.ontology is None and self.busy:
                continue  # whose it is cannot be told, and a pull is running
            if item.ontology is not None and not self.idle(item.ontology):
                continue
            self._orphan(item)
        self._stale_locks({lock_name(o) for o in known})

    def _orphan(self, item: Item) -> None:
        code = _ORPHAN_CODES[item.kind]
        fixable = item.kind != "stray"
        action = (
            "--fix deletes it"
            if fixable
            else "ontolab writes nothing there: remove it by hand if it is not yours"
        )
        if item.kind == "partial":
            action = "the next pull would resume from it; --fix deletes it (the pull restarts)"
        index = self.add(
            code,
            "warning",
            str(item.path),
            f"{FINDINGS[code]}; {action}",
            fixable=fixable,
            ontology=item.ontology,
            path=str(item.path),
            size=item.size,
        )
        if not (self.fix and fixable):
            return
        if item.ontology is not None and not self.locks.take(item.ontology):
            return  # a pull of an ontology doctor did not know started meanwhile
        if item.ontology is None and self.locks.busy_files():
            return  # a pull started meanwhile; this may be its download
        freed = remove(item.path, stop=self.layout.root_of(item.path))
        self.report.bytes_freed += freed
        self.mark_fixed(index, size=freed)

    def _stale_locks(self, known: set[str]) -> None:
        if not self.layout.locks.is_dir():
            return
        for path in sorted(self.layout.locks.glob("*.lock")):
            if path.name in known or path.name in self.busy:
                continue
            index = self.add(
                "D_STALE_LOCK",
                "info",
                str(path),
                "a lock file of an ontology neither the config nor the catalog knows, held by "
                "nobody (harmless: locks die with their process); --fix removes it",
                fixable=True,
                path=str(path),
            )
            if self.fix and self.locks.remove_stale(path.name):
                self.mark_fixed(index)


@dataclass
class _Repairs:
    """Catalog repairs to apply in one transaction, and which findings each settles."""

    demote: dict[str, str] = field(default_factory=dict)  # ontology -> reason
    history: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    fail: dict[VersionKey, str] = field(default_factory=dict)  # -> reason
    drop_versions: set[VersionKey] = field(default_factory=set)
    dangling: set[VersionKey] = field(default_factory=set)
    drop_artifacts: set[str] = field(default_factory=set)
    corrupt_blobs: set[str] = field(default_factory=set)
    settles: list[int] = field(default_factory=list)  # the findings they repair

    def __bool__(self) -> bool:
        return bool(self.settles)


def _apply(con: Connection, repairs: _Repairs) -> None:
    now = utcnow()
    for ontology, (live, said) in sorted(repairs.history.items()):
        if ontology in repairs.demote:
            continue  # the demotion below writes the history row that settles it
        con.execute(
            "INSERT INTO latest_history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                os.urandom(16).hex(),
                ontology,
                live,
                said,
                "promote" if live else "demote",
                f"ontolab doctor ({current_actor()})",
                "doctor: record where the pointer is",
                now,
                None,
            ],
        )
    for (ontology, version), reason in sorted(repairs.fail.items()):
        con.execute(
            "UPDATE versions SET status = 'failed', reason = ?, updated_at = ? "
            "WHERE ontology = ? AND version = ?",
            [reason, now, ontology, version],
        )
    _delete_rows(con, ("files", "terms"), repairs.fail)
    for ontology, reason in sorted(repairs.demote.items()):
        demote(con, ontology, reason=reason, actor=f"ontolab doctor ({current_actor()})")
    _delete_rows(con, ("files", "validations", "terms", "imports"), repairs.dangling)
    _delete_rows(con, ("files", "validations", "terms", "imports"), repairs.drop_versions)
    for ontology, version in sorted(repairs.drop_versions):
        con.execute(
            "DELETE FROM versions WHERE ontology = ? AND version = ? AND status = 'staged'",
            [ontology, version],
        )
    for sha in sorted(repairs.drop_artifacts):
        con.execute("DELETE FROM artifacts WHERE sha256 = ?", [sha])


def _delete_rows(con: Connection, tables: tuple[str, ...], keys: Any) -> None:
    for table in tables:
        for ontology, version in sorted(keys):
            con.execute(
                f"DELETE FROM {table} WHERE ontology = ? AND version = ?",  # noqa: S608
                [ontology, version],
            )


def _schema_version(catalog: CatalogBackend) -> int:
    # Read without migrating: a plain doctor changes nothing, not even the schema.
    with catalog._read() as con:
        row = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def _drift(path: Path, size: int, sha256: str | None) -> str | None:
    """What is wrong with a file that should have ``size`` bytes (and ``sha256``), if any."""
    try:
        actual = path.stat().st_size
    except OSError:
        return "is missing"
    if actual != size:
        return f"has {actual} bytes instead of {size}"
    if sha256 is not None:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        if digest.hexdigest() != sha256:
            return f"has sha256 {digest.hexdigest()[:12]}… instead of {sha256[:12]}…"
    return None
