"""Fetch throughput on loopback: ontolab vs ``curl -o FILE`` vs ``pooch.retrieve``.

ontolab's figure covers the whole safe path: download, sha256 while streaming, fsync, atomic
rename into the content-addressed store. Targets (issue 2): >= 0.7x curl and >= 3x pooch.
Each tool is measured ``ROUNDS`` times against the same local mirror; the best run counts
(loopback noise only ever slows a run down).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ontolab.fetch import ContentStore, download
from ontolab.models import PlanItem
from ontolab.net import HttpSession
from ontolab.settings import HttpSettings
from ontolab.testing import Mirror, write_synthetic_owl

SIZE = int(os.environ.get("ONTOLAB_BENCH_FETCH_BYTES", "150000000"))
ROUNDS = int(os.environ.get("ONTOLAB_BENCH_ROUNDS", "3"))


def _best(label: str, run: Callable[[], int]) -> float:
    speeds = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        size = run()
        speeds.append(size / (time.perf_counter() - started) / 1e6)
    best = max(speeds)
    print(f"  {label:<44} {best:8.0f} MB/s   (runs: {', '.join(f'{s:.0f}' for s in speeds)})")
    return best


def main() -> bool:
    work = Path(tempfile.mkdtemp(prefix="ontolab-bench-"))
    try:
        source = write_synthetic_owl(work / "big.owl", target_bytes=SIZE)
        size = source.stat().st_size
        with Mirror() as mirror:
            mirror.add_file("big.owl", source)
            url = f"{mirror.base_url}/files/big.owl"
            print(
                f"fetch throughput: {size / 1e6:.0f} MB synthetic OWL over loopback, "
                f"best of {ROUNDS}"
            )
            figures = {}
            if shutil.which("curl"):
                out = work / "curl.out"

                def curl() -> int:
                    subprocess.run(["curl", "-sS", "-o", str(out), url], check=True)
                    return out.stat().st_size

                figures["curl"] = _best("curl -o FILE", curl)
            else:
                print("  curl not found: skipping that baseline")

            import pooch

            pooch_dir = work / "pooch"

            def pooch_retrieve() -> int:
                shutil.rmtree(pooch_dir, ignore_errors=True)
                path = pooch.retrieve(url, known_hash=None, path=pooch_dir, progressbar=False)
                return Path(path).stat().st_size

            import logging

            logging.getLogger("pooch").setLevel(logging.WARNING)
            figures["pooch"] = _best("pooch.retrieve (defaults)", pooch_retrieve)

            settings = HttpSettings(allowed_hosts=[mirror.host_port])
            with HttpSession(settings) as session:

                def ontolab_fetch() -> int:
                    shutil.rmtree(work / "store", ignore_errors=True)
                    item = PlanItem(ontology="big", resolver="url", url=url)
                    done = download(session, ContentStore(work / "store"), item)
                    return done.artifact.size

                figures["ontolab"] = _best(
                    "ontolab download+sha256+fsync+atomic store", ontolab_fetch
                )
        ok = True
        if "curl" in figures:
            ratio = figures["ontolab"] / figures["curl"]
            ok &= ratio >= 0.7
            verdict = "ok" if ratio >= 0.7 else "MISSED"
            print(f"  ontolab / curl  = {ratio:.2f}x  (target >= 0.7x) {verdict}")
        ratio = figures["ontolab"] / figures["pooch"]
        ok &= ratio >= 3
        print(
            f"  ontolab / pooch = {ratio:.2f}x  (target >= 3x) {'ok' if ratio >= 3 else 'MISSED'}"
        )
        return ok
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
