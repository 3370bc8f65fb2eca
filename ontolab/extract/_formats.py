"""Recognising containers by their first bytes, and naming what comes out of them.

Extensions lie (a store blob has none, ``.owl`` files are sometimes gzipped), so the kind is
read from magic bytes: gzip, bz2, xz and zstd streams, zip and (ustar) tar archives. A tar
inside a compressed stream is one container, ``tar+gzip``.
"""

from __future__ import annotations

import os
import posixpath
import stat
import struct
import tarfile
import zipfile
from pathlib import Path
from typing import BinaryIO

from ontolab.errors import ExtractError
from ontolab.extract._codecs import open_decoder
from ontolab.policy import EntryKind, printable

#: Single-stream compressions, in the names used by receipts.
COMPRESSIONS = ("gzip", "bz2", "xz", "zstd")
#: Bytes needed to recognise any kind (the tar magic sits at offset 257).
SNIFF_BYTES = 512

_BZ2_BLOCK = (b"1AY&SY", b"\x17rE8P\x90")  # first block, or end of an empty stream
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_COMPRESSION_SUFFIXES = {
    ".gz": "",
    ".gzip": "",
    ".bz2": "",
    ".bz": "",
    ".xz": "",
    ".zst": "",
    ".zstd": "",
    ".tgz": ".tar",
    ".tbz2": ".tar",
    ".tbz": ".tar",
    ".txz": ".tar",
    ".tzst": ".tar",
}
_ARCHIVE_SUFFIXES = (".zip", ".tar")
ZIP_MODES = {
    stat.S_IFLNK: EntryKind.SYMLINK,
    stat.S_IFCHR: EntryKind.CHAR_DEVICE,
    stat.S_IFBLK: EntryKind.BLOCK_DEVICE,
    stat.S_IFIFO: EntryKind.FIFO,
    stat.S_IFSOCK: EntryKind.SOCKET,
}


def sniff(head: bytes) -> str | None:
    """The container kind ``head`` starts with, one level only; None for anything else.

    Examples
    --------
    >>> sniff(b"\\x1f\\x8b\\x08\\x00"), sniff(b"format-version: 1.2")
    ('gzip', None)
    """
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head[:3] == b"BZh" and head[3:4] in b"123456789" and head[4:10] in _BZ2_BLOCK:
        return "bz2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return "zstd"
    if head[:4] in _ZIP_MAGIC:
        return "zip"
    if is_tar(head):
        return "tar"
    return None


def is_tar(head: bytes) -> bool:
    """True when ``head`` is a POSIX (ustar) or GNU tar header."""
    return head[257:262] == b"ustar"


def detect_container(path: Path) -> str | None:
    """Which container ``path`` is, by magic bytes: ``"gzip"``, ``"zip"``, ``"tar+xz"``, ...

    A compressed stream is peeked into (at most a few KiB are decompressed) to tell a
    compressed tar from a compressed single file. None means a plain file.

    Examples
    --------
    >>> import gzip, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     p = Path(tmp) / "blob"
    ...     _ = p.write_bytes(gzip.compress(b"<rdf:RDF/>"))
    ...     detect_container(p)
    'gzip'
    """
    with Path(path).open("rb") as fh:
        kind = sniff(fh.read(SNIFF_BYTES))
        if kind not in COMPRESSIONS:
            return kind
        fh.seek(0)
        try:
            head = b""
            with open_decoder(kind, fh) as decoded:
                while len(head) < SNIFF_BYTES and (chunk := decoded.read(SNIFF_BYTES)):
                    head += chunk
        except Exception:  # detection is not validation: extract() reports the damage
            return kind
    return f"tar+{kind}" if is_tar(head) else kind


def strip_compression(name: str) -> str:
    """``hp.owl.gz`` → ``hp.owl``, ``x.tgz`` → ``x.tar``; other names stay as they are."""
    root, ext = posixpath.splitext(name)
    replacement = _COMPRESSION_SUFFIXES.get(ext.lower())
    if replacement is None or not posixpath.basename(root):
        return name
    return root + replacement


def strip_archive(name: str) -> str:
    """``sub/inner.zip`` → ``sub/inner``: the directory a nested archive unpacks into."""
    root, ext = posixpath.splitext(name)
    if ext.lower() in _ARCHIVE_SUFFIXES and posixpath.basename(root):
        return root
    return name


def declared_zip_entries(fh: BinaryIO) -> int | None:
    """The entry count a zip's end-of-central-directory record declares, if it can be read.

    Read before zipfile parses the central directory, so an archive declaring millions of
    entries is refused without building millions of objects.
    """
    size = fh.seek(0, os.SEEK_END)
    tail_len = min(size, 22 + 0xFFFF)  # the record plus the longest comment
    fh.seek(size - tail_len)
    tail = fh.read(tail_len)
    pos = tail.rfind(b"PK\x05\x06")
    if pos < 0 or pos + 22 > len(tail):
        return None
    (total,) = struct.unpack_from("<H", tail, pos + 10)
    if total != 0xFFFF:
        return int(total)
    locator = pos - 20  # zip64: the locator sits right before the classic record
    if locator < 0 or tail[locator : locator + 4] != b"PK\x06\x07":
        return None
    (offset,) = struct.unpack_from("<Q", tail, locator + 8)
    if offset + 56 > size:
        return None
    fh.seek(offset)
    record = fh.read(56)
    if record[:4] != b"PK\x06\x06":
        return None
    (total64,) = struct.unpack_from("<Q", record, 32)
    return int(total64)


def tar_entry_kind(info: tarfile.TarInfo, member: str) -> EntryKind:
    """What a tar member is; unusual types (GNU volume headers, ...) are refused."""
    if info.isreg():
        return EntryKind.FILE
    kinds = (
        (info.isdir, EntryKind.DIRECTORY),
        (info.issym, EntryKind.SYMLINK),
        (info.islnk, EntryKind.HARDLINK),
        (info.ischr, EntryKind.CHAR_DEVICE),
        (info.isblk, EntryKind.BLOCK_DEVICE),
        (info.isfifo, EntryKind.FIFO),
    )
    for test, kind in kinds:
        if test():
            return kind
    raise ExtractError(
        f"{member!r} has the tar entry type {info.type!r}, which ontolab does not unpack",
        code="E_ARCHIVE_UNSUPPORTED",
        path=printable(member),
    )


def zip_entry_kind(info: zipfile.ZipInfo) -> EntryKind:
    """What a zip member is: a directory, a file, or a link or device by its Unix mode."""
    # Unix zips keep st_mode in the high half of external_attr: links and devices live there.
    fmt = stat.S_IFMT(info.external_attr >> 16)
    if info.orig_filename.endswith(("/", "\\")) or fmt == stat.S_IFDIR:
        return EntryKind.DIRECTORY
    return ZIP_MODES.get(fmt, EntryKind.FILE)
