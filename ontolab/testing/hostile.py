"""Hostile archives, for tests and for checking the archive policy by hand.

Each function writes one small, deterministic file into ``directory`` and returns its path;
:data:`HOSTILE_CASES` lists them with the error code ``ontolab.extract.extract`` must raise.
:func:`write_real_archives` packs a real ontology the ways publishers do.

Run ``python -m ontolab.testing.hostile DIR`` to write every case into ``DIR``.
"""

from __future__ import annotations

import bz2
import functools
import gzip
import io
import lzma
import shutil
import struct
import sys
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import zstandard

__all__ = [
    "HOSTILE_CASES",
    "HostileCase",
    "bz2_bomb",
    "corrupt_gzip",
    "deep_nesting",
    "gzip_bomb",
    "layered_bomb",
    "many_entries_zip",
    "nested_bomb",
    "tar_absolute_path",
    "tar_control_name",
    "tar_device",
    "tar_fifo",
    "tar_hardlink_escape",
    "tar_symlink_escape",
    "tar_symlink_through",
    "tar_traversal",
    "tar_unicode_collision",
    "truncated_gzip",
    "truncated_xz",
    "truncated_zstd",
    "write_real_archives",
    "xz_bomb",
    "zip_bad_crc",
    "zip_case_collision",
    "zip_drive_path",
    "zip_lying_bomb",
    "zip_nul_name",
    "zip_symlink",
    "zip_traversal",
    "zip_unc_path",
    "zstd_bomb",
]

MiB = 1 << 20
_EPOCH = (1980, 1, 1, 0, 0, 0)  # zip's earliest date: keeps the bytes reproducible
_PAYLOAD = b"evil\n"
_TEXT = b"format-version: 1.2\nontology: hostile\n\n" + b"[Term]\nid: X:1\nname: x\n\n" * 4000


class _Compressor(Protocol):
    def compress(self, data: bytes, /) -> bytes: ...
    def flush(self) -> bytes: ...


class _Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...


# --- building blocks ---------------------------------------------------------------------


def _tar(path: Path, members: Iterable[tuple[tarfile.TarInfo, bytes]]) -> Path:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            info.size = len(data) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return path


