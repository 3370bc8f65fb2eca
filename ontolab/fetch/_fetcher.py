"""Plan items → artifacts in the store, several at once, one lock per ontology."""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ontolab.errors import OntolabError
from ontolab.fetch._download import Downloaded, Progress, download
from ontolab.fetch._locks import ontology_lock
from ontolab.fetch._store import ContentStore
from ontolab.models import Artifact, FetchResult, PlanItem
from ontolab.net import HttpSession

log = logging.getLogger("ontolab.fetch")
Lookup = Callable[[PlanItem], Artifact | None]
Record = Callable[[FetchResult], None]


class Fetcher:
    """Downloads plan items into a :class:`ContentStore`.

    Parameters
    ----------
    lookup
        Returns the last stored artifact for an item (its ETag/Last-Modified make the
        request conditional). Called *inside* the ontology lock, so a pull that waited for
        another one sees what that one stored.
    record
        Called inside the lock with each result, so recording is ordered with the files.
    """

    def __init__(
        self,
        session: HttpSession,
        data_dir: Path,
        *,
        lookup: Lookup | None = None,
        record: Record | None = None,
        progress: Progress | None = None,
        lock_timeout_s: float = 600.0,
    ) -> None:
        self.session = session
        self.store = ContentStore(data_dir)
        self.locks_dir = Path(data_dir) / "locks"
        self.lookup = lookup or (lambda item: None)
        self.record = record
        self.progress = progress
        self.lock_timeout_s = lock_timeout_s

    def fetch(
        self, items: Sequence[PlanItem], *, force: bool = False, jobs: int = 1
    ) -> list[FetchResult]:
        """Fetch every item; failures become ``failed`` results, never exceptions."""
        if jobs <= 1 or len(items) <= 1:
            return [self.fetch_one(item, force=force) for item in items]
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="ontolab-fetch") as pool:
            # Each task runs in a copy of the caller's context: logs keep the bound run id.
            context = contextvars.copy_context
            return list(
                pool.map(lambda item: context().run(self.fetch_one, item, force=force), items)
            )

    def fetch_one(self, item: PlanItem, *, force: bool = False) -> FetchResult:
        started = time.monotonic()
        try:
            with ontology_lock(self.locks_dir, item.ontology, timeout_s=self.lock_timeout_s):
                done = download(
                    self.session,
                    self.store,
                    item,
                    previous=self.lookup(item),
                    force=force,
                    progress=self.progress,
                )
                result = _result(item, done, time.monotonic() - started)
                if self.record is not None:
                    self.record(result)
                return result
        except OntolabError as exc:
            exc.with_context(ontology_id=item.ontology, url=item.url)
            log.warning("fetch of %s failed: %s", item.ontology, exc)
            result = FetchResult(
                item=item,
                outcome="failed",
                error_code=exc.code,
                reason=exc.reason,
                message=exc.message,
                elapsed_s=time.monotonic() - started,
            )
            if self.record is not None:
                try:
                    self.record(result)
                except OntolabError as record_exc:
                    log.error("could not record the failure of %s: %s", item.ontology, record_exc)
            return result


def _result(item: PlanItem, done: Downloaded, elapsed: float) -> FetchResult:
    return FetchResult(
        item=item,
        outcome="fetched" if done.changed else "unchanged",
        artifact=done.artifact,
        bytes_transferred=done.bytes_transferred,
        resumed_from=done.resumed_from,
        attempts=done.attempts,
        elapsed_s=elapsed,
    )
