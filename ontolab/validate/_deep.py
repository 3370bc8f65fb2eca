"""The child side of a deep validator: ``python -m ontolab.validate._deep NAME PATH [SHAPES]``.

Caps the address space first, runs the named validator's ``check`` and prints one JSON
line; a MemoryError exits with :data:`~ontolab.validate._validators.EXIT_MEMORY`. This
module is never imported by the package, so running it with ``-m`` imports it only once.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import resource
import sys
from pathlib import Path

from ontolab.formats import detect_format
from ontolab.validate._registry import get_validator
from ontolab.validate._validators import EXIT_MEMORY, IsolatedValidator


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ontolab.validate._deep")
    parser.add_argument("name")
    parser.add_argument("path", type=Path)
    parser.add_argument("shapes", type=Path, nargs="?")
    parser.add_argument("--format", dest="fmt")
    parser.add_argument("--memory-bytes", type=int, default=0)
    args = parser.parse_args(argv)
    if args.memory_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (args.memory_bytes, args.memory_bytes))
    real_stdout = sys.stdout
    try:
        # A chatty library must not corrupt the one JSON line the parent reads.
        with contextlib.redirect_stdout(sys.stderr):
            validator = get_validator(args.name)
            if not isinstance(validator, IsolatedValidator):
                raise TypeError(f"{args.name} is not an IsolatedValidator")
            fmt = args.fmt or detect_format(args.path)
            report = validator.check(args.path, fmt, args.shapes)
    except Exception as exc:  # any failure of the parser is the verdict itself
        if _out_of_memory(exc):
            return EXIT_MEMORY
        report = {"passed": False, "reason": "invalid", "text": f"{type(exc).__name__}: {exc}"}
    real_stdout.write(json.dumps(report, default=str) + "\n")
    real_stdout.flush()
    return 0


def _out_of_memory(exc: BaseException | None) -> bool:
    """MemoryError (anywhere in the chain), or an extension that failed under the cap.

    C extensions (pyexpat, for one) may return NULL from a failed allocation without setting
    an exception, which Python reports as this SystemError.
    """
    if exc is None:
        return False
    if isinstance(exc, MemoryError):
        return True
    text = str(exc)
    if isinstance(exc, SystemError) and "without exception set" in text:
        return True
    if _out_of_memory(exc.__cause__ or exc.__context__):
        return True
    return isinstance(exc, (ImportError, OSError)) and (
        getattr(exc, "errno", None) == errno.ENOMEM
        or "failed to map segment" in text
        or "cannot allocate memory" in text.lower()
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
