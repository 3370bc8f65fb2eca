"""``make bench``: run every benchmark and print its figures."""

from __future__ import annotations

import sys

from benchmarks import (
    catalog_latency,
    fetch_throughput,
    gate_time,
    rerun_latency,
    service_latency,
    validate_throughput,
)


def main() -> int:
    results = [
        fetch_throughput.main(),
        rerun_latency.main(),
        validate_throughput.main(),
        catalog_latency.main(),
        service_latency.main(),
        gate_time.main(),
    ]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
