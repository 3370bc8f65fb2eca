"""The read-only catalog handle that ``ontolab.connect()`` returns.

Listings come from :mod:`ontolab.catalog.listings` as Arrow and are handed out as polars
frames (no pandas on the way); terms tables are Ibis tables over Parquet in an in-memory
DuckDB, never the catalog file, so exploring terms holds no catalog lock. The handle keeps
the catalog object (and so DuckDB's short-lived connection) across calls: a loop of
``latest()`` calls opens the file once and checks the schema once.
"""

from __future__ import annotations

import html
import importlib
import json
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ontolab.catalog import dicts, listings, open_catalog
from ontolab.errors import CatalogError, ConfigError, OntolabError, StorageError, UnknownOntology
from ontolab.query._diff import TermDiff, term_changes
from ontolab.query._overview import Overview, build_overview, canonical_id
from ontolab.query._profile import QueryLog, QueryProfile, TimedQuery
from ontolab.query._schema_info import SchemaInfo, inspect_schema
from ontolab.settings import OntolabSettings, load_settings

if TYPE_CHECKING:
    import os
    from datetime import datetime

    import polars as pl

__all__ = ["SLOW_QUERY_S", "CatalogView", "connect"]

SLOW_QUERY_S = 0.1
# What profile() accepts by name: the standard listings and those of show, diff and storage.
PROFILABLE = (
    *listings.LISTINGS,
    "artifacts",
    "gate_results",
    "metrics",
    "slow_queries",
    "storage",
    "terms_tables",
)
# Statements sql() and profile() run: queries only. The connection is read-only as well;
# this gives a clear error before the database gives an obscure one.
_READ = re.compile(
    r"^(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*\(*\s*"
    r"(select|with|from|values|table|show|describe|summarize|explain)\b",
    re.IGNORECASE | re.DOTALL,
)
# Per-version metrics history() reports, in this order.
_METRICS = (
    "classes",
    "object_properties",
    "data_properties",
    "annotation_properties",
    "individuals",
    "deprecated",
    "labelled",
    "defined",
)
_COVERAGE = ("label_coverage", "definition_coverage")


def connect(
    config: str | os.PathLike[str] | OntolabSettings | None = None,
    *,
    slow_query_s: float = SLOW_QUERY_S,
    **overrides: Any,
) -> CatalogView:
    """Open the catalog read-only, for notebooks and scripts.

    Parameters
    ----------
    config
        A config file path or settings (default: ``$ONTOLAB_CONFIG``, ``./ontolab.yaml``).
    slow_query_s
        Queries slower than this are recorded as ``query.slow`` events.
    overrides
        Settings that win over the config (``catalog="postgresql://..."``).

    Raises
    ------
    CatalogError
        ``E_CATALOG_MISSING`` when there is no catalog yet.
    """
    return CatalogView(load_settings(config, **overrides), slow_query_s=slow_query_s)


