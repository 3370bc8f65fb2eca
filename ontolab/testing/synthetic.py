"""Deterministic synthetic ontologies of any size, in OBO 1.2 or RDF/XML OWL.

The generators stream to disk in large batches, so memory stays constant whatever the
size and throughput is limited by string formatting (roughly 100 MB/s or more).
Every term is a pure function of ``(seed, index)``: the same arguments always give
byte-identical files, and parents always point to earlier terms, so the ``is_a`` graph
is a DAG rooted at term 0.

Examples
--------
>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as tmp:
...     path = write_synthetic_obo(pathlib.Path(tmp) / "syn.obo", n_terms=3)
...     path.read_text().count("[Term]")
3
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["write_synthetic_obo", "write_synthetic_owl"]

_TABLE_BITS = 12
_TABLE_MASK = (1 << _TABLE_BITS) - 1
# Knuth's multiplicative hash spreads consecutive indices over the random table, so the
# table repeats only in combination with the index and neighbouring terms look unrelated.
_MIX = 2654435761
_OBSOLETE_EVERY = 50
_BATCH_TERMS = 4096
# Term bodies (definition, synonyms, xrefs) come in 4096 variants chosen by the top bits
# of a term's random word: enough variety, and the cache of formatted bodies stays small.
_BODY_SHIFT = 20
_BODIES = 1 << (32 - _BODY_SHIFT)
_SYLLABLES = (
    *("al", "be", "ca", "do", "el", "fa", "gi", "ho", "in", "ja", "ke", "lo", "mu", "ne"),
    *("os", "pa", "qui", "ro", "sa", "te", "ul", "va", "we", "xo", "yu", "za", "bra", "cre"),
    *("dri", "flo", "gra", "pli", "sto", "tru", "vel", "mor", "nax", "pex", "rin", "sol", "tor"),
)
# Ids are zero-padded to 7 digits by slicing str(_PAD + i): a format spec such as
# f"{i:07d}" costs four times as much and id formatting dominates the generator.
_PAD = 10_000_000
_PREFIX_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_OBO = "http://purl.obolibrary.org/obo/"
_NAMESPACES = ("biological_process", "molecular_function", "cellular_component")
_RESTRICTION = (
    "        <rdfs:subClassOf>\n"
    "            <owl:Restriction>\n"
    f'                <owl:onProperty rdf:resource="{_OBO}BFO_0000050"/>\n'
    '                <owl:someValuesFrom rdf:resource="{}"/>\n'
    "            </owl:Restriction>\n"
    "        </rdfs:subClassOf>\n"
)


class _Vocabulary:
    """Seeded word, label and sentence pools plus a table of random integers."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        self.words = [
            "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(1024)
        ]
        self.sentences = [
            " ".join(rng.choice(self.words) for _ in range(rng.randint(8, 24))).capitalize()
            for _ in range(512)
        ]
        self.table = [rng.getrandbits(32) for _ in range(_TABLE_MASK + 1)]
        self.labels = [f"{self.words[r & 1023]} {self.words[(r >> 10) & 1023]}" for r in self.table]
        self.fanout = rng.randint(3, 6)

    def terms(self, start: int, stop: int) -> Iterator[tuple[int, str, int, tuple[int, ...]]]:
        """Yield ``(index, padded_id, random_bits, parents)`` for terms ``start..stop-1``.

        ``parents`` is empty for the root and holds the single replacement term for an
        obsolete term (which has no ``is_a``).
        """
        table, fanout = self.table, self.fanout
        # One generator instead of helper calls per term: this loop is the hot path.
        for i in range(start, stop):
            r = table[i & _TABLE_MASK] ^ ((i * _MIX) & 0xFFFFFFFF)
            ident = str(_PAD + i)[1:] if i < _PAD else str(i)
            if i == 0:
                yield i, ident, r, ()
                continue
            # A heap-shaped tree gives realistic depth (log of the size) and keeps siblings
            # adjacent, so renderers can reuse a parent's formatted line; a quarter of the
            # terms get a second, random parent to make the graph a DAG rather than a tree.
            # Obsolete terms sit at ...49, ...99, so the term just before one is live.
            p = (i - 1) // fanout
            if p % _OBSOLETE_EVERY == _OBSOLETE_EVERY - 1:
                p -= 1
            if (r & 3) == 0 and i > 2 and i % _OBSOLETE_EVERY != _OBSOLETE_EVERY - 1:
                q = (r >> 12) % i
                if q % _OBSOLETE_EVERY == _OBSOLETE_EVERY - 1:
                    q -= 1
                if q != p:
                    yield i, ident, r, (p, q)
                    continue
            yield i, ident, r, (p,)


