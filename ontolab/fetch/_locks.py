"""Cross-process locks, one per ontology, so two pulls never write the same files at once.

``fcntl``-style locks (via filelock) die with their process, so a killed pull leaves no lock
that blocks the next one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import filelock

from ontolab.errors import FetchError, Transient

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


class LockTimeout(FetchError, Transient):
    default_code = "E_LOCK_TIMEOUT"
    reason = "locked"


@contextmanager
def ontology_lock(locks_dir: Path, ontology: str, *, timeout_s: float) -> Iterator[None]:
    """Hold the lock for ``ontology``; wait up to ``timeout_s`` for another holder."""
    locks_dir.mkdir(parents=True, exist_ok=True)
    path = locks_dir / f"{_SAFE.sub('_', ontology.lower())}.lock"
    lock = filelock.FileLock(str(path), timeout=timeout_s)
    try:
        lock.acquire()
    except filelock.Timeout as exc:
        raise LockTimeout(
            f"another ontolab process has held {path} for over {timeout_s:.0f}s; "
            "wait for it or raise http.lock_timeout_s",
            ontology_id=ontology,
            path=str(path),
        ) from exc
    try:
        yield
    finally:
        lock.release()
