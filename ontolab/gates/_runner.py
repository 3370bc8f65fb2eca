"""Run gate suites: frames from the terms table, GX evaluates, results become a report."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ontolab.gates._gx import Planned, import_gx, jsonable, threshold_of, validate_frames
from ontolab.gates._model import ExpectationResult, GateReport
from ontolab.gates._suites import Suite, load_suite, substitute, thresholds_for

if TYPE_CHECKING:
    from ontolab.catalog import CatalogBackend
    from ontolab.settings import OntolabSettings


def _now() -> datetime:
    # Naive UTC, like every timestamp in the catalog.
    return datetime.now(UTC).replace(tzinfo=None)


def _variables(thresholds: dict[str, float], previous_terms: int | None) -> dict[str, Any]:
    """Thresholds plus those derived from the previous good version's term count."""
    variables: dict[str, Any] = dict(thresholds)
    if previous_terms is not None:
        # A drop of more than term_drop_max fails; so does growth past term_growth_max
        # (a release eleven times the size of the last is a packaging accident, not news).
        variables["term_count_min"] = math.ceil(previous_terms * (1 - thresholds["term_drop_max"]))
        variables["term_count_max"] = math.floor(
            previous_terms * (1 + thresholds["term_growth_max"])
        )
    return variables


def _plan(suites: list[Suite], variables: dict[str, Any], *, with_previous: bool) -> list[Planned]:
    plan = []
    for suite in suites:
        for entry in suite.entries:
            if entry.needs_previous and not with_previous:
                continue  # nothing to compare with: the first good version sets the baseline
            kwargs = substitute(entry, variables, suite)
            plan.append(Planned(suite, entry, kwargs, threshold_of(kwargs, entry.expectation)))
    return plan


def _offenders(frame: Any, planned: Planned, limit: int) -> tuple[list[Any], int]:
    """Rows that broke a per-row rule (bool or null column), named by ``id`` and the column.

    GX's own sample of a boolean or null check is ``[False, False, ...]``; people need the
    ids. Returns (sample, count); ``([], -1)`` when the rule is not of that kind.
    """
    column, kind = planned.kwargs.get("column"), planned.entry.expectation
    if column is None or column not in frame.columns:
        return [], -1
    values = frame[column]
    if kind == "expect_column_values_to_not_be_null":
        mask = values.isna()
    elif kind == "expect_column_values_to_be_in_set" and values.dtype == bool:
        mask = ~values.isin(planned.kwargs.get("value_set", []))
    elif kind == "expect_column_mean_to_be_between" and values.dtype == bool:
        mask = values  # a rate of True rows: each True row counts against it
    else:
        return [], -1
    names = [c for c in ("id", "unresolved_parent") if c in frame.columns and c != column]
    hits = frame.loc[mask, names] if names else frame.loc[mask].head(0)
    sample = _distinct(
        (
            " -> ".join(str(v) for v in row if isinstance(v, str))  # None and NaN dropped
            for row in hits.head(limit * 2).itertuples(index=False)
        ),
        limit,
    )
    return sample, int(mask.sum())


def _distinct(values: Any, limit: int) -> list[Any]:
    """The first ``limit`` distinct values, in order (a duplicated id is named once)."""
    seen: dict[str, Any] = {}
    for value in values:
        seen.setdefault(json.dumps(value, sort_keys=True, default=str), value)
        if len(seen) >= limit:
            break
    return list(seen.values())


def _result(
    planned: Planned, got: dict[str, Any], frame: Any, sample_size: int
) -> ExpectationResult:
    raw = got["result"]
    unexpected_count = raw.get("unexpected_count")
    unexpected_percent = raw.get("unexpected_percent")
    if "element_count" in raw and "observed_value" not in raw:
        total = int(raw["element_count"])
        bad = int(unexpected_count or 0)
        observed: Any = round((total - bad) / total, 6) if total else None
    else:
        observed = jsonable(raw.get("observed_value"))
        if isinstance(observed, float):
            observed = round(observed, 6)
    sample = _distinct(jsonable(list(raw.get("partial_unexpected_list") or [])), sample_size)
    found, count = _offenders(frame, planned, sample_size)
    if count >= 0:
        sample = found
        if unexpected_count is None:
            unexpected_count = count
            unexpected_percent = round(100 * count / len(frame), 4) if len(frame) else 0.0
    entry = planned.entry
    return ExpectationResult(
        suite=planned.suite.name,
        name=entry.name,
        expectation=entry.expectation,
        passed=bool(got["success"]),
        severity=entry.severity,
        observed=observed,
        threshold=jsonable(planned.threshold),
        unexpected_count=None if unexpected_count is None else int(unexpected_count),
        unexpected_percent=None if unexpected_percent is None else float(unexpected_percent),
        sample=sample,
        kwargs=jsonable(planned.kwargs),
        description=entry.description,
    )


