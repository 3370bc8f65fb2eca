"""Validators by name: a small protocol, a registry and the ``ontolab.validators`` entry points.

Third parties register a validator with an entry point in the ``ontolab.validators`` group
that names an object with ``name`` and ``validate(path, ctx)`` (or a class making one)::

    [project.entry-points."ontolab.validators"]
    robot = "my_package.validators:RobotReport"
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Protocol, runtime_checkable

from ontolab.errors import ConfigError
from ontolab.settings import ValidateSettings
from ontolab.validate._model import ValidationResult

ENTRY_POINT_GROUP = "ontolab.validators"


@dataclass(frozen=True)
class ValidationContext:
    """What a validator may know besides the file: its syntax, the settings, the ontology."""

    format: str
    settings: ValidateSettings
    ontology_id: str | None = None


@runtime_checkable
class Validator(Protocol):
    """Checks one file and says whether it passed."""

    name: str

    def validate(self, path: Path, ctx: ValidationContext) -> ValidationResult:
        """Validate ``path``; failures are results (``passed=False``), not exceptions."""
        ...


_REGISTRY: dict[str, Validator] = {}


def register_validator(validator: Validator, *, replace: bool = False) -> Validator:
    """Make ``validator`` available under ``validator.name``; returns it.

    Raises
    ------
    ValueError
        If the name is taken and ``replace`` is false.
    """
    if not isinstance(validator, Validator):
        raise TypeError(f"{validator!r} has no name and validate(path, ctx)")
    if validator.name in _REGISTRY and not replace and _REGISTRY[validator.name] is not validator:
        raise ValueError(f"a validator named {validator.name!r} is already registered")
    _REGISTRY[validator.name] = validator
    return validator


def get_validator(name: str) -> Validator:
    """The validator registered as ``name``, loading ``ontolab.validators`` entry points.

    Raises
    ------
    ConfigError
        ``E_CONFIG_VALIDATOR`` when no validator has that name.
    """
    if name not in _REGISTRY:
        _load_entry_point(name)
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise ConfigError(
            f"no validator named {name!r} (known: {known}); fix validate.deep_validators or "
            f"install the package that provides it (entry point group {ENTRY_POINT_GROUP!r})",
            code="E_CONFIG_VALIDATOR",
        ) from None


def validator_names() -> tuple[str, ...]:
    """Names registered so far (built-ins and entry points already loaded)."""
    return tuple(sorted(_REGISTRY))


def _load_entry_point(name: str) -> None:
    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.name != name:
            continue
        loaded = point.load()
        validator = loaded() if isinstance(loaded, type) else loaded
        register_validator(validator, replace=True)
        return
