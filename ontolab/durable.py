"""Durable file-system steps every stage needs: fsync a directory, translate an OSError.

Cross-cutting, like ``errors`` and ``settings``: the fetch, extract and validate stages write
files the same way and must report a full disk the same way.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from ontolab.errors import StorageError


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def storage_error(exc: OSError, path: Path | str) -> StorageError:
    """Translate an OSError while writing under the data dir; disk full gets its own code."""
    if exc.errno == errno.ENOSPC:
        return StorageError(
            f"disk full while writing {path}; free space or move data_dir",
            code="E_STORAGE_DISK_FULL",
            path=str(path),
        )
    return StorageError(f"cannot write {path}: {exc.strerror}", path=str(path))
