"""Shared fixtures: settings in a temp dir, and a unit-test HTTP session over MockTransport."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ontolab.net import HttpSession
from ontolab.policy import HostPolicy
from ontolab.settings import HttpSettings, OntolabSettings, load_settings

PUBLIC_IP = "93.184.215.14"  # what the fake resolver answers for every name


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., OntolabSettings]:
    """Settings rooted in tmp_path, ignoring the developer's environment."""

    def make(**overrides: Any) -> OntolabSettings:
        overrides.setdefault("data_dir", str(tmp_path / "data"))
        return load_settings(environ={}, **overrides)

    return make


@pytest.fixture
def mock_session() -> Iterator[Callable[..., HttpSession]]:
    """An HttpSession over httpx.MockTransport; names resolve to a public address, no sleeps."""
    sessions: list[HttpSession] = []

    def make(handler: Callable[[httpx.Request], httpx.Response], **http: Any) -> HttpSession:
        http.setdefault("allowed_hosts", ["example.org", "*.example.org"])
        http.setdefault("backoff_base_s", 0.0)
        settings = HttpSettings(**http)
        policy = HostPolicy(
            settings.allowed_hosts,
            allow_private_networks=settings.allow_private_networks,
            resolver=lambda host, port: [PUBLIC_IP],
        )
        session = HttpSession(
            settings,
            policy=policy,
            transport=httpx.MockTransport(handler),
            sleep=lambda seconds: None,
        )
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.close()
