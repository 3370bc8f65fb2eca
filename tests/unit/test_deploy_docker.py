"""deploy/docker/Dockerfile and .dockerignore: hadolint, and the image's promises checked by
reading the file (no container engine runs here): pinned base, wheel install, non-root user,
healthcheck, and a build context without the venv, git history or data dirs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from deploy_tools import ontolab_help, run, tool

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    result = []
    for line in logical:
        word, _, rest = line.partition(" ")
        result.append((word.upper(), rest.strip()))
    return result


def stages(text: str) -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for word, rest in instructions(text):
        if word == "FROM":
            found.append([])
        if found:
            found[-1].append((word, rest))
    return found


PINNED = re.compile(r"^[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}$")


def dockerfile_problems(text: str) -> list[str]:
    """What breaks the image's promises (docs/deployment.md), as readable complaints."""
    problems = []
    built = stages(text)
    names: set[str] = set()
    for stage in built:
        image, _, alias = stage[0][1].partition(" AS ")
        image = image.split()[-1]
        if image not in names:
            if not PINNED.match(image):
                problems.append(f"base {image} is not pinned by tag and digest")
            if image.split("@")[0].endswith(":latest"):
                problems.append(f"base {image} uses the latest tag")
        names.add(alias.strip())
    for word, rest in instructions(text):
        if word == "ADD" and re.search(r"\b(https?|ftp)://", rest):
            problems.append(f"ADD fetches a URL: {rest}")
    if len(built) < 2:
        return [*problems, "not multi-stage: the wheel must be built in a stage of its own"]
    first, final = built[0], built[-1]
    if not any(w == "RUN" and re.search(r"pip wheel|-m build", r) for w, r in first):
        problems.append("the build stage does not build a wheel")
    installs = [r for w, r in final if w == "RUN" and "pip install" in r]
    if not any(".whl" in r and "--no-index" in r for r in installs):
        problems.append("the runtime stage does not install the built wheel (--no-index)")
    if any(re.search(r"pip install[^&]*(\s-e\s|\s\.(\s|$))", r) for r in installs):
        problems.append("the runtime stage installs from the source tree")
    if any(w == "COPY" and "--from" not in r and "ontolab " in r + " " for w, r in final):
        problems.append("the runtime stage copies the source tree")
    users = [r for w, r in final if w == "USER"]
    if not users:
        problems.append("no USER: the container would run as root")
    elif users[-1].split(":")[0] in {"0", "root"}:
        problems.append("the last USER is root")
    health = [r for w, r in final if w == "HEALTHCHECK"]
    if not health or "/healthz" not in health[-1]:
        problems.append("no HEALTHCHECK on /healthz")
    if not any(w == "VOLUME" for w, _ in final):
        problems.append("no VOLUME for the data dir")
    return problems


def test_the_dockerfile_keeps_its_promises() -> None:
    assert dockerfile_problems(DOCKERFILE.read_text()) == []


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        ("bookworm@sha256:", "bookworm@sha256:abc", "not pinned"),
        ("python:3.11-slim-bookworm@sha256:", "python:latest@sha256:", "latest"),
        ("USER ${ONTOLAB_UID}:${ONTOLAB_UID}", "USER root", "root"),
        ("USER ${ONTOLAB_UID}:${ONTOLAB_UID}", "", "no USER"),
        ("HEALTHCHECK", "# HEALTHCHECK", "HEALTHCHECK"),
        ("COPY deploy/docker/ontolab.yaml", "ADD https://example.org/x.yaml", "URL"),
        ("--find-links=/wheels /wheels/ontolab-*.whl", ".", "built wheel"),
        ("python -m pip wheel --wheel-dir /wheels .", "true", "build a wheel"),
    ],
)
def test_a_broken_dockerfile_is_caught(old: str, new: str, complaint: str) -> None:
    text = DOCKERFILE.read_text()
    assert old in text
    problems = dockerfile_problems(text.replace(old, new))
    assert any(complaint in p for p in problems), problems


def test_hadolint_passes(tmp_path: Path) -> None:
    result = run([tool("hadolint"), "--no-color", str(DOCKERFILE)], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_rejects_a_broken_dockerfile(tmp_path: Path) -> None:
    broken = tmp_path / "Dockerfile"
    text = DOCKERFILE.read_text()
    text = re.sub(r"FROM \S+ AS runtime", "FROM python:latest AS runtime", text)
    broken.write_text(text.replace("--no-index", "--no-index --cache-dir /c") + "USER root\n")
    result = run([tool("hadolint"), "--no-color", str(broken)], cwd=tmp_path)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # latest
    assert "DL3002" in result.stdout  # last USER root


# --- .dockerignore ---------------------------------------------------------------------------


def ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = path.strip("/").split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw.lstrip("!").strip("/")
        regex = re.compile(
            "^"
            + re.escape(pattern)
            .replace(r"\*\*/", "(?:.*/)?")
            .replace(r"\*\*", ".*")
            .replace(r"\*", "[^/]*")
            .replace(r"\?", "[^/]")
            + "$"
        )
        if any(regex.match(c) for c in candidates):
            excluded = not negate
    return excluded


def dockerignore_patterns(text: str) -> list[str]:
    return [s for line in text.splitlines() if (s := line.strip()) and not s.startswith("#")]


KEPT_OUT = [
    ".venv/bin/python",
    ".git/HEAD",
    "test-artifacts/report.xml",
    "notebooks/workspaces/w1/ontolab.yaml",
    ".ontolab/catalog.duckdb",
    ".demo/catalog.duckdb",
    "ontolab/.ontolab/catalog.duckdb",
    "ontolab/__pycache__/cli.cpython-311.pyc",
    "tests/unit/test_deploy_docker.py",
    "ontolab.yaml",
    ".env",
]


@pytest.mark.parametrize("path", KEPT_OUT)
def test_dockerignore_keeps_out_of_the_build_context(path: str) -> None:
    assert ignored(path, dockerignore_patterns(DOCKERIGNORE.read_text()))


def copied_sources(text: str) -> list[str]:
    sources = []
    for word, rest in instructions(text):
        if word == "COPY" and "--from" not in rest:
            sources.extend(rest.split()[:-1])
    return sources


def test_everything_the_dockerfile_copies_is_in_the_context() -> None:
    patterns = dockerignore_patterns(DOCKERIGNORE.read_text())
    sources = copied_sources(DOCKERFILE.read_text())
    assert "ontolab" in sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not ignored(source, patterns), f"{source} is copied but .dockerignore drops it"
    assert not ignored("ontolab/cli/_serve.py", patterns)


def test_a_dockerignore_that_lets_the_venv_in_is_caught() -> None:
    patterns = dockerignore_patterns(DOCKERIGNORE.read_text())
    broken = [p for p in patterns if p != "*"]
    assert not ignored(".venv/bin/python", broken)
    assert ignored(".venv/bin/python", patterns)


def test_the_image_command_and_healthcheck_are_what_ontolab_accepts() -> None:
    """CMD's options parse, and the HEALTHCHECK's one-liner is valid Python that asks /healthz."""
    final = stages(DOCKERFILE.read_text())[-1]
    cmd = next(r for w, r in final if w == "CMD")
    args = json.loads(cmd)
    assert args[:3] == ["serve", "--host", "0.0.0.0"]
    result = ontolab_help(args)
    assert result.returncode == 0, result.stdout + result.stderr
    health = json.loads(next(r for w, r in final if w == "HEALTHCHECK").split(" CMD ", 1)[1])
    assert health[:2] == ["python", "-c"]
    compile(health[2], "HEALTHCHECK", "exec")
