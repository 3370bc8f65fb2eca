"""Walking containers entry by entry, with the archive policy consulted at every step.

Each level is streamed: a compressed stream is decoded as it is read, a tar is read in
stream mode, and only a zip (which needs random access) nested inside something else is
spilled to a scratch file first. Nothing is trusted from headers: the meter counts the
bytes actually produced.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ontolab.durable import storage_error
from ontolab.errors import ExtractError, UnsafeArchive
from ontolab.extract._codecs import open_decoder
from ontolab.extract._formats import (
    COMPRESSIONS,
    SNIFF_BYTES,
    declared_zip_entries,
    is_tar,
    sniff,
    strip_archive,
    strip_compression,
    tar_entry_kind,
    zip_entry_kind,
)
from ontolab.extract._receipt import ExtractedFile
from ontolab.extract._streams import (
    CHUNK,
    READ_SIZE,
    Counting,
    FileSource,
    Metered,
    Peekable,
    Reader,
    decode_guard,
)
from ontolab.extract._tree import NameClaims, OutputTree
from ontolab.policy import (
    ArchivePolicy,
    EntryKind,
    ExpansionMeter,
    check_member_name,
    printable,
)

_MAX_LINK_TARGET = 4096  # PATH_MAX: a zip symlink's body is its target


def _ignore(n: int) -> None:
    """A sink for streams whose ratio is metered further out (tar members)."""


def _join(base: str, rel: str) -> str:
    return f"{base}/{rel}" if base and rel else base or rel


@contextmanager
def _entry(member: str) -> Iterator[None]:
    """Name the whole member chain in policy errors raised for one entry."""
    try:
        yield
    except UnsafeArchive as exc:
        if exc.path is None or "!" not in exc.path:
            exc.path = printable(member)
        raise


class _CountingFile(io.FileIO):
    """A zip file whose reads are reported to the current member's meter."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, "rb")
        self.sink: Callable[[int], None] = _ignore

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size) or b""
        self.sink(len(data))
        return data