def _pad(i: int) -> str:
    """Return ``i`` zero-padded to 7 digits, like ``f"{i:07d}"`` but cheaper."""
    return str(_PAD + i)[1:] if i < _PAD else str(i)


def _check_args(n_terms: int | None, target_bytes: int | None, prefix: str) -> None:
    if (n_terms is None) == (target_bytes is None):
        raise ValueError("give exactly one of n_terms or target_bytes")
    if n_terms is not None and n_terms < 1:
        raise ValueError(f"n_terms must be >= 1, got {n_terms}")
    if target_bytes is not None and target_bytes < 1:
        raise ValueError(f"target_bytes must be >= 1, got {target_bytes}")
    if not _PREFIX_RE.fullmatch(prefix):
        raise ValueError(f"prefix must match {_PREFIX_RE.pattern}, got {prefix!r}")


def _stream(
    out: BinaryIO,
    render: Callable[[int, int], str],
    *,
    header: str,
    footer: str,
    n_terms: int | None,
    target_bytes: int | None,
) -> None:
    """Write ``header``, term batches from ``render(start, stop)`` and ``footer``."""
    head, tail = header.encode(), footer.encode()
    out.write(head)
    start, fixed, terms_bytes = 0, len(head) + len(tail), 0
    while (stop := _next_stop(start, terms_bytes, fixed, n_terms, target_bytes)) is not None:
        data = render(start, stop).encode()
        out.write(data)
        terms_bytes += len(data)
        start = stop
    out.write(tail)


def _next_stop(
    start: int, terms_bytes: int, fixed: int, n_terms: int | None, target_bytes: int | None
) -> int | None:
    """Return the end index of the next batch, or None when the file is complete.

    ``terms_bytes`` is what the first ``start`` terms took, ``fixed`` the header and footer.
    """
    if n_terms is not None:
        return min(start + _BATCH_TERMS, n_terms) if start < n_terms else None
    assert target_bytes is not None
    if start == 0:
        # A few terms measure the mean term size before any large batch.
        return 4
    remaining = target_bytes - fixed - terms_bytes
    if remaining <= 0:
        return None
    # Aim at half of what remains, so the estimate sharpens as the end nears and the file
    # lands within a term or two of the target.
    per_term = max(1.0, terms_bytes / start)
    return start + max(1, min(_BATCH_TERMS, round(remaining / per_term / 2)))


