"""Download progress in notebooks: one ``tqdm.auto`` bar per ontology.

``ontolab.pull()`` and ``lock_plan()`` use :class:`NotebookProgress` by themselves when they run
inside a Jupyter kernel and no ``progress`` was given; anywhere else they draw nothing (the CLI
draws its own bars with rich). tqdm is imported only when a bar is first drawn, so
``import ontolab.obs`` stays light.
"""

from __future__ import annotations

import sys
import threading
from typing import IO, Any

__all__ = ["NotebookProgress", "in_jupyter_kernel", "notebook_progress"]


def in_jupyter_kernel() -> bool:
    """True when running inside a Jupyter (IPython) kernel, such as a notebook.

    Cheap: looks only at modules already imported, never imports IPython itself.
    """
    if "ipykernel" not in sys.modules:
        return False
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if callable(get_ipython) else None
    # A terminal IPython has no kernel; a notebook's ZMQ shell has one.
    return shell is not None and getattr(shell, "kernel", None) is not None


def notebook_progress() -> NotebookProgress | None:
    """A :class:`NotebookProgress` inside a Jupyter kernel, else None (no bars)."""
    return NotebookProgress() if in_jupyter_kernel() else None


class NotebookProgress:
    """Implements the fetch stage's ``Progress``: one tqdm bar per ontology, in bytes.

    Downloads with ``jobs > 1`` run in threads, so bars are created and closed under a lock.
    A resumed or retried download gets a fresh bar that starts where the bytes on disk end.

    Parameters
    ----------
    file
        Where text bars go (tqdm's default: stderr); ignored by notebook widget bars.
    leave
        Keep each finished bar on screen.
    tqdm_kwargs
        Passed to every ``tqdm.auto.tqdm`` bar (``ncols``, ``mininterval``, ...).

    Attributes
    ----------
    received
        Bytes received so far per ontology (resumed bytes included).
    totals
        The declared size per ontology (None when the server sent none).
    """

    def __init__(self, *, file: IO[str] | None = None, leave: bool = True, **tqdm_kwargs: Any):
        self._file = file
        self._options: dict[str, Any] = {"leave": leave, **tqdm_kwargs}
        self._bars: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.received: dict[str, int] = {}
        self.totals: dict[str, int | None] = {}

    def start(self, ontology: str, total: int | None, done: int) -> None:
        """A download of ``ontology`` begins (``done`` bytes already on disk)."""
        from tqdm.auto import tqdm

        with self._lock:
            old = self._bars.pop(ontology, None)
            if old is not None:
                old.close()
            self.received[ontology] = done
            self.totals[ontology] = total
            self._bars[ontology] = tqdm(
                total=total,
                initial=done,
                desc=ontology,
                unit="B",
                unit_scale=True,
                file=self._file,
                dynamic_ncols=self._file is None,
                **self._options,
            )

    def advance(self, ontology: str, nbytes: int) -> None:
        """``nbytes`` more of ``ontology`` arrived."""
        with self._lock:
            bar = self._bars.get(ontology)
            self.received[ontology] = self.received.get(ontology, 0) + nbytes
        if bar is not None:
            bar.update(nbytes)  # tqdm serialises its own drawing

    def finish(self, ontology: str) -> None:
        """The download of ``ontology`` ended (done, or failed: a retry starts a new bar)."""
        with self._lock:
            bar = self._bars.pop(ontology, None)
        if bar is not None:
            bar.close()

    def __repr__(self) -> str:
        return f"NotebookProgress({len(self.received)} downloads, {len(self._bars)} running)"
