"""Timing observers: how the catalog reports durations without importing prometheus_client.

Code below the faces (the catalog's ``transaction()``) calls :func:`transaction_timed`; the
metrics module subscribes with :func:`on_transaction` the first time metrics are used. With no
subscriber the call is a loop over an empty tuple, so ``import ontolab.catalog`` stays cheap.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger("ontolab.obs")

# (backend kind, seconds) -> None
TransactionObserver = Callable[[str, float], None]
_observers: list[TransactionObserver] = []


def on_transaction(observer: TransactionObserver) -> None:
    """Call ``observer(backend, seconds)`` after every catalog transaction (once per observer)."""
    if observer not in _observers:
        _observers.append(observer)


def transaction_timed(backend: str, seconds: float) -> None:
    """Report one finished catalog transaction; an observer's failure is logged, never raised."""
    for observer in tuple(_observers):  # a copy: another thread may subscribe meanwhile
        try:
            observer(backend, seconds)
        except Exception:  # a metric must never fail a catalog write
            log.warning("transaction observer %r failed", observer, exc_info=True)
