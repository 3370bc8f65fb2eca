"""Artifacts → ontology files: decompress and unpack behind the archive policy.

``extract(source, dest, policy=..., staging=...)`` recognises gzip, bz2, xz, zstd, zip and
tar (plain or compressed) by magic bytes, streams every entry through the checks of
:class:`ontolab.policy.ArchivePolicy`, unpacks nested archives, and renames the finished
directory into place, or removes everything and raises. A plain file passes through as is.
"""

from __future__ import annotations

from ontolab.extract._extract import extract
from ontolab.extract._formats import detect_container
from ontolab.extract._receipt import ExtractedFile, ExtractReceipt

__all__ = [
    "ExtractReceipt",
    "ExtractedFile",
    "detect_container",
    "extract",
]
