from __future__ import annotations

import json
from pathlib import Path

import pytest

from ontolab.errors import LockFileError
from ontolab.models import PlanItem
from ontolab.plan import diff_plans, read_lock, write_lock

SHA = "a" * 64


def test_lock_round_trip_carries_pins(tmp_path: Path) -> None:
    items = [
        PlanItem(
            "hp", "obo", "http://m/obo/hp.obo", version="2025-01-16", expected_size=10, sha256=SHA
        ),
        PlanItem("go", "ols", "http://m/go.owl", version="v1", expected_size=20, sha256="b" * 64),
    ]
    path = write_lock(tmp_path / "ontolab.lock", items)
    doc = json.loads(path.read_text())
    assert list(doc["ontologies"]) == ["go", "hp"]
    back = {i.ontology: i for i in read_lock(path)}
    assert back["hp"].sha256 == SHA and back["hp"].expected_size == 10
    assert back["hp"].url == "http://m/obo/hp.obo" and back["hp"].resolver == "obo"


def test_lock_without_a_hash_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LockFileError, match="sha256"):
        write_lock(tmp_path / "l", [PlanItem("hp", "obo", "http://m/hp.obo")])


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        '{"lock_format": 99, "ontologies": {}}',
        '{"lock_format": 1, "ontologies": {"hp": {"url": "http://x"}}}',
    ],
)
def test_bad_lock_files_are_explained(tmp_path: Path, text: str) -> None:
    path = tmp_path / "ontolab.lock"
    path.write_text(text)
    with pytest.raises(LockFileError):
        read_lock(path)


def test_missing_lock_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(LockFileError, match="plan --lock"):
        read_lock(tmp_path / "ontolab.lock")


def test_diff_reports_added_removed_and_changed_fields() -> None:
    before = [
        PlanItem("hp", "obo", "http://m/hp.obo", version="1", expected_size=10),
        PlanItem("go", "obo", "http://m/go.obo", version="5"),
    ]
    after = [
        PlanItem("hp", "obo", "http://m/hp.obo", version="2", expected_size=None),
        PlanItem("mondo", "obo", "http://m/mondo.obo", version="9"),
    ]
    changes = {c.ontology: c for c in diff_plans(before, after)}
    assert changes["hp"].change == "changed"
    assert changes["hp"].fields == {"version": ("1", "2")}  # unknown size is not a change
    assert changes["go"].change == "removed"
    assert changes["mondo"].change == "added"


def test_diff_of_identical_plans_is_all_unchanged() -> None:
    plan = [PlanItem("hp", "obo", "http://m/hp.obo", version="1")]
    assert [c.change for c in diff_plans(plan, plan)] == ["unchanged"]
