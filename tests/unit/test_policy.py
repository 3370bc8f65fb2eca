from __future__ import annotations

import ipaddress

import pytest

from ontolab.errors import PolicyViolation
from ontolab.policy import HostPolicy, classify_address


def policy(*hosts: str, answer: str = "93.184.215.14", private: bool = False) -> HostPolicy:
    return HostPolicy(hosts, allow_private_networks=private, resolver=lambda h, p: [answer])


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("10.0.0.1", "private"),
        ("192.168.1.5", "private"),
        ("169.254.169.254", "metadata"),
        ("169.254.1.1", "link-local"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("fd00:ec2::254", "metadata"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "private"),
        ("93.184.215.14", None),
    ],
)
def test_classify_address(address: str, kind: str | None) -> None:
    assert classify_address(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://169.254.169.254/latest/meta-data/", "E_POLICY_METADATA_ADDRESS"),
        ("http://10.0.0.1/x.owl", "E_POLICY_PRIVATE_ADDRESS"),
        ("http://127.0.0.1:8765/x.owl", "E_POLICY_PRIVATE_ADDRESS"),
        ("http://[::1]:8765/x.owl", "E_POLICY_PRIVATE_ADDRESS"),
        ("ftp://example.org/x.owl", "E_POLICY_SCHEME"),
        ("file:///etc/passwd", "E_POLICY_SCHEME"),
    ],
)
def test_refused_urls_have_their_own_codes(url: str, code: str) -> None:
    # even with every public host allowed ("*"), special addresses stay refused
    with pytest.raises(PolicyViolation) as info:
        policy("*").check_url(url)
    assert info.value.code == code


def test_hosts_outside_the_list_are_refused_before_any_lookup() -> None:
    looked_up: list[str] = []
    p = HostPolicy(["example.org"], resolver=lambda h, port: looked_up.append(h) or ["1.1.1.1"])
    with pytest.raises(PolicyViolation) as info:
        p.check_url("http://evil.example.com/x.owl")
    assert info.value.code == "E_POLICY_HOST_NOT_ALLOWED"
    assert looked_up == []


def test_loopback_allowed_only_when_listed_exactly_with_its_port() -> None:
    p = policy("127.0.0.1:8765")
    p.check_url("http://127.0.0.1:8765/hp.owl")
    with pytest.raises(PolicyViolation, match="loopback") as info:
        p.check_url("http://127.0.0.1:8766/hp.owl")
    assert info.value.code == "E_POLICY_PRIVATE_ADDRESS"


def test_wildcard_never_opens_private_addresses() -> None:
    # a public-looking name that resolves to a private address (DNS rebinding, split horizon)
    p = policy("*.example.org", answer="10.1.2.3")
    with pytest.raises(PolicyViolation) as info:
        p.check_url("https://files.example.org/x.owl")
    assert info.value.code == "E_POLICY_PRIVATE_ADDRESS"


def test_allow_private_networks_still_refuses_metadata() -> None:
    p = policy("*", answer="10.1.2.3", private=True)
    p.check_url("http://intranet.local/x.owl")
    with pytest.raises(PolicyViolation, match="metadata"):
        policy("*", private=True).check_url("http://169.254.169.254/")


def test_exact_listing_allows_a_named_internal_host() -> None:
    p = policy("mirror.internal:8080", answer="10.9.9.9")
    p.check_url("http://mirror.internal:8080/obo/hp.owl")


def test_port_defaults_follow_the_scheme() -> None:
    p = policy("example.org:443")
    p.check_url("https://example.org/x")
    with pytest.raises(PolicyViolation):
        p.check_url("http://example.org/x")
