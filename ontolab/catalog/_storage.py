"""The data dir as doctor and prune see it: where things live, who owns them, what is held.

The layout is written by the fetch stage (``store/sha256/ab/cd/<digest>``, partial downloads
in ``staging/fetch``, one fcntl lock per ontology in ``locks/``) and the pipeline
(``extracted/<ontology>/<artifact sha>/``, ``terms/<ontology>/<artifact sha>/*.parquet``,
extraction scratch in ``staging/extract/<ontology>/``). The catalog depends on neither, so
this module restates the layout, and a test holds it to the writers' paths.

Every pull holds its ontology's lock from download to the transaction that records the
outcome, so a held lock means "in progress: do not touch". Items whose ontology cannot be
told from their path (store blobs, stray scratch) are left alone while any pull runs.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import shutil
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ontolab.catalog._backend import Connection, dicts

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
# The fetch stage's lock file name (ontolab.fetch._locks) and the pipeline's directory name
# for an ontology (ontolab.pipeline._checks._safe); tests/integration/test_doctor.py keeps
# these equal to the writers'.
_LOCK_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_DIR_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
TERMS_SCRATCH_PREFIX = ".ontolab-terms-"
EXTRACT_SCRATCH_PREFIX = "extract-"


def is_digest(name: str) -> bool:
    return bool(_DIGEST.match(name))


def lock_name(ontology: str) -> str:
    """The file name of an ontology's lock under ``locks/``."""
    return _LOCK_UNSAFE.sub("_", ontology.lower()) + ".lock"


def dir_name(ontology: str) -> str:
    """The directory an ontology's extracted files and terms tables live under."""
    return _DIR_UNSAFE.sub("_", ontology)[:120]


@dataclass(frozen=True)
class Layout:
    """Where each kind of file lives under a data dir."""

    data_dir: Path

    @property
    def store(self) -> Path:
        return self.data_dir / "store" / "sha256"

    @property
    def staging(self) -> Path:
        return self.data_dir / "staging"

    @property
    def extracted(self) -> Path:
        return self.data_dir / "extracted"

    @property
    def terms(self) -> Path:
        return self.data_dir / "terms"

    @property
    def locks(self) -> Path:
        return self.data_dir / "locks"

    def root_of(self, path: Path) -> Path:
        """The area ``path`` is in (store, extracted, terms, staging/...): the directory that
        emptying it never removes."""
        areas = (
            self.store,
            self.extracted,
            self.terms,
            self.staging / "fetch",
            self.staging / "extract",
            self.staging,
        )
        return next((a for a in areas if a in path.parents), path.parent)

    def blob(self, digest: str) -> Path:
        return self.store / digest[:2] / digest[2:4] / digest

    def locate(self, stored: str) -> Path:
        """A path recorded in the catalog, as it is under this data dir.

        Paths are recorded as the pulling process saw them, which may be relative to its
        working directory; the part from ``extracted/`` or ``terms/`` on is what is stable.
        """
        path = Path(stored)
        if path.is_absolute() and path.exists():
            return path
        key = area_key(stored)
        return self.data_dir.joinpath(*key) if key else path


def tree_size(path: Path) -> int:
    """Bytes under ``path`` (a file or a directory), not following links."""
    try:
        if not path.is_dir() or path.is_symlink():
            return path.lstat().st_size
    except OSError:
        return 0
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += (Path(root) / name).lstat().st_size
    return total


def remove(path: Path, *, stop: Path | None = None) -> int:
    """Delete a file or tree; then its parents up to ``stop`` while they are empty.

    Returns the bytes freed (0 when it was already gone).
    """
    size = tree_size(path)
    try:
        if path.is_dir() and not path.is_symlink():
            _writable_dirs(path)
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        return 0
    parent = path.parent
    while stop is not None and parent != stop and stop in parent.parents:
        try:
            parent.rmdir()
        except OSError:
            break
        parent = parent.parent
    return size


