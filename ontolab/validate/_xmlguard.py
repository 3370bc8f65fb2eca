"""Refuse hostile XML before any XML parser sees it.

What pyoxigraph 0.5 does on its own (tests/unit/test_xml_guard.py keeps these true):

* an external entity (``<!ENTITY x SYSTEM "file:///etc/hostname">``, ``PUBLIC``, a
  parameter entity) is a syntax error ("<!ENTITY values should be enclosed in double
  quotes"): it never opens the file or a socket (also checked with strace);
* internal entities are expanded, recursively: a billion-laughs file makes it allocate
  until the process dies (under an address-space cap, a Rust allocation abort).

Other parsers differ (rdflib through expat, py-horned-owl), so the guard reads the prolog
itself, with a bounded read, and refuses:

* external entities: ``SYSTEM``/``PUBLIC`` entity declarations, an external DTD subset,
  parameter entities (declarations and ``%name;`` references) → ``E_XML_EXTERNAL_ENTITY``;
* expansion: an entity whose replacement text references another entity, more than
  ``max_entities`` declarations, a replacement text over 64 KiB, or large entities
  referenced so often that expansion would exceed 16 MiB → ``E_XML_ENTITY_EXPANSION``;
* a DOCTYPE internal subset over 1 MiB, or one the guard cannot read → ``E_XML_DOCTYPE``.

Ordinary OWL files declare short namespace entities
(``<!ENTITY owl "http://www.w3.org/2002/07/owl#" >``); those pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ontolab.errors import UnsafeXML
from ontolab.formats import HEAD_BYTES, decode_head

MAX_SUBSET_BYTES = 1 << 20
MAX_ENTITY_TEXT = 64 * 1024
MAX_EXPANSION_BYTES = 16 << 20
# Entities above this size are unusual enough that their references get counted.
_LARGE_ENTITY = 1024
_PREDEFINED = frozenset({"amp", "lt", "gt", "apos", "quot"})
_NAME = re.compile(r"[A-Za-z_:][\w.:\-]*")
_REFERENCE = re.compile(r"&([A-Za-z_:][\w.:\-]*);")
_PE_REFERENCE = re.compile(r"%[A-Za-z_:][\w.:\-]*;")
_SPACE = re.compile(r"\s*")
_MISC = re.compile(r"\s*(?:<\?.*?\?>|<!--.*?-->)", re.S)


@dataclass(frozen=True)
class _Entity:
    name: str
    value: str


class _Cursor:
    """A position in the prolog text with the few moves a DTD reader needs."""

    def __init__(self, text: str, position: int) -> None:
        self.text = text
        self.pos = position

    def skip_space(self) -> None:
        self.pos = _SPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def startswith(self, token: str) -> bool:
        return self.text.startswith(token, self.pos)

    def name(self) -> str:
        match = _NAME.match(self.text, self.pos)
        if match is None:
            if self.pos >= len(self.text):
                raise _Truncated
            raise _Malformed(f"expected a name at offset {self.pos}")
        self.pos = match.end()
        return match.group(0)

    def quoted(self) -> str:
        quote = self.text[self.pos : self.pos + 1]
        if quote not in ('"', "'"):
            raise _Malformed(f"expected a quoted string at offset {self.pos}")
        end = self.text.find(quote, self.pos + 1)
        if end < 0:
            raise _Truncated
        value = self.text[self.pos + 1 : end]
        self.pos = end + 1
        return value

    def until(self, token: str) -> None:
        end = self.text.find(token, self.pos)
        if end < 0:
            raise _Truncated
        self.pos = end + len(token)

    def declaration_end(self) -> None:
        """Skip to the ``>`` closing a markup declaration, stepping over quoted strings."""
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char in "\"'":
                self.quoted()
            elif char == ">":
                self.pos += 1
                return
            else:
                self.pos += 1
        raise _Truncated


class _Truncated(Exception):
    """The DOCTYPE continues beyond the text read so far."""


class _Malformed(Exception):
    """The DOCTYPE is not well-formed enough for the guard to judge it."""


def check_xml(path: Path, *, max_entities: int = 1000) -> None:
    """Raise :class:`~ontolab.errors.UnsafeXML` when ``path``'s DOCTYPE is hostile.

    Reads at most the first 64 KiB, or 1 MiB plus that when a DOCTYPE needs it; counting
    references to unusually large entities reads the whole file, which only hostile or
    very odd files trigger.
    """
    where = str(path)
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
        try:
            entities = _entities(decode_head(head), max_entities, where)
        except _Truncated:
            text = head + handle.read(MAX_SUBSET_BYTES)
            complete = len(text) < HEAD_BYTES + MAX_SUBSET_BYTES
            try:
                entities = _entities(decode_head(text), max_entities, where)
            except _Truncated:
                if complete and b"<!DOCTYPE" not in text:
                    return  # nothing but a prolog: the parser will report the empty file
                if not complete:
                    raise _too_large(where) from None
                raise UnsafeXML(
                    "the DOCTYPE never closes; refusing to parse the file: it is truncated "
                    "or not XML",
                    code="E_XML_DOCTYPE",
                    path=where,
                ) from None
    large = {e.name: len(e.value) for e in entities if len(e.value) > _LARGE_ENTITY}
    if large:
        _check_amplification(path, large)


def _entities(text: str, max_entities: int, where: str) -> list[_Entity]:
    """The general entities declared in ``text``'s DOCTYPE (none when it has no DOCTYPE)."""
    cursor = _Cursor(text.lstrip("\ufeff"), 0)
    while match := _MISC.match(cursor.text, cursor.pos):
        cursor.pos = match.end()
    cursor.skip_space()
    if not cursor.startswith("<!DOCTYPE"):
        if cursor.pos >= len(cursor.text):
            raise _Truncated  # only comments and PIs so far: the DOCTYPE may still come
        return []
    cursor.pos += len("<!DOCTYPE")
    try:
        cursor.skip_space()
        cursor.name()
        cursor.skip_space()
        if cursor.startswith("SYSTEM") or cursor.startswith("PUBLIC"):
            raise _unsafe_external("an external DTD subset (DOCTYPE SYSTEM/PUBLIC)", where)
        entities: list[_Entity] = []
        if cursor.startswith("["):
            cursor.pos += 1
            opened = cursor.pos
            _read_subset(cursor, entities, max_entities, where)
            if cursor.pos - opened > MAX_SUBSET_BYTES:
                raise _too_large(where)
        cursor.skip_space()
        if not cursor.startswith(">"):
            raise _Malformed(f"expected '>' closing the DOCTYPE at offset {cursor.pos}")
    except _Malformed as exc:
        raise UnsafeXML(
            f"cannot read the DOCTYPE ({exc}); refusing to parse the file",
            code="E_XML_DOCTYPE",
            path=where,
        ) from None
    except IndexError:
        raise _Truncated from None
    return entities


