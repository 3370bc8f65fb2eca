"""The latest pointer: which version of each ontology is live, and how it got there.

Blue/green for data. A pull stages a version and promotes it only when it is good; the
previous good version stays stored, so ``rollback`` can return to it. Every move happens in
one transaction together with a ``latest_history`` row saying who, when and why, so the
pointer and its history never disagree. The pointer can only name a good version: promote
refuses anything else, and the schema's foreign key keeps a live version from being deleted.
"""

from __future__ import annotations

import getpass
import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from ontolab.catalog._backend import CatalogBackend, Connection, utcnow
from ontolab.errors import PromotionRefused, UnknownOntology

Action = Literal["promote", "rollback", "demote"]


@dataclass(frozen=True)
class Promotion:
    """One move of the pointer."""

    ontology: str
    version: str | None
    previous: str | None
    action: Action
    actor: str
    reason: str | None
    at: datetime

    @property
    def changed(self) -> bool:
        return self.version != self.previous


def current_actor() -> str:
    """Who moves the pointer: the login name, as ``user@host``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{os.uname().nodename}"


def live_version(con: Connection, ontology: str) -> str | None:
    row = con.execute("SELECT version FROM latest WHERE ontology = ?", [ontology]).fetchone()
    return str(row[0]) if row else None


def promote(
    catalog: CatalogBackend,
    ontology: str,
    version: str,
    *,
    reason: str | None = None,
    actor: str | None = None,
    run_id: str | None = None,
) -> Promotion:
    """Make ``version`` the live one; a no-op (not recorded) if it already is.

    Raises
    ------
    UnknownOntology
        ``E_VERSION_UNKNOWN``: no such version is recorded.
    PromotionRefused
        ``E_PROMOTE_NOT_GOOD``: the version is staged, rejected or failed.
    """
    with catalog.transaction() as con:
        status = _status(con, ontology, version)
        if status != "good":
            raise PromotionRefused(
                f"version {version!r} of {ontology!r} is {status}, and only a good version can "
                "be live; see 'ontolab show' for why, or re-run 'ontolab validate'",
                code="E_PROMOTE_NOT_GOOD",
                ontology_id=ontology,
            )
        return _move(con, ontology, version, "promote", actor, reason, run_id)


def promote_in(
    con: Connection,
    ontology: str,
    version: str,
    *,
    reason: str | None,
    run_id: str | None = None,
    actor: str | None = None,
) -> Promotion:
    """Inside a transaction that just marked ``version`` good: make it live."""
    return _move(con, ontology, version, "promote", actor, reason, run_id)


def rollback(
    catalog: CatalogBackend,
    ontology: str,
    *,
    reason: str | None = None,
    actor: str | None = None,
) -> Promotion:
    """Return to the good version that was live before the current one.

    That is the version the live one replaced when it was last promoted, if still good, so
    repeated rollbacks walk back in time; when the history has none (the catalog predates
    it, or those versions were pruned), the newest good version created before the live one.

    Raises
    ------
    PromotionRefused
        ``E_ROLLBACK_NO_TARGET``: nothing is live, or no earlier good version exists.
    """
    with catalog.transaction() as con:
        current = live_version(con, ontology)
        if current is None:
            raise PromotionRefused(
                f"no version of {ontology!r} is live, so there is nothing to roll back from",
                code="E_ROLLBACK_NO_TARGET",
                ontology_id=ontology,
            )
        target = _previous_good(con, ontology, current)
        if target is None:
            raise PromotionRefused(
                f"{ontology!r} has no good version before {current!r} to roll back to",
                code="E_ROLLBACK_NO_TARGET",
                ontology_id=ontology,
            )
        return _move(con, ontology, target, "rollback", actor, reason or "rollback", None)


def demote(con: Connection, ontology: str, *, reason: str, actor: str | None = None) -> Promotion:
    """Inside a transaction: point at the newest good version other than the live one, or
    at nothing. For doctor and prune, when the live version can no longer be served."""
    current = live_version(con, ontology)
    target = _previous_good(con, ontology, current) if current else None
    if target is not None:
        return _move(con, ontology, target, "demote", actor, reason, None)
    con.execute("DELETE FROM latest WHERE ontology = ?", [ontology])
    return _record(con, ontology, None, current, "demote", actor, reason, None)


def _status(con: Connection, ontology: str, version: str) -> str:
    row = con.execute(
        "SELECT status FROM versions WHERE ontology = ? AND version = ?", [ontology, version]
    ).fetchone()
    if row is None:
        raise UnknownOntology(
            f"no version {version!r} of {ontology!r} is recorded; 'ontolab db versions "
            f"{ontology}' lists them",
            code="E_VERSION_UNKNOWN",
            ontology_id=ontology,
        )
    return str(row[0])


def _previous_good(con: Connection, ontology: str, current: str) -> str | None:
    row = con.execute(
        "SELECT h.previous_version FROM latest_history h JOIN versions v "
        "ON v.ontology = h.ontology AND v.version = h.previous_version "
        "WHERE h.ontology = ? AND h.version = ? AND h.previous_version <> ? "
        "AND h.action = 'promote' AND v.status = 'good' ORDER BY h.moved_at DESC LIMIT 1",
        [ontology, current, current],
    ).fetchone()
    if row:
        return str(row[0])
    row = con.execute(
        "SELECT version FROM versions WHERE ontology = ? AND status = 'good' AND version <> ? "
        "AND created_at <= coalesce((SELECT created_at FROM versions "
        "WHERE ontology = ? AND version = ?), created_at) "
        "ORDER BY created_at DESC, version DESC LIMIT 1",
        [ontology, current, ontology, current],
    ).fetchone()
    return str(row[0]) if row else None


def _move(
    con: Connection,
    ontology: str,
    version: str,
    action: Action,
    actor: str | None,
    reason: str | None,
    run_id: str | None,
) -> Promotion:
    previous = live_version(con, ontology)
    if previous == version:
        return Promotion(ontology, version, previous, action, actor or "", reason, utcnow())
    now = utcnow()
    who = actor or current_actor()
    con.execute(
        "INSERT INTO latest VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (ontology) DO UPDATE SET "
        "version = excluded.version, promoted_at = excluded.promoted_at, "
        "promoted_by = excluded.promoted_by, reason = excluded.reason, run_id = excluded.run_id",
        [ontology, version, now, who, reason, run_id],
    )
    return _record(con, ontology, version, previous, action, who, reason, run_id)


def _record(
    con: Connection,
    ontology: str,
    version: str | None,
    previous: str | None,
    action: Action,
    actor: str | None,
    reason: str | None,
    run_id: str | None,
) -> Promotion:
    now = utcnow()
    who = actor or current_actor()
    con.execute(
        "INSERT INTO latest_history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [uuid.uuid4().hex, ontology, version, previous, action, who, reason, now, run_id],
    )
    return Promotion(ontology, version, previous, action, who, reason, now)
