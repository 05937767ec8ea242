"""Choose the clipping range that minimises the expected quantization MSE, over a histogram."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..quantization import QuantizationError
from . import observer
from .histogram import Histogram, finite_values


def expected_mse(centers: np.ndarray, counts: np.ndarray, lo: np.ndarray, hi: np.ndarray, levels: int) -> np.ndarray:
    """Expected squared error of quantizing the histogram with each candidate range [lo[k], hi[k]].

    Values inside a range are rounded to a grid of ``levels`` points: error ``step**2 / 12`` each
    (uniform within a step); values outside are clipped to the nearest end: error ``distance**2``.
    """
    lo = lo[:, None]
    hi = hi[:, None]
    step = (hi - lo) / (levels - 1)
    clipped = np.clip(centers[None, :], lo, hi)
    inside = (centers[None, :] >= lo) & (centers[None, :] <= hi)
    err = np.where(inside, step**2 / 12.0, (centers[None, :] - clipped) ** 2)
    return (err * counts[None, :]).sum(axis=1) / max(counts.sum(), 1.0)


@observer("mse")
@dataclass
class MSE:
    """Search ``candidates`` shrunken versions of the observed range (always containing 0) and keep
    the one with the least expected MSE for a ``bits``-bit grid. Heavy tails get clipped: paying a
    large error on a few outliers buys a finer step for everything else.
    """

    bits: int = 8
    symmetric: bool = False
    bins: int = 2048
    candidates: int = 200
    _hist: Histogram | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not 2 <= self.bits <= 16:
            raise QuantizationError("bits must be in 2..16")

    def update(self, x: np.ndarray) -> None:
        a = finite_values(x)
        if self._hist is None:
            self._hist = Histogram(self.bins, start=0.0 if self.symmetric else None)
        self._hist.update(np.abs(a) if self.symmetric else a)

    def range(self) -> tuple[float, float]:
        h = self._hist
        if h is None:
            raise QuantizationError("observer has seen no data")
        centers = h.lo + (np.arange(h.bins) + 0.5) * h.width
        t = np.linspace(1.0 / self.candidates, 1.0, self.candidates)
        if self.symmetric:
            m = h.max * t
            # values are |x|: a symmetric grid over [-m, m] with 2**bits - 1 levels (narrow range)
            err = expected_mse(centers, h.counts, -m, m, (1 << self.bits) - 1)
            best = float(m[int(np.argmin(err))])
            return -best, best
        lo, hi = min(h.min, 0.0) * t, max(h.max, 0.0) * t
        err = expected_mse(centers, h.counts, lo, hi, 1 << self.bits)
        k = int(np.argmin(err))
        return float(lo[k]), float(hi[k])
