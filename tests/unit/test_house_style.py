"""Keeps the house style honest: module size cap, no grab-bag modules, an honest __all__."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import ontolab

ROOT = Path(ontolab.__file__).parent
MAX_LINES = 800


def test_no_module_exceeds_the_size_cap() -> None:
    too_big = {
        str(p.relative_to(ROOT)): n
        for p in ROOT.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert too_big == {}


def test_no_grab_bag_modules() -> None:
    names = {p.stem.lstrip("_") for p in ROOT.rglob("*.py")}
    assert not names & {"utils", "helpers", "common", "misc"}


def test_every_public_package_all_is_resolvable() -> None:
    # ruff's RUF022 keeps each __all__ sorted; this checks that every name exists.
    for info in pkgutil.walk_packages([str(ROOT)], prefix="ontolab."):
        if any(part.startswith("_") for part in info.name.split(".")) or not info.ispkg:
            continue
        if info.name.startswith("ontolab.testing"):
            continue
        module = importlib.import_module(info.name)
        exported = getattr(module, "__all__", None)
        assert exported is not None, f"{info.name} has no __all__"
        for name in exported:
            assert hasattr(module, name), f"{info.name}.{name} is exported but missing"


def test_top_level_all_is_resolvable() -> None:
    for name in ontolab.__all__:
        assert getattr(ontolab, name) is not None
