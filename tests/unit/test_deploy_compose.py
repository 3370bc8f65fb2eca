"""deploy/compose/: the compose file against the compose specification (check-jsonschema's
vendored schema, offline), and what the schema cannot see: services, volumes and mounted
files that must exist, healthchecks behind every `service_healthy`, Prometheus targets,
Grafana provisioning and the Vector pipeline wired to the places ontolab writes."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from deploy_tools import broken_copies, ontolab_help, run, tool

from ontolab.obs._sinks import events_path
from ontolab.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "deploy" / "compose"
COMPOSE = COMPOSE_DIR / "compose.yaml"
GRAFANA = ROOT / "deploy" / "grafana"
ONTOLAB_SERVICES = ("ontolab-init", "ontolab-api", "ontolab-scheduler")


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def check_compose_schema(*paths: Path) -> subprocess.CompletedProcess[str]:
    return run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", *map(str, paths)]
    )


SCHEMA_BREAKAGES = [
    ("    restart: unless-stopped\n", "    restrat: unless-stopped\n"),  # unknown key
    ("condition: service_healthy", "condition: service_happy"),  # a value not in the enum
    ("volumes:\n  ontolab-data:", "volumez:\n  ontolab-data:"),  # unknown top-level key
    ("      interval: 15s\n", "      intervall: 15s\n"),  # a typo in a healthcheck
]


@pytest.fixture(scope="module")
def schema_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], str]:
    """One check-jsonschema run (loading the schema takes seconds) over the shipped file
    and one broken copy per breakage."""
    broken = broken_copies(COMPOSE, SCHEMA_BREAKAGES, tmp_path_factory.mktemp("compose"))
    result = check_compose_schema(COMPOSE, *broken)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    return broken, result.stdout + result.stderr


def test_compose_file_matches_the_compose_specification(
    schema_run: tuple[list[Path], str],
) -> None:
    _, output = schema_run
    assert str(COMPOSE) not in output, output  # no complaint names it


def test_the_compose_schema_rejects_each_broken_file(schema_run: tuple[list[Path], str]) -> None:
    broken, output = schema_run
    for path in broken:  # each breakage is reported, not one of them for all
        assert f"{path}::" in output, output


def compose_problems(compose: dict[str, Any], base: Path) -> list[str]:
    """References the schema does not check, resolved as `docker compose` would."""
    problems = []
    services = compose["services"]
    volumes = set(compose.get("volumes") or {})
    for name, service in services.items():
        for target, dep in (service.get("depends_on") or {}).items():
            if target not in services:
                problems.append(f"{name} depends on {target}, which is not a service")
                continue
            healthcheck = services[target].get("healthcheck", {})
            if dep["condition"] == "service_healthy" and "test" not in healthcheck:
                problems.append(f"{name} waits for {target} healthy; it has no healthcheck")
            if services[target].get("profiles") and dep.get("required", True):
                problems.append(f"{name} requires {target}, which only a profile starts")
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith((".", "/")):
                if not source.startswith("/") and not (base / source).exists():
                    problems.append(f"{name} mounts {source}, which does not exist")
            elif source not in volumes:
                problems.append(f"{name} mounts volume {source}, which is not declared")
        for port in service.get("ports", []):
            if not str(port).startswith("127.0.0.1:"):
                problems.append(f"{name} publishes {port} beyond the host's loopback")
    return problems


def test_compose_references_resolve() -> None:
    assert compose_problems(load(COMPOSE), COMPOSE_DIR) == []


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        ("      ontolab-init:\n        condition", "      ontolab-ini:\n        condition", "ini"),
        ("../prometheus:/etc", "../prometheus-config:/etc", "does not exist"),
        ("- loki-data:/loki", "- lokidata:/loki", "not declared"),
        ('"127.0.0.1:9090:9090"', '"9090:9090"', "loopback"),
        (
            "        condition: service_started\n      ontolab-init",
            "        condition: service_healthy\n      ontolab-init",
            "no healthcheck",
        ),
    ],
)
def test_broken_compose_references_are_caught(old: str, new: str, complaint: str) -> None:
    text = COMPOSE.read_text()
    assert old in text
    problems = compose_problems(yaml.safe_load(text.replace(old, new, 1)), COMPOSE_DIR)
    assert any(complaint in p for p in problems), problems


def test_the_ontolab_services_start_the_way_ontolab_accepts(tmp_path: Path) -> None:
    services = load(COMPOSE)["services"]
    assert set(ONTOLAB_SERVICES) <= set(services)
    assert "postgres" in services and services["postgres"]["profiles"] == ["postgres"]
    assert "--refresh-every" in services["ontolab-scheduler"]["command"]
    for name in ONTOLAB_SERVICES:
        service = services[name]
        assert service["read_only"] is True and "/tmp" in service["tmpfs"], name
        environ = {k: v for k, v in service["environment"].items() if v is not None}
        environ["ONTOLAB_DATA_DIR"] = str(tmp_path / "data")
        settings = load_settings(COMPOSE_DIR / "ontolab.yaml", environ=environ)
        assert settings.ontologies and settings.log_format == "json", name
        argv = [re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", a) for a in service["command"]]
        result = ontolab_help(argv)
        assert result.returncode == 0, f"{name}: {result.stderr}"


def mount_of(service: dict[str, Any], target: str) -> str:
    """The source mounted at ``target`` (or at a parent of it) in a compose service."""
    for mount in service.get("volumes", []):
        source, where = mount.split(":")[:2]
        if PurePosixPath(target).is_relative_to(where):
            return source
    raise AssertionError(f"nothing is mounted at {target}")


def test_prometheus_scrapes_services_of_this_stack() -> None:
    services = load(COMPOSE)["services"]
    assert mount_of(services["prometheus"], "/etc/prometheus/prometheus.yml") == "../prometheus"
    config = load(ROOT / "deploy" / "prometheus" / "prometheus.yml")
    targets = [
        target
        for job in config["scrape_configs"]
        for static in job.get("static_configs", [])
        for target in static["targets"]
    ]
    assert targets
    for target in targets:
        host, _port = target.rsplit(":", 1)
        assert host in services, f"{target} is no service of the compose stack"


def grafana_problems(compose: dict[str, Any]) -> list[str]:
    problems = []
    grafana = compose["services"]["grafana"]
    provisioning = COMPOSE_DIR / mount_of(grafana, "/etc/grafana/provisioning")
    sources = [
        source
        for path in sorted((provisioning / "datasources").glob("*.yaml"))
        for source in load(path)["datasources"]
    ]
    uids = {s["uid"] for s in sources}
    if len(uids) != len(sources):
        problems.append("datasource uids are not unique")
    for source in sources:
        host = re.match(r"https?://([^:/]+)", source["url"])
        if not host or host[1] not in compose["services"]:
            problems.append(f"datasource {source['name']} points at {source['url']}")
    for path in sorted((provisioning / "dashboards").glob("*.yaml")):
        for provider in load(path)["providers"]:
            folder = provider["options"]["path"]
            try:
                local = COMPOSE_DIR / mount_of(grafana, folder)
            except AssertionError:
                problems.append(f"dashboards path {folder} is not mounted")
                continue
            if not local.is_dir():
                problems.append(f"dashboards path {folder} mounts missing {local}")
                continue
            for board in sorted(local.glob("*.json")):
                text = board.read_text()
                json.loads(text)
                for kind in set(re.findall(r'"type": "(prometheus|loki)"', text)):
                    if kind not in {s["type"] for s in sources}:
                        problems.append(f"{board.name} needs a {kind} datasource")
                for uid in set(re.findall(r'"uid": "([^"$]+)"', text)) & {"prometheus", "loki"}:
                    if uid not in uids:
                        problems.append(f"{board.name} names datasource {uid}")
    return problems


def test_grafana_provisioning_is_complete() -> None:
    assert grafana_problems(load(COMPOSE)) == []


def test_broken_grafana_provisioning_is_caught() -> None:
    compose = load(COMPOSE)
    volumes = compose["services"]["grafana"]["volumes"]
    compose["services"]["grafana"]["volumes"] = [v for v in volumes if "dashboards" not in v]
    assert any("not mounted" in p for p in grafana_problems(compose))


def vector_problems(vector: dict[str, Any], compose: dict[str, Any]) -> list[str]:
    problems = []
    known = set(vector["sources"]) | set(vector.get("transforms", {}))
    for kind in ("transforms", "sinks"):
        for name, part in vector.get(kind, {}).items():
            problems += [
                f"{name} reads {i}, which is not defined" for i in part["inputs"] if i not in known
            ]
    service = compose["services"]["vector"]
    events = str(events_path(Path(compose["x-ontolab"]["environment"]["ONTOLAB_DATA_DIR"])))
    for name, source in vector["sources"].items():
        if source["type"] == "file":
            if not any(PurePosixPath(events).match(pattern) for pattern in source["include"]):
                problems.append(f"{name} does not read {events}")
            if mount_of(service, events.rsplit("/", 1)[0]) != "ontolab-data":
                problems.append(f"{name}: the ontolab-data volume is not mounted for Vector")
        if source["type"] == "docker_logs":
            for label in source["include_labels"]:
                key, value = label.split("=", 1)
                for svc in ONTOLAB_SERVICES:
                    if compose["services"][svc].get("labels", {}).get(key) != value:
                        problems.append(f"{svc} lacks the label {label} {name} selects")
    for name, sink in vector["sinks"].items():
        host = re.match(r"https?://([^:/]+)", sink["endpoint"])
        if not host or host[1] not in compose["services"]:
            problems.append(f"sink {name} sends to {sink['endpoint']}")
        fields = {re.sub(r"[{} ]", "", t) for t in sink.get("labels", {}).values()}
        for step in set(sink["inputs"]) & set(vector.get("transforms", {})):
            program = vector["transforms"][step]["source"]
            problems += [
                f"{step} does not set .{f}" for f in sorted(fields) if f".{f} =" not in program
            ]
    return problems


def test_vector_ships_the_event_log_and_stderr_to_loki() -> None:
    vector = load(COMPOSE_DIR / "vector.yaml")
    assert vector_problems(vector, load(COMPOSE)) == []
    assert {"ontology", "run_id"} <= set(vector["sinks"]["loki"]["labels"])


def test_broken_vector_wiring_is_caught() -> None:
    vector = load(COMPOSE_DIR / "vector.yaml")
    vector["sinks"]["loki"]["inputs"].append("ontolab_events_parsd")
    vector["sources"]["ontolab_events"]["include"] = ["/var/lib/ontolab/events.jsonl"]
    problems = vector_problems(vector, load(COMPOSE))
    assert any("ontolab_events_parsd" in p for p in problems)
    assert any("does not read" in p for p in problems)


def test_loki_listens_where_vector_and_grafana_send() -> None:
    loki = load(COMPOSE_DIR / "loki.yaml")
    port = loki["server"]["http_listen_port"]
    vector = load(COMPOSE_DIR / "vector.yaml")
    assert vector["sinks"]["loki"]["endpoint"] == f"http://loki:{port}"
    datasources = load(GRAFANA / "provisioning" / "datasources" / "ontolab.yaml")["datasources"]
    assert {"type": "loki", "url": f"http://loki:{port}"}.items() <= next(
        d for d in datasources if d["type"] == "loki"
    ).items()
    loki_service = load(COMPOSE)["services"]["loki"]
    assert mount_of(loki_service, loki["common"]["path_prefix"]) == "loki-data"
