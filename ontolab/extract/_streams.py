"""The small readers every extraction is built from: bounded, metered, peekable.

Each returns at most ``size`` bytes per ``read`` (a bounded chunk even when asked for
everything), and decoder failures become ``ExtractError`` naming the member.
"""

from __future__ import annotations

import contextlib
import lzma
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Protocol

import zstandard

from ontolab.errors import ExtractError, StorageError
from ontolab.policy import printable

CHUNK = 1 << 20  # what the extractor reads and writes at a time
# Compressed bytes fed to a decoder at a time: small, so that a bomb's ratio shows early.
READ_SIZE = 16 * 1024

# What the standard library and zstandard raise on damaged input. ValueError covers names
# that are not valid UTF-8 and offsets that point nowhere in a zip directory.
DECODER_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    ValueError,
    zlib.error,
    lzma.LZMAError,
    zstandard.ZstdError,
    zipfile.BadZipFile,
    tarfile.TarError,
)


@contextlib.contextmanager
def decode_guard(member: str) -> Iterator[None]:
    """Translate decoder exceptions into ``ExtractError`` naming ``member``.

    Ontolab's own errors pass through untouched (they are not in the list above, and our
    own file writes raise StorageError, never OSError).
    """
    try:
        yield
    except NotImplementedError as exc:  # zip methods such as deflate64, ppmd
        raise ExtractError(
            f"{member!r} uses a compression method Python cannot read ({exc}); "
            "repack it as zip (deflate), gzip, xz or zstd",
            code="E_ARCHIVE_UNSUPPORTED",
            path=printable(member),
        ) from exc
    except DECODER_ERRORS as exc:
        raise ExtractError(
            f"{member!r} is damaged or truncated ({type(exc).__name__}: {exc}); "
            "re-fetch it with --force",
            code="E_ARCHIVE_CORRUPT",
            path=printable(member),
        ) from exc


class Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


class Reader:
    """A forward-only binary stream: enough of a file for gzip, tarfile and zstandard."""

    def __init__(self, inner: Readable) -> None:
        self._inner = inner
        self._pos = 0

    def read(self, size: int = -1, /) -> bytes:
        # Bounded even when asked for "everything": nothing here may read a bomb at once.
        data = self._inner.read(CHUNK if size < 0 else size)
        self._pos += len(data)
        return data

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = 0, /) -> int:
        raise OSError("a decompressed stream cannot seek")

    def write(self, data: bytes, /) -> int:
        raise OSError("a decompressed stream is read-only")

    def close(self) -> None:
        return None

    def __enter__(self) -> Reader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class FileSource(Reader):
    """A source file; read errors are the data dir's problem, not the archive's."""

    def __init__(self, inner: Readable, path: Path) -> None:
        super().__init__(inner)
        self.path = path

    def read(self, size: int = -1, /) -> bytes:
        try:
            return super().read(size)
        except OSError as exc:
            raise StorageError(
                f"cannot read {self.path}: {exc.strerror}", path=str(self.path)
            ) from exc


class Counting(Reader):
    """Reports every chunk's length to ``sink`` (compressed bytes into a meter)."""

    def __init__(self, inner: Readable, sink: Callable[[int], None]) -> None:
        super().__init__(inner)
        self._sink = sink

    def read(self, size: int = -1, /) -> bytes:
        data = super().read(size)
        self._sink(len(data))
        return data


class Metered(Reader):
    """Decoded bytes: errors translated for ``member``, lengths reported to ``sink``.

    With ``piece``, the inner reader is asked for at most that many bytes at a time and the
    sink hears of each piece. zipfile pulls compressed input in proportion to the size
    asked for, so small pieces keep its input count honest and the ratio visible early.
    """

    def __init__(
        self,
        inner: Readable,
        sink: Callable[[int], None],
        member: str,
        *,
        piece: int | None = None,
    ) -> None:
        super().__init__(inner)
        self._sink = sink
        self._member = member
        self._piece = piece

    def read(self, size: int = -1, /) -> bytes:
        size = CHUNK if size < 0 else size
        if self._piece is None:
            return self._read_piece(size)
        pieces: list[bytes] = []
        wanted = size
        while wanted > 0 and (data := self._read_piece(min(wanted, self._piece))):
            pieces.append(data)
            wanted -= len(data)
        return b"".join(pieces)

    def _read_piece(self, size: int) -> bytes:
        with decode_guard(self._member):
            data = super().read(size)
        self._sink(len(data))
        return data


class Peekable(Reader):
    """Lets the extractor look at the first bytes of an entry before deciding what it is."""

    def __init__(self, inner: Readable) -> None:
        super().__init__(inner)
        self._buffer = b""

    def peek(self, size: int) -> bytes:
        while len(self._buffer) < size:
            chunk = self._inner.read(size - len(self._buffer))
            if not chunk:
                break
            self._buffer += chunk
        return self._buffer[:size]

    def read(self, size: int = -1, /) -> bytes:
        if not self._buffer:
            return super().read(size)
        size = CHUNK if size < 0 else size
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        if len(data) < size:  # top up, so writes stay whole chunks
            data += self._inner.read(size - len(data))
        self._pos += len(data)
        return data
