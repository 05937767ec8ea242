"""A streaming histogram whose range grows by merging bins, so memory stays fixed."""

from __future__ import annotations

import numpy as np

from ..quantization import QuantizationError


def finite_values(x) -> np.ndarray:
    """Flattened float64 view of ``x``; NaN/Inf and empty input are errors."""
    a = np.asarray(x, dtype=np.float64).ravel()
    if a.size == 0:
        raise QuantizationError("observer got an empty array")
    if not np.isfinite(a.min()) or not np.isfinite(a.max()):
        raise QuantizationError("observer got NaN or Inf")
    return a


class Histogram:
    """``bins`` equal bins over [lo, lo + bins * width). When data falls outside, the width doubles
    (anchored at the far end) and pairs of old bins merge exactly, so no data is stored and no count
    is smeared. One batch or the same data in ten batches differ only by that coarsening.
    """

    def __init__(self, bins: int = 2048, start: float | None = None):
        if bins < 8 or bins % 2:
            raise QuantizationError("a histogram needs an even number of bins, at least 8")
        self.bins = bins
        self.counts = np.zeros(bins, np.float64)
        self.lo = 0.0
        self.width = 0.0  # bin width; 0 until the first update
        self.min = np.inf
        self.max = -np.inf
        self.start = start  # fixed left edge (0.0 for histograms of |x|)

    @property
    def hi(self) -> float:
        return self.lo + self.bins * self.width

    @property
    def edges(self) -> np.ndarray:
        return self.lo + self.width * np.arange(self.bins + 1)

    @property
    def total(self) -> float:
        return float(self.counts.sum())

    def update(self, a: np.ndarray) -> None:
        lo, hi = float(a.min()), float(a.max())
        self.min, self.max = min(self.min, lo), max(self.max, hi)
        if self.width == 0.0:
            if self.start is not None:
                lo = min(lo, self.start)
            span = hi - lo
            self.lo = lo
            self.width = (span if span > 0 else max(abs(lo), 1e-12) * 1e-6) / self.bins * (1 + 1e-9)
        while lo < self.lo:  # grow left: new bin j holds old bins 2j - bins and 2j - bins + 1
            merged = self.counts.reshape(-1, 2).sum(axis=1)
            self.counts = np.concatenate([np.zeros(self.bins // 2), merged])
            self.lo -= self.bins * self.width
            self.width *= 2
        while hi >= self.hi:  # grow right: old bins 2j and 2j + 1 become new bin j
            merged = self.counts.reshape(-1, 2).sum(axis=1)
            self.counts = np.concatenate([merged, np.zeros(self.bins // 2)])
            self.width *= 2
        idx = ((a - self.lo) / self.width).astype(np.int64)
        np.clip(idx, 0, self.bins - 1, out=idx)
        self.counts += np.bincount(idx, minlength=self.bins)

    def quantile(self, p: float) -> float:
        """Value below which a fraction ``p`` of the counts lie (linear inside a bin), within [min, max]."""
        cdf = np.cumsum(self.counts)
        target = p * cdf[-1]
        i = int(np.searchsorted(cdf, target, side="left"))
        i = min(i, self.bins - 1)
        before = cdf[i - 1] if i > 0 else 0.0
        frac = (target - before) / self.counts[i] if self.counts[i] > 0 else 0.0
        return float(np.clip(self.lo + (i + frac) * self.width, self.min, self.max))
