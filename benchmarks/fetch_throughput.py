"""Fetch throughput on loopback: ontolab vs ``curl -o FILE`` vs ``pooch.retrieve``.

ontolab's figure covers the whole safe path: download, sha256 while streaming, fsync, atomic
rename into the content-addressed store. Targets (issue 2): >= 0.7x curl and >= 3x pooch.
Each tool is measured ``ROUNDS`` times against the same local mirror, rounds interleaved;
ratios compare medians.
"""

from __future__ import annotations

import os
import shutil
import statistics
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

SIZE = int(os.environ.get("BENCH_FETCH_BYTES", "150000000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))


def _measure(runs: dict[str, Callable[[], int]]) -> dict[str, list[float]]:
    """MB/s of each runner; rounds interleave the runners so machine noise hits all alike."""
    speeds: dict[str, list[float]] = {label: [] for label in runs}
    for _ in range(ROUNDS):
        for label, run in runs.items():
            started = time.perf_counter()
            size = run()
            speeds[label].append(size / (time.perf_counter() - started) / 1e6)
    for label, values in speeds.items():
        shown = ", ".join(f"{v:.0f}" for v in values)
        print(f"  {label:<44} median {statistics.median(values):6.0f} MB/s   (runs: {shown})")
    return speeds


def _ratio(name: str, value: float, target: float) -> bool:
    verdict = "ok" if value >= target else "MISSED"
    print(f"  {name:<16} = {value:.2f}x  (target >= {target}x) {verdict}")
    return value >= target


def main() -> bool:
    import pooch

    pooch.get_logger().setLevel("WARNING")  # its own logger, outside logging's tree
    work = Path(tempfile.mkdtemp(prefix="ontolab-bench-"))
    try:
        source = write_synthetic_owl(work / "big.owl", target_bytes=SIZE)
        with Mirror() as mirror, HttpSession(HttpSettings(allowed_hosts=[mirror.host_port])) as s:
            mirror.add_file("big.owl", source)
            url = f"{mirror.base_url}/files/big.owl"
            print(
                f"fetch throughput: {source.stat().st_size / 1e6:.0f} MB synthetic OWL over "
                f"loopback, {ROUNDS} interleaved rounds"
            )

            def curl() -> int:
                out = work / "curl.out"
                subprocess.run(["curl", "-sS", "-o", str(out), url], check=True)
                return out.stat().st_size

            def pooch_retrieve() -> int:
                shutil.rmtree(work / "pooch", ignore_errors=True)
                path = pooch.retrieve(url, known_hash=None, path=work / "pooch", progressbar=False)
                return Path(path).stat().st_size

            def ontolab_fetch() -> int:
                shutil.rmtree(work / "store", ignore_errors=True)
                item = PlanItem(ontology="big", resolver="url", url=url)
                return download(s, ContentStore(work / "store"), item).artifact.size

            runs = {"pooch.retrieve (defaults)": pooch_retrieve}
            if shutil.which("curl"):
                runs["curl -o FILE"] = curl
            else:
                print("  curl not found: skipping that baseline")
            runs["ontolab download+sha256+fsync+atomic store"] = ontolab_fetch
            speeds = {k: statistics.median(v) for k, v in _measure(runs).items()}
        ours = speeds["ontolab download+sha256+fsync+atomic store"]
        ok = _ratio("ontolab / pooch", ours / speeds["pooch.retrieve (defaults)"], 3)
        if "curl -o FILE" in speeds:
            ok &= _ratio("ontolab / curl", ours / speeds["curl -o FILE"], 0.7)
        return ok
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
