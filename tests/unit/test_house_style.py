"""Keeps the house style honest: module size cap, no grab-bag modules, an honest __all__."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
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


def test_plan_and_validate_stay_functions_after_their_subpackages_are_imported() -> None:
    # ontolab/plan/ and ontolab/validate/ share names with the public functions; importing
    # a subpackage binds it on the parent, which once made `ontolab.plan(...)` a TypeError.
    code = (
        "import ontolab, ontolab.pipeline\n"
        "from ontolab.plan import PlanChange\n"
        "from ontolab.validate import validate_file\n"
        "from ontolab import plan, validate\n"
        "import ontolab.pipeline as p\n"
        "assert ontolab.plan is plan is p.plan, ontolab.plan\n"
        "assert ontolab.validate is validate is p.validate, ontolab.validate\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
