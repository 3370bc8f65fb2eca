"""Archive safety: which member names, entry types and expansion rates are acceptable.

Pure checks, no I/O: the extractor asks before it creates anything and reports the bytes it
actually produced while streaming, so a lying header (declared sizes, entry counts) can make
an archive fail earlier but never pass. Every refusal is an
:class:`~ontolab.errors.UnsafeArchive` with its own code (see docs/errors.md).
"""

from __future__ import annotations

import enum
import posixpath
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ontolab.errors import UnsafeArchive

if TYPE_CHECKING:
    from ontolab.settings import ExtractSettings

#: The ratio rule applies only from this many produced bytes on: small files legitimately
#: compress at odd rates (a 300-byte header of zeros, an empty ontology stub).
RATIO_FLOOR_BYTES = 1 << 20
_MAX_SEGMENT_BYTES = 255  # NAME_MAX on Linux and macOS; longer names fail at open() anyway
_DRIVE = re.compile(r"^[A-Za-z]:")
# Bidi overrides and isolates reorder how a name is displayed: "evil\u202egpj.owl".
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class EntryKind(enum.Enum):
    """What an archive member is, whatever the format calls it."""

    FILE = "file"
    DIRECTORY = "directory"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"
    CHAR_DEVICE = "char device"
    BLOCK_DEVICE = "block device"
    FIFO = "fifo"
    SOCKET = "socket"


_SPECIAL = frozenset(
    {EntryKind.CHAR_DEVICE, EntryKind.BLOCK_DEVICE, EntryKind.FIFO, EntryKind.SOCKET}
)


def printable(name: str) -> str:
    r"""``name`` with control characters escaped, safe to print in a log or a terminal.

    Examples
    --------
    >>> printable("evil\x1b[2J.owl")
    'evil\\x1b[2J.owl'
    """
    if name.isprintable():
        return name
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)


def _unsafe(message: str, code: str, member: str) -> UnsafeArchive:
    return UnsafeArchive(message, code=code, path=printable(member))


def casefold_key(path: str) -> str:
    """The key under which two paths collide on a case-insensitive file system.

    Canonical caseless matching (Unicode 3.13, D145), so ``Straße`` and ``STRASSE`` and the
    composed and decomposed spellings of ``é`` all share a key.

    Examples
    --------
    >>> casefold_key("Straße/Ä.owl") == casefold_key("STRASSE/a\u0308.OWL")
    True
    """
    return unicodedata.normalize("NFD", unicodedata.normalize("NFD", path).casefold())


def _check_characters(text: str, member: str, what: str) -> None:
    for char in text:
        category = unicodedata.category(char)
        # Cc: NUL, C0/C1 controls, DEL; Cs: lone surrogates from undecodable bytes;
        # Zl/Zp: line breaks that forge log lines.
        if category in ("Cc", "Cs", "Zl", "Zp") or char in _BIDI:
            shown = "NUL" if char == "\0" else f"U+{ord(char):04X}"
            raise _unsafe(
                f"{what} {text!r} contains the control character {shown}; "
                "the archive is refused, ask its publisher for a clean one",
                "E_ARCHIVE_BAD_NAME",
                member,
            )


def _is_absolute(text: str) -> bool:
    # Called after backslashes became slashes: "/etc", "\\server\share", "C:\x", "C:x".
    return text.startswith("/") or bool(_DRIVE.match(text))


def _resolve(base: list[str], text: str, member: str, what: str) -> list[str]:
    """Apply ``text``'s segments to ``base`` lexically; refuse any step above the root."""
    parts = list(base)
    for segment in text.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if not parts:
                raise _unsafe(
                    f"{what} {text!r} climbs out of the destination with '..'; "
                    "the archive is refused",
                    "E_ARCHIVE_TRAVERSAL",
                    member,
                )
            parts.pop()
            continue
        if len(segment.encode("utf-8", "surrogatepass")) > _MAX_SEGMENT_BYTES:
            raise _unsafe(
                f"{what} has a path segment longer than {_MAX_SEGMENT_BYTES} bytes",
                "E_ARCHIVE_BAD_NAME",
                member,
            )
        parts.append(segment)
    return parts


