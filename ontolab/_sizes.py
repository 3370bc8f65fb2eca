"""Byte counts for people (``9.9 MB``): one spelling for CLI tables and notebook panels."""

from __future__ import annotations

__all__ = ["human_size"]


def human_size(size: float | None, *, missing: str = "?") -> str:
    """``size`` bytes in decimal units, or ``missing`` when unknown.

    Examples
    --------
    >>> human_size(512), human_size(10_021_952), human_size(None, missing="")
    ('512 B', '10.0 MB', '')
    """
    if size is None:
        return missing
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable: GB returns")
