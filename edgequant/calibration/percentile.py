"""Clip at a percentile of the observed distribution, from a streaming histogram."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..quantization import QuantizationError
from . import observer
from .histogram import Histogram, finite_values


@observer("percentile")
@dataclass
class Percentile:
    """Range ``(P[100 - q], P[q])`` of the values (or ``(-P[q] of |x|, +P[q] of |x|)`` if symmetric).

    ``q=99.99`` drops the most extreme 0.01% at each end. Percentiles come from a ``bins``-bin
    histogram with linear interpolation inside a bin, so they are exact to a fraction of a bin.
    """

    q: float = 99.99
    symmetric: bool = False
    bins: int = 2048
    _hist: Histogram | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not 50.0 < self.q <= 100.0:
            raise QuantizationError("percentile q must be in (50, 100]")

    def update(self, x: np.ndarray) -> None:
        a = finite_values(x)
        if self._hist is None:
            self._hist = Histogram(self.bins)
        self._hist.update(np.abs(a) if self.symmetric else a)

    def range(self) -> tuple[float, float]:
        h = self._hist
        if h is None:
            raise QuantizationError("observer has seen no data")
        if self.symmetric:
            t = h.quantile(self.q / 100.0)
            return -t, t
        return h.quantile(1.0 - self.q / 100.0), h.quantile(self.q / 100.0)