def check_member_name(name: str, *, seen_casefold: set[str]) -> str:
    """Normalise an archive member name into a safe relative path, or refuse it.

    Backslashes count as separators (Windows tools write them), ``.`` segments vanish and
    ``..`` segments are resolved lexically; the name must stay below the destination root.

    Parameters
    ----------
    name
        The member name as the archive spells it.
    seen_casefold
        Keys (:func:`casefold_key`) of the names seen so far in the same archive; the new
        name's key is added.

    Returns
    -------
    str
        The normalised path, ``/``-separated, with no empty, ``.`` or ``..`` segment.

    Raises
    ------
    UnsafeArchive
        ``E_ARCHIVE_BAD_NAME`` (empty, control characters), ``E_ARCHIVE_ABSOLUTE_PATH``,
        ``E_ARCHIVE_TRAVERSAL`` or ``E_ARCHIVE_CASE_COLLISION``.

    Examples
    --------
    >>> seen: set[str] = set()
    >>> check_member_name("./ontology\\\\hp.obo", seen_casefold=seen)
    'ontology/hp.obo'
    >>> check_member_name("a/../../b", seen_casefold=seen)
    Traceback (most recent call last):
    ...
    ontolab.errors.UnsafeArchive: [E_ARCHIVE_TRAVERSAL] ...
    """
    if not name:
        raise _unsafe("an archive member has an empty name", "E_ARCHIVE_BAD_NAME", name)
    _check_characters(name, name, "member name")
    text = name.replace("\\", "/")
    if _is_absolute(text):
        raise _unsafe(
            f"member name {name!r} is an absolute path (leading slash, drive or UNC share); "
            "the archive is refused",
            "E_ARCHIVE_ABSOLUTE_PATH",
            name,
        )
    parts = _resolve([], text, name, "member name")
    if not parts:
        raise _unsafe(f"member name {name!r} names no file", "E_ARCHIVE_BAD_NAME", name)
    path = "/".join(parts)
    key = casefold_key(path)
    if key in seen_casefold:
        raise _unsafe(
            f"member {name!r} collides with an earlier member when case is ignored; "
            "it would overwrite it on macOS and Windows",
            "E_ARCHIVE_CASE_COLLISION",
            name,
        )
    seen_casefold.add(key)
    return path


