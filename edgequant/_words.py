"""Words for numbers in messages people read: '1 op', '7 ops', never '1 ops'."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and ``noun``, plural unless ``n`` is 1: ``counted(1, "op") == "1 op"``, ``counted(0, "op") == "0 ops"``,
    ``counted(2, "batch", "batches") == "2 batches"``. Thousands are grouped (``12,345 samples``)."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
