"""deploy/scripts/{switch,rollback,canary} against a fake kubectl seeded from deploy/k8s.

The fake (written into tmp_path, passed as ``$KUBECTL``) records every command line and
answers from a JSON state holding the shipped manifests of deploy/k8s/bluegreen and
deploy/k8s/canary: Deployment status, pods, /readyz answers and the Service's EndpointSlices
are derived from that state the way the cluster would (pods of a broken image never become
ready; endpoints are the ready pods the Service's selector matches).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "deploy" / "scripts"
K8S = ROOT / "deploy" / "k8s"
NS = "ontolab"
BROKEN = "ghcr.io/ontolab/ontolab:broken"

FAKE_KUBECTL = r"""
import json, os, sys

with open(os.environ["FAKE_KUBE_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\n")
with open(os.environ["FAKE_KUBE_STATE"]) as f:
    state = json.load(f)
args = sys.argv[1:]
if args[:1] == ["--context"]:
    args = args[2:]
if args[:1] != ["-n"] or args[1] != state["namespace"]:
    sys.exit(f"fake kubectl: every call must name namespace {state['namespace']}: {args}")
args = args[2:]
objects = state["objects"]


def save():
    with open(os.environ["FAKE_KUBE_STATE"], "w") as f:
        json.dump(state, f)


def ready_count(name, dep):
    if name in state.get("ready", {}):
        return state["ready"][name]
    image = dep["spec"]["template"]["spec"]["containers"][0]["image"]
    return 0 if image in state["broken_images"] else dep["spec"]["replicas"]


def deployment(name):
    dep = objects.get("deployment/" + name)
    if dep is None:
        sys.exit(f'Error from server (NotFound): deployments.apps "{name}" not found')
    ready, replicas = ready_count(name, dep), dep["spec"]["replicas"]
    status = {"replicas": replicas, "updatedReplicas": replicas, "observedGeneration":
              dep["metadata"].get("generation", 1)}
    if ready:  # the API server leaves readyReplicas out when it is 0
        status["readyReplicas"] = ready
    return {**dep, "status": status}


def pods():
    for key, dep in objects.items():
        if key.startswith("deployment/"):
            name = key.split("/", 1)[1]
            ready = ready_count(name, dep)
            for i in range(dep["spec"]["replicas"]):
                yield {"metadata": {"name": f"{name}-{i}",
                                    "labels": dep["spec"]["template"]["metadata"]["labels"]},
                       "status": {"phase": "Running", "ready": i < ready}}


def matches(labels, selector):
    return all(labels.get(k) == v for k, v in selector.items())


def parse_selector(text):
    return dict(part.split("=", 1) for part in text.split(","))


def merge(target, patch):
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = value


verb = args[0]
if verb == "get" and args[-2:] == ["-o", "json"]:
    kind = args[1]
    if kind == "deployment":
        print(json.dumps(deployment(args[2])))
    elif kind == "service":
        print(json.dumps(objects["service/" + args[2]]))
    elif kind == "pods" and args[2] == "-l":
        wanted = parse_selector(args[3])
        found = [p for p in pods() if matches(p["metadata"]["labels"], wanted)]
        print(json.dumps({"items": found}))
    elif kind == "endpointslices" and args[2] == "-l":
        service = objects["service/" + parse_selector(args[3])["kubernetes.io/service-name"]]
        wanted = service["spec"]["selector"]
        chosen = [p for p in pods() if matches(p["metadata"]["labels"], wanted)]
        endpoints = [{"targetRef": {"kind": "Pod", "name": p["metadata"]["name"]},
                      "conditions": {"ready": p["status"]["ready"]}} for p in chosen]
        print(json.dumps({"items": [{"endpoints": endpoints}]}))
    else:
        sys.exit(f"fake kubectl: unsupported {args}")
elif verb == "rollout" and args[1] == "status":
    name = args[2].split("/", 1)[1]
    dep = deployment(name)
    if dep["status"].get("readyReplicas", 0) < dep["spec"]["replicas"]:
        sys.exit(f'Waiting for deployment "{name}" rollout to finish: 0 of '
                 f'{dep["spec"]["replicas"]} updated replicas are available...\n'
                 "error: timed out waiting for the condition")
    print(f'deployment "{name}" successfully rolled out')
elif verb == "exec":
    pod = next((p for p in pods() if p["metadata"]["name"] == args[1]), None)
    if pod is None or "/readyz" not in args[-1]:
        sys.exit(f"fake kubectl: no pod {args[1]} or no /readyz in {args}")
    if not pod["status"]["ready"] or args[1] in state["readyz_failing"]:
        sys.exit("urllib.error.HTTPError: HTTP Error 503: Service Unavailable")
elif verb == "patch" and args[3:5] == ["--type", "merge"] and args[5] == "-p":
    obj = objects[args[1] + "/" + args[2]]
    merge(obj, json.loads(args[6]))
    obj["metadata"]["generation"] = obj["metadata"].get("generation", 1) + 1
    save()
    print(f"{args[1]}/{args[2]} patched")
elif verb == "scale" and args[2].startswith("--replicas="):
    objects[args[1]]["spec"]["replicas"] = int(args[2].split("=", 1)[1])
    save()
elif verb == "set" and args[1] == "image":
    container, image = args[3].split("=", 1)
    for c in objects[args[2]]["spec"]["template"]["spec"]["containers"]:
        if c["name"] == container:
            c["image"] = image
    save()
else:
    sys.exit(f"fake kubectl: unsupported {args}")
"""


def _manifests() -> dict[str, Any]:
    objects = {}
    for path in sorted([*K8S.glob("bluegreen/*.yaml"), *K8S.glob("canary/*.yaml")]):
        for doc in yaml.safe_load_all(path.read_text()):
            objects[f"{doc['kind'].lower()}/{doc['metadata']['name']}"] = doc
    return objects


@dataclass
class Cluster:
    """The fake cluster: its state file, its command log and how to run a script on it."""

    state_path: Path
    log_path: Path
    kubectl: str

    def state(self) -> dict[str, Any]:
        return json.loads(self.state_path.read_text())  # type: ignore[no-any-return]

    def edit(self, change: Callable[[dict[str, Any]], None]) -> None:
        state = self.state()
        change(state)
        self.state_path.write_text(json.dumps(state))

    def service(self) -> dict[str, Any]:
        return self.state()["objects"]["service/ontolab-api"]  # type: ignore[no-any-return]

    def deployment(self, colour: str) -> dict[str, Any]:
        return self.state()["objects"][f"deployment/ontolab-api-{colour}"]  # type: ignore[no-any-return]

    def commands(self) -> list[list[str]]:
        if not self.log_path.exists():
            return []
        return [json.loads(line)[4:] for line in self.log_path.read_text().splitlines()]

    def run(
        self, script: str, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        environ = {k: v for k, v in os.environ.items() if k not in ("PROMETHEUS_URL",)}
        environ.update(
            KUBECTL=self.kubectl,
            ONTOLAB_NAMESPACE=NS,
            FAKE_KUBE_STATE=str(self.state_path),
            FAKE_KUBE_LOG=str(self.log_path),
            SETTLE_S="0",
        )
        environ.update(env or {})
        return subprocess.run(
            [sys.executable, str(SCRIPTS / script), "--timeout", "5", *args],
            capture_output=True,
            text=True,
            env=environ,
            timeout=120,
            check=False,
        )


@pytest.fixture
def cluster(tmp_path: Path) -> Cluster:
    fake = tmp_path / "kubectl"
    fake.write_text(f"#!{sys.executable}\n{FAKE_KUBECTL}")
    fake.chmod(0o755)
    state = {
        "namespace": NS,
        "objects": _manifests(),
        "broken_images": [BROKEN],
        "readyz_failing": [],
    }
    state_path = tmp_path / "state.json"
    state_path.write_text(json.dumps(state))
    # Arguments in $KUBECTL are honoured (a context, a kubeconfig).
    return Cluster(state_path, tmp_path / "commands.log", f"{fake} --context test")


def _scale_green(cluster: Cluster, replicas: int = 2, image: str | None = None) -> None:
    def change(state: dict[str, Any]) -> None:
        dep = state["objects"]["deployment/ontolab-api-green"]
        dep["spec"]["replicas"] = replicas
        if image:
            dep["spec"]["template"]["spec"]["containers"][0]["image"] = image

    cluster.edit(change)


def _patches(cluster: Cluster) -> list[list[str]]:
    return [c for c in cluster.commands() if c[:1] == ["patch"]]


# -- the shipped manifests are what the scripts expect ---------------------------------------


def test_the_shipped_service_selects_blue_and_green_is_idle() -> None:
    objects = _manifests()
    assert objects["service/ontolab-api"]["spec"]["selector"] == {
        "app.kubernetes.io/name": "ontolab-api",
        "ontolab/colour": "blue",
    }
    assert objects["deployment/ontolab-api-blue"]["spec"]["replicas"] > 0
    assert objects["deployment/ontolab-api-green"]["spec"]["replicas"] == 0
    assert objects["deployment/ontolab-api-canary"]["spec"]["replicas"] == 0


def test_blue_and_green_differ_only_in_colour_and_replicas() -> None:
    blue = (K8S / "bluegreen" / "deployment-blue.yaml").read_text()
    green = (K8S / "bluegreen" / "deployment-green.yaml").read_text()
    as_green = yaml.safe_load(blue.replace("blue", "green"))
    as_green["spec"]["replicas"] = 0
    assert as_green == yaml.safe_load(green)


def test_no_deployment_selects_another_ones_pods() -> None:
    objects = _manifests()
    deployments = {k: v for k, v in objects.items() if k.startswith("deployment/")}
    for name, dep in deployments.items():
        # The canary's pods take the live colour, so try it with both.
        for colour in ("blue", "green"):
            for other, pod in deployments.items():
                labels = {**pod["spec"]["template"]["metadata"]["labels"]}
                if other.endswith("canary"):
                    labels["ontolab/colour"] = colour
                selected = dep["spec"]["selector"]["matchLabels"].items() <= labels.items()
                assert selected == (other == name), (name, other, colour)


# -- switch ----------------------------------------------------------------------------------


def test_switch_refuses_a_colour_scaled_to_zero(cluster: Cluster) -> None:
    done = cluster.run("switch", "green")
    assert done.returncode == 1
    assert "refusing to switch service/ontolab-api to green: it is not ready" in done.stderr
    assert "scaled to 0" in done.stderr
    assert "traffic stays on blue" in done.stderr
    assert cluster.service()["spec"]["selector"]["ontolab/colour"] == "blue"
    assert _patches(cluster) == []


def test_switch_refuses_when_the_new_pods_never_become_ready(cluster: Cluster) -> None:
    _scale_green(cluster, 2, image=BROKEN)
    done = cluster.run("switch", "green")
    assert done.returncode == 1, done.stderr
    assert "0 of 2 replicas ready" in done.stderr
    assert "timed out waiting for the condition" in done.stderr
    assert cluster.service()["spec"]["selector"]["ontolab/colour"] == "blue"
    assert "annotations" not in cluster.service()["metadata"]
    assert _patches(cluster) == []
    assert ["rollout", "status", "deployment/ontolab-api-green", "--timeout=5s"] in (
        cluster.commands()
    )


def test_switch_refuses_when_a_pod_fails_readyz_though_kubernetes_calls_it_ready(
    cluster: Cluster,
) -> None:
    _scale_green(cluster, 2)
    cluster.edit(lambda s: s["readyz_failing"].append("ontolab-api-green-1"))
    done = cluster.run("switch", "green")
    assert done.returncode == 1
    assert "pod/ontolab-api-green-1 does not answer /readyz with 200" in done.stderr
    assert "HTTP Error 503" in done.stderr
    assert cluster.service()["spec"]["selector"]["ontolab/colour"] == "blue"
    execs = [c[1] for c in cluster.commands() if c[0] == "exec"]
    assert execs == ["ontolab-api-green-0", "ontolab-api-green-1"]


def test_switch_moves_the_selector_and_records_the_previous_colour(cluster: Cluster) -> None:
    _scale_green(cluster, 2)
    done = cluster.run("switch", "green")
    assert done.returncode == 0, done.stderr
    service = cluster.service()
    assert service["spec"]["selector"] == {
        "app.kubernetes.io/name": "ontolab-api",
        "ontolab/colour": "green",
    }
    assert service["metadata"]["annotations"]["ontolab/previous-colour"] == "blue"
    assert "ontolab-api-green-0, ontolab-api-green-1" in done.stderr  # the endpoints now
    # Checked before patched, one patch, and every call in the namespace asked for.
    commands = cluster.commands()
    first_patch = commands.index(_patches(cluster)[0])
    assert any(c[:2] == ["rollout", "status"] for c in commands[:first_patch])
    assert len(_patches(cluster)) == 1
    assert all(
        line.startswith('["--context", "test", "-n", "ontolab"')
        for line in cluster.log_path.read_text().splitlines()
    )


def test_switch_to_the_live_colour_changes_nothing(cluster: Cluster) -> None:
    done = cluster.run("switch", "blue")
    assert done.returncode == 0
    assert "already sends traffic to blue" in done.stderr
    assert _patches(cluster) == []


def test_switch_rejects_an_unknown_colour(cluster: Cluster) -> None:
    done = cluster.run("switch", "purple")
    assert done.returncode == 2
    assert "invalid choice: 'purple'" in done.stderr
    assert cluster.commands() == []


# -- rollback --------------------------------------------------------------------------------


def test_rollback_returns_to_the_recorded_colour_and_back_again(cluster: Cluster) -> None:
    _scale_green(cluster, 2)
    assert cluster.run("switch", "green").returncode == 0
    done = cluster.run("rollback")
    assert done.returncode == 0, done.stderr
    assert "rolling service/ontolab-api back from green to blue" in done.stderr
    service = cluster.service()
    assert service["spec"]["selector"]["ontolab/colour"] == "blue"
    assert service["metadata"]["annotations"]["ontolab/previous-colour"] == "green"
    assert cluster.run("rollback").returncode == 0
    assert cluster.service()["spec"]["selector"]["ontolab/colour"] == "green"


def test_rollback_refuses_without_a_recorded_colour(cluster: Cluster) -> None:
    done = cluster.run("rollback")
    assert done.returncode == 1
    assert "records no previous colour" in done.stderr
    assert _patches(cluster) == []


def test_rollback_refuses_when_the_old_colour_was_scaled_down(cluster: Cluster) -> None:
    _scale_green(cluster, 2)
    assert cluster.run("switch", "green").returncode == 0
    cluster.edit(lambda s: s["objects"]["deployment/ontolab-api-blue"]["spec"].update(replicas=0))
    done = cluster.run("rollback")
    assert done.returncode == 1
    assert "deployment/ontolab-api-blue is scaled to 0" in done.stderr
    assert cluster.service()["spec"]["selector"]["ontolab/colour"] == "green"


# -- metrics before and after ----------------------------------------------------------------


@pytest.fixture
def prometheus() -> Iterator[tuple[str, dict[str, float], list[str]]]:
    """A stand-in Prometheus HTTP API on loopback: 5xx ratio per ``colour=``/``track=``."""
    rates: dict[str, float] = {}
    queries: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = parse_qs(urlsplit(self.path).query)["query"][0]
            queries.append(query)
            value = next((v for k, v in rates.items() if k in query), 0.0)
            body = {
                "status": "success",
                "data": {
                    "resultType": "vector",
                    "result": [{"metric": {}, "value": [0, str(value)]}],
                },
            }
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", rates, queries
    finally:
        server.shutdown()
        server.server_close()


def test_switch_goes_back_when_the_new_colour_answers_errors(
    cluster: Cluster, prometheus: tuple[str, dict[str, float], list[str]]
) -> None:
    url, rates, queries = prometheus
    rates['colour="green"'] = 0.2
    _scale_green(cluster, 2)
    done = cluster.run("switch", "green", env={"PROMETHEUS_URL": url})
    assert done.returncode == 1
    assert "green answers 20.00% of requests with 5xx" in done.stderr
    assert "switched service/ontolab-api back to blue" in done.stderr
    service = cluster.service()
    assert service["spec"]["selector"]["ontolab/colour"] == "blue"
    # A later rollback must not lead to the colour that just failed.
    assert "ontolab/previous-colour" not in service["metadata"]["annotations"]
    assert len(_patches(cluster)) == 2
    assert any('colour="blue"' in q for q in queries)  # the before-check
    assert any('status=~"5.."' in q and 'colour="green"' in q for q in queries)


def test_switch_keeps_the_new_colour_when_its_error_rate_is_low(
    cluster: Cluster, prometheus: tuple[str, dict[str, float], list[str]]
) -> None:
    url, rates, _ = prometheus
    rates['colour="green"'] = 0.001
    _scale_green(cluster, 2)
    done = cluster.run("switch", "green", env={"PROMETHEUS_URL": url})
    assert done.returncode == 0, done.stderr
    assert "green: 5xx ratio 0.0010 (limit 0.01)" in done.stderr
    assert cluster.service()["spec"]["selector"]["ontolab/colour"] == "green"


def test_an_unreachable_prometheus_stops_before_the_switch(cluster: Cluster) -> None:
    _scale_green(cluster, 2)
    done = cluster.run("switch", "green", env={"PROMETHEUS_URL": "http://127.0.0.1:9"})
    assert done.returncode == 3
    assert "cannot query Prometheus" in done.stderr
    assert cluster.service()["spec"]["selector"]["ontolab/colour"] == "blue"


# -- canary ----------------------------------------------------------------------------------


def test_canary_scales_to_the_share_asked_and_aborts(cluster: Cluster) -> None:
    cluster.edit(lambda s: s["objects"]["deployment/ontolab-api-blue"]["spec"].update(replicas=6))
    done = cluster.run("canary", "25")
    assert done.returncode == 0, done.stderr
    canary = cluster.deployment("canary")
    assert canary["spec"]["replicas"] == 2  # 2 of 8 pods behind the Service
    assert canary["spec"]["template"]["metadata"]["labels"]["ontolab/colour"] == "blue"
    assert "about 25% of requests" in done.stderr
    assert "ghcr.io/ontolab/ontolab:0.2.0" in done.stderr
    # Its pods are behind the Service beside blue's (the fake derives endpoints from labels).
    endpoints = done.stderr.split("endpoints: ")[1].split()
    assert {e.strip(",") for e in endpoints} == {
        *(f"ontolab-api-blue-{i}" for i in range(6)),
        "ontolab-api-canary-0",
        "ontolab-api-canary-1",
    }
    aborted = cluster.run("canary", "abort")
    assert aborted.returncode == 0
    assert cluster.deployment("canary")["spec"]["replicas"] == 0
    assert ["scale", "deployment/ontolab-api-canary", "--replicas=0"] in cluster.commands()
    assert cluster.service()["spec"]["selector"]["ontolab/colour"] == "blue"


def test_a_canary_that_never_gets_ready_is_reported(cluster: Cluster) -> None:
    cluster.edit(
        lambda s: s["objects"]["deployment/ontolab-api-canary"]["spec"]["template"]["spec"][
            "containers"
        ][0].update(image=BROKEN)
    )
    done = cluster.run("canary", "10")
    assert done.returncode == 1
    assert "the canary is not ready" in done.stderr
    assert "canary abort" in done.stderr
    promoted = cluster.run("canary", "promote")
    assert promoted.returncode == 1
    assert "refusing to promote an unready canary" in promoted.stderr
    assert cluster.deployment("green")["spec"]["replicas"] == 0
    assert cluster.service()["spec"]["selector"]["ontolab/colour"] == "blue"


def test_a_canary_with_errors_is_scaled_back(
    cluster: Cluster, prometheus: tuple[str, dict[str, float], list[str]]
) -> None:
    url, rates, _ = prometheus
    rates['track="canary"'] = 0.5
    done = cluster.run("canary", "10", env={"PROMETHEUS_URL": url})
    assert done.returncode == 1
    assert "the canary answers 50.00% of requests with 5xx" in done.stderr
    assert cluster.deployment("canary")["spec"]["replicas"] == 0


def test_canary_promote_moves_its_image_to_the_idle_colour_and_switches(
    cluster: Cluster,
) -> None:
    assert cluster.run("canary", "10").returncode == 0
    done = cluster.run("canary", "promote")
    assert done.returncode == 0, done.stderr
    green = cluster.deployment("green")
    assert green["spec"]["replicas"] == cluster.deployment("blue")["spec"]["replicas"] == 2
    assert green["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "ghcr.io/ontolab/ontolab:0.2.0"
    )
    service = cluster.service()
    assert service["spec"]["selector"]["ontolab/colour"] == "green"
    assert service["metadata"]["annotations"]["ontolab/previous-colour"] == "blue"
    assert cluster.deployment("canary")["spec"]["replicas"] == 0
    # And the old colour is still there to roll back to.
    assert cluster.run("rollback").returncode == 0
    assert cluster.service()["spec"]["selector"]["ontolab/colour"] == "blue"


def test_canary_refuses_a_share_out_of_range(cluster: Cluster) -> None:
    for bad in ("0", "100", "lots"):
        done = cluster.run("canary", bad)
        assert done.returncode == 2, bad
    assert _patches(cluster) == []


@pytest.mark.parametrize("script", ["switch", "rollback", "canary"])
def test_each_script_runs_by_itself_and_explains_itself(script: str) -> None:
    done = subprocess.run(
        [str(SCRIPTS / script), "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert "KUBECTL" in done.stdout and "--namespace" in done.stdout
    assert f"deploy/scripts/{script}" in done.stdout
