"""Exponential moving average of per-batch min and max (TF's MovingAverageMinMax observers)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..quantization import QuantizationError
from . import observer
from .minmax import as_range, batch_min_max, symmetric_range


@observer("moving_average")
@dataclass
class MovingAverageMinMax:
    """``range <- momentum * range + (1 - momentum) * batch_range``; the first batch initialises it.

    Outlier batches move the range only by ``1 - momentum`` of their excess, so a single spike does
    not blow up the scale. TF's training-time quantizers use momentum (``ema_decay``) 0.999 over
    thousands of steps; calibration sees tens of batches, hence the default 0.9.
    """

    momentum: float = 0.9
    axis: int | None = None
    symmetric: bool = False
    _lo: np.ndarray | None = field(default=None, repr=False)
    _hi: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.momentum < 1.0:
            raise QuantizationError("momentum must be in [0, 1)")

    def update(self, x: np.ndarray) -> None:
        lo, hi = batch_min_max(x, self.axis)
        if self._lo is None:
            self._lo, self._hi = lo, hi
            return
        if np.shape(lo) != np.shape(self._lo):
            raise QuantizationError("number of channels changed between batches")
        m = self.momentum
        self._lo = m * self._lo + (1 - m) * lo
        self._hi = m * self._hi + (1 - m) * hi

    def range(self) -> tuple:
        if self._lo is None:
            raise QuantizationError("observer has seen no data")
        lo, hi = (symmetric_range(self._lo, self._hi) if self.symmetric else (self._lo, self._hi))
        return as_range(lo, hi)
