"""``extract()``: one artifact in, ontology files out, or an error and nothing left behind."""

from __future__ import annotations

import errno
import hashlib
import os
import posixpath
import shutil
import tempfile
from pathlib import Path

from ontolab.durable import fsync_dir, storage_error
from ontolab.errors import StorageError, UnsafeArchive
from ontolab.extract._formats import SNIFF_BYTES, sniff
from ontolab.extract._receipt import ExtractedFile, ExtractReceipt
from ontolab.extract._streams import CHUNK
from ontolab.extract._tree import OutputTree
from ontolab.extract._unpack import Unpacker
from ontolab.policy import ArchivePolicy, check_member_name


def extract(
    source: Path,
    dest: Path,
    *,
    policy: ArchivePolicy,
    staging: Path,
    name: str | None = None,
) -> ExtractReceipt:
    """Unpack ``source`` into ``dest`` behind ``policy``; a plain file passes through.

    The container is recognised by its magic bytes (gzip, bz2, xz, zstd, zip, tar and the
    compressed tars), never by its name. Entries stream into a fresh directory under
    ``staging``, checked one by one; nested archives are unpacked too, up to
    ``policy.max_depth``. Only when everything succeeded are the files fsynced and the
    directory renamed to ``dest``; on any failure it is removed and ``dest`` is not
    created.

    Parameters
    ----------
    source
        The artifact (a store blob, a downloaded file).
    dest
        Where the files go; must not exist. Not created for a plain file.
    policy
        Limits and permissions, usually ``ArchivePolicy.from_settings(settings.extract)``.
    staging
        A directory on the same file system as ``dest`` for the work in progress.
    name
        The artifact's file name (store blobs have none): names the member chain and the
        output of a single compressed stream (``hp.owl.gz`` → ``hp.owl``).

    Returns
    -------
    ExtractReceipt
        The files, for a plain file just ``source`` itself.

    Raises
    ------
    FileExistsError
        ``dest`` exists (checked before any work, and again before the rename).
    UnsafeArchive
        The policy refused an entry or the archive (``E_ARCHIVE_TRAVERSAL``, ...).
    ExtractError
        The archive is damaged (``E_ARCHIVE_CORRUPT``) or uses an unsupported feature.
    StorageError
        The staging directory or ``dest`` cannot be written.

    Examples
    --------
    >>> import gzip, tempfile
    >>> from ontolab.policy import ArchivePolicy
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     blob = Path(tmp) / "blob"
    ...     _ = blob.write_bytes(gzip.compress(b"format-version: 1.2\\n"))
    ...     receipt = extract(blob, Path(tmp) / "out", policy=ArchivePolicy(),
    ...                       staging=Path(tmp) / "staging", name="hp.obo.gz")
    ...     receipt.archive_kind, receipt.files[0].member, receipt.files[0].path.name
    ('gzip', 'hp.obo.gz!hp.obo', 'hp.obo')
    """
    source, dest, staging = Path(source), Path(dest), Path(staging)
    label = _label(name or source.name)
    try:
        with source.open("rb") as fh:
            kind = sniff(fh.read(SNIFF_BYTES))
        size = source.stat().st_size
    except OSError as exc:
        raise storage_error(exc, source) from exc
    if kind is None:
        return _plain(source, name or source.name)
    _refuse_existing(dest)
    try:
        staging.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="extract-", dir=staging))
    except OSError as exc:
        raise storage_error(exc, staging) from exc
    try:
        tree_root, scratch = work / "tree", work / "scratch"
        tree_root.mkdir()
        scratch.mkdir()
        meter = policy.meter(source_bytes=size)
        with OutputTree(tree_root) as tree:
            unpacker = Unpacker(policy, meter, tree, scratch, dest)
            archive_kind = unpacker.run(source, kind, label)
            tree.fsync()
        _commit(tree_root, dest)
    except OSError as exc:
        if isinstance(exc, FileExistsError) and exc.filename == str(dest):
            raise
        raise storage_error(exc, work) from exc
    finally:
        # The tree was renamed away on success; what is left is scratch or a failed attempt.
        shutil.rmtree(work, ignore_errors=True)
    files = tuple(unpacker.files)
    return ExtractReceipt(
        files=files,
        archive_kind=archive_kind,
        expanded_bytes=sum(f.size for f in files),
        entries=meter.entries,
    )


def _label(name: str) -> str:
    """The artifact's name as the head of member chains and the stem of outputs."""
    base = posixpath.basename(name.replace("\\", "/"))
    try:
        return check_member_name(base, seen_casefold=set())
    except UnsafeArchive:
        return "download"  # a URL's last segment may be empty or odd; the bytes decide


def _refuse_existing(dest: Path) -> None:
    if os.path.lexists(dest):
        raise FileExistsError(
            errno.EEXIST, "extraction destination exists; remove it or choose another", str(dest)
        )


def _commit(tree_root: Path, dest: Path) -> None:
    """Move the finished tree to ``dest`` in one rename, durably."""
    _refuse_existing(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, dest.parent) from exc
    try:
        # rename(2) would replace an empty directory created since the check above (only
        # another extraction of an empty archive leaves one), never a non-empty one.
        os.replace(tree_root, dest)
        fsync_dir(dest.parent)
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(dest)) from exc
        if exc.errno == errno.EXDEV:
            raise StorageError(
                f"cannot move the extraction from {tree_root.parent} to {dest}: staging and "
                "destination must be on the same file system",
                path=str(dest),
            ) from exc
        raise storage_error(exc, dest) from exc


def _plain(source: Path, member: str) -> ExtractReceipt:
    """No container: the file is its own content; hashed, not copied."""
    digest = hashlib.sha256()
    size = 0
    try:
        with source.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise storage_error(exc, source) from exc
    record = ExtractedFile(path=source, member=member, size=size, sha256=digest.hexdigest())
    return ExtractReceipt(files=(record,), archive_kind=None, expanded_bytes=size, entries=1)