def _writable_dirs(tree: Path) -> None:
    # Deleting needs write permission on the directories only; an extracted archive may
    # have brought read-only ones.
    for root, dirs, _ in os.walk(tree):
        for name in dirs:
            path = Path(root) / name
            with contextlib.suppress(OSError):
                if not os.access(path, os.W_OK | os.X_OK) and not path.is_symlink():
                    path.chmod(0o755)


class Locks:
    """Probes and holds the per-ontology locks that pulls take (``fcntl.flock``).

    A lock file nobody holds is the normal state after a pull: flock locks die with their
    process, so a killed pull never leaves a lock that blocks the next one.
    """

    def __init__(self, locks_dir: Path) -> None:
        self.dir = locks_dir
        self._held: dict[str, int] = {}

    def busy_files(self) -> set[str]:
        """Names of lock files some other process holds right now."""
        if not self.dir.is_dir():
            return set()
        return {p.name for p in self.dir.glob("*.lock") if self._probe(p)}

    def _probe(self, path: Path) -> bool:
        if path.name in self._held:
            return False
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:
            return False  # no file: nobody can hold it
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return True
            raise
        finally:
            os.close(fd)  # closing releases a lock the probe won
        return False

    def take(self, ontology: str) -> bool:
        """Hold ``ontology``'s lock until :meth:`release`; False if a pull holds it."""
        return self.take_file(lock_name(ontology))

    def take_file(self, name: str) -> bool:
        """Hold the lock in ``locks/<name>`` (created if need be); False if it is held."""
        return name in self._held or self._take(self.dir / name)

    def _take(self, path: Path) -> bool:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._held[path.name] = fd
        return True

    def remove_stale(self, name: str) -> bool:
        """Delete a lock file nobody else holds, holding it meanwhile: a pull waiting on the
        unlinked file notices (filelock re-opens a lock whose file was unlinked)."""
        if not self.take_file(name):
            return False
        try:
            (self.dir / name).unlink(missing_ok=True)
        finally:
            os.close(self._held.pop(name))
        return True

    def release(self) -> None:
        for fd in self._held.values():
            os.close(fd)
        self._held.clear()

    def __enter__(self) -> Locks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@dataclass(frozen=True)
class Item:
    """One thing found on disk that the catalog does not account for."""

    kind: str  # blob, extracted, terms, partial, scratch, stray, lock
    path: Path
    ontology: str | None  # None: cannot be told from the path
    size: int


def scan_store(layout: Layout) -> Iterator[tuple[str, Path]]:
    """``(name, path)`` of every file in the store (names of well-formed blobs are digests)."""
    if not layout.store.is_dir():
        return
    for root, _, files in os.walk(layout.store):
        for name in files:
            yield name, Path(root) / name


def key_dirs(area: Path) -> Iterator[tuple[str, Path]]:
    """``(ontology dir name, <area>/<ontology>/<sha>)`` for extracted and terms areas, plus
    anything else found at those two levels (reported as stray by the caller)."""
    if not area.is_dir():
        return
    for owner in sorted(area.iterdir()):
        if not owner.is_dir() or owner.is_symlink():
            yield "", owner
            continue
        for key in sorted(owner.iterdir()):
            yield owner.name, key


def partials(layout: Layout) -> Iterator[tuple[str, list[Path]]]:
    """Partial downloads in ``staging/fetch``: ``(ontology, [.part, .part.json])``.

    Named ``<ontology>-<16 hex of the URL's sha256>.part`` by the fetch stage.
    """
    fetch = layout.staging / "fetch"
    if not fetch.is_dir():
        return
    groups: dict[str, list[Path]] = {}
    for path in sorted(fetch.iterdir()):
        stem = path.name.removesuffix(".json").removesuffix(".part")
        groups.setdefault(stem, []).append(path)
    for stem, paths in groups.items():
        ontology, _, key = stem.rpartition("-")
        yield (ontology if ontology and len(key) == 16 else ""), paths


