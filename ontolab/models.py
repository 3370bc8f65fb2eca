"""Frozen value objects passed between stages."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from ontolab._html import facts, grid

Outcome = Literal["fetched", "unchanged", "failed", "rejected", "planned"]
# A catalog version's state, in one order for every face: typing caches `Literal[...] | None`
# by set equality, so a second spelling in another order would change the CLI's --help.
VersionStatus = Literal["staged", "good", "rejected", "failed"]


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


class _Record:
    """Shared behaviour: a JSON-ready dict and a compact repr for notebooks."""

    def to_dict(self) -> dict[str, Any]:
        return {
            f.name: _jsonable(getattr(self, f.name))
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
            if f.repr
        }

    def _repr_html_(self) -> str:
        return facts(type(self).__name__, self.to_dict().items())


@dataclass(frozen=True)
class Source(_Record):
    """What the user asked for: an ontology id and how to find it."""

    id: str
    resolvers: tuple[str, ...]
    format: str | None = None
    url: str | None = None
    sha256: str | None = None
    version: str | None = None
    product: str | None = None
    acronym: str | None = None
    origin: Literal["config", "bioregistry", "lock", "argument"] = "config"
    licence: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class PlanItem(_Record):
    """A concrete download: where, which version, how big, with what validators."""

    ontology: str
    resolver: str
    url: str
    version: str | None = None
    version_iri: str | None = None
    expected_size: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    final_url: str | None = None
    licence: str | None = None
    title: str | None = None
    format: str | None = None
    sha256: str | None = None  # a pin: from config or the lock file
    attempts: tuple[str, ...] = ()  # resolvers tried before this one, with why they failed


@dataclass(frozen=True)
class PlanFailure(_Record):
    """An ontology that could not be planned: its code, reason and message."""

    ontology: str
    error_code: str
    reason: str
    message: str


@dataclass(frozen=True)
class Plan(_Record):
    """What ``plan`` resolved: one item per ontology, and the failures."""

    items: tuple[PlanItem, ...]
    failures: tuple[PlanFailure, ...] = ()
    created_at: datetime = field(default_factory=datetime.now)

    def __iter__(self) -> Iterator[PlanItem]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, ontology: str) -> PlanItem:
        for item in self.items:
            if item.ontology == ontology:
                return item
        raise KeyError(ontology)

    def _repr_html_(self) -> str:
        parts = [
            grid(
                f"plan: {len(self.items)} to fetch, {len(self.failures)} failed",
                ("ontology", "resolver", "version", "expected size", "url"),
                ((i.ontology, i.resolver, i.version, i.expected_size, i.url) for i in self.items),
            )
        ]
        if self.failures:
            parts.append(
                grid(
                    "could not be planned",
                    ("ontology", "error", "message"),
                    ((f.ontology, f.error_code, f.message) for f in self.failures),
                )
            )
        return "".join(parts)


@dataclass(frozen=True)
class Artifact(_Record):
    """Bytes in the content-addressed store and how they were obtained."""

    ontology: str
    url: str
    sha256: str
    size: int
    path: Path
    final_url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    resolver: str | None = None
    version: str | None = None
    version_iri: str | None = None
    fetched_at: datetime | None = None
    elapsed_s: float | None = None
    redirects: tuple[str, ...] = ()


@dataclass(frozen=True)
class FetchResult(_Record):
    """What happened to one PlanItem in the fetch stage."""

    item: PlanItem = field(repr=False)
    outcome: Outcome
    artifact: Artifact | None = None
    error_code: str | None = None
    reason: str | None = None
    message: str | None = None
    bytes_transferred: int = 0
    resumed_from: int = 0
    attempts: int = 0
    elapsed_s: float = 0.0

    @property
    def ontology(self) -> str:
        return self.item.ontology


@dataclass(frozen=True)
class ReceiptRow(_Record):
    """One ontology's outcome in a ``RunReceipt``: version, outcome, reason, error code."""

    ontology: str
    version: str | None
    outcome: Outcome
    reason: str | None = None
    error_code: str | None = None
    message: str | None = None
    sha256: str | None = None
    size: int | None = None
    bytes_transferred: int = 0
    elapsed_s: float = 0.0
    live: str | None = None  # the ontology's live version after the run


@dataclass(frozen=True)
class RunReceipt(_Record):
    """The result of ``pull``: one row per ontology."""

    run_id: str
    rows: tuple[ReceiptRow, ...]
    started_at: datetime
    finished_at: datetime

    @property
    def ok(self) -> bool:
        return all(row.outcome not in ("failed", "rejected") for row in self.rows)

    def __iter__(self) -> Iterator[ReceiptRow]:
        return iter(self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "ok": self.ok,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "rows": [row.to_dict() for row in self.rows],
        }

    def _repr_html_(self) -> str:
        return grid(
            f"run {self.run_id}: {'ok' if self.ok else 'some ontologies failed'}",
            ("ontology", "version", "outcome", "live", "reason", "message"),
            (
                (r.ontology, r.version, r.outcome, r.live, r.error_code or r.reason, r.message)
                for r in self.rows
            ),
        )