def _entry(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, 0o644
    return info


def _zip(
    path: Path,
    members: Iterable[tuple[str, bytes]],
    *,
    method: int = zipfile.ZIP_DEFLATED,
    mode: int | None = None,
) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members:
            info = zipfile.ZipInfo("placeholder", _EPOCH)
            # ZipInfo() cuts names at NUL; the attribute is written as given.
            info.filename = name
            info.compress_type = method
            if mode is not None:
                info.create_system, info.external_attr = 3, mode << 16
            archive.writestr(info, data)
    return path


def _zip_bytes(members: Iterable[tuple[str, bytes]], method: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members:
            archive.writestr(zipfile.ZipInfo(name, _EPOCH), data, compress_type=method)
    return buffer.getvalue()


@functools.lru_cache(maxsize=4)
def _zeros_crc(size: int) -> int:
    crc, block = 0, bytes(MiB)
    for _ in range(size // MiB):
        crc = zlib.crc32(block, crc)
    return zlib.crc32(bytes(size % MiB), crc)


def _zeros_deflate(size: int) -> Iterator[bytes]:
    # After a full flush deflate forgets everything, so the compressed form of each MiB of
    # zeros is the same bytes: compress one, repeat it size/MiB times. A valid stream at
    # level 9, made in a fraction of a second instead of compressing 1 GiB.
    comp = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    segment = comp.compress(bytes(MiB)) + comp.flush(zlib.Z_FULL_FLUSH)
    rest = comp.compress(bytes(size % MiB)) + comp.flush(zlib.Z_FULL_FLUSH)
    tail = comp.flush(zlib.Z_FINISH)
    for _ in range(size // MiB):
        yield segment
    yield rest + tail


def _write_zeros_gzip(out: _Sink, size: int) -> None:
    out.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff")  # no name, mtime 0, level 9
    for block in _zeros_deflate(size):
        out.write(block)
    out.write(struct.pack("<II", _zeros_crc(size), size & 0xFFFFFFFF))


# --- names -------------------------------------------------------------------------------


def tar_traversal(directory: Path) -> Path:
    """A tar member named ``../../evil.txt``."""
    return _tar(directory / "traversal.tar", [(_entry("../../evil.txt"), _PAYLOAD)])


def zip_traversal(directory: Path) -> Path:
    """A zip member named ``../../evil.txt``."""
    return _zip(directory / "traversal.zip", [("../../evil.txt", _PAYLOAD)])


def tar_absolute_path(directory: Path) -> Path:
    """A tar member named ``/etc/evil``."""
    return _tar(directory / "absolute.tar", [(_entry("/etc/evil"), _PAYLOAD)])


def zip_drive_path(directory: Path) -> Path:
    """A zip member named ``C:\\evil``."""
    return _zip(directory / "drive.zip", [("C:\\evil", _PAYLOAD)])


def zip_unc_path(directory: Path) -> Path:
    """A zip member named ``\\\\server\\share\\evil`` (a Windows UNC path)."""
    return _zip(directory / "unc.zip", [("\\\\server\\share\\evil", _PAYLOAD)])


def zip_nul_name(directory: Path) -> Path:
    """A zip member whose name holds a NUL byte: ``evil\\0.owl``."""
    return _zip(directory / "nul-name.zip", [("evil\0.owl", _PAYLOAD)])


def tar_control_name(directory: Path) -> Path:
    """A tar member whose name holds an ANSI escape (clears a terminal that prints it)."""
    return _tar(directory / "control-name.tar", [(_entry("evil\x1b[2J.owl"), _PAYLOAD)])


def zip_case_collision(directory: Path) -> Path:
    """``A.owl`` and ``a.owl``: one file on macOS and Windows."""
    return _zip(directory / "case.zip", [("A.owl", b"first\n"), ("a.owl", b"second\n")])


def tar_unicode_collision(directory: Path) -> Path:
    """``Straße.owl`` and ``STRASSE.owl``: equal under Unicode case folding."""
    members = [(_entry("Straße.owl"), b"first\n"), (_entry("STRASSE.owl"), b"second\n")]
    return _tar(directory / "casefold.tar", members)


# --- entry types -------------------------------------------------------------------------


def tar_symlink_escape(directory: Path) -> Path:
    """``link -> /etc/passwd``, then a file written through it as ``link/x``."""
    members = [
        (_entry("link", tarfile.SYMTYPE, "/etc/passwd"), b""),
        (_entry("link/x"), _PAYLOAD),
    ]
    return _tar(directory / "symlink-escape.tar", members)


def tar_symlink_through(directory: Path) -> Path:
    """A symlink that stays inside (``link -> d``), then a file written as ``link/x``."""
    members = [
        (_entry("d", tarfile.DIRTYPE), b""),
        (_entry("link", tarfile.SYMTYPE, "d"), b""),
        (_entry("link/x"), _PAYLOAD),
    ]
    return _tar(directory / "symlink-through.tar", members)


def tar_hardlink_escape(directory: Path) -> Path:
    """A hard link ``passwd`` to ``/etc/passwd``."""
    members = [(_entry("passwd", tarfile.LNKTYPE, "/etc/passwd"), b"")]
    return _tar(directory / "hardlink-escape.tar", members)


def tar_device(directory: Path) -> Path:
    """A character device entry (``/dev/null``'s numbers)."""
    info = _entry("null", tarfile.CHRTYPE)
    info.devmajor, info.devminor = 1, 3
    return _tar(directory / "device.tar", [(info, b"")])


def tar_fifo(directory: Path) -> Path:
    """A FIFO entry."""
    return _tar(directory / "fifo.tar", [(_entry("pipe", tarfile.FIFOTYPE), b"")])


def zip_symlink(directory: Path) -> Path:
    """A zip member marked as a Unix symlink to ``/etc/passwd``."""
    path = directory / "symlink.zip"
    return _zip(path, [("link", b"/etc/passwd")], method=zipfile.ZIP_STORED, mode=0o120777)


# --- bombs -------------------------------------------------------------------------------


def gzip_bomb(directory: Path, size: int = 1 << 30) -> Path:
    """``size`` zero bytes (1 GiB by default) gzipped at level 9: about 1 MB on disk."""
    path = directory / "bomb.gz"
    with path.open("wb") as fh:
        _write_zeros_gzip(fh, size)
    return path


def _zeros_stream(path: Path, compressor: _Compressor, size: int) -> Path:
    block = bytes(MiB)
    with path.open("wb") as fh:
        for _ in range(size // MiB):
            fh.write(compressor.compress(block))
        fh.write(compressor.flush())
    return path


def zstd_bomb(directory: Path, size: int = 1 << 30) -> Path:
    """``size`` zero bytes as zstd (about 32 KB on disk: RLE blocks expand 32768:1)."""
    compressor = zstandard.ZstdCompressor(level=3).compressobj()
    return _zeros_stream(directory / "bomb.zst", compressor, size)


def xz_bomb(directory: Path, size: int = 64 << 20) -> Path:
    """``size`` zero bytes as xz (about 10 KB on disk)."""
    return _zeros_stream(directory / "bomb.xz", lzma.LZMACompressor(preset=1), size)


def bz2_bomb(directory: Path, size: int = 64 << 20) -> Path:
    """``size`` zero bytes as bzip2 (under 100 bytes on disk)."""
    return _zeros_stream(directory / "bomb.bz2", bz2.BZ2Compressor(9), size)


def nested_bomb(directory: Path) -> Path:
    """A zip holding a zip holding a 1 GiB gzip bomb, stored so only the gzip expands."""
    bomb = io.BytesIO()
    _write_zeros_gzip(bomb, 1 << 30)
    layer = _zip_bytes([("bomb.owl.gz", bomb.getvalue())], zipfile.ZIP_STORED)
    return _zip(directory / "nested-bomb.zip", [("layer.zip", layer)], method=zipfile.ZIP_STORED)


def layered_bomb(directory: Path, fanout: int = 16) -> Path:
    """42.zip-style: ``fanout`` zips of ``fanout`` 1 GiB gzip bombs each, all deflated."""
    bomb = io.BytesIO()
    _write_zeros_gzip(bomb, 1 << 30)
    bombs = [(f"bomb-{i:02d}.gz", bomb.getvalue()) for i in range(fanout)]
    layer = _zip_bytes(bombs, zipfile.ZIP_DEFLATED)
    layers = [(f"layer-{i:02d}.zip", layer) for i in range(fanout)]
    return _zip(directory / "layered-bomb.zip", layers)


def zip_lying_bomb(directory: Path, size: int = 1 << 30) -> Path:
    """A deflated zip member of ``size`` zeros whose header claims 2 GiB of compressed data.

    The declared sizes look like a 1:2 ratio, so only metering the bytes actually produced
    catches it.
    """
    name = b"zeros.owl"
    data = b"".join(_zeros_deflate(size))
    crc, claimed = _zeros_crc(size), 1 << 31
    fields = (0x04034B50, 20, 0, 8, 0, 0x21, crc, claimed, size, len(name), 0)
    local = struct.pack("<IHHHHHIIIHH", *fields) + name
    central = (
        struct.pack(
            "<IHHHHHHIIIHHHHHII",
            *(0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, claimed, size, len(name), 0, 0, 0, 0),
            *(0, 0),
        )
        + name
    )
    offset = len(local) + len(data)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), offset, 0)
    path = directory / "lying-bomb.zip"
    path.write_bytes(local + data + central + end)
    return path


def deep_nesting(directory: Path, depth: int = 5) -> Path:
    """A small ontology file inside ``depth`` zips, each inside the next."""
    data, name = _TEXT, "x.obo"
    for level in range(depth - 1):
        data, name = _zip_bytes([(name, data)], zipfile.ZIP_DEFLATED), f"level-{level}.zip"
    return _zip(directory / "deep.zip", [(name, data)])


def many_entries_zip(directory: Path, count: int = 100_000) -> Path:
    """A zip64 archive of ``count`` empty files, written directly (zipfile takes seconds)."""
    local, central, offset = [], [], 0
    for i in range(count):
        name = f"e/{i:06d}.txt".encode()
        header = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0x21, 0, 0, 0, len(name), 0)
        local.append(header + name)
        central.append(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                *(0x02014B50, 20, 20, 0, 0, 0, 0x21, 0, 0, 0, len(name), 0, 0, 0, 0, 0, offset),
            )
            + name
        )
        offset += len(header) + len(name)
    directory_bytes = b"".join(central)
    end64 = struct.pack(
        "<IQHHIIQQQQ",
        *(0x06064B50, 44, 45, 45, 0, 0, count, count, len(directory_bytes), offset),
    )
    locator = struct.pack("<IIQI", 0x07064B50, 0, offset + len(directory_bytes), 1)
    end = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, len(directory_bytes), offset, 0
    )
    path = directory / "many-entries.zip"
    path.write_bytes(b"".join(local) + directory_bytes + end64 + locator + end)
    return path