class CatalogView:
    """A read-only handle on the catalog; methods return polars DataFrames or Ibis tables.

    Parameters
    ----------
    settings
        Where the catalog (``settings.catalog_url``) and the data dir are.
    slow_query_s
        Queries at least this slow are kept and recorded as ``query.slow`` events.
    """

    def __init__(self, settings: OntolabSettings, *, slow_query_s: float = SLOW_QUERY_S) -> None:
        self.settings = settings
        self._catalog = open_catalog(
            settings.catalog_url, read_only=True, lock_timeout_s=settings.catalog_lock_timeout_s
        )
        # Checked once, here: a missing or newer catalog fails at connect(), not mid-analysis.
        self._catalog.ensure_schema()
        if self._catalog.kind == "duckdb":
            # DuckDB imports pandas (when installed) the first time it binds a parameter,
            # ~0.3 s; paid here rather than timed as the first query's (a false slow query).
            with self._catalog.reader() as con:
                con.execute("SELECT ?", [0]).fetchall()
        self._log = QueryLog(
            self._catalog.url,
            backend=self._catalog.kind,
            threshold_s=slow_query_s,
            # The DuckDB file admits a writer only once this process's reader has let go.
            release=self._catalog.close if self._catalog.kind == "duckdb" else lambda: None,
        )
        self._ibis: Any = None
        self._terms: dict[tuple[str, ...], Any] = {}

    # -- the handle -------------------------------------------------------------------------
    @property
    def backend(self) -> str:
        """``duckdb`` or ``postgresql``."""
        return self._catalog.kind

    @property
    def location(self) -> str:
        """Where the catalog lives (no password)."""
        return self._catalog.location

    def __repr__(self) -> str:
        return f"CatalogView({self.backend} {self.location}, read-only)"

    def _repr_html_(self) -> str:
        head = f"<p><b>ontolab catalog</b> {html.escape(self.location)} ({self.backend})</p>"
        try:
            return head + self.stats()._repr_html_()
        except OntolabError as exc:  # a repr must render, even for a busy catalog
            return head + f"<p>{html.escape(str(exc))}</p>"

    def close(self) -> None:
        """Record what is still pending (best effort) and release the catalog."""
        self._log.flush()
        self._catalog.close()
        if self._ibis is not None:
            self._ibis.disconnect()
            self._ibis = None
            self._terms.clear()

    def __enter__(self) -> CatalogView:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- running queries --------------------------------------------------------------------
    def _arrow(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        """Run a query, timed; a ``pyarrow.Table``."""
        import pyarrow  # noqa: F401 - imported before the clock starts, not inside the first query

        started = time.perf_counter()
        table = self._catalog.query_arrow(sql, params)
        self._log.observe(sql, params or (), time.perf_counter() - started, table.num_rows)
        return table

    def _frame(self, sql: str, params: Sequence[Any] | None = None) -> pl.DataFrame:
        import polars as pl

        frame = pl.from_arrow(self._arrow(sql, params))
        assert isinstance(frame, pl.DataFrame)
        return frame

    def _rows(self, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        """Run a query, timed; plain dicts (no pyarrow, no polars: the CLI starts fast)."""
        started = time.perf_counter()
        with self._catalog.reader() as con:
            rows = dicts(con.execute(sql, params))
        self._log.observe(sql, params or (), time.perf_counter() - started, len(rows))
        return rows

    # -- listings ---------------------------------------------------------------------------
    def latest(self, id: str | None = None) -> pl.DataFrame:
        """The live version of each ontology (or of ``id``)."""
        return self._frame(*listings.latest(id))

    def versions(self, id: str | None = None, status: str | None = None) -> pl.DataFrame:
        """Every recorded version, newest first, with ``status`` and whether it is ``live``."""
        return self._frame(*listings.versions(id, status))

    def files(self, id: str | None = None, version: str | None = None) -> pl.DataFrame:
        """Extracted files: member, format, size, sha256, path."""
        return self._frame(*listings.files(id, version))

    def validations(self, id: str | None = None, version: str | None = None) -> pl.DataFrame:
        """Validator results, newest first (``metrics`` and ``messages`` are JSON text)."""
        return self._frame(*listings.validations(id, version))

    def gate_results(self, id: str | None = None, version: str | None = None) -> pl.DataFrame:
        """Gate verdicts, newest first: ``gate`` (``<suite>.<expectation>``), ``passed``,
        ``severity``, ``details`` (JSON text: observed value, threshold, unexpected count,
        sample, report path), ``evaluated_at``, ``run_id``. Every run's results are kept."""
        return self._frame(*listings.gate_results(id, version))

    def events(
        self,
        id: str | None = None,
        level: str | None = None,
        since: datetime | None = None,
        limit: int | None = 100,
    ) -> pl.DataFrame:
        """The event log, newest first."""
        return self._frame(*listings.events(id, level=level, since=since, limit=limit))

    def stats(self, id: str | None = None) -> pl.DataFrame:
        """Per ontology: versions by status, the live one, bytes stored."""
        return self._frame(*listings.stats(id))

    def sql(self, query: str, params: Sequence[Any] | None = None) -> pl.DataFrame:
        """Run an ad-hoc read query (``?`` placeholders) against the catalog."""
        _check_read(query)
        return self._frame(query, params)

    # -- one ontology -----------------------------------------------------------------------
    def show(self, id: str, version: str | None = None) -> Overview:
        """Versions, files, validations, gate results, licence and provenance of ``id``.

        Details are for ``version`` (default: the live version, else the newest).
        """
        return build_overview(self._rows, id, version)

    def history(self, id: str) -> pl.DataFrame:
        """How the ontology grew: one row per good version, oldest first, with its metrics.

        Columns: ``version``, ``status``, ``live``, ``created_at``, ``terms`` (rows in the
        terms tables), ``classes``, ``object_properties``, ... ``deprecated``, ``labelled``,
        ``defined``, ``label_coverage``, ``definition_coverage``, ``declared_version``.
        """
        import polars as pl

        ontology = canonical_id(self._rows, id)
        latest: dict[tuple[str, str], dict[str, Any]] = {}
        for row in self._rows(*listings.metrics(ontology)):
            latest[(row["version"], row["member"])] = row  # rows come oldest run first
        per_version: dict[str, dict[str, Any]] = {}
        for (version, _member), row in latest.items():
            metrics = json.loads(row["metrics"]) if row["metrics"] else {}
            entry = per_version.setdefault(
                version,
                {
                    "version": version,
                    "status": row["status"],
                    "live": bool(row["live"]),
                    "created_at": row["created_at"],
                    "terms": row["terms"],
                    **dict.fromkeys(_METRICS, 0),
                    **dict.fromkeys(_COVERAGE),
                    "declared_version": None,
                    "_largest": -1,
                },
            )
            for key in _METRICS:
                entry[key] += int(metrics.get(key) or 0)
            # Coverage is a ratio: the main file's (the one with most classes) stands for all.
            if int(metrics.get("classes") or 0) > entry["_largest"]:
                entry["_largest"] = int(metrics.get("classes") or 0)
                for key in _COVERAGE:
                    entry[key] = metrics.get(key)
                entry["declared_version"] = metrics.get("version")
        rows = [{k: v for k, v in e.items() if k != "_largest"} for e in per_version.values()]
        schema: Mapping[str, Any] = {
            "version": pl.String,
            "status": pl.String,
            "live": pl.Boolean,
            "created_at": pl.Datetime("us"),
            "terms": pl.Int64,
            **dict.fromkeys(_METRICS, pl.Int64),
            **dict.fromkeys(_COVERAGE, pl.Float64),
            "declared_version": pl.String,
        }
        return pl.DataFrame(rows, schema=schema).sort("created_at", "version")

    def terms(self, id: str, version: str | None = None) -> Any:
        """The terms table of a version (default: the live one) as an Ibis table.

        Columns: ``id``, ``iri``, ``label``, ``definition``, ``synonyms``, ``parents``,
        ``xrefs``, ``deprecated``, ``replaced_by``, ``kind``. Runs on an in-memory DuckDB
        over the Parquet files; ``.to_polars()`` materialises a result.
        """
        ontology = canonical_id(self._rows, id)
        if version is None:
            live = self._rows(*listings.latest(ontology))
            if not live:
                raise UnknownOntology(
                    f"{ontology!r} has no live version; pass version= ('ontolab show "
                    f"{ontology}' lists the stored ones) or promote one",
                    code="E_NO_LIVE_VERSION",
                    ontology_id=ontology,
                )
            version = str(live[0]["version"])
        paths = self._terms_paths(ontology, version)
        key = (ontology, version, *paths)
        if key not in self._terms:
            if self._ibis is None:
                # ibis ships no type information; imported by name, it is simply Any.
                self._ibis = importlib.import_module("ibis").duckdb.connect()
            name = re.sub(r"\W", "_", f"terms_{ontology}_{version}_{len(self._terms)}")
            self._terms[key] = self._ibis.read_parquet(paths, table_name=name)
        return self._terms[key]

    def _terms_paths(self, ontology: str, version: str) -> list[str]:
        found = self._rows(*listings.terms_tables(ontology, version))
        if not found:
            status = self._rows(*listings.versions(ontology, version=version))
            if not status:
                raise UnknownOntology(
                    f"no version {version!r} of {ontology!r} is recorded; 'ontolab show "
                    f"{ontology}' lists the stored versions",
                    code="E_VERSION_UNKNOWN",
                    ontology_id=ontology,
                )
            raise UnknownOntology(
                f"version {version!r} of {ontology!r} ({status[0]['status']}) has no terms "
                "table: failed and rejected versions keep none, and validate.terms_table may "
                f"be off; 'ontolab validate {ontology} --version {version}' builds one",
                code="E_TERMS_NOT_STORED",
                ontology_id=ontology,
            )
        paths = [str(row["path"]) for row in found]
        missing = [p for p in paths if not Path(p).is_file()]
        if missing:
            raise StorageError(
                f"the terms table of {ontology} {version} is recorded but missing from the "
                f"data dir; 'ontolab validate {ontology} --version {version}' rebuilds it",
                code="E_TERMS_MISSING",
                ontology_id=ontology,
                path=missing[0],
            )
        return paths

    # -- diffs ------------------------------------------------------------------------------
    def diff_versions(
        self, id: str, v1: str | None = None, v2: str | None = None
    ) -> tuple[str, str, str]:
        """``(ontology, from, to)`` as :meth:`diff` resolves them.

        ``to`` defaults to the live version, else the newest good one; ``from`` to the newest
        version with a terms table recorded before ``to``.
        """
        ontology = canonical_id(self._rows, id)
        versions = self._rows(*listings.versions(ontology))  # newest first
        with_terms = {str(r["version"]) for r in self._rows(*listings.terms_tables(ontology))}
        names = [str(v["version"]) for v in versions]
        for given in (v1, v2):
            if given is not None and given not in names:
                raise UnknownOntology(
                    f"no version {given!r} of {ontology!r} is recorded; 'ontolab show "
                    f"{ontology}' lists the stored versions",
                    code="E_VERSION_UNKNOWN",
                    ontology_id=ontology,
                )
        if v2 is None:
            live = next((str(v["version"]) for v in versions if v["live"]), None)
            good = (str(v["version"]) for v in versions if v["status"] == "good")
            v2 = live or next((v for v in good if v in with_terms), None)
            if v2 is None:
                raise UnknownOntology(
                    f"{ontology!r} has no good version to compare; name one with --to",
                    code="E_DIFF_NO_VERSION",
                    ontology_id=ontology,
                )
        if v1 is None:
            older = names[names.index(v2) + 1 :]
            v1 = next((v for v in older if v in with_terms), None)
            if v1 is None:
                raise UnknownOntology(
                    f"no version of {ontology!r} with a terms table is stored before {v2!r}; "
                    "pull another release, or name both versions with --from and --to",
                    code="E_DIFF_NO_BASE",
                    ontology_id=ontology,
                )
        return ontology, v1, v2

    def compare(self, id: str, v1: str | None = None, v2: str | None = None) -> TermDiff:
        """The term-level changes from ``v1`` to ``v2`` with counts per kind (a
        :class:`TermDiff`); defaults as in :meth:`diff_versions`."""
        ontology, v1, v2 = self.diff_versions(id, v1, v2)
        table = term_changes(self._terms_paths(ontology, v1), self._terms_paths(ontology, v2))
        return TermDiff(ontology, v1, v2, table)

    def diff(self, id: str, v1: str | None = None, v2: str | None = None) -> pl.DataFrame:
        """One row per changed term: ``id``, ``change`` (added, removed, obsoleted,
        unobsoleted, relabelled, reparented), ``label_from``, ``label_to``,
        ``parents_from``, ``parents_to``. A term appears once per kind of change."""
        frame: pl.DataFrame = self.compare(id, v1, v2).frame()
        return frame

    def diff_summary(self, id: str, v1: str | None = None, v2: str | None = None) -> pl.DataFrame:
        """Changes per kind (``change``, ``count``) from ``v1`` to ``v2``."""
        frame: pl.DataFrame = self.compare(id, v1, v2).summary()
        return frame

    # -- storage, performance, schema -------------------------------------------------------
    def storage(self, id: str | None = None) -> pl.DataFrame:
        """Bytes per version: ``artifact_bytes`` (the download), ``extracted_bytes`` (files
        unpacked from it), ``terms_bytes`` (Parquet terms tables on disk), ``total_bytes``."""
        import polars as pl

        frame = self._frame(*listings.storage(id))
        sizes: dict[tuple[str, str], list[int]] = {}
        for row in self._rows(*listings.terms_tables(id)):
            path = Path(str(row["path"]))
            size = path.stat().st_size if path.is_file() else 0
            entry = sizes.setdefault((str(row["ontology"]), str(row["version"])), [0, 0])
            entry[0] += size
            entry[1] += int(row["row_count"] or 0)
        terms = pl.DataFrame(
            [{"ontology": k[0], "version": k[1], "terms_bytes": v[0], "terms_rows": v[1]}
             for k, v in sizes.items()],
            schema={"ontology": pl.String, "version": pl.String, "terms_bytes": pl.Int64,
                    "terms_rows": pl.Int64},
        )  # fmt: skip
        return (
            frame.join(terms, on=["ontology", "version"], how="left")
            .with_columns(pl.col("terms_bytes", "terms_rows").fill_null(0))
            .with_columns(
                total_bytes=pl.col("artifact_bytes")
                + pl.col("extracted_bytes")
                + pl.col("terms_bytes")
            )
        )

    def profile(
        self, sql_or_listing: str, params: Sequence[Any] | Mapping[str, Any] | None = None
    ) -> QueryProfile:
        """Run a query, time it, and return the backend's ``EXPLAIN ANALYZE`` plan.

        ``sql_or_listing`` is SQL (``params`` fill its ``?``) or a listing's name such as
        ``"versions"`` (``params`` are its keyword arguments, ``{"ontology": "hp"}``).
        The profile is recorded as a ``query.profiled`` event.
        """
        sql, args = self._profiled_query(sql_or_listing, params)
        import pyarrow  # noqa: F401 - imported before the clock starts

        started = time.perf_counter()
        table = self._catalog.query_arrow(sql, args)
        duration = time.perf_counter() - started
        with self._catalog.reader() as con:
            explained = con.execute(f"EXPLAIN ANALYZE {sql}", args).fetchall()
        plan = "\n".join(str(row[-1]) for row in explained)
        self._log.keep(
            TimedQuery("query.profiled", sql, tuple(args), duration, table.num_rows, plan=plan)
        )
        return QueryProfile(sql, tuple(args), duration, table.num_rows, plan, self.backend)

    def _profiled_query(
        self, name: str, params: Sequence[Any] | Mapping[str, Any] | None
    ) -> tuple[str, list[Any]]:
        if name in PROFILABLE:
            if params is not None and not isinstance(params, Mapping):
                raise ConfigError(
                    f"the listing {name!r} takes keyword arguments: profile({name!r}, "
                    "{'ontology': 'hp'})",
                    code="E_QUERY_ARGUMENTS",
                )
            try:
                sql, args = getattr(listings, name)(**(params or {}))
            except TypeError as exc:
                raise ConfigError(f"listing {name!r}: {exc}", code="E_QUERY_ARGUMENTS") from None
            return sql, list(args)
        if isinstance(params, Mapping):
            raise ConfigError(
                f"{name[:60]!r} is not a listing ({', '.join(PROFILABLE)}); SQL takes a "
                "list of ? parameters",
                code="E_QUERY_ARGUMENTS",
            )
        _check_read(name)
        return name, list(params or ())

    def slow_queries(self, n: int = 10) -> pl.DataFrame:
        """The slowest recorded queries (``query.slow`` and ``query.profiled`` events) and
        those not recorded yet (``recorded`` false), slowest first."""
        import polars as pl

        rows = []
        for row in self._rows(*listings.slow_queries(n)):
            payload = json.loads(row["payload"]) if row["payload"] else {}
            rows.append(
                {
                    "ts": row["ts"],
                    "event": row["event"],
                    "duration_s": row["duration_s"],
                    "sql": payload.get("sql"),
                    "params": json.dumps(payload.get("params", [])),
                    "rows": payload.get("rows"),
                    "recorded": True,
                }
            )
        for query in self._log.pending:
            rows.append(
                {
                    "ts": query.ts,
                    "event": query.event,
                    "duration_s": query.duration_s,
                    "sql": query.sql,
                    "params": json.dumps(query.payload(self.backend)["params"]),
                    "rows": query.rows,
                    "recorded": False,
                }
            )
        schema: Mapping[str, Any] = {
            "ts": pl.Datetime("us"),
            "event": pl.String,
            "duration_s": pl.Float64,
            "sql": pl.String,
            "params": pl.String,
            "rows": pl.Int64,
            "recorded": pl.Boolean,
        }
        return pl.DataFrame(rows, schema=schema).sort("duration_s", descending=True).head(n)

    def schema(self) -> SchemaInfo:
        """Tables (with row counts), columns, constraints, indexes and migration version."""
        return inspect_schema(self.backend, self.location, self._arrow)


def _check_read(sql: str) -> None:
    if not _READ.match(sql):
        raise CatalogError(
            "the query handle runs queries only (SELECT, WITH, EXPLAIN, ...); change the "
            "catalog through ontolab commands",
            code="E_CATALOG_READ_ONLY",
        )
