"""What the pipeline writes: runs, sources, plans, fetch results and events.

Files first, then one transaction per fact; every write is an upsert keyed on natural keys, so
re-running a pull never duplicates rows. Events (:class:`ontolab.obs.Event`) are stamped once,
written in the transaction of the facts they describe, and handed to the recorder's sinks
(JSON lines, stderr) only after that transaction committed.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from ontolab._version import __version__
from ontolab.catalog._backend import CatalogBackend, Connection, dicts, utcnow
from ontolab.catalog._latest import live_version
from ontolab.models import Artifact, FetchResult, Plan, PlanItem, Source
from ontolab.obs._events import Event, EventSink

__all__ = ["Event", "Recorder"]  # Event lives in ontolab.obs; re-exported where it was


def _insert_event(con: Connection, e: Event) -> None:
    con.execute(
        "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            e.event_id or uuid.uuid4().hex,
            e.ts or utcnow(),
            e.run_id,
            e.level,
            e.event,
            e.ontology,
            e.version,
            e.stage,
            e.duration_s,
            e.error_code,
            e.message,
            json.dumps(e.payload) if e.payload else None,
        ],
    )


class Recorder:
    """Writes pipeline facts into a catalog; reads back what the fetcher needs."""

    def __init__(
        self,
        catalog: CatalogBackend,
        run_id: str | None = None,
        *,
        sinks: Sequence[EventSink] = (),
    ) -> None:
        self.catalog = catalog
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.sinks = tuple(sinks)

    # -- runs ------------------------------------------------------------------------------
    def start_run(self, command: str) -> None:
        with self.catalog.transaction() as con:
            con.execute(
                "INSERT INTO runs (run_id, command, started_at, ontolab_version) "
                "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [self.run_id, command, utcnow(), __version__],
            )

    def finish_run(self, status: str) -> None:
        with self.catalog.transaction() as con:
            con.execute(
                "UPDATE runs SET finished_at = ?, status = ? WHERE run_id = ?",
                [utcnow(), status, self.run_id],
            )

    def event(self, event: Event) -> None:
        """Record an event in the catalog, then hand it to the sinks."""
        stamped = event.stamped(self.run_id)
        with self.catalog.transaction() as con:
            _insert_event(con, stamped)
        self._emit(stamped)

    def _emit(self, event: Event) -> None:
        for sink in self.sinks:
            sink.emit(event)

    # -- plans -----------------------------------------------------------------------------
    def record_plan(self, plan: Plan, sources: Iterable[Source]) -> None:
        now = utcnow()
        with self.catalog.transaction() as con:
            for source in sources:
                _upsert_source(con, source, now)
            for item in plan.items:
                con.execute(
                    "INSERT INTO plans VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    [
                        self.run_id,
                        item.ontology,
                        item.resolver,
                        item.url,
                        item.version,
                        item.version_iri,
                        item.expected_size,
                        item.etag,
                        item.last_modified,
                        item.content_type,
                        item.licence,
                        now,
                    ],
                )

    def last_plan(self) -> list[PlanItem]:
        """The items of the most recent stored plan, one per ontology."""
        with self.catalog.reader() as con:
            rows = dicts(
                con.execute(
                    "SELECT ontology, resolver, url, version, version_iri, expected_size, etag, "
                    "last_modified, content_type, licence FROM plans p WHERE planned_at = "
                    "(SELECT max(planned_at) FROM plans q WHERE q.ontology = p.ontology) "
                    "ORDER BY ontology"
                )
            )
        return [PlanItem(**row) for row in rows]

    # -- fetch -----------------------------------------------------------------------------
    def last_artifact(self, item: PlanItem) -> Artifact | None:
        """The newest artifact fetched from ``item.url`` for the ontology, if any."""
        return self.known_artifact(item.ontology, item.url)

    def known_artifact(self, ontology: str, url: str) -> Artifact | None:
        """The newest artifact of ``ontology`` requested from, or redirected to, ``url``."""
        with self.catalog.reader() as con:
            rows = dicts(
                con.execute(
                    "SELECT a.url, a.sha256, a.size, a.store_path AS path, a.final_url, a.etag, "
                    "a.last_modified, a.content_type, a.resolver, a.version, a.fetched_at, "
                    "v.version_iri FROM artifacts a LEFT JOIN versions v "
                    "ON v.ontology = a.ontology AND v.version = a.version "
                    "WHERE a.ontology = ? AND (a.url = ? OR a.final_url = ?) "
                    "ORDER BY a.fetched_at DESC LIMIT 1",
                    [ontology, url, url],
                )
            )
        if not rows:
            return None
        row = rows[0]
        return Artifact(ontology=ontology, **{**row, "path": Path(row["path"])})

    def version_status(self, ontology: str, version: str) -> str | None:
        """The status of a recorded version, or None if it is not recorded."""
        with self.catalog.reader() as con:
            row = con.execute(
                "SELECT status FROM versions WHERE ontology = ? AND version = ?",
                [ontology, version],
            ).fetchone()
        return str(row[0]) if row else None

    def live(self, ontology: str) -> str | None:
        """The ontology's live version, if any."""
        with self.catalog.reader() as con:
            return live_version(con, ontology)

    def live_versions(self) -> dict[str, str]:
        """Every ontology's live version."""
        with self.catalog.reader() as con:
            return {
                str(o): str(v)
                for o, v in con.execute("SELECT ontology, version FROM latest").fetchall()
            }

    def stored_version(self, ontology: str, version: str | None) -> tuple[str, Artifact] | None:
        """A recorded version (the newest when ``version`` is None) and its artifact."""
        where = "v.ontology = ?" + (" AND v.version = ?" if version else "")
        params = [ontology] + ([version] if version else [])
        with self.catalog.reader() as con:
            rows = dicts(
                con.execute(
                    "SELECT v.version, a.url, a.sha256, a.size, a.store_path AS path, "  # noqa: S608
                    "a.final_url, a.etag, a.last_modified, a.content_type, a.resolver, "
                    "a.fetched_at, v.version_iri FROM versions v JOIN artifacts a "
                    "ON a.ontology = v.ontology AND a.sha256 = v.sha256 "
                    f"WHERE {where} ORDER BY v.created_at DESC, a.fetched_at DESC LIMIT 1",
                    params,
                )
            )
        if not rows:
            return None
        row = rows[0]
        return row["version"], Artifact(ontology=ontology, **{**row, "path": Path(row["path"])})

    def record_fetch(self, result: FetchResult, version: str | None = None) -> None:
        """One transaction: the artifact, its version row and an event."""
        item, art = result.item, result.artifact
        now = utcnow()
        if result.outcome == "failed" or art is None:
            failed = Event(
                "fetch.failed",
                level="error",
                ontology=item.ontology,
                stage="fetch",
                duration_s=result.elapsed_s,
                error_code=result.error_code,
                message=result.message,
                payload={"url": item.url, "reason": result.reason},
            ).stamped(self.run_id)
            with self.catalog.transaction() as con:
                _insert_event(con, failed)
            self._emit(failed)
            return
        label = version or art.version or item.version or f"sha256-{art.sha256[:12]}"
        done = Event(
            f"fetch.{result.outcome}",
            ontology=item.ontology,
            version=label,
            stage="fetch",
            duration_s=result.elapsed_s,
            payload={
                "url": item.url,
                "sha256": art.sha256,
                "bytes": result.bytes_transferred,
                "resumed_from": result.resumed_from,
                "attempts": result.attempts,
            },
        ).stamped(self.run_id)
        with self.catalog.transaction() as con:
            con.execute(
                "INSERT INTO artifacts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (ontology, url, sha256) DO UPDATE SET etag = excluded.etag, "
                "last_modified = excluded.last_modified, final_url = excluded.final_url, "
                "fetched_at = excluded.fetched_at, run_id = excluded.run_id",
                [
                    item.ontology,
                    item.url,
                    art.sha256,
                    art.size,
                    art.final_url,
                    art.etag,
                    art.last_modified,
                    art.content_type,
                    art.resolver,
                    label,
                    str(art.path),
                    _naive(art.fetched_at) or now,
                    art.elapsed_s,
                    json.dumps(list(art.redirects)),
                    self.run_id,
                ],
            )
            con.execute(
                "INSERT INTO versions (ontology, version, version_iri, licence, status, resolver, "
                "sha256, run_id, created_at, updated_at, provenance, timings) "
                "VALUES (?, ?, ?, ?, 'staged', ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (ontology, version) DO UPDATE SET updated_at = excluded.updated_at",
                [
                    item.ontology,
                    label,
                    art.version_iri or item.version_iri,
                    item.licence,
                    item.resolver,
                    art.sha256,
                    self.run_id,
                    now,
                    now,
                    json.dumps(
                        {
                            "url": item.url,
                            "final_url": art.final_url,
                            "redirects": list(art.redirects),
                            "ontolab": __version__,
                        }
                    ),
                    json.dumps({"fetch_s": round(result.elapsed_s, 4)}),
                ],
            )
            con.execute(
                "UPDATE sources SET last_checked = ? WHERE ontology = ?", [now, item.ontology]
            )
            _insert_event(con, done)
        self._emit(done)


def _naive(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=None) if value is not None and value.tzinfo else value


def _upsert_source(con: Connection, source: Source, now: datetime) -> None:
    con.execute(
        "INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (ontology) DO UPDATE SET "
        "resolvers = excluded.resolvers, origin = excluded.origin, "
        "title = coalesce(excluded.title, sources.title), "
        "licence = coalesce(excluded.licence, sources.licence), "
        "last_checked = excluded.last_checked",
        [
            source.id,
            ",".join(source.resolvers),
            source.origin,
            source.title,
            source.licence,
            now,
            now,
        ],
    )
