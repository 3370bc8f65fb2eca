"""What an extraction produced: the files, where they came from, how much was expanded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ExtractedFile:
    """One file ready for validation.

    Attributes
    ----------
    path
        Its final path under the destination, or the source itself for a plain file.
    member
        Where it came from, outermost first: ``bundle.zip!go/go.owl.gz!go.owl``.
    size
        Bytes, counted while writing.
    sha256
        Hex digest, computed while writing.
    chain
        The container kinds unpacked to reach it, outermost first: ``("zip", "gzip")``.
    """

    path: Path
    member: str
    size: int
    sha256: str
    chain: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "path": str(self.path),
            "member": self.member,
            "size": self.size,
            "sha256": self.sha256,
            "chain": list(self.chain),
        }


@dataclass(frozen=True)
class ExtractReceipt:
    """The result of :func:`ontolab.extract.extract`.

    Attributes
    ----------
    files
        Every regular file produced, in archive order (links to files included).
    archive_kind
        The outermost container (``"gzip"``, ``"zip"``, ``"tar+xz"``, ...), None for a
        plain file.
    expanded_bytes
        The total size of ``files``.
    entries
        Archive members and decompressed streams the policy counted.
    """

    files: tuple[ExtractedFile, ...]
    archive_kind: str | None
    expanded_bytes: int
    entries: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "files": [f.to_dict() for f in self.files],
            "archive_kind": self.archive_kind,
            "expanded_bytes": self.expanded_bytes,
            "entries": self.entries,
        }