@dataclass(frozen=True)
class ArchivePolicy:
    """Limits and permissions for unpacking one archive (``extract`` settings).

    Examples
    --------
    >>> from ontolab.settings import ExtractSettings
    >>> ArchivePolicy.from_settings(ExtractSettings()).max_ratio
    200.0
    """

    max_entries: int = 10_000
    max_total_bytes: int = 100_000_000_000
    max_entry_bytes: int = 50_000_000_000
    max_ratio: float = 200.0
    max_depth: int = 3
    allow_symlinks: bool = False
    allow_hardlinks: bool = False

    @classmethod
    def from_settings(cls, settings: ExtractSettings) -> ArchivePolicy:
        """The policy the ``extract`` settings section describes."""
        return cls(
            max_entries=settings.max_entries,
            max_total_bytes=int(settings.max_total_bytes),
            max_entry_bytes=int(settings.max_entry_bytes),
            max_ratio=settings.max_ratio,
            max_depth=settings.max_depth,
            allow_symlinks=settings.allow_symlinks,
            allow_hardlinks=settings.allow_hardlinks,
        )

    def check_entry_type(self, kind: EntryKind, member: str) -> None:
        """Refuse devices, FIFOs and sockets always, links unless the policy allows them."""
        if kind in _SPECIAL:
            raise _unsafe(
                f"member {member!r} is a {kind.value}; ontology archives never need one",
                "E_ARCHIVE_DEVICE",
                member,
            )
        if kind is EntryKind.SYMLINK and not self.allow_symlinks:
            raise _unsafe(
                f"member {member!r} is a symbolic link; set extract.allow_symlinks "
                "if the archive is trusted (targets must still stay inside)",
                "E_ARCHIVE_SYMLINK",
                member,
            )
        if kind is EntryKind.HARDLINK and not self.allow_hardlinks:
            raise _unsafe(
                f"member {member!r} is a hard link; set extract.allow_hardlinks "
                "if the archive is trusted (targets must still stay inside)",
                "E_ARCHIVE_HARDLINK",
                member,
            )

    def check_link(self, kind: EntryKind, member: str, *, path: str, target: str) -> str:
        """Check a link entry and return its target as a path relative to the root.

        Parameters
        ----------
        kind
            ``SYMLINK`` (target relative to the link's directory) or ``HARDLINK`` (target
            relative to the archive root, as tar stores it).
        member
            The member, for messages.
        path
            The link's own normalised path (from :func:`check_member_name`).
        target
            The target as the archive spells it.

        Raises
        ------
        UnsafeArchive
            The link type is not allowed, or its target leaves the destination
            (``E_ARCHIVE_TRAVERSAL``) or is malformed (``E_ARCHIVE_BAD_NAME``).
        """
        self.check_entry_type(kind, member)
        if not target:
            raise _unsafe(f"link {member!r} has an empty target", "E_ARCHIVE_BAD_NAME", member)
        _check_characters(target, member, "link target")
        text = target.replace("\\", "/")
        if _is_absolute(text):
            raise _unsafe(
                f"link {member!r} points at the absolute path {target!r}, outside the "
                "destination; the archive is refused",
                "E_ARCHIVE_TRAVERSAL",
                member,
            )
        base = posixpath.dirname(path).split("/") if kind is EntryKind.SYMLINK else []
        parts = _resolve([p for p in base if p], text, member, "link target")
        return "/".join(parts)

    def meter(self, *, source_bytes: int | None = None) -> ExpansionMeter:
        """A fresh :class:`ExpansionMeter` for one extraction of ``source_bytes`` bytes."""
        return ExpansionMeter(self, source_bytes=source_bytes)


class StreamMeter:
    """Bytes in and out of one decompressor (a gzip stream, one zip member).

    ``produced`` raises ``E_ARCHIVE_RATIO`` once at least :data:`RATIO_FLOOR_BYTES` came
    out and out/in exceeds ``max_ratio``.
    """

    def __init__(self, policy: ArchivePolicy, member: str) -> None:
        self.policy = policy
        self.member = member
        self.bytes_in = 0
        self.bytes_out = 0

    def consumed(self, n: int) -> None:
        """Record ``n`` compressed bytes read."""
        self.bytes_in += n

    def produced(self, n: int) -> None:
        """Record ``n`` decompressed bytes and enforce the ratio."""
        self.bytes_out += n
        if self.bytes_out >= RATIO_FLOOR_BYTES and (
            self.bytes_out > self.policy.max_ratio * self.bytes_in
        ):
            raise _unsafe(
                f"{self.member!r} expanded {self.bytes_in:,} bytes into {self.bytes_out:,} "
                f"and was stopped (more than {self.policy.max_ratio:g}:1, a decompression "
                "bomb?); raise extract.max_ratio only for a trusted source",
                "E_ARCHIVE_RATIO",
                self.member,
            )


class EntryMeter:
    """Bytes written for one output file (or a nested archive kept while it is unpacked)."""

    def __init__(self, meter: ExpansionMeter, member: str) -> None:
        self._meter = meter
        self.member = member
        self.size = 0

    def add(self, n: int) -> None:
        """Record ``n`` bytes about to be written; raise before they would break a limit."""
        policy = self._meter.policy
        if self.size + n > policy.max_entry_bytes:
            raise _unsafe(
                f"{self.member!r} grew past extract.max_entry_bytes "
                f"({policy.max_entry_bytes:,} bytes) and was stopped",
                "E_ARCHIVE_ENTRY_TOO_LARGE",
                self.member,
            )
        self._meter.add_written(n, self.member)
        self.size += n


