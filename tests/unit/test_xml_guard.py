"""The hostile-XML guard refuses expansion and external entities, and lets real OWL through.

It also records what pyoxigraph itself does with such files when nothing guards it: it
expands nested entities (so the guard is needed) and neither reads local files nor opens
connections for external ones.
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph
import pytest

from ontolab.errors import UnsafeXML
from ontolab.settings import ValidateSettings
from ontolab.validate import check_xml, validate_file

BODY = (
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"\n'
    '         xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#"\n'
    '         xmlns:owl="http://www.w3.org/2002/07/owl#">\n'
    '  <owl:Class rdf:about="http://example.org/A">\n'
    "    <rdfs:label>{label}</rdfs:label>\n"
    "  </owl:Class>\n"
    "</rdf:RDF>\n"
)


def xml_file(tmp_path: Path, subset: str, label: str = "A", name: str = "x.owl") -> Path:
    path = tmp_path / name
    path.write_text(
        f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [\n{subset}\n]>\n' + BODY.format(label=label)
    )
    return path


def refused(path: Path, code: str, **settings: int) -> UnsafeXML:
    with pytest.raises(UnsafeXML) as caught:
        check_xml(path, **settings)
    assert caught.value.code == code
    assert caught.value.reason == "unsafe_xml"
    return caught.value


def test_billion_laughs_is_refused(tmp_path: Path) -> None:
    levels = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    error = refused(xml_file(tmp_path, "\n".join(levels), "&lol9;"), "E_XML_ENTITY_EXPANSION")
    assert "lol1" in error.message


def test_quadratic_blowup_with_one_huge_entity_is_refused(tmp_path: Path) -> None:
    big = "x" * (70 * 1024)
    path = xml_file(tmp_path, f'<!ENTITY big "{big}">', "&big;" * 1000)
    refused(path, "E_XML_ENTITY_EXPANSION")


def test_quadratic_blowup_under_the_entity_size_limit_is_refused(tmp_path: Path) -> None:
    # 4 KiB is allowed for one entity, but 10 000 references expand to 40 MB.
    path = xml_file(tmp_path, f'<!ENTITY big "{"x" * 4096}">', "&big;" * 10_000)
    error = refused(path, "E_XML_ENTITY_EXPANSION")
    assert "16 MiB" in error.message


def test_a_few_references_to_a_medium_entity_pass(tmp_path: Path) -> None:
    check_xml(xml_file(tmp_path, f'<!ENTITY note "{"x" * 4096}">', "&note; &note;"))


def test_external_entity_to_a_local_file_is_refused(tmp_path: Path) -> None:
    path = xml_file(tmp_path, '<!ENTITY xxe SYSTEM "file:///etc/hostname">', "&xxe;")
    error = refused(path, "E_XML_EXTERNAL_ENTITY")
    assert "xxe" in error.message


def test_external_entity_to_the_network_is_refused(tmp_path: Path) -> None:
    path = xml_file(tmp_path, '<!ENTITY xxe SYSTEM "http://127.0.0.1:1/">', "&xxe;")
    refused(path, "E_XML_EXTERNAL_ENTITY")


def test_public_entity_is_refused(tmp_path: Path) -> None:
    subset = '<!ENTITY xxe PUBLIC "-//X//EN" "http://127.0.0.1:1/x.dtd">'
    refused(xml_file(tmp_path, subset, "&xxe;"), "E_XML_EXTERNAL_ENTITY")


def test_parameter_entity_is_refused(tmp_path: Path) -> None:
    subset = '<!ENTITY % remote SYSTEM "http://127.0.0.1:1/evil.dtd">\n%remote;'
    error = refused(xml_file(tmp_path, subset), "E_XML_EXTERNAL_ENTITY")
    assert "parameter entity" in error.message


def test_internal_parameter_entity_is_refused_too(tmp_path: Path) -> None:
    refused(xml_file(tmp_path, "<!ENTITY % p \"<!ENTITY a 'b'>\">\n%p;"), "E_XML_EXTERNAL_ENTITY")


def test_external_dtd_subset_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.owl"
    path.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF SYSTEM "http://127.0.0.1:1/x.dtd">\n'
        + BODY.format(label="A")
    )
    refused(path, "E_XML_EXTERNAL_ENTITY")


def test_too_many_declarations_are_refused(tmp_path: Path) -> None:
    subset = "\n".join(f'<!ENTITY e{i} "v{i}">' for i in range(11))
    refused(xml_file(tmp_path, subset), "E_XML_ENTITY_EXPANSION", max_entities=10)
    check_xml(xml_file(tmp_path, subset), max_entities=11)


def test_an_internal_subset_over_one_mib_is_refused(tmp_path: Path) -> None:
    comment = "<!-- " + "y" * (1 << 20) + " -->"
    refused(xml_file(tmp_path, comment), "E_XML_DOCTYPE")


def test_an_unclosed_doctype_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.owl"
    path.write_text('<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [\n<!ENTITY a "b">\n')
    refused(path, "E_XML_DOCTYPE")


OWL_ENTITIES = """\
    <!ENTITY owl "http://www.w3.org/2002/07/owl#" >
    <!ENTITY xsd "http://www.w3.org/2001/XMLSchema#" >
    <!ENTITY rdfs 'http://www.w3.org/2000/01/rdf-schema#' >
    <!-- a comment with "quotes" and ] brackets -->
    <?processing instruction?>
    <!ATTLIST rdf:RDF note CDATA "a > b">
    <!ENTITY amp-ok "AT&amp;T" >"""


def test_ordinary_owl_entities_pass(tmp_path: Path) -> None:
    check_xml(xml_file(tmp_path, OWL_ENTITIES))


def test_a_file_without_doctype_passes(tmp_path: Path) -> None:
    path = tmp_path / "x.owl"
    path.write_text('<?xml version="1.0"?>\n<!-- hi -->\n' + BODY.format(label="A"))
    check_xml(path)


def test_validate_file_expands_ordinary_entities(tmp_path: Path) -> None:
    path = tmp_path / "x.owl"
    path.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [\n'
        '  <!ENTITY ex "http://example.org/" >\n  <!ENTITY owl "http://www.w3.org/2002/07/owl#" >\n'
        "]>\n"
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"\n'
        '         xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#">\n'
        '  <rdf:Description rdf:about="&ex;A">\n'
        '    <rdf:type rdf:resource="&owl;Class"/>\n'
        "    <rdfs:label>A at &ex;</rdfs:label>\n"
        "  </rdf:Description>\n</rdf:RDF>\n"
    )
    report = validate_file(path, settings=ValidateSettings())
    assert report.metrics.classes == 1
    assert report.metrics.labelled == 1


def test_validate_file_runs_the_guard_before_parsing(tmp_path: Path) -> None:
    path = xml_file(tmp_path, '<!ENTITY xxe SYSTEM "file:///etc/hostname">', "&xxe;")
    with pytest.raises(UnsafeXML) as caught:
        validate_file(path, settings=ValidateSettings(), terms_path=tmp_path / "terms.parquet")
    assert caught.value.path == str(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.owl"]


# What pyoxigraph does without the guard.


@pytest.fixture
def listener() -> Iterator[tuple[int, list[bytes]]]:
    """A loopback TCP server that records every connection made to it."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    received: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            with connection:
                received.append(connection.recv(1024) or b"<connected>")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], received
    stop.set()
    thread.join()
    server.close()


