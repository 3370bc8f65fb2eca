"""The content-addressed store: ``store/sha256/ab/cd/<digest>``, filled by atomic rename.

A blob is visible only once complete: bytes go to ``staging/``, are fsynced and verified, then
``os.replace``d into place and the directory is fsynced. Identical content is stored once.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ontolab.durable import fsync_dir, storage_error

_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class ContentStore:
    """Blobs by sha256 under ``data_dir/store``; work files under ``data_dir/staging``."""

    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir) / "store" / "sha256"
        self.staging = Path(data_dir) / "staging" / "fetch"

    def path_for(self, digest: str) -> Path:
        if not _DIGEST.match(digest):
            raise ValueError(f"not a sha256 hex digest: {digest!r}")
        return self.root / digest[:2] / digest[2:4] / digest

    def has(self, digest: str) -> bool:
        return self.path_for(digest).is_file()

    def staging_path(self, name: str) -> Path:
        try:
            self.staging.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise storage_error(exc, self.staging) from exc
        return self.staging / name

    def commit(self, staged: Path, digest: str) -> Path:
        """Move a complete, fsynced, verified file into the store; return its store path."""
        final = self.path_for(digest)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            if final.is_file() and final.stat().st_size == staged.stat().st_size:
                staged.unlink()  # already stored by an earlier or concurrent run
                return final
            os.chmod(staged, 0o444)
            os.replace(staged, final)
            fsync_dir(final.parent)
        except OSError as exc:
            raise storage_error(exc, final) from exc
        return final