def run_gates(
    settings: OntolabSettings,
    *,
    ontology: str,
    version: str,
    terms: Sequence[Path],
    previous: tuple[str, Sequence[Path]] | None = None,
    run_id: str | None = None,
) -> GateReport:
    """Evaluate the configured suites over one version's terms table.

    Parameters
    ----------
    settings
        ``gates`` (suites, thresholds, report_dir, sample_size) and the ontology's overrides.
    ontology, version
        What is judged.
    terms
        The version's terms-table Parquet files (one per extracted member).
    previous
        The previous good version and its terms files, for the diff-aware entries
        (``needs_previous``); without it those entries are left out.
    run_id
        Recorded in the report page.

    Returns
    -------
    GateReport
        One result per entry; ``passed`` is False when an error-severity entry failed.

    Raises
    ------
    GateError
        ``E_GATE_SUITE_INVALID`` for a bad suite file, ``E_GATE_FAILED_TO_RUN`` when the
        frames cannot be built or GX cannot evaluate them.
    """
    from ontolab.gates._frames import build_frames
    from ontolab.gates._report import write_report

    _, import_s = import_gx()
    started = time.perf_counter()
    suites = [load_suite(name) for name in settings.gates.suites]
    entry = settings.ontology(ontology)
    frames = build_frames(
        ontology,
        list(terms),
        list(previous[1]) if previous else None,
        prefix=entry.gates.id_prefix if entry else None,
    )
    variables = _variables(thresholds_for(settings, ontology), frames.counts.get("previous_terms"))
    plan = _plan(suites, variables, with_previous=previous is not None)
    sample_size = settings.gates.sample_size
    found = validate_frames(
        frames.frames,
        plan,
        result_format={"result_format": "SUMMARY", "partial_unexpected_count": sample_size},
    )
    results = tuple(
        _result(p, found[p.entry.name], frames.frame(p.entry.frame), sample_size) for p in plan
    )
    report = GateReport(
        ontology=ontology,
        version=version,
        results=results,
        previous=previous[0] if previous else None,
        evaluated_at=_now(),
        duration_s=time.perf_counter() - started,
        import_s=import_s,
    )
    return write_report(settings, report, run_id=run_id)


_LIVE_SQL = (
    "SELECT l.ontology, l.version, coalesce(v.status, 'missing') AS status, "
    "(SELECT count(*) FROM files f WHERE f.ontology = l.ontology AND f.version = l.version) "
    "AS files, (SELECT count(*) FROM validations x "
    "WHERE x.ontology = l.ontology AND x.version = l.version) AS validations "
    "FROM latest l LEFT JOIN versions v ON v.ontology = l.ontology AND v.version = l.version "
    "ORDER BY l.ontology"
)


def run_catalog_gates(
    settings: OntolabSettings, catalog: CatalogBackend, *, run_id: str | None = None
) -> list[GateReport]:
    """The catalog suite (``gates.catalog_suite``), one report per live version.

    GX evaluates the suite once over a frame with a row per live version; each version's
    report holds, for every entry, whether its row was among the unexpected ones.
    """
    from ontolab.gates._report import write_report

    _, import_s = import_gx()
    started = time.perf_counter()
    suite = load_suite(settings.gates.catalog_suite)
    frame = catalog.query_arrow(_LIVE_SQL).to_pandas()
    if frame.empty:
        return []
    frame["files"] = frame["files"].astype("int64")
    frame["validations"] = frame["validations"].astype("int64")
    plan = _plan([suite], thresholds_for(settings, ""), with_previous=False)
    found = validate_frames(
        {entry.frame: frame for entry in suite.entries},
        plan,
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["ontology"]},
        keep=("ontology",),
    )
    evaluated_at, duration = _now(), time.perf_counter() - started
    reports = []
    for i, row in enumerate(frame.to_dict("records")):
        results = []
        for planned in plan:
            raw = found[planned.entry.name]["result"]
            bad = {str(item["ontology"]) for item in raw.get("unexpected_index_list") or []}
            failed = row["ontology"] in bad
            column = planned.kwargs.get("column")
            value = jsonable(row.get(column)) if column else None
            results.append(
                ExpectationResult(
                    suite=suite.name,
                    name=planned.entry.name,
                    expectation=planned.entry.expectation,
                    passed=not failed,
                    severity=planned.entry.severity,
                    observed=value,
                    threshold=jsonable(
                        {"in": planned.kwargs["value_set"]}
                        if "value_set" in planned.kwargs
                        else planned.threshold
                    ),
                    unexpected_count=int(failed),
                    unexpected_percent=100.0 if failed else 0.0,
                    sample=[value] if failed else [],
                    kwargs=jsonable(planned.kwargs),
                    description=planned.entry.description,
                )
            )
        report = GateReport(
            ontology=str(row["ontology"]),
            version=str(row["version"]),
            results=tuple(results),
            previous=None,
            evaluated_at=evaluated_at,
            duration_s=duration,
            import_s=import_s if i == 0 else 0.0,
        )
        reports.append(write_report(settings, report, run_id=run_id, page="catalog"))
    return reports
