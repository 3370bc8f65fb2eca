"""Troubleshooting stays true: one section per code the code base uses, and no stale ones."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# A quoted code in the source: "E_NET_TIMEOUT"; "E_HTTP_" is the prefix of E_HTTP_<status>.
QUOTED = re.compile(r'"([EWI]_[A-Z0-9_]+)"')
CODE = re.compile(r"\b([EWI]_[A-Z0-9_]*[A-Z0-9]|E_HTTP_)(?![A-Za-z0-9_])")


def _codes_in_source() -> set[str]:
    return {
        code
        for path in (ROOT / "ontolab").rglob("*.py")
        for code in QUOTED.findall(path.read_text())
    }


def _section_codes() -> list[set[str]]:
    text = (ROOT / "docs" / "troubleshooting.md").read_text()
    return [set(CODE.findall(h)) for h in re.findall(r"^### (.+)$", text, re.MULTILINE)]


def _covered(code: str, documented: set[str]) -> bool:
    if code.endswith("_"):  # a prefix such as E_HTTP_: some E_HTTP_<status> is documented
        return any(d.startswith(code) and d != code for d in documented) or code in documented
    return code in documented


def test_every_code_in_the_source_has_a_troubleshooting_section() -> None:
    raised = {c for c in _codes_in_source() if c.startswith("E_")}
    assert {"E_NET_TIMEOUT", "E_CATALOG_MISSING", "E_HTTP_"} <= raised
    documented = set().union(*_section_codes())
    missing = sorted(c for c in raised if not _covered(c, documented))
    assert missing == [], "add a '### CODE' section to docs/troubleshooting.md"


def test_every_troubleshooting_section_names_a_code_that_exists() -> None:
    raised = _codes_in_source()
    for codes in _section_codes():
        assert codes, "a ### section of troubleshooting.md names no code"
        for code in codes:
            http_status = re.fullmatch(r"E_HTTP_\d{3}", code) is not None
            assert code in raised or http_status, f"{code} in troubleshooting.md is not used"


def test_errors_md_links_every_code_to_troubleshooting() -> None:
    errors = (ROOT / "docs" / "errors.md").read_text()
    headings = (ROOT / "docs" / "troubleshooting.md").read_text()
    anchors = {
        re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
        for h in re.findall(r"^### (.+)$", headings, re.MULTILINE)
    }
    links = re.findall(r"\(troubleshooting\.md#([^)]+)\)", errors)
    assert len(links) > 50
    assert sorted(set(links) - anchors) == [], "errors.md links a section that does not exist"