def parse_unguarded(path: Path) -> list[str]:
    """Every literal pyoxigraph yields, or the error text if it refuses the file."""
    try:
        return [
            q.object.value
            for q in pyoxigraph.parse(path=path, format=pyoxigraph.RdfFormat.RDF_XML)
            if isinstance(q.object, pyoxigraph.Literal)
        ]
    except SyntaxError as exc:
        return [f"SyntaxError: {exc}"]


def test_pyoxigraph_never_reads_a_local_file_for_an_external_entity(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    marker = uuid.uuid4().hex
    secret.write_text(marker)
    subset = f'<!ENTITY xxe SYSTEM "{secret.as_uri()}">'
    literals = parse_unguarded(xml_file(tmp_path, subset, "before &xxe; after"))
    assert literals, "pyoxigraph yielded nothing and raised nothing"
    assert not any(marker in text for text in literals)


def test_pyoxigraph_never_connects_for_external_entities(
    tmp_path: Path, listener: tuple[int, list[bytes]]
) -> None:
    port, received = listener
    general = xml_file(
        tmp_path, f'<!ENTITY xxe SYSTEM "http://127.0.0.1:{port}/x">', "&xxe;", name="g.owl"
    )
    parameter = xml_file(
        tmp_path, f'<!ENTITY % dtd SYSTEM "http://127.0.0.1:{port}/x.dtd">\n%dtd;', name="p.owl"
    )
    for path in (general, parameter):
        assert parse_unguarded(path)[0].startswith("SyntaxError")
    with socket.create_connection(("127.0.0.1", port)) as probe:
        probe.sendall(b"probe")  # proves the listener works: exactly one connection, ours
    for _ in range(50):
        if received:
            break
        threading.Event().wait(0.02)
    assert received == [b"probe"]


def test_pyoxigraph_expands_nested_entities_which_is_why_the_guard_exists(tmp_path: Path) -> None:
    subset = (
        '<!ENTITY a "aaaaaaaaaa">\n<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">\n'
        '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
    )
    path = xml_file(tmp_path, subset, "&c;")
    assert parse_unguarded(path) == ["a" * 1000]
    refused(path, "E_XML_ENTITY_EXPANSION")