def write_synthetic_obo(
    path: Path | str,
    *,
    n_terms: int | None = None,
    target_bytes: int | None = None,
    prefix: str = "SYN",
    version: str = "2024-01-01",
    seed: int = 0,
) -> Path:
    """Write a synthetic OBO 1.2 ontology and return its path.

    Parameters
    ----------
    path
        Destination file; parent directories must exist.
    n_terms, target_bytes
        Exactly one: the number of ``[Term]`` frames, or the approximate file size.
    prefix
        CURIE prefix of the term ids (``SYN:0000001``).
    version
        Release date written as ``data-version: {prefix}/releases/{version}``.
    seed
        Seed for names, definitions and the parent graph.

    Returns
    -------
    Path
        ``path`` as a :class:`~pathlib.Path`.
    """
    _check_args(n_terms, target_bytes, prefix)
    vocab, low = _Vocabulary(seed), prefix.lower()
    words, sentences, table, labels = vocab.words, vocab.sentences, vocab.table, vocab.labels
    header = (
        f"format-version: 1.2\ndata-version: {low}/releases/{version}\n"
        f"date: 01:01:2024 00:00\nsaved-by: ontolab.testing.synthetic\n"
        f"default-namespace: {low}\nontology: {low}\n"
        f'property_value: http://purl.org/dc/terms/title "Synthetic {prefix} ontology" '
        f"xsd:string\n\n"
    )
    # The def/synonym/xref lines depend only on the table slot, so they are formatted
    # once per slot and reused: per-term formatting is what limits throughput.
    bodies = [""] * _BODIES

    def body(slot: int) -> str:
        r = table[slot]
        text = f'def: "{sentences[r & 511]}." [{prefix}:curators, PMID:{r >> 12}]\n'
        if r & 0x100:
            text += f'synonym: "{words[(r >> 5) & 1023]} {labels[slot]}" EXACT []\n'
        if r & 0x200:
            text += f'synonym: "{words[(r >> 15) & 1023]}" RELATED [{prefix}:curators]\n'
        if r & 0xC00:
            text += f"xref: EX:{(r >> 3) & 0xFFFFF}\n"
        if r & 0x1000:
            text += f"comment: {sentences[(r >> 7) & 511]}.\n"
        text += (
            f"created_by: {words[(r >> 20) & 1023]}\n"
            f"creation_date: {2005 + (r >> 28)}-{1 + (r >> 8) % 12:02d}-{1 + r % 28:02d}"
            "T12:00:00Z\n"
        )
        bodies[slot] = text
        return text

    def render(start: int, stop: int) -> str:
        parts: list[str] = []
        add = parts.append
        last_parent, last_line = -1, ""
        for i, ident, r, parents in vocab.terms(start, stop):
            label = labels[i & _TABLE_MASK]
            if i % _OBSOLETE_EVERY == _OBSOLETE_EVERY - 1:
                add(
                    f"[Term]\nid: {prefix}:{ident}\nname: obsolete {label} {i}\n"
                    f'def: "OBSOLETE. {sentences[r & 511]}." [{prefix}:curators]\n'
                    f"is_obsolete: true\nreplaced_by: {prefix}:{_pad(parents[0])}\n\n"
                )
                continue
            slot = r >> _BODY_SHIFT
            add(f"[Term]\nid: {prefix}:{ident}\nname: {label} {i}\n{bodies[slot] or body(slot)}")
            if parents:
                # Siblings are adjacent, so the first parent's line is usually the last one.
                if parents[0] != last_parent:
                    last_parent = p = parents[0]
                    last_line = f"is_a: {prefix}:{_pad(p)} ! {labels[p & _TABLE_MASK]} {p}\n"
                add(last_line)
                for p in parents[1:]:
                    add(f"is_a: {prefix}:{_pad(p)} ! {labels[p & _TABLE_MASK]} {p}\n")
            add("\n")
        return "".join(parts)

    out_path = Path(path)
    with out_path.open("wb", buffering=1 << 22) as out:
        _stream(out, render, header=header, footer="", n_terms=n_terms, target_bytes=target_bytes)
    return out_path


