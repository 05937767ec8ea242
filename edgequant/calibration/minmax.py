"""Running minimum and maximum: the range TFLite's converter uses by default."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..quantization import QuantizationError
from . import observer
from .histogram import finite_values


def batch_min_max(x, axis: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of one batch, overall or per channel along ``axis``."""
    if axis is None and isinstance(x, np.ndarray) and x.dtype == np.float32 and x.size:
        # float32 extremes are exact in float64: no float64 copy of every activation (NaN and Inf show in them)
        lo, hi = np.float64(x.min()), np.float64(x.max())
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise QuantizationError("observer got NaN or Inf")
        return lo, hi
    a = np.asarray(x, dtype=np.float64)
    if axis is None:
        v = finite_values(a)
        return np.float64(v.min()), np.float64(v.max())
    if not -a.ndim <= axis < a.ndim:
        raise QuantizationError(f"axis {axis} out of range for a {a.ndim}-d array")
    rows = np.moveaxis(a, axis, 0).reshape(a.shape[axis], -1)
    if rows.size == 0:
        raise QuantizationError("observer got an empty array")
    lo, hi = rows.min(axis=1), rows.max(axis=1)
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise QuantizationError("observer got NaN or Inf")
    return lo, hi


def symmetric_range(lo, hi):
    m = np.maximum(np.abs(lo), np.abs(hi))
    return -m, m


def as_range(lo, hi):
    if np.ndim(lo) == 0:
        return float(lo), float(hi)
    return np.asarray(lo, np.float64), np.asarray(hi, np.float64)


@observer("minmax")
@dataclass
class MinMax:
    """The true extremes of everything seen; per channel along ``axis`` if given."""

    axis: int | None = None
    symmetric: bool = False
    _lo: np.ndarray | None = field(default=None, repr=False)
    _hi: np.ndarray | None = field(default=None, repr=False)

    def update(self, x: np.ndarray) -> None:
        lo, hi = batch_min_max(x, self.axis)
        if self._lo is None:
            self._lo, self._hi = lo, hi
            return
        if np.shape(lo) != np.shape(self._lo):
            raise QuantizationError("number of channels changed between batches")
        self._lo, self._hi = np.minimum(self._lo, lo), np.maximum(self._hi, hi)

    def range(self) -> tuple:
        if self._lo is None:
            raise QuantizationError("observer has seen no data")
        lo, hi = (symmetric_range(self._lo, self._hi) if self.symmetric else (self._lo, self._hi))
        return as_range(lo, hi)
