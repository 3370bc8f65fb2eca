"""The error tree's contract: codes, markers, exit codes, context."""

from __future__ import annotations

import pytest

import ontolab
from ontolab.cli._output import EXIT_CODES, exit_code_for
from ontolab.errors import (
    CatalogError,
    CatalogLocked,
    ClientHTTPError,
    ConfigError,
    IntegrityError,
    LicenceRestricted,
    NetworkError,
    OntolabError,
    PolicyViolation,
    ServerError,
    StorageError,
    Terminal,
    Transient,
    is_transient,
)


@pytest.mark.parametrize(
    ("exc", "exit_code"),
    [
        (ConfigError("x"), 2),
        (CatalogLocked("x"), 3),
        (CatalogError("x"), 3),
        (StorageError("x", code="E_STORAGE_DISK_FULL"), 3),
        (NetworkError("x"), 1),
        (PolicyViolation("x"), 1),
        (IntegrityError("x"), 1),
    ],
)
def test_exit_code_table(exc: OntolabError, exit_code: int) -> None:
    assert exit_code_for(exc) == exit_code


def test_every_error_class_has_exactly_one_marker_or_none_and_a_code() -> None:
    classes = [getattr(ontolab, name) for name in ontolab.__all__]
    errors = [c for c in classes if isinstance(c, type) and issubclass(c, OntolabError)]
    assert len(errors) > 10
    for cls in errors:
        assert not (issubclass(cls, Transient) and issubclass(cls, Terminal)), cls
        assert cls.default_code.startswith("E_"), cls


def test_markers_drive_retry_decisions() -> None:
    assert is_transient(ServerError("x", status=503))
    assert is_transient(NetworkError("x"))
    assert is_transient(CatalogLocked("x"))
    assert not is_transient(ClientHTTPError("x", status=404))
    assert not is_transient(IntegrityError("x"))


def test_reasons_form_the_documented_taxonomy() -> None:
    assert ClientHTTPError("x", status=404).reason == "not_found"
    assert ServerError("x", status=429).reason == "throttled"
    assert LicenceRestricted("x").reason == "licence_restricted"
    assert IntegrityError("x").reason == "hash_mismatch"


def test_str_carries_code_and_context_and_with_context_fills_gaps() -> None:
    exc = NetworkError("timed out", code="E_NET_TIMEOUT", url="http://a")
    exc.with_context(ontology_id="hp", url="http://other")
    assert str(exc) == "[E_NET_TIMEOUT] timed out (ontology=hp, url=http://a)"
    assert exc.to_dict()["error_code"] == "E_NET_TIMEOUT"


def test_exit_table_ends_with_the_root() -> None:
    assert EXIT_CODES[-1][0] is OntolabError


def test_receipt_rows_map_to_exit_codes() -> None:
    from ontolab.cli._output import exit_code_for_rows

    assert exit_code_for_rows([]) == 0
    assert exit_code_for_rows(["network", "not_found"]) == 1
    assert exit_code_for_rows(["network", "storage"]) == 3