def write_synthetic_owl(
    path: Path | str,
    *,
    n_terms: int | None = None,
    target_bytes: int | None = None,
    prefix: str = "SYN",
    version: str = "2024-01-01",
    seed: int = 0,
    annotated: bool = False,
) -> Path:
    """Write a synthetic RDF/XML OWL ontology and return its path.

    The ``owl:Ontology`` element with its ``owl:versionIRI``
    (``http://purl.obolibrary.org/obo/{prefix}/releases/{version}/{prefix}.owl``, prefix
    lower-cased) comes first, within the first kilobytes of the file.

    Parameters
    ----------
    path
        Destination file; parent directories must exist.
    n_terms, target_bytes
        Exactly one: the number of ``owl:Class`` elements, or the approximate file size.
    prefix
        Term IRIs are ``http://purl.obolibrary.org/obo/{prefix}_0000001``.
    version
        Release version used in the version IRI and ``owl:versionInfo``.
    seed
        Seed for labels, definitions and the ``rdfs:subClassOf`` graph.
    annotated
        Also write what real OBO releases such as GO carry beside the terms: an
        ``owl:Axiom`` per definition with its provenance xrefs, ``part_of`` restrictions
        on a third of the classes, and ``oboInOwl:hasOBONamespace``. Without it every
        class is nearly all terms-table content, a worst case for the validator.

    Returns
    -------
    Path
        ``path`` as a :class:`~pathlib.Path`.
    """
    _check_args(n_terms, target_bytes, prefix)
    vocab, low = _Vocabulary(seed), prefix.lower()
    words, sentences, table, labels = vocab.words, vocab.sentences, vocab.table, vocab.labels
    header = (
        '<?xml version="1.0"?>\n'
        f'<rdf:RDF xmlns="{_OBO}{low}.owl#"\n'
        f'     xml:base="{_OBO}{low}.owl"\n'
        f'     xmlns:obo="{_OBO}"\n'
        '     xmlns:owl="http://www.w3.org/2002/07/owl#"\n'
        '     xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"\n'
        '     xmlns:xml="http://www.w3.org/XML/1998/namespace"\n'
        '     xmlns:xsd="http://www.w3.org/2001/XMLSchema#"\n'
        '     xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#"\n'
        '     xmlns:oboInOwl="http://www.geneontology.org/formats/oboInOwl#">\n'
        f'    <owl:Ontology rdf:about="{_OBO}{low}.owl">\n'
        f'        <owl:versionIRI rdf:resource="{_OBO}{low}/releases/{version}/{low}.owl"/>\n'
        f"        <owl:versionInfo>{version}</owl:versionInfo>\n"
        f"        <rdfs:label>Synthetic {prefix} ontology</rdfs:label>\n"
        "    </owl:Ontology>\n\n"
        f'    <owl:AnnotationProperty rdf:about="{_OBO}IAO_0000115"/>\n'
        f'    <owl:AnnotationProperty rdf:about="{_OBO}IAO_0100001"/>\n\n'
    )
    cls = f"{_OBO}{prefix}_"
    deprecated = '<owl:deprecated rdf:datatype="http://www.w3.org/2001/XMLSchema#boolean">'
    # Definition, synonym and xref depend only on the table slot: formatted once per slot.
    bodies = [""] * _BODIES

    def body(slot: int) -> str:
        r = table[slot]
        text = f"        <obo:IAO_0000115>{sentences[r & 511]}.</obo:IAO_0000115>\n"
        if r & 0x100:
            text += (
                f"        <oboInOwl:hasExactSynonym>{words[(r >> 5) & 1023]} {labels[slot]}"
                "</oboInOwl:hasExactSynonym>\n"
            )
        if r & 0xC00:
            text += f"        <oboInOwl:hasDbXref>EX:{(r >> 3) & 0xFFFFF}</oboInOwl:hasDbXref>\n"
        if annotated:
            namespace = _NAMESPACES[r % 3]
            text += f"        <oboInOwl:hasOBONamespace>{namespace}</oboInOwl:hasOBONamespace>\n"
        bodies[slot] = text
        return text

    def axiom(slot: int, about: str) -> str:
        # GO's shape: the definition restated as an annotated axiom carrying its sources.
        r = table[slot]
        refs = "".join(
            f"        <oboInOwl:hasDbXref>PMID:{(r >> shift) & 0xFFFFFF}</oboInOwl:hasDbXref>\n"
            for shift in range(0, 1 + (r >> 30) * 4, 4)
        )
        return (
            "    <owl:Axiom>\n"
            f'        <owl:annotatedSource rdf:resource="{about}"/>\n'
            f'        <owl:annotatedProperty rdf:resource="{_OBO}IAO_0000115"/>\n'
            f"        <owl:annotatedTarget>{sentences[r & 511]}.</owl:annotatedTarget>\n"
            f"{refs}    </owl:Axiom>\n\n"
        )

    def render(start: int, stop: int) -> str:
        parts: list[str] = []
        add = parts.append
        last_parent, last_line = -1, ""
        for i, ident, r, parents in vocab.terms(start, stop):
            label = labels[i & _TABLE_MASK]
            add(f'    <owl:Class rdf:about="{cls}{ident}">\n')
            if i % _OBSOLETE_EVERY == _OBSOLETE_EVERY - 1:
                add(
                    f"        {deprecated}true</owl:deprecated>\n"
                    f'        <obo:IAO_0100001 rdf:resource="{cls}{_pad(parents[0])}"/>\n'
                    f"        <rdfs:label>obsolete {label} {i}</rdfs:label>\n    </owl:Class>\n\n"
                )
                continue
            if parents:
                # Siblings are adjacent, so the first parent's line is usually the last one.
                if parents[0] != last_parent:
                    last_parent = parents[0]
                    last_line = (
                        f'        <rdfs:subClassOf rdf:resource="{cls}{_pad(last_parent)}"/>\n'
                    )
                add(last_line)
                for p in parents[1:]:
                    add(f'        <rdfs:subClassOf rdf:resource="{cls}{_pad(p)}"/>\n')
                if annotated and r % 3 == 0:
                    add(_RESTRICTION.format(f"{cls}{_pad(parents[0])}"))
            slot = r >> _BODY_SHIFT
            add(
                f"{bodies[slot] or body(slot)}        <oboInOwl:id>{prefix}:{ident}</oboInOwl:id>\n"
                f"        <rdfs:label>{label} {i}</rdfs:label>\n    </owl:Class>\n\n"
            )
            if annotated:
                add(axiom(slot, f"{cls}{ident}"))
        return "".join(parts)

    out_path = Path(path)
    with out_path.open("wb", buffering=1 << 22) as out:
        _stream(
            out,
            render,
            header=header,
            footer="</rdf:RDF>\n",
            n_terms=n_terms,
            target_bytes=target_bytes,
        )
    return out_path
