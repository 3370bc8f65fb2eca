"""Streaming decoders for gzip, bz2, xz and zstd.

Every decoder returns at most ``size`` bytes per ``read`` and never decompresses more than it
is asked for, so a bomb costs one chunk of memory before the meter stops it. Truncated
streams raise instead of ending quietly (``zstandard``'s reader ends quietly, hence the frame
scanner below).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
from collections.abc import Callable
from typing import IO, ClassVar, Protocol, cast

import zstandard

from ontolab.extract._streams import CHUNK, READ_SIZE, Readable, Reader

XZ_MEMLIMIT = 256 << 20  # xz -9 needs ~65 MiB; a header asking for more is refused


class _Decompressor(Protocol):
    @property
    def eof(self) -> bool: ...
    @property
    def needs_input(self) -> bool: ...
    @property
    def unused_data(self) -> bytes: ...
    def decompress(self, data: bytes, max_length: int = -1) -> bytes: ...


class _StreamDecoder(Reader):
    """bz2 and xz, multi-stream, with ``max_length`` bounding every step."""

    def __init__(self, raw: Readable, factory: Callable[[], _Decompressor], name: str) -> None:
        super().__init__(raw)
        self._factory = factory
        self._decoder: _Decompressor | None = factory()
        self._name = name
        self._carry = b""  # input read but not yet given to a decoder

    def _input(self) -> bytes:
        if self._carry:
            data, self._carry = self._carry, b""
            return data
        return self._inner.read(READ_SIZE)

    def read(self, size: int = -1, /) -> bytes:
        size = CHUNK if size < 0 else size
        while size:
            if self._decoder is None:
                # Between streams: concatenated streams (pbzip2, pixz) go on; xz may pad.
                pending = self._input()
                if not pending:
                    return b""
                if self._name == "xz":
                    pending = pending.lstrip(b"\0")
                    if not pending:
                        continue
                self._decoder = self._factory()
            elif self._decoder.needs_input:
                pending = self._input()
                if not pending:
                    raise EOFError(f"the {self._name} stream ends before its end marker")
            else:
                pending = b""
            data = self._decoder.decompress(pending, size)
            if self._decoder.eof:
                self._carry = self._decoder.unused_data
                self._decoder = None
            if data:
                self._pos += len(data)
                return data
        return b""


class _GzipDecoder(Reader):
    def __init__(self, raw: Reader) -> None:
        super().__init__(raw)
        self._file = gzip.GzipFile(fileobj=raw, mode="rb")

    def read(self, size: int = -1, /) -> bytes:
        data = self._file.read(CHUNK if size < 0 else size)
        self._pos += len(data)
        return data

    def close(self) -> None:
        self._file.close()


class _ZstdFrames:
    """Follows zstd frame and block headers so a stream cut inside a frame is noticed."""

    _FIXED: ClassVar[dict[str, int]] = {
        "magic": 4,
        "descriptor": 1,
        "block": 3,
        "checksum": 4,
        "skippable": 4,
    }

    def __init__(self) -> None:
        self._state = "magic"
        self._buffer = b""
        self._skip = 0  # payload bytes to pass over before the next header
        self._checksum = False
        self._header_rest = 0
        self.frames = 0

    def _need(self) -> int:
        return self._FIXED.get(self._state, self._header_rest)

    def feed(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self._skip:
                step = min(self._skip, len(view))
                self._skip -= step
                view = view[step:]
                continue
            take = self._need() - len(self._buffer)
            self._buffer += bytes(view[:take])
            view = view[take:]
            if len(self._buffer) == self._need():
                header, self._buffer = self._buffer, b""
                self._advance(header)

    def _advance(self, header: bytes) -> None:
        state = self._state
        if state == "magic":
            if header == b"\x28\xb5\x2f\xfd":
                self._state = "descriptor"
            elif header[1:] == b"\x2a\x4d\x18" and header[0] & 0xF0 == 0x50:
                self._state = "skippable"
            else:
                raise ValueError("data after a zstd frame is not another frame")
        elif state == "skippable":
            self._skip = int.from_bytes(header, "little")
            self._state = "magic"
        elif state == "descriptor":
            flags = header[0]
            single = bool(flags & 0x20)
            self._checksum = bool(flags & 0x04)
            content_size = (1 if single else 0, 2, 4, 8)[flags >> 6]
            self._header_rest = (0 if single else 1) + (0, 1, 2, 4)[flags & 0x03] + content_size
            self._state = "rest" if self._header_rest else "block"
        elif state == "rest":
            self._state = "block"
        elif state == "block":
            value = int.from_bytes(header, "little")
            last, kind, size = value & 1, (value >> 1) & 3, value >> 3
            self._skip = 1 if kind == 1 else size  # an RLE block stores one byte
            if last:
                self._state = "checksum" if self._checksum else "magic"
                self.frames += 0 if self._checksum else 1
        else:  # checksum
            self._state = "magic"
            self.frames += 1

    def finish(self) -> None:
        """Raise ``EOFError`` unless the input ended exactly after a complete frame."""
        if self._state != "magic" or self._buffer or self._skip or not self.frames:
            raise EOFError("the zstd stream ends inside a frame")


class _ZstdDecoder(Reader):
    def __init__(self, raw: Reader) -> None:
        self._frames = _ZstdFrames()
        super().__init__(_Tap(raw, self._frames.feed))
        # zstandard's stubs ask for IO[bytes]; it only ever calls read().
        reader = zstandard.ZstdDecompressor().stream_reader(
            cast(IO[bytes], self._inner),
            read_size=READ_SIZE,
            read_across_frames=True,
            closefd=False,
        )
        self._reader = cast(IO[bytes], reader)

    def read(self, size: int = -1, /) -> bytes:
        size = CHUNK if size < 0 else size
        data = self._reader.read(size)
        if size and not data:
            self._frames.finish()
        self._pos += len(data)
        return data

    def close(self) -> None:
        self._reader.close()


class _Tap(Reader):
    def __init__(self, inner: Readable, tap: Callable[[bytes], None]) -> None:
        super().__init__(inner)
        self._tap = tap

    def read(self, size: int = -1, /) -> bytes:
        data = super().read(size)
        self._tap(data)
        return data


def open_decoder(kind: str, raw: Readable) -> Reader:
    """A reader of the decompressed bytes of ``raw``, a ``kind`` stream (gzip, bz2, ...)."""
    source = raw if isinstance(raw, Reader) else Reader(raw)
    if kind == "gzip":
        return _GzipDecoder(source)
    if kind == "bz2":
        return _StreamDecoder(source, bz2.BZ2Decompressor, "bz2")
    if kind == "xz":
        return _StreamDecoder(
            source,
            lambda: lzma.LZMADecompressor(format=lzma.FORMAT_XZ, memlimit=XZ_MEMLIMIT),
            "xz",
        )
    if kind == "zstd":
        return _ZstdDecoder(source)
    raise ValueError(f"not a compression: {kind!r}")