class Unpacker:
    """One extraction's walk: writes into ``tree``, records files for ``dest``."""

    def __init__(
        self,
        policy: ArchivePolicy,
        meter: ExpansionMeter,
        tree: OutputTree,
        scratch: Path,
        dest: Path,
    ) -> None:
        self.policy = policy
        self.meter = meter
        self.tree = tree
        self.scratch = scratch
        self.dest = dest
        self.files: list[ExtractedFile] = []
        self._written: dict[str, ExtractedFile] = {}
        self._claims = NameClaims()
        self._spilled = 0

    def run(self, source: Path, kind: str, label: str) -> str:
        """Unpack ``source`` (a ``kind`` container); return the outermost level's kind."""
        if kind == "zip":  # already a file: no spill needed
            self.meter.enter(1, label)
            self._zip(source, "", 1, ("zip",), label)
            return "zip"
        with source.open("rb") as fh:
            stream = Peekable(FileSource(fh, source))
            return self._container(kind, stream, out=label, depth=0, chain=(), member=label)

    def _content(
        self, stream: Peekable, *, out: str, depth: int, chain: tuple[str, ...], member: str
    ) -> None:
        """An entry's bytes: a file to write, or another container to open."""
        kind = sniff(stream.peek(SNIFF_BYTES))
        if kind is None:
            self._write(stream, out, member, chain)
        else:
            self._container(kind, stream, out=out, depth=depth, chain=chain, member=member)

    def _container(
        self,
        kind: str,
        stream: Peekable,
        *,
        out: str,
        depth: int,
        chain: tuple[str, ...],
        member: str,
    ) -> str:
        depth += 1
        self.meter.enter(depth, member)
        # The outermost container unpacks into the root, also under compression (x.zip.gz).
        at_root = all(level in COMPRESSIONS for level in chain)
        if kind in COMPRESSIONS:
            return self._compressed(kind, stream, out=out, depth=depth, chain=chain, member=member)
        base = "" if at_root else strip_archive(out)
        if kind == "tar":
            self._tar(stream, base, depth, (*chain, "tar"), member)
            return "tar"
        spilled = self._spill(stream, member)
        try:
            self._zip(spilled, base, depth, (*chain, "zip"), member)
        finally:
            spilled.unlink()
        return "zip"

    def _compressed(
        self,
        kind: str,
        stream: Peekable,
        *,
        out: str,
        depth: int,
        chain: tuple[str, ...],
        member: str,
    ) -> str:
        flow = self.meter.stream(member)
        with open_decoder(kind, Counting(stream, flow.consumed)) as decoder:
            decoded = Peekable(Metered(decoder, flow.produced, member))
            inner = strip_compression(out)
            if is_tar(decoded.peek(SNIFF_BYTES)):  # a compressed tar is one container
                level = f"tar+{kind}"
                at_root = all(k in COMPRESSIONS for k in chain)
                base = "" if at_root else strip_archive(inner)
                self._tar(decoded, base, depth, (*chain, level), member)
                return level
            inner_member = f"{member}!{posixpath.basename(inner)}"
            self.meter.begin_entry(inner_member)
            self._content(
                decoded, out=inner, depth=depth, chain=(*chain, kind), member=inner_member
            )
        return kind

    def _tar(
        self, stream: Reader, base: str, depth: int, chain: tuple[str, ...], member: str
    ) -> None:
        seen: set[str] = set()
        with decode_guard(member):
            # Closed by the with below; the guard must not wrap the entries' own errors.
            archive = tarfile.open(fileobj=stream, mode="r|")  # noqa: SIM115
        with archive:
            while True:
                with decode_guard(member):
                    info = archive.next()
                if info is None:
                    break
                entry_member = f"{member}!{info.name}"
                with _entry(entry_member):
                    self._tar_entry(archive, info, base, depth, chain, member, seen)
        # Read to the end of the stream: a compressed tar's checksum sits after the tar's
        # end marker, and damage there must not pass unnoticed.
        while stream.read(CHUNK):
            pass

    def _tar_entry(
        self,
        archive: tarfile.TarFile,
        info: tarfile.TarInfo,
        base: str,
        depth: int,
        chain: tuple[str, ...],
        member: str,
        seen: set[str],
    ) -> None:
        entry_member = f"{member}!{info.name}"
        kind = tar_entry_kind(info, entry_member)
        self.meter.begin_entry(
            entry_member, declared_size=info.size if kind is EntryKind.FILE else None
        )
        self.policy.check_entry_type(kind, entry_member)
        if kind is EntryKind.DIRECTORY:
            self._directory(info.name, base, entry_member)
            return
        rel = check_member_name(info.name, seen_casefold=seen)
        out, named = _join(base, rel), f"{member}!{rel}"
        if kind is EntryKind.SYMLINK:
            target = self.policy.check_link(kind, named, path=rel, target=info.linkname)
            self._symlink(out, _join(base, target), named)
            return
        if kind is EntryKind.HARDLINK:
            target = self.policy.check_link(kind, named, path=rel, target=info.linkname)
            self._hardlink(out, _join(base, target), named, chain)
            return
        with decode_guard(entry_member):
            fh = archive.extractfile(info)
        if fh is None:  # pragma: no cover - isreg() members always have data
            raise ExtractError(f"{entry_member!r} has no data", path=printable(entry_member))
        with fh:
            stream = Peekable(Metered(fh, _ignore, entry_member))
            self._content(stream, out=out, depth=depth, chain=chain, member=named)

    def _zip(self, path: Path, base: str, depth: int, chain: tuple[str, ...], member: str) -> None:
        with _CountingFile(path) as raw:
            with decode_guard(member):
                declared = declared_zip_entries(raw)
                raw.seek(0)
            if declared is not None:
                self.meter.expect_entries(declared, member)
            with decode_guard(member):
                archive = zipfile.ZipFile(raw)
            with archive:
                infos = archive.infolist()
                self.meter.expect_entries(len(infos), member)
                seen: set[str] = set()
                for info in infos:
                    entry_member = f"{member}!{info.orig_filename}"
                    with _entry(entry_member):
                        self._zip_entry(archive, raw, info, base, depth, chain, member, seen)

    def _zip_entry(
        self,
        archive: zipfile.ZipFile,
        raw: _CountingFile,
        info: zipfile.ZipInfo,
        base: str,
        depth: int,
        chain: tuple[str, ...],
        member: str,
        seen: set[str],
    ) -> None:
        name = info.orig_filename  # .filename is cut at the first NUL; this is not
        entry_member = f"{member}!{name}"
        kind = zip_entry_kind(info)
        is_file = kind is EntryKind.FILE
        self.meter.begin_entry(
            entry_member,
            declared_size=info.file_size if is_file else None,
            declared_in=info.compress_size if is_file else None,
        )
        self.policy.check_entry_type(kind, entry_member)
        if kind is EntryKind.DIRECTORY:
            self._directory(name, base, entry_member)
            return
        rel = check_member_name(name, seen_casefold=seen)
        out, named = _join(base, rel), f"{member}!{rel}"
        if info.flag_bits & 0x1:
            raise ExtractError(
                f"{entry_member!r} is encrypted; ontolab cannot unpack it",
                code="E_ARCHIVE_UNSUPPORTED",
                path=printable(entry_member),
            )
        flow = self.meter.stream(named)
        raw.sink = flow.consumed
        try:
            with decode_guard(entry_member):
                fh = archive.open(info)
            with fh:
                metered = Metered(fh, flow.produced, entry_member, piece=READ_SIZE)
                stream = Peekable(metered)
                if kind is EntryKind.SYMLINK:
                    self._zip_symlink(stream, out, rel, base, named)
                else:
                    self._content(stream, out=out, depth=depth, chain=chain, member=named)
        finally:
            raw.sink = _ignore

    def _zip_symlink(self, stream: Reader, out: str, rel: str, base: str, member: str) -> None:
        body = stream.read(_MAX_LINK_TARGET + 1)
        try:
            if len(body) > _MAX_LINK_TARGET:
                raise ValueError("too long")
            text = body.decode("utf-8")
        except ValueError as exc:
            raise UnsafeArchive(
                f"symbolic link {member!r} has a malformed target",
                code="E_ARCHIVE_BAD_NAME",
                path=printable(member),
            ) from exc
        target = self.policy.check_link(EntryKind.SYMLINK, member, path=rel, target=text)
        self._symlink(out, _join(base, target), member)

    def _directory(self, name: str, base: str, member: str) -> None:
        if name.replace("\\", "/").strip("/") in ("", "."):
            return  # "./", the archive's own root, as `tar -C dir .` writes it
        rel = _join(base, check_member_name(name, seen_casefold=set()))
        self._claims.claim(rel, "dir", member)
        self.tree.make_dirs(rel, member)

    def _symlink(self, out: str, target: str, member: str) -> None:
        self._claims.claim(out, "link", member)
        # Store the checked, normalised target, relative to the link's own directory.
        relative = posixpath.relpath("/" + target, "/" + posixpath.dirname(out))
        self.tree.symlink(out, relative, member)

    def _hardlink(self, out: str, target: str, member: str, chain: tuple[str, ...]) -> None:
        original = self._written.get(target)
        if original is None:
            raise UnsafeArchive(
                f"hard link {member!r} points at {target!r}, which is not a file extracted "
                "earlier from this archive",
                code="E_ARCHIVE_HARDLINK",
                path=printable(member),
            )
        self._claims.claim(out, "file", member)
        self.tree.hardlink(out, target, member)
        self._record(out, member, original.size, original.sha256, chain)

    def _write(self, stream: Reader, out: str, member: str, chain: tuple[str, ...]) -> None:
        self._claims.claim(out, "file", member)
        meter = self.meter.entry(member)
        digest = hashlib.sha256()
        with self.tree.create(out, member) as fh:
            while chunk := stream.read(CHUNK):
                meter.add(len(chunk))  # before the write: a bomb never reaches the disk
                digest.update(chunk)
                fh.write(chunk)
        self._record(out, member, meter.size, digest.hexdigest(), chain)

    def _record(
        self, out: str, member: str, size: int, sha256: str, chain: tuple[str, ...]
    ) -> None:
        record = ExtractedFile(
            path=self.dest.joinpath(*out.split("/")),
            member=member,
            size=size,
            sha256=sha256,
            chain=chain,
        )
        self.files.append(record)
        self._written[out] = record

    def _spill(self, stream: Reader, member: str) -> Path:
        """Copy a nested zip to a scratch file (zip needs random access); metered."""
        self._spilled += 1
        path = self.scratch / f"{self._spilled}.zip"
        meter = self.meter.entry(member)
        try:
            with path.open("xb") as fh:
                while chunk := stream.read(CHUNK):
                    meter.add(len(chunk))
                    fh.write(chunk)
        except OSError as exc:
            raise storage_error(exc, path) from exc
        return path