def scratch(layout: Layout) -> Iterator[tuple[str, Path]]:
    """Extraction scratch: ``staging/extract/<ontology>/extract-*`` (and anything else there).

    Only a running extraction has scratch; it is removed on success and on failure, so what
    is left after the process ends was torn by a kill.
    """
    root = layout.staging / "extract"
    if root.is_dir():
        for entry in sorted(root.iterdir()):
            if entry.is_dir() and not entry.name.startswith(EXTRACT_SCRATCH_PREFIX):
                yield from ((entry.name, inner) for inner in sorted(entry.iterdir()))
            else:
                yield "", entry  # a scratch dir from before per-ontology scratch, or stray
    if layout.staging.is_dir():
        for entry in sorted(layout.staging.iterdir()):
            if entry.name not in ("fetch", "extract"):
                yield "", entry


# -- what the catalog refers to ----------------------------------------------------------------

VersionKey = tuple[str, str]  # (ontology, version)


def area_key(stored: str) -> tuple[str, ...] | None:
    """The stable tail of a recorded path: ``("extracted"|"terms", <ontology dir>, <sha>,
    *rest)`` or ``("store", "sha256", ab, cd, <sha>)`` (a plain file is its own extraction)."""
    parts = Path(stored).parts
    for i in range(len(parts) - 3, -1, -1):
        if parts[i] in ("extracted", "terms") and is_digest(parts[i + 2]):
            return parts[i:]
        if parts[i : i + 2] == ("store", "sha256") and is_digest(parts[-1]):
            return parts[i:]
    return None


@dataclass
class References:
    """What the catalog's rows point at, keyed so that paths compare across working dirs."""

    blobs: set[str]
    extracted: set[tuple[str, str]]  # (ontology dir, artifact sha)
    terms_dirs: set[tuple[str, str]]
    terms_files: set[tuple[str, ...]]  # (ontology dir, sha, file name, ...)
    ontologies: set[str]  # every ontology id the catalog knows


def load_references(
    con: Connection,
    *,
    without: Iterable[VersionKey] = (),
    drop_artifacts: Iterable[tuple[str, str]] = (),
) -> References:
    """What the catalog refers to, as if the versions ``without`` and the artifact rows
    ``drop_artifacts`` (ontology, sha256) were gone (prune's dry run)."""
    gone, dropped = set(without), set(drop_artifacts)
    refs = References(set(), set(), set(), set(), set())
    for ontology, sha in con.execute("SELECT DISTINCT ontology, sha256 FROM artifacts").fetchall():
        refs.ontologies.add(str(ontology))
        if (ontology, sha) not in dropped:
            refs.blobs.add(str(sha))
    for (sha,) in con.execute(
        "SELECT DISTINCT sha256 FROM imports WHERE sha256 IS NOT NULL"
    ).fetchall():
        refs.blobs.add(str(sha))
    refs.ontologies.update(
        str(o) for (o,) in con.execute("SELECT DISTINCT ontology FROM versions").fetchall()
    )
    for ontology, version, path in con.execute(
        "SELECT ontology, version, path FROM files"
    ).fetchall():
        key = area_key(str(path))
        if (ontology, version) not in gone and key is not None and key[0] == "extracted":
            refs.extracted.add((key[1], key[2]))
    for ontology, version, path in con.execute(
        "SELECT ontology, version, path FROM terms"
    ).fetchall():
        key = area_key(str(path))
        if (ontology, version) not in gone and key is not None and key[0] == "terms":
            refs.terms_dirs.add((key[1], key[2]))
            refs.terms_files.add(key[1:])
    return refs


