"""Pure guardrails: which URLs and addresses may be contacted, and how many bytes."""

from __future__ import annotations

from ontolab.policy._hosts import HostPolicy, classify_address

__all__ = [
    "HostPolicy",
    "classify_address",
]