def _read_subset(cursor: _Cursor, entities: list[_Entity], max_entities: int, where: str) -> None:
    while True:
        cursor.skip_space()
        if cursor.pos >= len(cursor.text):
            raise _Truncated
        if cursor.startswith("]"):
            cursor.pos += 1
            return
        if cursor.startswith("<!--"):
            cursor.until("-->")
        elif cursor.startswith("<?"):
            cursor.until("?>")
        elif cursor.startswith("%"):
            raise _unsafe_external("a parameter entity reference", where)
        elif cursor.startswith("<!ENTITY"):
            cursor.pos += len("<!ENTITY")
            entities.append(_read_entity(cursor, where))
            if len(entities) > max_entities:
                raise UnsafeXML(
                    f"the DOCTYPE declares more than {max_entities} entities "
                    "(validate.max_xml_entities); refusing a possible expansion attack",
                    code="E_XML_ENTITY_EXPANSION",
                    path=where,
                )
            _check_value(entities[-1], {e.name for e in entities}, where)
        elif cursor.startswith("<!"):
            cursor.declaration_end()  # ELEMENT, ATTLIST, NOTATION: harmless here
        else:
            raise _Malformed(f"unexpected text in the internal subset at offset {cursor.pos}")


def _read_entity(cursor: _Cursor, where: str) -> _Entity:
    cursor.skip_space()
    if cursor.startswith("%"):
        raise _unsafe_external("a parameter entity declaration (<!ENTITY % ...>)", where)
    name = cursor.name()
    cursor.skip_space()
    if cursor.startswith("SYSTEM") or cursor.startswith("PUBLIC"):
        raise _unsafe_external(f"the external entity {name!r} (SYSTEM/PUBLIC)", where)
    value = cursor.quoted()
    if len(value) > MAX_ENTITY_TEXT:
        raise UnsafeXML(
            f"the entity {name!r} has a replacement text of {len(value)} characters "
            f"(limit {MAX_ENTITY_TEXT}); refusing a possible expansion attack",
            code="E_XML_ENTITY_EXPANSION",
            path=where,
        )
    cursor.declaration_end()
    return _Entity(name, value)


def _check_value(entity: _Entity, declared: set[str], where: str) -> None:
    if _PE_REFERENCE.search(entity.value):
        raise _unsafe_external(f"a parameter entity reference inside {entity.name!r}", where)
    for ref in _REFERENCE.findall(entity.value):
        if ref not in _PREDEFINED:
            state = "another entity" if ref in declared else "an entity"
            raise UnsafeXML(
                f"the entity {entity.name!r} references {state} ({ref!r}): nested expansion "
                "is how billion-laughs attacks work; refusing to parse the file",
                code="E_XML_ENTITY_EXPANSION",
                path=where,
            )


def _check_amplification(path: Path, sizes: dict[str, int]) -> None:
    """Count references to large entities across the file; refuse a quadratic blowup."""
    needles = {f"&{name};".encode(): size for name, size in sizes.items()}
    overlap = max(len(n) for n in needles) - 1
    expanded, tail = 0, b""
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            window = tail + chunk
            for needle, size in needles.items():
                # References wholly inside the carried-over tail were counted last time.
                expanded += (window.count(needle) - tail.count(needle)) * size
            tail = window[-overlap:]
            if expanded > MAX_EXPANSION_BYTES:
                raise UnsafeXML(
                    f"references to large entities ({', '.join(sorted(sizes))}) would expand "
                    f"to more than {MAX_EXPANSION_BYTES >> 20} MiB; refusing a quadratic "
                    "blowup",
                    code="E_XML_ENTITY_EXPANSION",
                    path=str(path),
                )


def _too_large(where: str) -> UnsafeXML:
    return UnsafeXML(
        "the DOCTYPE internal subset is larger than 1 MiB; refusing to parse it: no "
        "ontology needs that much, check the file's origin",
        code="E_XML_DOCTYPE",
        path=where,
    )


def _unsafe_external(what: str, where: str) -> UnsafeXML:
    return UnsafeXML(
        f"the DOCTYPE holds {what}; external entities can read local files or reach the "
        "network (XXE), so the file is refused: ask the publisher for a file without them",
        code="E_XML_EXTERNAL_ENTITY",
        path=where,
    )