def find_orphans(layout: Layout, refs: References) -> Iterator[Item]:
    """Everything on disk the catalog does not account for, with its owner when known.

    Kinds: ``blob`` (no artifact or import row), ``extracted`` and ``terms`` (no files or
    terms row), ``scratch`` (torn extraction or terms-table scratch), ``partial`` (a partial
    download), ``stray`` (a file where the layout puts none).
    """
    for name, path in scan_store(layout):
        if not (is_digest(name) and path == layout.blob(name)):
            yield Item("stray", path, None, tree_size(path))
        elif name not in refs.blobs:
            yield Item("blob", path, None, tree_size(path))
    yield from _area_orphans(layout.extracted, "extracted", refs.extracted, None)
    yield from _area_orphans(layout.terms, "terms", refs.terms_dirs, refs.terms_files)
    for ontology, paths in partials(layout):
        for path in paths:
            yield Item("partial", path, ontology or None, tree_size(path))
    for owner, path in scratch(layout):
        yield Item("scratch", path, owner or None, tree_size(path))


def _area_orphans(
    area: Path,
    kind: str,
    dirs: set[tuple[str, str]],
    files: set[tuple[str, ...]] | None,
) -> Iterator[Item]:
    for owner, key in key_dirs(area):
        if not owner or not key.is_dir():
            yield Item("stray", key, owner or None, tree_size(key))
        elif (owner, key.name) not in dirs:
            yield Item(kind, key, owner, tree_size(key))
        elif files is not None:  # terms: each table of a referenced dir is referenced itself
            for entry in sorted(key.iterdir()):
                if entry.name.startswith(TERMS_SCRATCH_PREFIX):
                    yield Item("scratch", entry, owner, tree_size(entry))
                elif (owner, key.name, entry.name) not in files:
                    yield Item(kind, entry, owner, tree_size(entry))


@dataclass
class CatalogState:
    """The rows doctor reconciles with storage, read in one go."""

    latest: dict[str, str]
    history: dict[str, str | None]  # where latest_history ends, per ontology
    status: dict[VersionKey, str]
    artifacts: dict[str, list[dict[str, Any]]]  # sha256 -> artifact rows
    files: dict[VersionKey, list[dict[str, Any]]]
    terms: dict[VersionKey, list[str]]
    dangling: set[VersionKey]

    def ontologies(self) -> set[str]:
        found = set(self.latest) | set(self.history) | {o for o, _ in self.status}
        return found | {str(r["ontology"]) for rows in self.artifacts.values() for r in rows}

    @classmethod
    def read(cls, con: Connection) -> CatalogState:
        rows = con.execute("SELECT ontology, version FROM latest").fetchall()
        latest = {str(o): str(v) for o, v in rows}
        history: dict[str, str | None] = {}
        for ontology, version in con.execute(
            "SELECT ontology, version FROM latest_history ORDER BY moved_at, history_id"
        ).fetchall():
            history[str(ontology)] = None if version is None else str(version)
        status = {
            (str(o), str(v)): str(s)
            for o, v, s in con.execute("SELECT ontology, version, status FROM versions").fetchall()
        }
        artifacts: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in dicts(con.execute("SELECT ontology, url, sha256, size FROM artifacts")):
            artifacts[str(row["sha256"])].append(row)
        files: dict[VersionKey, list[dict[str, Any]]] = defaultdict(list)
        for row in dicts(con.execute("SELECT ontology, version, path, size, sha256 FROM files")):
            files[(str(row["ontology"]), str(row["version"]))].append(row)
        terms: dict[VersionKey, list[str]] = defaultdict(list)
        for o, v, p in con.execute("SELECT ontology, version, path FROM terms").fetchall():
            terms[(str(o), str(v))].append(str(p))
        dangling = {
            (str(o), str(v))
            for table in ("files", "validations", "terms", "imports")
            for o, v in con.execute(
                f"SELECT DISTINCT ontology, version FROM {table} t WHERE NOT EXISTS "  # noqa: S608
                "(SELECT 1 FROM versions v WHERE v.ontology = t.ontology "
                "AND v.version = t.version)"
            ).fetchall()
        }
        return cls(latest, history, status, artifacts, files, terms, dangling)
