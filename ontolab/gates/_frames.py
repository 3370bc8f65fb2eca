"""The pandas frames the gate suites look at, derived from terms tables in DuckDB.

Every per-term column is computed in SQL by an in-memory DuckDB reading the Parquet files
(never the catalog), so memory stays bounded and a 50 000-term table takes a few tens of
milliseconds; pandas only receives the finished frames.

Frames (a suite entry names one with ``frame``):

``terms``
    Every row of every file: ``id``, ``label``, ``kind``, ``own``, ``id_unique`` (no other
    row of the same file has this id), ``id_well_formed``.
``own``
    The ontology's own terms (its id prefix), one row per id: ``id``, ``label``,
    ``has_definition``, ``deprecated``, ``parents_resolve`` (every own-prefix parent is a
    term of the table; parents with other prefixes are imports and count as resolved),
    ``unresolved_parent``, ``has_obsolete_parent``.
``live``
    ``own`` without its obsolete terms.
``changes``
    With a previous version: the own ids both versions hold, with ``relabelled`` and
    ``reparented`` (as :mod:`ontolab.query` diffs count them).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ontolab.errors import GateError

MEMORY_LIMIT = "1GB"
FRAMES = ("terms", "own", "live", "changes")
_SCHEMES = r"^(https?|ftp|urn|file):"
# The prefix an id claims: "HP" for "HP:0000118" and for ".../obo/HP_0000118", "KISAO" for
# ".../KISAO#KISAO_0000019"; NULL for ids that claim none (property names, other IRIs).
_PREFIX_MACRO = (
    "CREATE OR REPLACE TEMP MACRO pfx(x) AS CASE "
    f"WHEN regexp_matches(x, '{_SCHEMES}') "
    "THEN nullif(regexp_extract(x, '[/#]([A-Za-z][A-Za-z0-9]*)_[^/#]*$', 1), '') "
    "WHEN regexp_matches(x, '^[A-Za-z][A-Za-z0-9_.-]*:') THEN split_part(x, ':', 1) END"
)


@dataclass(frozen=True)
class Frames:
    """The frames of one version (pandas DataFrames) and the counts the thresholds need."""

    prefix: str
    frames: dict[str, Any]
    counts: dict[str, int] = field(default_factory=dict)

    def frame(self, name: str) -> Any:
        return self.frames[name]


def _connect() -> Any:
    import duckdb

    con = duckdb.connect(
        config={
            "memory_limit": MEMORY_LIMIT,
            "temp_directory": tempfile.gettempdir(),
            "preserve_insertion_order": False,
        }
    )
    con.execute("SET enable_progress_bar = false")
    con.execute(_PREFIX_MACRO)
    return con


def _paths(files: Sequence[Path]) -> list[str]:
    return [str(p) for p in files]


def _own_prefix(con: Any, ontology: str, configured: str | None) -> str:
    """The configured prefix, else the ontology id when its terms use it, else the most
    common prefix among its classes (a synthetic ``SYN`` ontology pulled as ``demo``)."""
    if configured:
        return configured
    rows = con.execute(
        "SELECT p, upper(p) = upper(?) AS named, "
        "count(*) FILTER (WHERE kind = 'class') AS classes, count(*) AS n "
        "FROM raw WHERE p IS NOT NULL GROUP BY ALL "
        "ORDER BY named DESC, classes DESC, n DESC, p LIMIT 1",
        [ontology],
    ).fetchall()
    return str(rows[0][0]) if rows else ontology.upper()


def build_frames(
    ontology: str,
    terms: Sequence[Path],
    previous: Sequence[Path] | None = None,
    *,
    prefix: str | None = None,
) -> Frames:
    """Read ``terms`` (and ``previous``) and build every frame of :data:`FRAMES`."""
    import duckdb

    if not terms:
        raise GateError(
            "gates need the version's terms table, and none was given; "
            "re-validate the version with validate.terms_table on",
            code="E_GATE_FAILED_TO_RUN",
            ontology_id=ontology,
        )
    con = _connect()
    try:
        return _build(con, ontology, terms, previous, prefix)
    except duckdb.Error as exc:
        raise GateError(
            f"the gate frames could not be built from the terms table: {exc}; "
            "check that the Parquet files exist and are readable",
            code="E_GATE_FAILED_TO_RUN",
            ontology_id=ontology,
            path=str(terms[0]),
        ) from exc
    finally:
        con.close()


def _build(
    con: Any,
    ontology: str,
    terms: Sequence[Path],
    previous: Sequence[Path] | None,
    prefix: str | None,
) -> Frames:
    con.execute(
        "CREATE TEMP TABLE raw AS SELECT id, label, has_definition, parents, deprecated, kind, "
        "filename, pfx(id) AS p FROM (SELECT id::VARCHAR AS id, label::VARCHAR AS label, "
        "coalesce(length(trim(definition::VARCHAR)) > 0, false) AS has_definition, "
        "coalesce(parents, []) AS parents, "
        "coalesce(deprecated, false) AS deprecated, kind, filename "
        "FROM read_parquet(?, filename = true))",
        [_paths(terms)],
    )
    own = _own_prefix(con, ontology, prefix)
    # Own ids are well formed when the prefix is spelled as the ontology spells it and the
    # local part is plain (letters, digits, underscore): "HP:0000118", ".../KISAO_0000019".
    curie = f"^{re.escape(own)}:[A-Za-z0-9_]+$"
    iri = f"[/#]{re.escape(own)}_[A-Za-z0-9]+$"
    # Duplicates by aggregation, not a window: nearly always none, and a hash aggregate
    # needs no sort.
    con.execute(
        "CREATE TEMP TABLE dups AS SELECT filename, id FROM raw "
        "WHERE id IS NOT NULL GROUP BY ALL HAVING count(*) > 1"
    )
    (dups,) = con.execute("SELECT count(*) FROM dups").fetchone()
    terms_df = con.execute(
        "SELECT r.id, r.label, r.kind, coalesce(upper(r.p) = upper(?), false) AS own, "
        "d.id IS NULL AS id_unique, r.id IS NOT NULL AND CASE WHEN upper(r.p) = upper(?) "
        "THEN regexp_full_match(r.id, ?) OR regexp_matches(r.id, ?) ELSE true END "
        "AS id_well_formed FROM raw r LEFT JOIN dups d ON d.filename = r.filename "
        "AND d.id = r.id ORDER BY r.filename, r.id",
        [own, own, curie, iri],
    ).df()
    if len(terms) == 1 and not dups:
        # A view takes no parameters; the prefix is letters, digits and _.- (quoted anyway).
        quoted = own.replace("'", "''")
        con.execute(
            "CREATE TEMP VIEW one AS SELECT id, label, has_definition, parents, deprecated "  # noqa: S608
            f"FROM raw WHERE upper(p) = upper('{quoted}')"
        )
    else:
        # One row per own id; across files the row with a label wins, then the first file,
        # the same choice ontolab.query's diff makes.
        con.execute(
            "CREATE TEMP TABLE one AS SELECT id, label, has_definition, parents, deprecated FROM ("
            "SELECT *, row_number() OVER (PARTITION BY id ORDER BY label IS NULL, filename) "
            "AS n FROM raw WHERE upper(p) = upper(?) AND id IS NOT NULL) WHERE n = 1",
            [own],
        )
    own_df = con.execute(
        "WITH edges AS (SELECT id, unnest(parents) AS parent FROM one), "
        "missing AS (SELECT e.id, e.parent FROM edges e ANTI JOIN raw ON raw.id = e.parent), "
        "unresolved AS (SELECT id, min(parent) AS parent FROM missing "
        "WHERE coalesce(upper(pfx(parent)) = upper(?), false) GROUP BY id), "
        "obsolete AS (SELECT DISTINCT e.id FROM edges e JOIN one p ON p.id = e.parent "
        "WHERE p.deprecated) "
        "SELECT one.id, one.label, one.has_definition, one.deprecated, "
        "u.parent IS NULL AS parents_resolve, "
        "u.parent AS unresolved_parent, o.id IS NOT NULL AS has_obsolete_parent "
        "FROM one LEFT JOIN unresolved u ON u.id = one.id "
        "LEFT JOIN obsolete o ON o.id = one.id ORDER BY one.id",
        [own],
    ).df()
    frames: dict[str, Any] = {
        "terms": terms_df,
        "own": own_df,
        "live": own_df[~own_df["deprecated"]].reset_index(drop=True),
    }
    counts = {"terms": len(own_df), "rows": len(terms_df)}
    if previous:
        frames["changes"], counts["previous_terms"] = _changes(con, previous, terms, own)
    return Frames(own, frames, counts)


def _changes(con: Any, previous: Sequence[Path], terms: Sequence[Path], own: str) -> Any:
    """Common own ids with ``relabelled`` / ``reparented``, and the previous own count."""
    from ontolab.query._diff import diff_sql

    con.execute(
        "CREATE TEMP TABLE prev AS SELECT DISTINCT id FROM read_parquet(?) "
        "WHERE id IS NOT NULL AND coalesce(upper(pfx(id)) = upper(?), false)",
        [_paths(previous), own],
    )
    # One home for "what changed between two versions": the query layer's diff.
    con.execute(
        "CREATE TEMP TABLE changed AS SELECT id, bool_or(change = 'relabelled') AS relabelled, "  # noqa: S608 - constants only
        "bool_or(change = 'reparented') AS reparented "
        f"FROM ({diff_sql(len(previous), len(terms))}) "
        "WHERE change IN ('relabelled', 'reparented') GROUP BY id",
        [_paths(previous), _paths(terms)],
    )
    frame = con.execute(
        "SELECT one.id, coalesce(c.relabelled, false) AS relabelled, "
        "coalesce(c.reparented, false) AS reparented FROM one "
        "SEMI JOIN prev ON prev.id = one.id LEFT JOIN changed c ON c.id = one.id ORDER BY one.id"
    ).df()
    (count,) = con.execute("SELECT count(*) FROM prev").fetchone()
    return frame, int(count)
