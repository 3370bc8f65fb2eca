"""Ontology syntaxes and versions, read from content, never from names.

Servers label files badly (an HTML error page saved as ``hp.owl``, Turtle served as
``.owl``), so the first 64 KiB are read and matched against each syntax's opening moves.
Cross-cutting: the plan stage's version probe and the validate stage both read files this way.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from ontolab.errors import ValidationFailed

HEAD_BYTES = 64 * 1024
FORMATS = (
    "rdfxml",
    "owlxml",
    "turtle",
    "ntriples",
    "nquads",
    "trig",
    "jsonld",
    "obographs",
    "obo",
    "functional",
    "html",
    "unknown",
)
ONTOLOGY_FORMATS = frozenset(set(FORMATS) - {"html", "unknown"})
RDF_FORMATS = frozenset({"rdfxml", "turtle", "ntriples", "nquads", "trig", "jsonld"})
XML_FORMATS = frozenset({"rdfxml", "owlxml"})

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# XML "misc" before the root element: declaration, comments, processing instructions and a
# DOCTYPE whose internal subset may hold quoted strings containing ">".
_XML_MISC = re.compile(
    r"""\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE(?:[^\[>"']|"[^"]*"|'[^']*')*"""
    r"""(?:\[(?:[^\]"']|"[^"]*"|'[^']*')*\]\s*)?>)""",
    re.S | re.I,
)
_ROOT = re.compile(r"<([A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?)([^>]*)", re.S)
_XMLNS = re.compile(r"""xmlns(?::([\w.\-]+))?\s*=\s*["']([^"']*)["']""")
_RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_OWL_NS = "http://www.w3.org/2002/07/owl#"
_HTML_DOCTYPE = re.compile(r"\s*<!DOCTYPE\s+html\b", re.I)
_DOCTYPE_NAME = re.compile(r"<!DOCTYPE\s+([A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?)", re.I)
# Namespaces assumed for a root known only from the DOCTYPE's name.
_XMLNS_GUESS = (
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://www.w3.org/2002/07/owl#"'
)
# A line that opens with an absolute or fragment IRI and goes on like a triple (Turtle,
# N-Triples) rather than like an XML tag.
_IRI_STATEMENT = re.compile(
    r"<(?:[^>\s]*:[^>\s]*|#[^>\s]*|)>\s+(?:<[^>\s]*>|a\s|[A-Za-z][\w.\-]*:|_:|\[)"
)
_HTML_START = re.compile(r"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]", re.I)

_IRI = r"<[^>\s]*>"
_BNODE = r"_:\S+"
_LITERAL = r'"(?:[^"\\]|\\.)*"(?:@[A-Za-z][\w-]*|\^\^<[^>\s]*>)?'
_NT_LINE = re.compile(rf"^({_IRI}|{_BNODE})\s+{_IRI}\s+({_IRI}|{_BNODE}|{_LITERAL})\s*\.\s*(#.*)?$")
_NQ_LINE = re.compile(
    rf"^({_IRI}|{_BNODE})\s+{_IRI}\s+({_IRI}|{_BNODE}|{_LITERAL})\s+({_IRI}|{_BNODE})\s*\.\s*(#.*)?$"
)
_TURTLE_START = re.compile(r"^(@prefix|@base|prefix\s|base\s)", re.I)
_TRIG_GRAPH = re.compile(
    r"^\s*(?:GRAPH\s+)?(?:<[^>\s]*>|[A-Za-z][\w.\-]*:[\w.\-]*|_:\S+|\[\s*\])?\s*\{", re.I | re.M
)
_TURTLE_STATEMENT = re.compile(r"^(<[^>\s]*>|[A-Za-z][\w.\-]*:[\w.\-]*|_:\S+|\[)\s*\S", re.M)
_FUNCTIONAL = re.compile(r"^(Prefix|Ontology)\s*\(")
_OBO_HEADER = re.compile(
    r"^(format-version|data-version|ontology|date|saved-by|auto-generated-by|subsetdef|import"
    r"|synonymtypedef|idspace|default-namespace|default-relationship-id-prefix|remark"
    r"|property_value|treat-xrefs-as-[\w-]+|owl-axioms|namespace-id-rule):",
)
_OBO_STANZA = re.compile(r"^\[(Term|Typedef|Instance)\]\s*$", re.M)
_OBO_ID = re.compile(r"^id:\s*\S", re.M)
_JSON_GRAPHS = re.compile(r'"graphs"\s*:\s*\[')
_JSON_LD_KEY = re.compile(r'"@(context|id|graph|type|value|vocab|base)"\s*:')


def read_error(exc: OSError) -> ValidationFailed:
    """The error for a file that cannot be read at all (missing, unreadable, I/O)."""
    return ValidationFailed(
        f"cannot read the file: {exc.strerror or exc}; check that it exists and is readable",
        code="E_VALIDATE_IO",
    )


def read_head(path: Path, limit: int = HEAD_BYTES) -> bytes:
    """The first ``limit`` bytes of ``path``."""
    with path.open("rb") as handle:
        return handle.read(limit)


def decode_head(head: bytes) -> str:
    """Decode a file's first bytes, honouring a byte-order mark; never raises."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return head[len(bom) :].decode(encoding, "replace")
    return head.decode("utf-8", "replace")


def detect_format(path: Path) -> str:
    """Name the syntax of ``path`` from its first 64 KiB.

    Returns one of ``rdfxml``, ``owlxml``, ``turtle``, ``ntriples``, ``nquads``, ``trig``,
    ``jsonld``, ``obographs``, ``obo``, ``functional``, ``html`` or ``unknown``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     page = pathlib.Path(tmp) / "hp.owl"
    ...     _ = page.write_text("\\n  <!DOCTYPE html><html><body>Not found</body></html>")
    ...     detect_format(page)
    'html'
    """
    head = read_head(path)
    return detect_text(decode_head(head), complete=len(head) < HEAD_BYTES)


def detect_text(text: str, *, complete: bool = True) -> str:
    """:func:`detect_format` on decoded text; ``complete`` when it is the whole file."""
    text = text.lstrip("\ufeff \t\r\n")
    if not text:
        return "unknown"
    lines = _content_lines(text, complete)
    if text.startswith("<") and not (lines and _IRI_STATEMENT.match(lines[0])):
        return _detect_xml(text)
    if text.startswith(("{", "[")) and not _OBO_STANZA.match(text):
        return _detect_json(text)
    if not lines:
        return "unknown"
    first = lines[0]
    if _OBO_HEADER.match(first) or (_OBO_STANZA.search(text) and _OBO_ID.search(text)):
        return "obo"
    if _FUNCTIONAL.match(first):
        return "functional"
    return _detect_triples(text, lines)


def _content_lines(text: str, complete: bool) -> list[str]:
    """Non-blank lines that are not comments (``#`` in RDF text, ``!`` in OBO)."""
    lines = []
    raw_lines = text.splitlines()
    if not complete and len(raw_lines) > 1:
        raw_lines.pop()  # cut mid-way by the 64 KiB window: it proves nothing
    for raw in raw_lines:
        line = raw.strip()
        if line and not line.startswith(("#", "!")):
            lines.append(line)
    return lines


def _detect_xml(text: str) -> str:
    position = 0
    while match := _XML_MISC.match(text, position):
        if _HTML_DOCTYPE.match(match.group(0)):
            return "html"
        position = match.end()
    rest = text[position:].lstrip()
    if _HTML_START.match(rest):
        return "html"
    root = _ROOT.match(rest)
    if root is None:
        # A DOCTYPE longer than the window hides the root, but it names the root.
        doctype = _DOCTYPE_NAME.match(rest)
        if doctype is not None:
            return _detect_xml(f"<{doctype.group(1)} {_XMLNS_GUESS}>")
        return "html" if _HTML_START.search(text[:4096]) else "unknown"
    name, attributes = root.group(1), root.group(2)
    prefix, _, local = name.rpartition(":")
    namespaces = {key or "": value for key, value in _XMLNS.findall(attributes)}
    namespace = namespaces.get(prefix)
    if local.lower() == "html":
        return "html"
    if local == "RDF" and namespace in (_RDF_NS, None):
        return "rdfxml"
    if local == "Ontology" and namespace == _OWL_NS and "rdf:about" not in attributes:
        return "owlxml"
    # RDF/XML may omit rdf:RDF and start with a typed node element that carries rdf:about.
    if _RDF_NS in namespaces.values() and re.search(r"\brdf:(about|ID|nodeID)\s*=", attributes):
        return "rdfxml"
    return "unknown"


def xml_root(text: str) -> tuple[str, bool] | None:
    """The root element's qualified name and whether its start tag closes it (``/>``)."""
    position = 0
    while match := _XML_MISC.match(text, position):
        position = match.end()
    root = _ROOT.match(text[position:].lstrip())
    if root is None:
        return None
    return root.group(1), root.group(2).rstrip().endswith("/")


def _detect_json(text: str) -> str:
    if _JSON_GRAPHS.search(text):
        return "obographs"
    if _JSON_LD_KEY.search(text):
        return "jsonld"
    return "unknown"


def _detect_triples(text: str, lines: list[str]) -> str:
    sample = lines[:200]
    if all(_NT_LINE.match(line) for line in sample):
        return "ntriples"
    if all(_NT_LINE.match(line) or _NQ_LINE.match(line) for line in sample):
        return "nquads"
    if _TURTLE_START.match(lines[0]) or _TURTLE_STATEMENT.match(lines[0]):
        return "trig" if _TRIG_GRAPH.search(_without_strings(text)) else "turtle"
    return "unknown"


def _without_strings(text: str) -> str:
    """Blank out quoted strings so that braces inside literals do not look like graphs."""
    return re.sub(r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:[^"\\\n]|\\.)*"', '""', text)


_RELEASE = re.compile(r"/releases/download/v?([^/]+)/|/releases/(?!download/)([^/]+)/")


def release_from_iri(iri: str | None) -> str | None:
    """``.../releases/2025-01-16/hp.owl`` → ``2025-01-16``; None without a release part.

    Examples
    --------
    >>> release_from_iri("http://purl.obolibrary.org/obo/hp/releases/2025-01-16/hp.owl")
    '2025-01-16'
    >>> release_from_iri("http://purl.obolibrary.org/obo/hp.owl") is None
    True
    """
    match = _RELEASE.search(iri or "")
    found = (match[1] or match[2]) if match else None
    return found if found not in ("latest", "current") else None


def normalise_data_version(value: str) -> str:
    """OBO ``data-version``: ``hp/releases/2025-01-16`` → ``2025-01-16``; others unchanged.

    Examples
    --------
    >>> normalise_data_version("hp/releases/2025-01-16")
    '2025-01-16'
    >>> normalise_data_version("2.34")
    '2.34'
    """
    return release_from_iri(f"/{value.strip()}/") or value.strip()
