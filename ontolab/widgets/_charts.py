"""Charts of the catalog with altair: terms per version over time, coverage, storage.

Data come from the public query API (:meth:`CatalogView.history` for the metrics the
validators recorded, :meth:`CatalogView.storage` for bytes) as polars frames, which altair
takes as they are (no pandas). The charts render in JupyterLab and export statically:
``chart.save("terms.svg")`` goes through vl-convert, offline.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ontolab.errors import UnknownOntology
from ontolab.widgets._reading import CatalogSource, Reader

if TYPE_CHECKING:
    import polars as pl

    from ontolab.query import CatalogView

__all__ = [
    "coverage_chart",
    "coverage_frame",
    "size_chart",
    "size_frame",
    "term_count_chart",
    "term_count_frame",
]

WIDTH, HEIGHT = 520, 280
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# storage() column -> the name shown in the legend, in legend order.
_SIZES = {
    "artifact_bytes": "download",
    "extracted_bytes": "extracted",
    "terms_bytes": "terms table",
}


def _ontologies(view: CatalogView, ontologies: Sequence[str] | None) -> list[str]:
    if ontologies is not None:
        return list(ontologies)
    return sorted(str(o) for o in view.stats()["ontology"])


def term_count_frame(view: CatalogView, ontologies: Sequence[str] | None = None) -> pl.DataFrame:
    """Terms per version, one row per ontology and version, oldest first.

    ``date`` is the release date when one is known (the catalog's ``release_date``, or the
    version itself when it is a date, as for HPO), else when the version was fetched;
    ``dated_by`` says which (``release`` or ``fetched``). ``terms`` counts the rows of the
    version's terms tables (classes when no terms table was kept).
    """
    import polars as pl

    frames = []
    for ontology in _ontologies(view, ontologies):
        history = view.history(ontology)
        if history.height == 0:
            continue
        released = {
            str(r["version"]): r["release_date"]
            for r in view.versions(ontology).iter_rows(named=True)
        }
        rows = []
        for row in history.iter_rows(named=True):
            version = str(row["version"])
            release = released.get(version)
            if release is None and _DATE.match(version):
                release = version
            rows.append(
                {
                    "ontology": ontology,
                    "version": version,
                    "status": row["status"],
                    "live": row["live"],
                    "date": str(release) if release is not None else _iso(row["created_at"]),
                    "dated_by": "release" if release is not None else "fetched",
                    "terms": row["terms"] if row["terms"] is not None else row["classes"],
                }
            )
        frames.append(pl.DataFrame(rows, schema=_term_schema()))
    if not frames:
        return pl.DataFrame(schema=_term_schema())
    return pl.concat(frames).sort("ontology", "date")


def _term_schema() -> dict[str, Any]:
    import polars as pl

    return {
        "ontology": pl.String,
        "version": pl.String,
        "status": pl.String,
        "live": pl.Boolean,
        "date": pl.String,
        "dated_by": pl.String,
        "terms": pl.Int64,
    }


def _iso(value: Any) -> str:
    return value.isoformat(timespec="seconds") if hasattr(value, "isoformat") else str(value)


def coverage_frame(view: CatalogView, ontology: str) -> pl.DataFrame:
    """Label and definition coverage per version of ``ontology``, oldest first (long form:
    ``version``, ``order``, ``measure`` (``labels`` / ``definitions``), ``coverage`` 0-1)."""
    import polars as pl

    history = view.history(ontology).with_row_index("order")
    return (
        history.select(
            "version",
            "order",
            "live",
            labels=pl.col("label_coverage"),
            definitions=pl.col("definition_coverage"),
        )
        .unpivot(
            ["labels", "definitions"],
            index=["version", "order", "live"],
            variable_name="measure",
            value_name="coverage",
        )
        .sort("order", "measure")
    )


def size_frame(view: CatalogView, ontologies: Sequence[str] | None = None) -> pl.DataFrame:
    """Bytes per ontology and version in long form: ``ontology``, ``version``, ``label``
    (``"<ontology> <version>"``), ``measure`` (download, extracted, terms table), ``bytes``
    and ``mb``. ``extracted`` is left out when no download was an archive (all zero)."""
    import polars as pl

    storage = view.storage()
    if ontologies is not None:
        storage = storage.filter(pl.col("ontology").is_in(list(ontologies)))
    sizes = {k: v for k, v in _SIZES.items() if k != "extracted_bytes" or storage[k].sum()}
    return (
        storage.sort("ontology", "created_at")
        .with_columns(label=pl.col("ontology") + " " + pl.col("version"))
        .select("ontology", "version", "label", "status", "live", *sizes)
        .rename(sizes)
        .unpivot(
            list(sizes.values()),
            index=["ontology", "version", "label", "status", "live"],
            variable_name="measure",
            value_name="bytes",
        )
        .with_columns(mb=pl.col("bytes") / 1e6)
    )


def term_count_chart(
    view_or_config: CatalogSource = None, ontologies: Sequence[str] | None = None
) -> Any:
    """Terms per version over time, one line per ontology.

    Parameters
    ----------
    view_or_config
        An open :class:`~ontolab.query.CatalogView`, or a config file path or settings
        (as for :func:`ontolab.connect`; the catalog is closed again once read).
    ontologies
        Which ontologies (default: every one in the catalog).

    Returns
    -------
    altair.Chart
        x: release date (else fetch date, see :func:`term_count_frame`); y: terms.
    """
    import altair as alt

    with Reader(view_or_config).read() as view:
        data = term_count_frame(view, ontologies)
    return (
        alt.Chart(data, title="Terms per version")
        .mark_line(point=True)
        .encode(
            x=alt.X("date:T", title="release date (else fetch date)"),
            y=alt.Y("terms:Q", title="terms"),
            color=alt.Color("ontology:N", title="ontology"),
            tooltip=["ontology", "version", "status", "live", "terms", "date", "dated_by"],
        )
        .properties(width=WIDTH, height=HEIGHT)
    )


def coverage_chart(view_or_config: CatalogSource, ontology: str) -> Any:
    """Label and definition coverage of one ontology over its versions, oldest first.

    Parameters
    ----------
    view_or_config
        An open view, or a config file path or settings (see :func:`term_count_chart`).
    ontology
        The ontology id.

    Returns
    -------
    altair.Chart
        x: versions in the order they were stored; y: share of classes with a label / a
        definition (the file with most classes stands for an archive of several).

    Raises
    ------
    UnknownOntology
        No good version of ``ontology`` is stored.
    """
    import altair as alt

    with Reader(view_or_config).read() as view:
        data = coverage_frame(view, ontology)
    if data.height == 0:
        raise UnknownOntology(
            f"{ontology!r} has no good version with metrics to chart; pull it first",
            code="E_ONTOLOGY_NOT_STORED",
            ontology_id=ontology,
        )
    order = list(dict.fromkeys(data["version"].to_list()))
    return (
        alt.Chart(data, title=f"{ontology}: label and definition coverage")
        .mark_line(point=True)
        .encode(
            x=alt.X("version:N", sort=order, title="version"),
            y=alt.Y(
                "coverage:Q",
                title="coverage",
                scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%"),
            ),
            color=alt.Color("measure:N", title="share of classes with"),
            tooltip=["version", "measure", alt.Tooltip("coverage:Q", format=".1%"), "live"],
        )
        .properties(width=WIDTH, height=HEIGHT)
    )


def size_chart(
    view_or_config: CatalogSource = None, ontologies: Sequence[str] | None = None
) -> Any:
    """Bytes stored per ontology and version: the download, extracted files, terms tables.

    Parameters
    ----------
    view_or_config
        An open view, or a config file path or settings (see :func:`term_count_chart`).
    ontologies
        Which ontologies (default: every one in the catalog).

    Returns
    -------
    altair.Chart
        Horizontal grouped bars in MB, one group per ontology version (see
        :func:`size_frame`).
    """
    import altair as alt

    with Reader(view_or_config).read() as view:
        data = size_frame(view, ontologies)
    order = list(dict.fromkeys(data["label"].to_list()))
    measures = [m for m in _SIZES.values() if m in set(data["measure"])]
    return (
        alt.Chart(data, title="Bytes stored per version")
        .mark_bar()
        .encode(
            y=alt.Y("label:N", sort=order, title=None),
            yOffset=alt.YOffset("measure:N", sort=measures),
            x=alt.X("mb:Q", title="MB"),
            color=alt.Color("measure:N", sort=measures, title="what"),
            tooltip=["ontology", "version", "measure", alt.Tooltip("bytes:Q", format=",")],
        )
        .properties(width=WIDTH)
    )
