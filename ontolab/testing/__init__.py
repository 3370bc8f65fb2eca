"""Public test helpers: a local mirror server, synthetic ontologies and a real corpus.

``Mirror`` imitates OBO PURLs, OLS4, BioPortal and static hosts on 127.0.0.1;
``write_synthetic_obo`` / ``write_synthetic_owl`` make deterministic ontologies of any
size; ``PostgresServer``, ``PrometheusServer`` and ``JupyterLabServer`` run the real
servers on loopback; ``hpo_obo_path`` / ``kisao_owl_path`` / ``go_obo_path`` locate real
ontologies shipped in wheels; ``open_workspace`` wires a project folder to a running mirror
for notebooks; ``ontolab.testing.releases`` derives broken HPO releases that the gates reject.
"""

from __future__ import annotations

# Import from the private modules, not from .mirror: `python -m ontolab.testing.mirror`
# would otherwise find that module already imported and warn about running it twice.
from ontolab.testing._mirror_model import Fault, RequestRecord
from ontolab.testing._mirror_server import Mirror
from ontolab.testing.corpus import go_obo_path, hpo_obo_path, kisao_owl_path
from ontolab.testing.jupyter import JupyterLabServer
from ontolab.testing.postgres import PostgresServer
from ontolab.testing.prometheus import PrometheusServer
from ontolab.testing.synthetic import write_synthetic_obo, write_synthetic_owl
from ontolab.testing.workspace import Workspace, open_workspace

__all__ = [
    "Fault",
    "JupyterLabServer",
    "Mirror",
    "PostgresServer",
    "PrometheusServer",
    "RequestRecord",
    "Workspace",
    "go_obo_path",
    "hpo_obo_path",
    "kisao_owl_path",
    "open_workspace",
    "write_synthetic_obo",
    "write_synthetic_owl",
]
