"""Pure guardrails: which URLs and addresses may be contacted, how many bytes, which archives."""

from __future__ import annotations

from ontolab.policy._archives import (
    RATIO_FLOOR_BYTES,
    ArchivePolicy,
    EntryKind,
    EntryMeter,
    ExpansionMeter,
    StreamMeter,
    casefold_key,
    check_member_name,
    printable,
)
from ontolab.policy._hosts import HostPolicy, classify_address

__all__ = [
    "RATIO_FLOOR_BYTES",
    "ArchivePolicy",
    "EntryKind",
    "EntryMeter",
    "ExpansionMeter",
    "HostPolicy",
    "StreamMeter",
    "casefold_key",
    "check_member_name",
    "classify_address",
    "printable",
]
