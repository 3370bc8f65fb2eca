"""The terms table, written while streaming with bounded memory.

Readers hand over *partial* rows: everything seen about one subject in one contiguous run
of statements (RDF usually keeps a subject's triples together, OBO frames always do).
Batches of rows go to a Parquet "parts" file in a private work directory next to the
output; :mod:`~ontolab.validate._merge` then merges subjects that came in several runs.
The table is renamed into place at the end, so a half-written one is never visible, and
the work directory is always removed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from ontolab.errors import StorageError
from ontolab.validate._merge import Repeats, TermCounts, count_batch, merge_parts

# Rows per batch: with one batch being filled and one being written, memory stays flat.
BATCH_ROWS = 20_000
OBO_PURL = "http://purl.obolibrary.org/obo/"
# List fields travel as strings joined by SEP: strings are cheaper to build per triple than
# lists and are not tracked by the garbage collector. SEP (ASCII unit separator) cannot
# occur in XML 1.0 text and is vanishingly rare elsewhere.
SEP = "\x1f"
# (subject, label, definition, synonyms, parents, xrefs, deprecated, replaced_by, kind);
# synonyms, parents, xrefs and replaced_by are SEP-joined; kind is class, property,
# individual or None (not typed in this run of statements).
Row = tuple[
    str, str | None, str | None, str | None, str | None, str | None, bool, str | None, str | None
]
_BATCH_COLUMNS = (
    "subject",
    "label",
    "definition",
    "synonyms",
    "parents",
    "xrefs",
    "deprecated",
    "replaced_by",
    "kind",
)
_PURL_TO_CURIE = r"^https?://purl\.obolibrary\.org/obo/([A-Za-z][A-Za-z0-9]*)_([^/#]+)$"
_URL_SCHEME = r"^(https?|ftp|urn|file):"
# The repeat filter: bits per expected subject (about 2 % false alarms), and how many
# candidates are kept before giving up and letting DuckDB check every subject.
_BITS_PER_ROW = 32
_MAX_CANDIDATES = 1_000_000


def _schemas() -> tuple[Any, Any]:
    """The batch schema (what readers hand over) and the terms table schema."""
    import pyarrow as pa

    text, strings = pa.string(), pa.list_(pa.string())
    flat = pa.schema(
        [(name, pa.bool_() if name == "deprecated" else text) for name in _BATCH_COLUMNS]
    )
    table = pa.schema(
        [
            ("id", text),
            ("iri", text),
            ("label", text),
            ("definition", text),
            ("synonyms", strings),
            ("parents", strings),
            ("xrefs", strings),
            ("deprecated", pa.bool_()),
            ("replaced_by", strings),
            ("kind", text),
        ]
    )
    return flat, table


class TermsSink:
    """Collect partial rows, convert them in batches, merge them into the terms table.

    Batches are converted (ids, IRIs, lists) and written by Arrow on a worker thread,
    which releases the GIL, so that work overlaps with parsing on another core. At most
    one batch is in flight, which bounds memory. A one-hash bitmap notices subjects that
    come back after their run ended, so the merge knows which ids to look at.

    Parameters
    ----------
    output
        Where the final Parquet table goes; None keeps only the counts.
    subjects
        ``"iri"`` when subjects and parents are IRIs (RDF, OBO Graphs; OBO PURLs become
        CURIE ids), ``"curie"`` when they are OBO ids (OBO; ids become PURL IRIs).
    expected_rows
        A guess at the number of rows, to size the repeat filter.
    """

    def __init__(
        self,
        output: Path | None,
        *,
        subjects: Literal["iri", "curie"],
        expected_rows: int = 100_000,
        batch_rows: int = BATCH_ROWS,
    ) -> None:
        self.output = output
        self.subjects = subjects
        self.batch_rows = batch_rows
        self.rows: list[Row] = []
        self.untyped = 0
        self.written: Path | None = None  # the table, once renamed into place
        # A power of two, so that a mask picks the bit.
        size = 1 << max(23, (expected_rows * _BITS_PER_ROW).bit_length())
        self._bits_mask = size - 1
        self._bits = bytearray(size >> 3)
        self._candidates: set[str] | None = set()
        parent = output.parent if output is not None else None
        try:
            if parent is not None:
                parent.mkdir(parents=True, exist_ok=True)
            self.workdir = Path(tempfile.mkdtemp(prefix=".ontolab-terms-", dir=parent))
        except OSError as exc:
            raise _storage_error(exc, parent or Path(tempfile.gettempdir())) from exc
        self.parts = self.workdir / "parts.parquet"
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ontolab-terms")
        self._pending: Future[None] | None = None
        self._writer: Any = None
        self._counts = TermCounts()

    def __enter__(self) -> TermsSink:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def add(self, row: Row) -> None:
        """Queue one partial row; a full batch is handed to the worker.

        This runs once per subject of a possibly huge file, hence the inlined steps.
        """
        subject, _, _, synonyms, parents, xrefs, _, replaced, kind = row
        # Multi-valued fields become distinct and sorted, so tables compare across runs.
        if (
            (synonyms is not None and SEP in synonyms)
            or (parents is not None and SEP in parents)
            or (xrefs is not None and SEP in xrefs)
            or (replaced is not None and SEP in replaced)
        ):
            row = (*row[:3], _tidy(synonyms), _tidy(parents), _tidy(xrefs), row[6],
                   _tidy(replaced), kind)  # fmt: skip
        key = hash(subject) & self._bits_mask
        index, mask = key >> 3, 1 << (key & 7)
        bits = self._bits
        seen = bits[index]
        if seen & mask:
            self._repeated(subject)
        else:
            bits[index] = seen | mask
        if kind is None:
            self.untyped += 1
        rows = self.rows
        rows.append(row)
        if len(rows) >= self.batch_rows:
            self.flush()

    def flush(self) -> None:
        """Hand the queued rows to the worker (waiting for the previous batch first)."""
        if not self.rows:
            return
        import pyarrow as pa

        flat, _ = _schemas()
        columns = list(zip(*self.rows, strict=True))
        self.rows = []
        batch = pa.RecordBatch.from_arrays(
            [pa.array(col, type=f.type) for col, f in zip(columns, flat, strict=True)],
            schema=flat,
        )
        self._wait()
        self._pending = self._pool.submit(self._write, batch)

    def finish(self) -> TermCounts:
        """Merge the parts into the final table (when one was asked for) and count terms."""
        self.flush()
        self._wait()
        if self._writer is None:
            return TermCounts()
        self._writer.close()
        self._writer = None
        # RDF states a subject in several runs, which are one term; an OBO stanza is a
        # whole term, so a repeated OBO id is a duplicate: kept as two rows, for the
        # unique_ids gate to see, never folded into one.
        candidates: set[str] | frozenset[str] | None = (
            self._candidates if self.subjects == "iri" else frozenset()
        )
        repeats = Repeats(
            candidates=frozenset(candidates) if candidates is not None else None,
            untyped=self.untyped,
            subject_column="iri" if self.subjects == "iri" else "id",
        )
        try:
            table, recounted = merge_parts(self.parts, self.workdir, repeats)
            counts = recounted or self._counts
            if self.output is not None:
                os.replace(table, self.output)
                self.written = self.output
        except OSError as exc:
            raise _storage_error(exc, self.output or self.parts) from exc
        return counts

    def close(self) -> None:
        """Stop the worker and remove every temporary file; safe to call twice."""
        if self._pending is not None:
            self._pending.cancel()
            wait([self._pending])
            self._pending = None
        self._pool.shutdown(wait=True)
        if self._writer is not None:
            # The directory goes next; a half-written part does not matter.
            with contextlib.suppress(OSError):
                self._writer.close()
            self._writer = None
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _repeated(self, subject: str) -> None:
        if self._candidates is None:
            return
        self._candidates.add(subject)
        if len(self._candidates) > _MAX_CANDIDATES:
            self._candidates = None  # too many to keep: the merge checks every subject

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()  # re-raises the worker's error here, in the reader's thread

    def _write(self, batch: Any) -> None:
        """Worker: derive ids, IRIs and lists for one batch and append it to the parts."""
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        _, schema = _schemas()
        subject = batch.column("subject")
        if self.subjects == "iri":
            ident, iri = _to_curie(subject), subject
        else:
            ident = subject
            is_url = pc.match_substring_regex(subject, pattern=_URL_SCHEME)
            iri = pc.if_else(is_url, subject, _to_purl(subject))
        as_ids = self.subjects == "iri"
        columns = [
            ident,
            iri,
            batch.column("label"),
            batch.column("definition"),
            _split(batch.column("synonyms")),
            _split(batch.column("parents"), to_curie=as_ids),
            _split(batch.column("xrefs")),
            pc.fill_null(batch.column("deprecated"), False),
            _split(batch.column("replaced_by"), to_curie=as_ids),
            batch.column("kind"),
        ]
        table = pa.RecordBatch.from_arrays(columns, schema=schema)
        self._counts += count_batch(table)
        try:
            if self._writer is None:
                self._writer = pq.ParquetWriter(self.parts, schema, compression="zstd")
            self._writer.write_batch(table)
        except OSError as exc:
            raise _storage_error(exc, self.parts) from exc


def joined(items: list[str]) -> str | None:
    """``items`` joined by SEP, or None for none (the sink makes them distinct and sorted)."""
    return SEP.join(items) if items else None


def _tidy(items: str | None) -> str | None:
    """Distinct, sorted items of a SEP-joined list.

    Examples
    --------
    >>> _tidy(SEP.join(["b", "a", "b"])) == SEP.join(["a", "b"])
    True
    """
    if items is None or SEP not in items:
        return items
    return SEP.join(sorted(set(items.split(SEP))))


def _split(column: Any, *, to_curie: bool = False) -> Any:
    """SEP-joined strings → list<string>; null → []; OBO PURLs → CURIEs on request."""
    import pyarrow as pa
    import pyarrow.compute as pc

    lists = pc.split_pattern(column, pattern=SEP)
    values = _to_curie(lists.values) if to_curie else lists.values
    # Offsets of a null entry are equal, so rebuilding without its mask gives [].
    return pa.ListArray.from_arrays(lists.offsets, values)


def _to_curie(strings: Any) -> Any:
    import pyarrow.compute as pc

    return pc.replace_substring_regex(strings, pattern=_PURL_TO_CURIE, replacement=r"\1:\2")


def _to_purl(strings: Any) -> Any:
    import pyarrow.compute as pc

    return pc.replace_substring_regex(
        strings, pattern=r"^([A-Za-z][A-Za-z0-9_]*):(\S+)$", replacement=OBO_PURL + r"\1_\2"
    )


def _storage_error(exc: OSError, path: Path) -> StorageError:
    code = "E_STORAGE_DISK_FULL" if exc.errno == errno.ENOSPC else "E_STORAGE"
    return StorageError(
        f"cannot write the terms table: {exc.strerror or exc}; free space or choose another "
        "directory",
        code=code,
        path=str(path),
    )
