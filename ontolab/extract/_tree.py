"""The private directory an extraction writes into, and nothing outside it.

Every path is walked from the root with ``dir_fd`` and ``O_NOFOLLOW``: directories are made
with ``mkdir`` one level at a time, files are created with ``O_EXCL``, so neither a symlink
planted by an earlier entry nor a name that already exists can redirect a write.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

from ontolab.durable import fsync_dir, storage_error
from ontolab.errors import UnsafeArchive
from ontolab.policy import casefold_key, printable

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class OutputFile:
    """A file being written; OSErrors become StorageError, the descriptor always closes."""

    def __init__(self, fd: int, path: Path) -> None:
        self.path = path
        self._file = os.fdopen(fd, "wb")

    def write(self, data: bytes) -> None:
        try:
            self._file.write(data)
        except OSError as exc:
            raise storage_error(exc, self.path) from exc

    def close(self) -> None:
        try:
            self._file.close()
        except OSError as exc:
            raise storage_error(exc, self.path) from exc

    def __enter__(self) -> OutputFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class OutputTree:
    """A directory tree rooted at ``root`` (an empty directory the caller made).

    Use as a context manager; the root's descriptor is closed on exit.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._fd = os.open(root, _DIR_FLAGS)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> OutputTree:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _open_dir(self, parts: list[str], member: str) -> int:
        """A descriptor for the directory ``parts``, created level by level as needed."""
        fd = os.dup(self._fd)
        try:
            for part in parts:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=fd)
                try:
                    child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise UnsafeArchive(
                            f"{member!r} would be written through {part!r}, which is a "
                            "symbolic link or a file; the archive is refused",
                            code="E_ARCHIVE_SYMLINK",
                            path=printable(member),
                        ) from exc
                    raise
                os.close(fd)
                fd = child
        except OSError as exc:
            os.close(fd)
            raise storage_error(exc, self.root.joinpath(*parts)) from exc
        except BaseException:
            os.close(fd)
            raise
        return fd

    def make_dirs(self, rel: str, member: str) -> None:
        """Create the directory ``rel`` (``a/b/c``) and its parents."""
        os.close(self._open_dir(rel.split("/"), member))

    def create(self, rel: str, member: str) -> OutputFile:
        """A new file at ``rel`` for writing; it must not exist yet."""
        *parents, name = rel.split("/")
        parent = self._open_dir(parents, member)
        try:
            fd = os.open(name, _NEW_FILE, 0o644, dir_fd=parent)
        except FileExistsError as exc:
            raise UnsafeArchive(
                f"{member!r} would overwrite {rel!r}, written earlier; the archive is refused",
                code="E_ARCHIVE_CASE_COLLISION",
                path=printable(member),
            ) from exc
        except OSError as exc:
            raise storage_error(exc, self.root / rel) from exc
        finally:
            os.close(parent)
        return OutputFile(fd, self.root / rel)

    def symlink(self, rel: str, target: str, member: str) -> None:
        """Create the symbolic link ``rel`` pointing at ``target`` (relative, checked)."""
        *parents, name = rel.split("/")
        parent = self._open_dir(parents, member)
        try:
            os.symlink(target, name, dir_fd=parent)
        except OSError as exc:
            raise storage_error(exc, self.root / rel) from exc
        finally:
            os.close(parent)

    def hardlink(self, rel: str, target: str, member: str) -> None:
        """Create ``rel`` as a hard link to the file ``target`` written earlier."""
        *parents, name = rel.split("/")
        *target_parents, target_name = target.split("/")
        parent = self._open_dir(parents, member)
        try:
            source = self._open_dir(target_parents, member)
            try:
                os.link(
                    target_name, name, src_dir_fd=source, dst_dir_fd=parent, follow_symlinks=False
                )
            finally:
                os.close(source)
        except OSError as exc:
            raise storage_error(exc, self.root / rel) from exc
        finally:
            os.close(parent)

    def fsync(self) -> None:
        """Flush every regular file and directory in the tree to disk."""
        try:
            for top, _dirs, files in os.walk(self.root):
                for name in files:
                    try:
                        fd = os.open(os.path.join(top, name), os.O_RDONLY | os.O_NOFOLLOW)
                    except OSError as exc:
                        if exc.errno == errno.ELOOP:  # a symlink: nothing to flush
                            continue
                        raise
                    try:
                        os.fsync(fd)
                    finally:
                        os.close(fd)
                fsync_dir(Path(top))
        except OSError as exc:
            raise storage_error(exc, self.root) from exc


class NameClaims:
    """Every path one extraction creates, keyed case-insensitively.

    Two archive members, or a member and a decompressed sibling (``a.owl`` and
    ``a.owl.gz``), must not land on the same path on any file system; a path must not run
    through a file or a symbolic link created earlier.
    """

    def __init__(self) -> None:
        self._paths: dict[str, tuple[str, str]] = {}  # key -> (path, "file" | "dir" | "link")

    def claim(self, rel: str, kind: str, member: str) -> None:
        """Reserve ``rel`` (and its parent directories) for a ``kind`` entry."""
        parts = rel.split("/")
        for end in range(1, len(parts)):
            self._claim_one("/".join(parts[:end]), "dir", member)
        self._claim_one(rel, kind, member)

    def _claim_one(self, path: str, kind: str, member: str) -> None:
        key = casefold_key(path)
        earlier = self._paths.get(key)
        if earlier is None:
            self._paths[key] = (path, kind)
            return
        earlier_path, earlier_kind = earlier
        if kind == "dir" and earlier_kind == "dir" and earlier_path == path:
            return
        if kind == "dir" and earlier_kind == "link":
            raise UnsafeArchive(
                f"{member!r} would be written through the symbolic link {earlier_path!r}; "
                "the archive is refused",
                code="E_ARCHIVE_SYMLINK",
                path=printable(member),
            )
        raise UnsafeArchive(
            f"{member!r} lands on {path!r}, which collides with {earlier_path!r} from an "
            "earlier entry (same name, ignoring case); the archive is refused",
            code="E_ARCHIVE_CASE_COLLISION",
            path=printable(member),
        )