# --- damage ------------------------------------------------------------------------------


def corrupt_gzip(directory: Path) -> Path:
    """A valid gzip header followed by garbage."""
    path = directory / "corrupt.gz"
    path.write_bytes(gzip.compress(b"", mtime=0)[:10] + b"\xff" * 64)
    return path


def truncated_gzip(directory: Path) -> Path:
    """A gzip stream cut in the middle."""
    data = gzip.compress(_TEXT, mtime=0)
    path = directory / "truncated.gz"
    path.write_bytes(data[: len(data) // 2])
    return path


def truncated_xz(directory: Path) -> Path:
    """An xz stream cut in the middle."""
    data = lzma.compress(_TEXT)
    path = directory / "truncated.xz"
    path.write_bytes(data[: len(data) // 2])
    return path


def truncated_zstd(directory: Path) -> Path:
    """A zstd frame cut in the middle (the zstandard reader alone would end quietly)."""
    data = zstandard.ZstdCompressor(level=3).compress(_TEXT)
    path = directory / "truncated.zst"
    path.write_bytes(data[: len(data) // 2])
    return path


def zip_bad_crc(directory: Path) -> Path:
    """A stored zip member with one byte flipped after its CRC was computed."""
    data = bytearray(_zip_bytes([("hp.obo", _TEXT)], zipfile.ZIP_STORED))
    data[30 + len("hp.obo") + 100] ^= 0xFF  # inside the first member's data
    path = directory / "bad-crc.zip"
    path.write_bytes(bytes(data))
    return path


@dataclass(frozen=True)
class HostileCase:
    """One hostile archive and the code ``extract`` must refuse it with."""

    name: str
    write: Callable[[Path], Path]
    code: str


HOSTILE_CASES: tuple[HostileCase, ...] = (
    HostileCase("tar_traversal", tar_traversal, "E_ARCHIVE_TRAVERSAL"),
    HostileCase("zip_traversal", zip_traversal, "E_ARCHIVE_TRAVERSAL"),
    HostileCase("tar_absolute_path", tar_absolute_path, "E_ARCHIVE_ABSOLUTE_PATH"),
    HostileCase("zip_drive_path", zip_drive_path, "E_ARCHIVE_ABSOLUTE_PATH"),
    HostileCase("zip_unc_path", zip_unc_path, "E_ARCHIVE_ABSOLUTE_PATH"),
    HostileCase("zip_nul_name", zip_nul_name, "E_ARCHIVE_BAD_NAME"),
    HostileCase("tar_control_name", tar_control_name, "E_ARCHIVE_BAD_NAME"),
    HostileCase("zip_case_collision", zip_case_collision, "E_ARCHIVE_CASE_COLLISION"),
    HostileCase("tar_unicode_collision", tar_unicode_collision, "E_ARCHIVE_CASE_COLLISION"),
    HostileCase("tar_symlink_escape", tar_symlink_escape, "E_ARCHIVE_SYMLINK"),
    HostileCase("tar_symlink_through", tar_symlink_through, "E_ARCHIVE_SYMLINK"),
    HostileCase("zip_symlink", zip_symlink, "E_ARCHIVE_SYMLINK"),
    HostileCase("tar_hardlink_escape", tar_hardlink_escape, "E_ARCHIVE_HARDLINK"),
    HostileCase("tar_device", tar_device, "E_ARCHIVE_DEVICE"),
    HostileCase("tar_fifo", tar_fifo, "E_ARCHIVE_DEVICE"),
    HostileCase("gzip_bomb", gzip_bomb, "E_ARCHIVE_RATIO"),
    HostileCase("zstd_bomb", zstd_bomb, "E_ARCHIVE_RATIO"),
    HostileCase("xz_bomb", xz_bomb, "E_ARCHIVE_RATIO"),
    HostileCase("bz2_bomb", bz2_bomb, "E_ARCHIVE_RATIO"),
    HostileCase("nested_bomb", nested_bomb, "E_ARCHIVE_RATIO"),
    HostileCase("layered_bomb", layered_bomb, "E_ARCHIVE_RATIO"),
    HostileCase("zip_lying_bomb", zip_lying_bomb, "E_ARCHIVE_RATIO"),
    HostileCase("deep_nesting", deep_nesting, "E_ARCHIVE_TOO_DEEP"),
    HostileCase("many_entries_zip", many_entries_zip, "E_ARCHIVE_TOO_MANY_ENTRIES"),
    HostileCase("corrupt_gzip", corrupt_gzip, "E_ARCHIVE_CORRUPT"),
    HostileCase("truncated_gzip", truncated_gzip, "E_ARCHIVE_CORRUPT"),
    HostileCase("truncated_xz", truncated_xz, "E_ARCHIVE_CORRUPT"),
    HostileCase("truncated_zstd", truncated_zstd, "E_ARCHIVE_CORRUPT"),
    HostileCase("zip_bad_crc", zip_bad_crc, "E_ARCHIVE_CORRUPT"),
)


# --- real ontologies, packed the ways publishers pack them -------------------------------


def _copy_into(source: Path, out: _Sink) -> None:
    with source.open("rb") as fh:
        shutil.copyfileobj(fh, out, MiB)


def _tar_of(source: Path, out: io.BufferedIOBase) -> None:
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        folder = _entry("ontology", tarfile.DIRTYPE)
        folder.mode = 0o755
        tar.addfile(folder)
        info = _entry(f"ontology/{source.name}")
        info.size = source.stat().st_size
        with source.open("rb") as fh:
            tar.addfile(info, fh)


def write_real_archives(directory: Path, source: Path) -> dict[str, Path]:
    """Pack ``source`` as .gz, .bz2, .xz, .zst, .zip, .tar.gz, .tar.xz and a nested zip.

    The zip and tars hold ``ontology/<name>``; the nested zip holds
    ``ontology/<name>.gz``. Fast compression presets: these test unpacking, not ratios.

    Returns
    -------
    dict[str, Path]
        Keyed by kind: ``gz``, ``bz2``, ``xz``, ``zst``, ``zip``, ``tar.gz``, ``tar.xz``,
        ``nested.zip``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    name = source.name
    paths = {key: directory / f"{name}.{key}" for key in ("gz", "bz2", "xz", "zst", "zip")}
    paths["tar.gz"] = directory / f"{name}.tar.gz"
    paths["tar.xz"] = directory / f"{name}.tar.xz"
    paths["nested.zip"] = directory / f"{name}.nested.zip"
    with paths["gz"].open("wb") as raw, gzip.GzipFile("", "wb", 6, raw, mtime=0) as out:
        _copy_into(source, out)
    with bz2.open(paths["bz2"], "wb") as out_bz2:
        _copy_into(source, out_bz2)
    with lzma.open(paths["xz"], "wb", preset=1) as out_xz:
        _copy_into(source, out_xz)
    with paths["zst"].open("wb") as raw, source.open("rb") as fh:
        zstandard.ZstdCompressor(level=3).copy_stream(fh, raw)
    with zipfile.ZipFile(paths["zip"], "w") as archive:
        archive.writestr(zipfile.ZipInfo("ontology/", _EPOCH), b"")
        info = zipfile.ZipInfo(f"ontology/{name}", _EPOCH)
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w") as member:
            _copy_into(source, member)
    with paths["tar.gz"].open("wb") as raw, gzip.GzipFile("", "wb", 6, raw, mtime=0) as out:
        _tar_of(source, out)
    with lzma.open(paths["tar.xz"], "wb", preset=1) as out_xz:
        _tar_of(source, out_xz)
    with zipfile.ZipFile(paths["nested.zip"], "w") as archive:
        info = zipfile.ZipInfo(f"ontology/{name}.gz", _EPOCH)
        info.compress_type = zipfile.ZIP_STORED
        archive.writestr(info, paths["gz"].read_bytes())
    return paths


def main(argv: list[str] | None = None) -> int:
    """Write every hostile case into the directory given on the command line."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m ontolab.testing.hostile DIR", file=sys.stderr)
        return 2
    directory = Path(args[0])
    directory.mkdir(parents=True, exist_ok=True)
    for case in HOSTILE_CASES:
        print(f"{case.code:28} {case.write(directory)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
