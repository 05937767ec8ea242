"""Calibration observers: watch float tensors stream by, then propose a clipping range.

One algorithm per file, registered by name with :func:`observer`; recipes, the CLI and the tests
read :data:`OBSERVERS`. The protocol is tiny::

    obs = make_observer("percentile", q=99.99)
    for batch in batches:
        obs.update(batch)          # streaming, bounded memory (histograms re-bin, never store data)
    lo, hi = obs.range()           # floats (or per-channel arrays for min/max observers with an axis)

and ``edgequant.quantization.choose_qparams(None, range=obs.range())`` turns that into parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..quantization import QuantizationError

OBSERVERS: dict[str, type] = {}


def observer(name: str) -> Callable[[type], type]:
    """Class decorator: register an observer under ``name``."""

    def register(cls: type) -> type:
        if name in OBSERVERS:
            raise ValueError(f"observer {name!r} registered twice")
        cls.name = name  # type: ignore[attr-defined]
        OBSERVERS[name] = cls
        return cls

    return register


def make_observer(name: str, **kwargs: Any):
    """A fresh observer by registry name, e.g. ``make_observer("moving_average", momentum=0.9)``."""
    try:
        cls = OBSERVERS[name]
    except KeyError:
        raise QuantizationError(f"unknown observer {name!r}; choose from {', '.join(sorted(OBSERVERS))}") from None
    return cls(**kwargs)


# Importing the modules registers them.
from . import entropy, minmax, moving_average, mse, percentile  # noqa: F401

__all__ = ["OBSERVERS", "make_observer", "observer"]
