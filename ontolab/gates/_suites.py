"""Suite files: entries, threshold substitution, per-ontology overrides."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ontolab.errors import GateError

if TYPE_CHECKING:
    from ontolab.settings import OntolabSettings

SUITES_DIR = Path(__file__).parent / "suites"
_VARIABLE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


@dataclass(frozen=True)
class SuiteEntry:
    """One expectation of a suite file."""

    name: str
    expectation: str
    kwargs: dict[str, Any]
    frame: str = "terms"
    severity: str = "error"
    description: str = ""
    needs_previous: bool = False


@dataclass(frozen=True)
class Suite:
    """A named list of entries read from ``suites/<name>.json`` or a path."""

    name: str
    entries: tuple[SuiteEntry, ...]
    description: str = ""
    path: Path | None = None
    source: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def gates_enabled(settings: OntolabSettings, ontology: str) -> bool:
    """True unless ``gates.enabled`` or the ontology's ``gates: {enabled: false}`` is off."""
    entry = settings.ontology(ontology)
    if entry is not None and entry.gates.enabled is not None:
        return entry.gates.enabled
    return settings.gates.enabled


def thresholds_for(settings: OntolabSettings, ontology: str) -> dict[str, float]:
    """``gates`` thresholds with the ontology's overrides applied."""
    from ontolab.settings import GateThresholds

    values = {name: getattr(settings.gates, name) for name in GateThresholds.model_fields}
    entry = settings.ontology(ontology)
    if entry is not None:
        values.update(entry.gates.model_dump(exclude_none=True, exclude={"enabled", "id_prefix"}))
    return values


def load_suite(name_or_path: str | Path) -> Suite:
    """Read a shipped suite by name (``"ontology"``) or a suite file (JSON or YAML)."""
    text = str(name_or_path)
    path = Path(text) if ("/" in text or text.endswith((".json", ".yaml", ".yml"))) else None
    path = path or SUITES_DIR / f"{text}.json"
    if not path.is_file():
        shipped = ", ".join(sorted(p.stem for p in SUITES_DIR.glob("*.json")))
        raise GateError(
            f"no gate suite {text!r}: name a shipped suite ({shipped}) or a suite file",
            code="E_GATE_SUITE_INVALID",
            path=str(path),
        )
    import yaml

    try:
        raw = path.read_text(encoding="utf-8")
        data = yaml.safe_load(raw) if path.suffix in (".yaml", ".yml") else json.loads(raw)
    except (OSError, ValueError, yaml.YAMLError) as exc:  # JSONDecodeError is a ValueError
        raise _invalid(path, f"cannot be read: {exc}") from exc
    return parse_suite(data, path=path)


def _invalid(path: Path | None, problem: str) -> GateError:
    where = str(path) if path else "suite"
    return GateError(
        f"gate suite {where} {problem}; see docs/gates.md for the file format",
        code="E_GATE_SUITE_INVALID",
        path=str(path) if path else None,
    )


_ENTRY_KEYS = {
    "name",
    "expectation",
    "kwargs",
    "frame",
    "severity",
    "description",
    "needs_previous",
}


def parse_suite(data: Any, *, path: Path | None = None) -> Suite:
    """Check and build a :class:`Suite` from a decoded suite document."""
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise _invalid(path, "must be a mapping with a list of 'entries'")
    name = data.get("name") or (path.stem if path else "custom")
    entries, seen = [], set()
    for i, item in enumerate(data["entries"]):
        if not isinstance(item, dict):
            raise _invalid(path, f"entry {i} is not a mapping")
        unknown = set(item) - _ENTRY_KEYS
        if unknown:
            raise _invalid(path, f"entry {i} has unknown keys: {', '.join(sorted(unknown))}")
        for key in ("name", "expectation"):
            if not isinstance(item.get(key), str) or not item[key]:
                raise _invalid(path, f"entry {i} needs a '{key}'")
        if item["name"] in seen:
            raise _invalid(path, f"lists {item['name']!r} twice")
        seen.add(item["name"])
        if item.get("severity", "error") not in ("error", "warning"):
            raise _invalid(path, f"entry {item['name']!r}: severity is 'error' or 'warning'")
        if not isinstance(item.get("kwargs", {}), dict):
            raise _invalid(path, f"entry {item['name']!r}: kwargs must be a mapping")
        entries.append(
            SuiteEntry(
                name=item["name"],
                expectation=item["expectation"],
                kwargs=dict(item.get("kwargs", {})),
                frame=str(item.get("frame", "terms")),
                severity=item.get("severity", "error"),
                description=str(item.get("description", "")),
                needs_previous=bool(item.get("needs_previous", False)),
            )
        )
    return Suite(str(name), tuple(entries), str(data.get("description", "")), path, data)


def substitute(entry: SuiteEntry, variables: dict[str, Any], suite: Suite) -> dict[str, Any]:
    """The entry's kwargs with every ``"${name}"`` replaced by its value."""

    def value(item: Any) -> Any:
        if isinstance(item, str):
            match = _VARIABLE.match(item)
            if match:
                if match[1] not in variables:
                    known = ", ".join(sorted(variables))
                    raise _invalid(
                        suite.path,
                        f"entry {entry.name!r} refers to unknown threshold "
                        f"'{match[1]}' (known: {known})",
                    )
                return variables[match[1]]
            return item
        if isinstance(item, list):
            return [value(v) for v in item]
        if isinstance(item, dict):
            return {k: value(v) for k, v in item.items()}
        return item

    return {key: value(item) for key, item in entry.kwargs.items()}
