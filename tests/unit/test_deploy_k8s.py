"""Every manifest under deploy/k8s/: kubernetes-validate --strict (schemas bundled in the
wheel, no cluster), and what a schema cannot see: names that refer to each other, probes on
the service's routes, the pods' security settings, and ontolab accepting the command line,
environment and config each pod gives it."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_tools import broken_copies, ontolab_help, run, tool

from ontolab import __version__
from ontolab.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
MANIFESTS = sorted(p for p in K8S.rglob("*") if p.suffix in {".yaml", ".yml"})
# The oldest minor still common on managed clusters, and the newest the wheel knows.
KUBERNETES_VERSIONS = ["1.33.0", "1.37.0"]
IMAGE = "ghcr.io/ontolab/ontolab"
# Keys of the ontolab-secrets Secret that docs/deployment.md tells how to create.
SECRET_KEYS = {"service-token", "bioportal-api-key", "catalog-url"}


def kubernetes_validate(paths: list[Path], version: str) -> tuple[bool, str]:
    """Strict validation; a kind without a schema (a typo) is only a WARN there, a failure here."""
    result = run(
        [tool("kubernetes-validate"), "--strict", "--quiet", "-k", version, *map(str, paths)],
        timeout=300,
    )
    output = result.stdout + result.stderr
    return result.returncode == 0 and "WARN" not in output and "ERROR" not in output, output


def documents(paths: list[Path] = MANIFESTS) -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in paths:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                yield path, doc


def pod_spec(doc: dict[str, Any]) -> dict[str, Any] | None:
    kind = doc["kind"]
    if kind in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
        return dict(doc["spec"]["template"]["spec"])
    if kind == "CronJob":
        return dict(doc["spec"]["jobTemplate"]["spec"]["template"]["spec"])
    return dict(doc["spec"]) if kind == "Pod" else None


def pods() -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for path, doc in documents():
        spec = pod_spec(doc)
        if spec is not None:
            yield f"{path.relative_to(K8S)}:{doc['metadata']['name']}", doc, spec


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def ontolab_argv(container: dict[str, Any]) -> list[str]:
    command = container.get("command", [])
    if command and command[0] != "ontolab":
        raise AssertionError(f"{container['name']} runs {command[0]}, not ontolab")
    return [*command[1:], *container.get("args", [])]


def test_there_are_manifests_for_every_piece() -> None:
    kinds = {doc["kind"] for _, doc in documents()}
    wanted = {"Deployment", "Service", "CronJob", "PersistentVolumeClaim", "ConfigMap"}
    wanted |= {"NetworkPolicy", "PodDisruptionBudget", "HorizontalPodAutoscaler"}
    assert wanted <= kinds


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_passes_kubernetes_validate_strict(version: str) -> None:
    ok, output = kubernetes_validate(MANIFESTS, version)
    assert ok, output


BREAKAGES = [
    ("  replicas: 1\n", "  replica: 1\n"),  # a field that does not exist
    ("containerPort: 8765", "containerPort: eighty"),  # a wrong type
    ("kind: Deployment", "kind: Deploymnet"),  # a kind with no schema
    ("          ports:\n", "          portz:\n"),  # a typo deep in the pod spec
]


def test_kubernetes_validate_rejects_each_broken_manifest(tmp_path: Path) -> None:
    broken = broken_copies(K8S / "base" / "deployment.yaml", BREAKAGES, tmp_path)
    ok, output = kubernetes_validate(broken, KUBERNETES_VERSIONS[-1])
    assert not ok
    complaints = [line for line in output.splitlines() if line.startswith(("ERROR", "WARN"))]
    for path in broken:  # each breakage on its own, not one of them for all
        assert any(str(path) in line for line in complaints), (path.read_text(), output)


def test_every_pod_runs_unprivileged_without_service_links() -> None:
    """enableServiceLinks: false because Kubernetes would inject ONTOLAB_API_SERVICE_HOST and
    friends, which ontolab refuses as unknown settings (exit 2)."""
    for where, _, spec in pods():
        assert spec.get("enableServiceLinks") is False, where
        assert spec.get("automountServiceAccountToken") is False, where
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["runAsUser"] != 0, where
        for container in containers(spec):
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            assert "memory" in container["resources"]["limits"], where
            assert not container["image"].endswith(":latest"), where
            mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
            assert "/tmp" in mounts, f"{where}: read-only root without a writable /tmp"


def test_the_service_deployments_probe_health_readiness_and_startup() -> None:
    served = 0
    for where, _, spec in pods():
        for container in spec["containers"]:
            if ontolab_argv(container)[:1] != ["serve"]:
                continue
            served += 1
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", where
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", where
            assert container["startupProbe"]["httpGet"]["path"] == "/healthz", where
            ports = {p["name"] for p in container["ports"]}
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                assert container[probe]["httpGet"]["port"] in ports, where
    assert served >= 1


def test_names_that_refer_to_each_other_exist() -> None:
    defined: dict[str, set[str]] = {}
    for _, doc in documents():
        defined.setdefault(doc["kind"], set()).add(doc["metadata"]["name"])
    labelled: list[dict[str, str]] = []
    for where, _, spec in pods():
        for volume in spec.get("volumes", []):
            if "configMap" in volume:
                assert volume["configMap"]["name"] in defined["ConfigMap"], where
            if "persistentVolumeClaim" in volume:
                claim = volume["persistentVolumeClaim"]["claimName"]
                assert claim in defined["PersistentVolumeClaim"], where
        if "serviceAccountName" in spec:
            assert spec["serviceAccountName"] in defined["ServiceAccount"], where
        for container in containers(spec):
            names = {v["name"] for v in spec.get("volumes", [])}
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in names, where
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == "ontolab-secrets", where
                    assert ref.get("optional") is True or ref["key"] in SECRET_KEYS, where
    for _, doc in documents():
        if doc["kind"] in {"Deployment", "CronJob"}:
            spec = doc["spec"].get("template") or doc["spec"]["jobTemplate"]["spec"]["template"]
            labelled.append(spec["metadata"]["labels"])

    def selects(selector: dict[str, str]) -> bool:
        return any(selector.items() <= labels.items() for labels in labelled)

    for path, doc in documents():
        kind, spec = doc["kind"], doc.get("spec", {})
        if kind == "Service":
            assert selects(spec["selector"]), path
        if kind in {"NetworkPolicy"}:
            assert selects(spec["podSelector"]["matchLabels"]), path
        if kind == "PodDisruptionBudget":
            assert selects(spec["selector"]["matchLabels"]), path
        if kind == "HorizontalPodAutoscaler":
            assert spec["scaleTargetRef"]["name"] in defined["Deployment"], path
        if kind == "Deployment":
            template = spec["template"]["metadata"]["labels"]
            assert spec["selector"]["matchLabels"].items() <= template.items(), path


def test_the_secret_keys_are_documented() -> None:
    docs = (ROOT / "docs" / "deployment.md").read_text()
    assert "ontolab-secrets" in docs
    for key in SECRET_KEYS:
        assert key in docs, key


def test_the_base_cronjob_refreshes_one_run_at_a_time() -> None:
    cron = yaml.safe_load((K8S / "base" / "cronjob.yaml").read_text())
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    container = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert ontolab_argv(container)[:1] == ["pull"]


def test_the_base_images_are_this_version_of_ontolab() -> None:
    for where, _, spec in pods():
        if where.startswith("base/"):
            for container in containers(spec):
                assert container["image"] == f"{IMAGE}:{__version__}", where


def configmap_file(tmp_path: Path) -> Path:
    configmap = yaml.safe_load((K8S / "base" / "configmap.yaml").read_text())
    path = tmp_path / "ontolab.yaml"
    path.write_text(configmap["data"]["ontolab.yaml"])
    return path


def pod_environ(container: dict[str, Any], tmp_path: Path) -> dict[str, str]:
    """The container's environment as ontolab reads it, with paths moved under tmp_path and
    Secret values (not in the repository) replaced by samples."""
    samples = {"ONTOLAB_SERVICE__TOKEN": "sample-token", "BIOPORTAL_API_KEY": "sample-key"}
    environ = {}
    for env in container.get("env", []):
        name = env["name"]
        if "value" in env:
            environ[name] = env["value"]
        elif name in samples:
            environ[name] = samples[name]
    environ["ONTOLAB_CONFIG"] = str(configmap_file(tmp_path))
    environ["ONTOLAB_DATA_DIR"] = str(tmp_path / "data")
    return environ


def test_ontolab_accepts_every_pods_environment_and_config(tmp_path: Path) -> None:
    for where, _, spec in pods():
        for container in containers(spec):
            environ = pod_environ(container, tmp_path)
            settings = load_settings(environ=environ)  # raises ConfigError on a bad key
            assert settings.data_dir == tmp_path / "data", where
            assert settings.log_format == "json", where


def test_ontolab_accepts_every_pods_command_line() -> None:
    argvs = {tuple(ontolab_argv(c)) for _, _, spec in pods() for c in containers(spec)}
    assert ("pull", "--json") in argvs
    for argv in sorted(argvs):
        result = ontolab_help(argv)
        assert result.returncode == 0, f"ontolab {' '.join(argv)}: {result.stderr}"


def test_the_migrate_init_container_creates_the_catalog(tmp_path: Path) -> None:
    deployment = yaml.safe_load((K8S / "base" / "deployment.yaml").read_text())
    (init,) = deployment["spec"]["template"]["spec"]["initContainers"]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ONTOLAB_")}
    environ.update(pod_environ(init, tmp_path))
    result = run([sys.executable, "-m", "ontolab", *ontolab_argv(init)], env=environ, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["schema_version"] >= 1
    assert (tmp_path / "data" / "catalog.duckdb").is_file()
