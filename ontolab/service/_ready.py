"""Readiness: may this process serve traffic right now?

``/readyz`` answers from four checks, each cheap enough to run on every probe: the catalog
opens within ``service.ready_timeout_s``, its schema is the one this ontolab expects (no
pending or newer migrations), the data directory takes a write, and its disk has at least
``service.min_free_bytes`` free. Each failed check says why and, where one exists, carries
the stable error code a command would have printed.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ontolab.catalog import SCHEMA_VERSION, open_catalog
from ontolab.errors import OntolabError
from ontolab.settings import OntolabSettings


@dataclass(frozen=True)
class Check:
    """One readiness check: its name, whether it passed, and what was seen."""

    name: str
    ok: bool
    detail: str
    code: str | None = None


@dataclass(frozen=True)
class Readiness:
    """Every check; ready only when all passed."""

    checks: tuple[Check, ...]

    @property
    def ready(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def reasons(self) -> list[str]:
        """One line per failed check."""
        return [f"{c.name}: {c.detail}" for c in self.checks if not c.ok]

    def to_dict(self) -> dict[str, Any]:
        return {"ready": self.ready, "checks": [asdict(c) for c in self.checks]}


def readiness(settings: OntolabSettings) -> Readiness:
    """Run every readiness check against ``settings`` (blocking I/O: call from a thread)."""
    return Readiness(
        (
            *_catalog_checks(settings),
            _storage_check(settings.data_dir),
            _disk_check(settings.data_dir, int(settings.service.min_free_bytes)),
        )
    )


def _catalog_checks(settings: OntolabSettings) -> tuple[Check, Check]:
    catalog = open_catalog(
        settings.catalog_url, lock_timeout_s=settings.service.ready_timeout_s, read_only=True
    )
    try:
        if not catalog.exists():
            missing = f"there is no catalog at {catalog.location}; run 'ontolab init' or a pull"
            return (
                Check("catalog", False, missing, "E_CATALOG_MISSING"),
                Check("migrations", False, "no catalog to check"),
            )
        # schema_version() reads without migrating: a probe must never change the catalog.
        found = catalog.schema_version()
    except OntolabError as exc:
        return (
            Check("catalog", False, exc.message, exc.code),
            Check("migrations", False, "catalog not readable"),
        )
    finally:
        catalog.close()
    opened = Check("catalog", True, f"{catalog.kind} catalog at {catalog.location}")
    if found < SCHEMA_VERSION:
        detail = f"schema {found}, this ontolab needs {SCHEMA_VERSION}: run 'ontolab db migrate'"
        return opened, Check("migrations", False, detail, "E_CATALOG_SCHEMA_OLD")
    if found > SCHEMA_VERSION:
        detail = f"schema {found} is newer than this ontolab ({SCHEMA_VERSION}): upgrade ontolab"
        return opened, Check("migrations", False, detail, "E_CATALOG_SCHEMA_NEWER")
    return opened, Check("migrations", True, f"schema {found} is current")


def _storage_check(data_dir: Path) -> Check:
    if not data_dir.is_dir():
        return Check("storage", False, f"{data_dir} does not exist; run 'ontolab init'")
    probe = data_dir / f".ready-{uuid.uuid4().hex[:8]}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, b"ok")
        finally:
            os.close(fd)
        probe.unlink()
    except OSError as exc:
        return Check("storage", False, f"cannot write in {data_dir}: {exc.strerror}", "E_STORAGE")
    return Check("storage", True, f"{data_dir} is writable")


def _disk_check(data_dir: Path, min_free: int) -> Check:
    try:
        free = shutil.disk_usage(data_dir if data_dir.exists() else data_dir.parent).free
    except OSError as exc:
        return Check("disk", False, f"cannot read free space of {data_dir}: {exc.strerror}")
    detail = f"{_size(free)} free, service.min_free_bytes is {_size(min_free)}"
    return Check(
        "disk", free >= min_free, detail, None if free >= min_free else "E_STORAGE_DISK_LOW"
    )


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")
