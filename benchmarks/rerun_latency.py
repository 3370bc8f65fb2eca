"""Re-pulling an unchanged mirror: time per ontology and body bytes moved (issue 2).

Target: well under 100 ms per ontology, zero body bytes (every download answered by a 304).
Measured in-process (``ontolab.pull``) and through the CLI (``ontolab pull --json``, whole
process, so it includes interpreter start-up).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from ontolab import pipeline
from ontolab.settings import load_settings
from ontolab.testing import Mirror, write_synthetic_obo

COUNT = int(os.environ.get("BENCH_ONTOLOGIES", "20"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))


def main() -> bool:
    work = Path(tempfile.mkdtemp(prefix="ontolab-bench-rerun-"))
    try:
        with Mirror() as mirror:
            ids = [f"syn{i:02d}" for i in range(COUNT)]
            for oid in ids:
                path = write_synthetic_obo(work / f"{oid}.obo", n_terms=2000, prefix=oid.upper())
                mirror.publish(oid, "2024-01-01", path, filename=f"{oid}.obo")
            config = {
                "data_dir": "data",
                "http": {"allowed_hosts": [mirror.host_port], "jobs": 4},
                "resolvers": {"obo": {"base_url": f"{mirror.base_url}/obo"}},
                "ontologies": [{"id": oid, "resolver": "obo", "format": "obo"} for oid in ids],
            }
            (work / "ontolab.yaml").write_text(yaml.safe_dump(config))
            settings = load_settings(work / "ontolab.yaml")
            pipeline.pull(settings=settings)  # the first pull fetches everything

            timings = []
            for _ in range(ROUNDS):
                mirror.clear_log()
                started = time.perf_counter()
                receipt = pipeline.pull(settings=settings)
                timings.append(time.perf_counter() - started)
                assert {r.outcome for r in receipt.rows} == {"unchanged"}
            log = mirror.requests
            body = sum(r.bytes_sent for r in log if r.method == "GET")
            not_modified = sum(1 for r in log if r.status == 304)

            env = {k: v for k, v in os.environ.items() if not k.startswith("ONTOLAB_")}
            cli = []
            for _ in range(ROUNDS):
                started = time.perf_counter()
                subprocess.run(
                    [sys.executable, "-m", "ontolab", "pull", "--json"],
                    cwd=work,
                    env=env,
                    check=True,
                    capture_output=True,
                )
                cli.append(time.perf_counter() - started)
        per = statistics.median(timings) / COUNT * 1000
        print(f"re-pull of {COUNT} unchanged ontologies (jobs=4), median of {ROUNDS}:")
        print(
            f"  in-process ontolab.pull       {statistics.median(timings) * 1000:7.0f} ms total"
            f"  = {per:5.1f} ms per ontology (target well under 100 ms)"
        )
        print(
            f"  CLI 'ontolab pull --json'     {statistics.median(cli) * 1000:7.0f} ms total"
            f"  (includes interpreter start-up)"
        )
        print(f"  last round: {not_modified} responses were 304, {body} body bytes sent")
        return per < 100 and body == 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