class ExpansionMeter:
    """Counts entries, nesting depth and written bytes across one whole extraction.

    Besides each stream's ratio (:class:`StreamMeter`) it checks the overall ratio of bytes
    written to ``source_bytes``, which catches layered bombs whose every layer looks modest.

    Examples
    --------
    >>> meter = ArchivePolicy(max_ratio=10).meter(source_bytes=1000)
    >>> stream = meter.stream("x.gz")
    >>> stream.consumed(1000)
    >>> stream.produced(2_000_000)
    Traceback (most recent call last):
    ...
    ontolab.errors.UnsafeArchive: [E_ARCHIVE_RATIO] ...
    """

    def __init__(self, policy: ArchivePolicy, *, source_bytes: int | None = None) -> None:
        self.policy = policy
        self.source_bytes = source_bytes
        self.entries = 0
        self.total_bytes = 0

    def enter(self, depth: int, member: str) -> None:
        """Refuse opening a container at nesting ``depth`` (the outermost is 1)."""
        if depth > self.policy.max_depth:
            raise _unsafe(
                f"{member!r} is an archive nested {depth} levels deep, more than "
                f"extract.max_depth ({self.policy.max_depth})",
                "E_ARCHIVE_TOO_DEEP",
                member,
            )

    def expect_entries(self, declared: int, member: str) -> None:
        """Refuse early when an archive's own directory declares too many entries."""
        if self.entries + declared > self.policy.max_entries:
            raise self._too_many(member, self.entries + declared)

    def begin_entry(
        self, member: str, *, declared_size: int | None = None, declared_in: int | None = None
    ) -> None:
        """Count one entry; refuse it early if its declared sizes already break a limit.

        Declared sizes can only make an entry fail sooner: the bytes actually produced are
        metered anyway.
        """
        self.entries += 1
        if self.entries > self.policy.max_entries:
            raise self._too_many(member, self.entries)
        if declared_size is None:
            return
        if declared_size > self.policy.max_entry_bytes:
            raise _unsafe(
                f"{member!r} declares {declared_size:,} bytes, more than "
                f"extract.max_entry_bytes ({self.policy.max_entry_bytes:,})",
                "E_ARCHIVE_ENTRY_TOO_LARGE",
                member,
            )
        if self.total_bytes + declared_size > self.policy.max_total_bytes:
            raise self._too_large(member)
        if (
            declared_in is not None
            and declared_size >= RATIO_FLOOR_BYTES
            and declared_size > self.policy.max_ratio * declared_in
        ):
            raise _unsafe(
                f"{member!r} declares {declared_in:,} compressed bytes expanding to "
                f"{declared_size:,} (more than {self.policy.max_ratio:g}:1)",
                "E_ARCHIVE_RATIO",
                member,
            )

    def stream(self, member: str) -> StreamMeter:
        """A ratio meter for one decompressor."""
        return StreamMeter(self.policy, member)

    def entry(self, member: str) -> EntryMeter:
        """A size meter for one file being written."""
        return EntryMeter(self, member)

    def add_written(self, n: int, member: str) -> None:
        """Record ``n`` bytes about to be written anywhere by this extraction."""
        total = self.total_bytes + n
        if total > self.policy.max_total_bytes:
            raise self._too_large(member)
        if (
            self.source_bytes is not None
            and total >= RATIO_FLOOR_BYTES
            and total > self.policy.max_ratio * max(self.source_bytes, 1)
        ):
            raise _unsafe(
                f"the archive expanded from {self.source_bytes:,} to {total:,} bytes at "
                f"{member!r} (more than {self.policy.max_ratio:g}:1 overall) and was stopped",
                "E_ARCHIVE_RATIO",
                member,
            )
        self.total_bytes = total

    def _too_many(self, member: str, count: int) -> UnsafeArchive:
        return _unsafe(
            f"the archive holds {count:,} or more entries at {member!r}, more than "
            f"extract.max_entries ({self.policy.max_entries:,})",
            "E_ARCHIVE_TOO_MANY_ENTRIES",
            member,
        )

    def _too_large(self, member: str) -> UnsafeArchive:
        return _unsafe(
            f"the archive expands past extract.max_total_bytes "
            f"({self.policy.max_total_bytes:,} bytes) at {member!r}",
            "E_ARCHIVE_TOO_LARGE",
            member,
        )
