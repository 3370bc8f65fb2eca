"""Shared logic of deploy/scripts/switch, rollback and canary (Python 3.11 stdlib, kubectl only).

The objects are those of deploy/k8s/bluegreen and deploy/k8s/canary: Deployments
``<prefix>-blue``, ``<prefix>-green`` and ``<prefix>-canary``, and the Service ``<prefix>``
whose selector's ``ontolab/colour`` names the live colour. Every cluster call goes through
``$KUBECTL`` (default ``kubectl``; it may carry arguments, e.g. ``kubectl --context prod``).

Exit codes: 0 done, 1 refused or reverted (not ready, error rate too high, nothing to roll
back to), 2 usage, 3 kubectl or Prometheus could not be asked.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

NAME = "app.kubernetes.io/name"
COLOUR = "ontolab/colour"
TRACK = "ontolab/track"
PREVIOUS = "ontolab/previous-colour"
SWITCHED_AT = "ontolab/switched-at"
COLOURS = ("blue", "green")
CONTAINER = "api"
PORT = 8765
# Run inside the pod: the image has Python, and urlopen raises on a 503 from /readyz.
READYZ = (
    "import urllib.request; "
    f"urllib.request.urlopen('http://127.0.0.1:{PORT}/readyz', timeout=5).read()"
)

ENVIRONMENT = f"""environment:
  KUBECTL           the kubectl command (default: kubectl)
  ONTOLAB_NAMESPACE namespace when -n is not given (default: kubectl's current one)
  PROMETHEUS_URL    Prometheus base URL; when set, the API's 5xx ratio is checked before
                    and after (it needs the scrape config to label series with colour and
                    track from the pods' {COLOUR} and {TRACK} labels)
  MAX_ERROR_RATE    highest acceptable 5xx ratio (default 0.01)
  SETTLE_S          seconds of traffic to wait before the after-check (default 60)
  ERROR_WINDOW      PromQL range of the error ratio (default 5m)
exit codes: 0 done, 1 refused or reverted, 2 usage, 3 kubectl or Prometheus failed"""


class Failed(Exception):
    """kubectl or Prometheus could not be asked (exit 3)."""


class Refused(Exception):
    """The change was refused or reverted (exit 1)."""


@dataclass
class Options:
    namespace: str | None
    prefix: str
    timeout_s: int
    prometheus: str | None
    max_error_rate: float
    settle_s: float
    window: str

    def deployment(self, which: str) -> str:
        return f"{self.prefix}-{which}"


class Kube:
    """``$KUBECTL [-n NS] ...`` with JSON answers."""

    def __init__(self, namespace: str | None) -> None:
        self.base = shlex.split(os.environ.get("KUBECTL") or "kubectl")
        if namespace:
            self.base += ["-n", namespace]

    def run(self, *args: str, check: bool = True, timeout_s: float = 600) -> tuple[int, str]:
        """Run kubectl; return (exit code, stdout + stderr). ``check``: raise on non-zero."""
        try:
            done = subprocess.run(
                [*self.base, *args],
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise Failed(f"{shlex.join(self.base)} {shlex.join(args)}: {exc}") from exc
        output = (done.stdout + done.stderr).strip()
        if check and done.returncode != 0:
            raise Failed(f"{shlex.join([*self.base, *args])} failed: {output}")
        return done.returncode, output

    def get(self, *args: str) -> dict[str, Any]:
        _, output = self.run("get", *args, "-o", "json")
        try:
            answer: dict[str, Any] = json.loads(output)
        except json.JSONDecodeError as exc:
            raise Failed(f"kubectl get {' '.join(args)}: not JSON: {output[:200]}") from exc
        return answer

    def patch(self, kind: str, name: str, patch: dict[str, Any]) -> None:
        self.run("patch", kind, name, "--type", "merge", "-p", json.dumps(patch))


def selector(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def not_ready(kube: Kube, opts: Options, name: str) -> list[str]:
    """Why Deployment ``name`` cannot take traffic; empty when it can."""
    code, output = kube.run(
        "rollout", "status", f"deployment/{name}", f"--timeout={opts.timeout_s}s", check=False
    )
    problems = [] if code == 0 else [f"rollout status: {output.splitlines()[-1:] or output}"]
    dep = kube.get("deployment", name)
    spec, status = dep.get("spec", {}), dep.get("status", {})
    wanted = int(spec.get("replicas", 1))
    ready = int(status.get("readyReplicas", 0))
    updated = int(status.get("updatedReplicas", 0))
    if wanted == 0:
        problems.append(
            f"deployment/{name} is scaled to 0; scale it up first "
            f"(kubectl scale deployment/{name} --replicas=N)"
        )
    elif ready < wanted or updated < wanted:
        problems.append(f"deployment/{name}: {ready} of {wanted} replicas ready, {updated} updated")
    if int(status.get("observedGeneration", 0)) < int(dep.get("metadata", {}).get("generation", 0)):
        problems.append(f"deployment/{name}: the controller has not seen its latest spec yet")
    labels = spec.get("selector", {}).get("matchLabels", {})
    pods = [
        p
        for p in kube.get("pods", "-l", selector(labels)).get("items", [])
        if not p.get("metadata", {}).get("deletionTimestamp")
    ]
    for pod in pods:
        pod_name = pod["metadata"]["name"]
        code, output = kube.run(
            "exec", pod_name, "-c", CONTAINER, "--", "python", "-c", READYZ, check=False
        )
        if code != 0:
            last = output.splitlines()[-1] if output else f"exit {code}"
            problems.append(f"pod/{pod_name} does not answer /readyz with 200: {last}")
    if wanted and len(pods) < wanted:
        problems.append(f"deployment/{name}: {len(pods)} pods found for {wanted} replicas")
    return problems


def error_rate(opts: Options, labels: str) -> float:
    """The API's 5xx ratio over ``opts.window`` for series matching ``labels``; 0 if idle."""
    assert opts.prometheus
    total = f"sum(rate(ontolab_api_requests_total{{{labels}}}[{opts.window}]))"
    errors = f'sum(rate(ontolab_api_requests_total{{status=~"5..",{labels}}}[{opts.window}]))'
    query = f"({errors} / {total}) or vector(0)"
    url = f"{opts.prometheus.rstrip('/')}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 -- operator's URL
            body = json.load(answer)
        value = float(body["data"]["result"][0]["value"][1]) if body["data"]["result"] else 0.0
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise Failed(f"cannot query Prometheus at {opts.prometheus}: {exc}") from exc
    return 0.0 if math.isnan(value) else value


def check_errors(opts: Options, labels: str, what: str) -> None:
    """Wait ``settle_s`` of traffic, then refuse when ``what`` answers too many 5xx."""
    if not opts.prometheus:
        return
    if opts.settle_s > 0:
        say(f"waiting {opts.settle_s:g}s of traffic before checking {what}'s error rate")
        time.sleep(opts.settle_s)
    rate = error_rate(opts, labels)
    say(f"{what}: 5xx ratio {rate:.4f} (limit {opts.max_error_rate:g})")
    if rate > opts.max_error_rate:
        raise Refused(f"{what} answers {rate:.2%} of requests with 5xx")


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def live_colour(service: dict[str, Any]) -> str | None:
    colour = service.get("spec", {}).get("selector", {}).get(COLOUR)
    return colour if isinstance(colour, str) else None


def endpoints(kube: Kube, service: str) -> list[str]:
    """Names of the pods behind ``service`` that are ready, from its EndpointSlices."""
    slices = kube.get("endpointslices", "-l", f"kubernetes.io/service-name={service}")
    names = []
    for piece in slices.get("items", []):
        for endpoint in piece.get("endpoints") or []:
            ready = (endpoint.get("conditions") or {}).get("ready", True)
            ref = endpoint.get("targetRef") or {}
            if ready and ref.get("kind") == "Pod":
                names.append(str(ref["name"]))
    return names


def switch(kube: Kube, opts: Options, colour: str) -> None:
    """Point the Service at ``colour`` after checking it; revert when the after-check fails."""
    service = kube.get("service", opts.prefix)
    current = live_colour(service)
    if colour == current:
        say(f"service/{opts.prefix} already sends traffic to {colour}; nothing to do")
        return
    target = opts.deployment(colour)
    say(f"checking deployment/{target} before switching service/{opts.prefix} to {colour}")
    problems = not_ready(kube, opts, target)
    if problems:
        raise Refused(
            f"refusing to switch service/{opts.prefix} to {colour}: it is not ready\n  "
            + "\n  ".join(problems)
            + f"\ntraffic stays on {current}"
        )
    if current:
        check_errors(replace(opts, settle_s=0), f'colour="{current}"', f"{current} (before)")
    annotations = service.get("metadata", {}).get("annotations") or {}
    old_previous = annotations.get(PREVIOUS)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    kube.patch(
        "service",
        opts.prefix,
        {
            "metadata": {"annotations": {PREVIOUS: current, SWITCHED_AT: stamp}},
            "spec": {"selector": {COLOUR: colour}},
        },
    )
    try:
        verify(kube, opts, colour)
        check_errors(opts, f'colour="{colour}"', colour)
    except Refused as exc:
        if current:
            kube.patch(
                "service",
                opts.prefix,
                {
                    "metadata": {"annotations": {PREVIOUS: old_previous, SWITCHED_AT: stamp}},
                    "spec": {"selector": {COLOUR: current}},
                },
            )
            raise Refused(f"{exc}; switched service/{opts.prefix} back to {current}") from exc
        raise
    say(
        f"service/{opts.prefix} now sends traffic to {colour} (was {current}); "
        f"undo with deploy/scripts/rollback. Scale {opts.deployment(str(current))} down "
        "once satisfied."
    )


def verify(kube: Kube, opts: Options, colour: str) -> None:
    """The Service selects ``colour`` and only its pods are behind it (waits up to timeout)."""
    deadline = time.monotonic() + opts.timeout_s
    pods = {
        p["metadata"]["name"]
        for p in kube.get("pods", "-l", f"{NAME}={opts.prefix},{COLOUR}={colour}").get("items", [])
    }
    while True:
        selected = live_colour(kube.get("service", opts.prefix))
        behind = endpoints(kube, opts.prefix)
        if selected == colour and behind and set(behind) <= pods:
            say(f"service/{opts.prefix} endpoints: {', '.join(sorted(behind))}")
            return
        if time.monotonic() > deadline:
            raise Refused(
                f"after the switch service/{opts.prefix} selects {selected} with endpoints "
                f"{sorted(behind)}, not only {colour}'s pods {sorted(pods)}"
            )
        time.sleep(2)


def rollback(kube: Kube, opts: Options) -> None:
    """Switch back to the colour recorded by the last switch."""
    service = kube.get("service", opts.prefix)
    previous = (service.get("metadata", {}).get("annotations") or {}).get(PREVIOUS)
    if previous not in COLOURS:
        raise Refused(
            f"service/{opts.prefix} records no previous colour ({PREVIOUS}); "
            "nothing to roll back to"
        )
    say(f"rolling service/{opts.prefix} back from {live_colour(service)} to {previous}")
    switch(kube, opts, str(previous))


def canary_replicas(percent: float, stable: int) -> int:
    """Canary pods giving about ``percent`` % of requests beside ``stable`` pods (at least 1).

    >>> canary_replicas(10, 9), canary_replicas(25, 3), canary_replicas(5, 2)
    (1, 1, 1)
    >>> canary_replicas(50, 4)
    4
    """
    return max(1, round(percent * stable / (100 - percent)))


def canary(kube: Kube, opts: Options, action: str) -> None:
    """``PERCENT``, ``promote`` or ``abort`` (see deploy/scripts/canary --help)."""
    name = opts.deployment("canary")
    if action == "abort":
        kube.run("scale", f"deployment/{name}", "--replicas=0")
        say(f"deployment/{name} scaled to 0: all traffic goes to the live colour")
        return
    service = kube.get("service", opts.prefix)
    live = live_colour(service) or ""
    if live not in COLOURS:
        raise Refused(f"service/{opts.prefix} selects no colour ({COLOUR}); apply bluegreen/")
    stable = int(kube.get("deployment", opts.deployment(live)).get("spec", {}).get("replicas", 1))
    if action == "promote":
        promote(kube, opts, live, stable)
        return
    percent = float(action)
    if not 0 < percent < 100:
        raise ValueError("the canary's share must be between 0 and 100 (exclusive)")
    if stable == 0:
        raise Refused(f"deployment/{opts.deployment(live)} (live) has 0 replicas")
    wanted = canary_replicas(percent, stable)
    kube.patch(
        "deployment",
        name,
        {"spec": {"replicas": wanted, "template": {"metadata": {"labels": {COLOUR: live}}}}},
    )
    problems = not_ready(kube, opts, name)
    if problems:
        raise Refused(
            "the canary is not ready (it gets no traffic until it is):\n  "
            + "\n  ".join(problems)
            + "\ninspect it with kubectl describe, or run deploy/scripts/canary abort"
        )
    behind = canary_behind_service(kube, opts)
    try:
        check_errors(opts, 'track="canary"', "the canary")
    except Refused as exc:
        kube.run("scale", f"deployment/{name}", "--replicas=0")
        raise Refused(f"{exc}; deployment/{name} scaled to 0") from exc
    share = wanted / (wanted + stable)
    say(
        f"canary: {wanted} pod(s) of {image(kube.get('deployment', name))} beside {stable} "
        f"of {live}: about {share:.0%} of requests (asked {percent:g}%); "
        f"service/{opts.prefix} endpoints: {', '.join(behind)}"
    )


def canary_behind_service(kube: Kube, opts: Options) -> list[str]:
    """Wait until every canary pod is among the Service's ready endpoints; return them all."""
    labels = f"{NAME}={opts.prefix},{TRACK}=canary"
    pods = {p["metadata"]["name"] for p in kube.get("pods", "-l", labels).get("items", [])}
    deadline = time.monotonic() + opts.timeout_s
    while True:
        behind = endpoints(kube, opts.prefix)
        if pods <= set(behind):
            return sorted(behind)
        if time.monotonic() > deadline:
            raise Refused(
                f"canary pods {sorted(pods - set(behind))} are not behind service/{opts.prefix} "
                f"(its selector and the canary's {COLOUR} label must agree)"
            )
        time.sleep(2)


def image(deployment: dict[str, Any]) -> str:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    return str(next(c for c in containers if c["name"] == CONTAINER)["image"])


def promote(kube: Kube, opts: Options, live: str, stable: int) -> None:
    """Give the idle colour the canary's image and the live replicas, switch, end the canary."""
    name = opts.deployment("canary")
    dep = kube.get("deployment", name)
    if int(dep.get("spec", {}).get("replicas", 0)) == 0:
        raise Refused(f"deployment/{name} runs no pods: nothing to promote")
    problems = not_ready(kube, opts, name)
    if problems:
        raise Refused("refusing to promote an unready canary:\n  " + "\n  ".join(problems))
    check_errors(replace(opts, settle_s=0), 'track="canary"', "the canary")
    idle = next(c for c in COLOURS if c != live)
    target = opts.deployment(idle)
    new_image = image(dep)
    say(f"promoting {new_image}: deployment/{target} gets it with {stable} replicas")
    kube.run("set", "image", f"deployment/{target}", f"{CONTAINER}={new_image}")
    kube.run("scale", f"deployment/{target}", f"--replicas={max(stable, 1)}")
    switch(kube, opts, idle)
    kube.run("scale", f"deployment/{name}", "--replicas=0")
    say(f"canary ended; {opts.deployment(live)} keeps running for deploy/scripts/rollback")


def parser(prog: str, doc: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description=doc,
        epilog=ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-n", "--namespace", default=os.environ.get("ONTOLAB_NAMESPACE"))
    p.add_argument(
        "--prefix",
        default="ontolab-api",
        help="Service name and Deployment prefix (default: ontolab-api)",
    )
    p.add_argument(
        "--timeout",
        type=int,
        default=300,
        help="seconds to wait for a rollout and for the endpoints (default: 300)",
    )
    return p


def options(args: argparse.Namespace) -> Options:
    return Options(
        namespace=args.namespace,
        prefix=args.prefix,
        timeout_s=args.timeout,
        prometheus=os.environ.get("PROMETHEUS_URL") or None,
        max_error_rate=float(os.environ.get("MAX_ERROR_RATE", "0.01")),
        settle_s=float(os.environ.get("SETTLE_S", "60")),
        window=os.environ.get("ERROR_WINDOW", "5m"),
    )


def main(command: str, argv: Sequence[str], doc: str) -> int:
    """Entry point of the three scripts: parse ``argv``, run ``command``, map errors to codes."""
    p = parser(command, doc)
    if command == "switch":
        p.add_argument("colour", choices=COLOURS)
    elif command == "canary":
        p.add_argument("action", help="PERCENT (0-100, exclusive), promote or abort")
    args = p.parse_args(argv)
    try:
        opts = options(args)
        kube = Kube(opts.namespace)
        if command == "switch":
            switch(kube, opts, args.colour)
        elif command == "rollback":
            rollback(kube, opts)
        else:
            if args.action not in ("promote", "abort"):
                try:
                    float(args.action)
                except ValueError:
                    p.error(f"expected PERCENT, promote or abort, not {args.action!r}")
            canary(kube, opts, args.action)
    except ValueError as exc:
        p.error(str(exc))
    except Refused as exc:
        say(f"{command}: {exc}")
        return 1
    except Failed as exc:
        say(f"{command}: {exc}")
        return 3
    return 0
