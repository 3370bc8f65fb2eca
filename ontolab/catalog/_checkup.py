"""Doctor's checks that need no catalog rows: the data dir, the catalog file, disk, settings.

Hosts are checked against ``http.allowed_hosts`` as a pull would, but without DNS: a name is
taken to resolve to a public address, so doctor runs offline and quickly; what a name really
resolves to is checked on every request.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ontolab.catalog._backend import TABLE_ORDER, CatalogBackend
from ontolab.catalog._findings import Finding
from ontolab.errors import PolicyViolation

_PUBLIC_STAND_IN = "93.184.215.14"  # any global address: names are not resolved here
_AREAS = ("store", "staging", "extracted", "terms", "locks")


def check_environment(
    catalog: CatalogBackend, data_dir: Path, settings: Any, min_free_bytes: int
) -> list[Finding]:
    """Findings about the data dir, the catalog file, free space and (given) settings."""
    found = [*_data_dir(data_dir), *_catalog_file(catalog), *_disk(data_dir, min_free_bytes)]
    if settings is not None:
        found.extend(_hosts(settings))
    return found


def _data_dir(data_dir: Path) -> Iterator[Finding]:
    if not data_dir.exists():
        parent = _existing_parent(data_dir)
        if os.access(parent, os.W_OK | os.X_OK):
            yield Finding(
                "D_DATA_DIR_MISSING",
                "info",
                str(data_dir),
                "the data dir does not exist yet; the first pull (or 'ontolab init') creates it",
                path=str(data_dir),
            )
        else:
            yield _not_writable(data_dir, f"it does not exist and {parent} cannot be written")
        return
    for path in (data_dir, *(data_dir / a for a in _AREAS)):
        if path.exists() and not os.access(path, os.W_OK | os.X_OK):
            yield _not_writable(path, "pulls cannot write there")


def _not_writable(path: Path, why: str) -> Finding:
    return Finding(
        "D_DATA_DIR_NOT_WRITABLE",
        "error",
        str(path),
        f"{path} is not writable ({why}); fix its permissions or set data_dir",
        path=str(path),
    )


def _catalog_file(catalog: CatalogBackend) -> Iterator[Finding]:
    path: Path | None = getattr(catalog, "path", None)
    if catalog.kind != "duckdb" or path is None:
        return
    target = path if path.exists() else _existing_parent(path)
    if not os.access(target, os.W_OK) or not os.access(_existing_parent(path), os.W_OK):
        yield Finding(
            "D_CATALOG_NOT_WRITABLE",
            "error",
            str(path),
            f"the catalog {path} (or its directory, which holds its write-ahead log) is not "
            "writable; pulls cannot record anything; fix the permissions or set 'catalog'",
            path=str(path),
        )


def _disk(data_dir: Path, min_free_bytes: int) -> Iterator[Finding]:
    where = _existing_parent(data_dir)
    usage = shutil.disk_usage(where)
    if usage.free < min_free_bytes:
        yield Finding(
            "D_DISK_LOW",
            "warning",
            str(where),
            f"{usage.free / 1e9:.2f} GB free of {usage.total / 1e9:.1f} GB on the disk holding "
            f"{where} (under {min_free_bytes / 1e9:.2f} GB); 'ontolab prune' frees old versions",
            path=str(where),
            size=usage.free,
        )


def _existing_parent(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _hosts(settings: Any) -> Iterator[Finding]:
    from ontolab.policy import HostPolicy

    http = settings.http
    for entry in http.allowed_hosts:
        problem = _entry_problem(str(entry))
        if problem:
            yield Finding(
                "D_HOSTS_INVALID",
                "error",
                f"http.allowed_hosts: {entry}",
                f"{entry!r} {problem}; entries are host names or patterns with an optional "
                "port, like 'purl.obolibrary.org', '*.github.com' or '127.0.0.1:8765'",
            )
        elif str(entry).strip().split(":")[0] == "*":
            yield Finding(
                "D_HOSTS_WIDE",
                "warning",
                f"http.allowed_hosts: {entry}",
                "'*' lets pulls reach every public host (private addresses stay refused); "
                "list the hosts your sources use instead",
            )
    try:
        policy = HostPolicy(
            [h for h in http.allowed_hosts if not _entry_problem(str(h))],
            allow_private_networks=http.allow_private_networks,
            resolver=lambda host, port: [_PUBLIC_STAND_IN],
        )
    except ValueError:
        return
    for subject, url in _urls_in_use(settings):
        try:
            policy.check_url(url)
        except PolicyViolation as exc:
            invalid = exc.code == "E_POLICY_SCHEME"
            yield Finding(
                "D_URL_INVALID" if invalid else "D_HOST_NOT_ALLOWED",
                "error" if invalid else "warning",
                subject,
                f"{url}: {exc.message}" + ("" if invalid else "; pulls through it will fail"),
            )
    if "bioportal" in _resolvers_in_use(settings):
        bioportal = settings.resolvers.bioportal
        if bioportal.api_key is None:
            yield Finding(
                "D_BIOPORTAL_NO_KEY",
                "warning",
                "resolvers.bioportal",
                f"a source may resolve through BioPortal but ${bioportal.api_key_env} is not "
                "set; get a key at https://bioportal.bioontology.org/account",
            )


def _entry_problem(entry: str) -> str | None:
    text = entry.strip()
    if not text:
        return "is empty"
    if "/" in text or "://" in text:
        return "is a URL, not a host"
    host, sep, port = text.rpartition(":") if text.count(":") == 1 else (text, "", "")
    if sep and not (port.isdigit() and 0 < int(port) < 65536):
        return f"has port {port!r}, not a number"
    if sep and not host:
        return "has a port but no host"
    return None


def _resolvers_in_use(settings: Any) -> set[str]:
    chains = [o.resolvers or tuple(settings.resolvers.default_chain) for o in settings.ontologies]
    return set().union(*chains) if chains else set(settings.resolvers.default_chain)


def _urls_in_use(settings: Any) -> Iterator[tuple[str, str]]:
    used = _resolvers_in_use(settings)
    for name in ("obo", "ols", "bioportal"):
        if name in used:
            yield f"resolvers.{name}.base_url", getattr(settings.resolvers, name).base_url
    for entry in settings.ontologies:
        if entry.url and "url" in (entry.resolvers or ()):
            yield f"ontologies[{entry.id}].url", entry.url


def duckdb_index_damage(catalog: CatalogBackend) -> str | None:
    """For a DuckDB catalog: which table has an index that lacks rows, if any.

    DuckDB 1.5 can persist an index that misses some of its table's rows (seen after a few
    dozen pulls, killed or not). Queries still work, but deleting such a row fails with a
    FATAL error that invalidates the database, so a prune or a repair would stop there. The
    check deletes every row of a copy of the file, children before parents; the catalog is
    held open while it is copied, so no other process writes it meanwhile.
    """
    import duckdb

    path: Path | None = getattr(catalog, "path", None)
    if catalog.kind != "duckdb" or path is None or not path.is_file():
        return None
    with tempfile.TemporaryDirectory(prefix="ontolab-doctor-") as tmp:
        copy = Path(tmp) / "probe.duckdb"
        with catalog._read():
            shutil.copyfile(path, copy)
            wal = path.with_name(path.name + ".wal")
            if wal.is_file():
                shutil.copyfile(wal, copy.with_name(copy.name + ".wal"))
        con = duckdb.connect(str(copy))
        try:
            for table in reversed(TABLE_ORDER):
                try:
                    con.execute(f"DELETE FROM {table}")  # noqa: S608
                except duckdb.CatalogException:
                    continue  # a table this schema does not have yet
                except duckdb.Error as exc:
                    return f"{table}: {str(exc).splitlines()[0]}"
        finally:
            with contextlib.suppress(duckdb.Error):
                con.close()
    return None


def rebuild_duckdb(catalog: CatalogBackend) -> None:
    """Rebuild a DuckDB catalog file from a full read of every table: a backup and a
    restore, which builds a fresh file (whole indexes) and renames it over the old one,
    keeping that as ``<name>.pre-restore``."""
    from ontolab.catalog._backup import backup_catalog, restore_catalog

    with tempfile.TemporaryDirectory(prefix="ontolab-rebuild-") as tmp:
        backup_catalog(catalog, Path(tmp) / "backup")
        restore_catalog(catalog, Path(tmp) / "backup")
