"""MINIMUM: elementwise min with broadcasting (float32, int8/int16 on raw values, int32/int64)."""

from __future__ import annotations

import numpy as np

from . import Kernel, kernel
from .maximum import prepare_min_max


@kernel("MINIMUM")
class Minimum(Kernel):
    """reference_ops::MaximumMinimumBroadcastSlow with std::min (see ``maximum.py``)."""

    def prepare(self, ctx, op):
        return prepare_min_max(ctx, "MINIMUM")

    def eval(self, p, inputs):
        return [np.minimum(inputs[0], inputs[1])]
