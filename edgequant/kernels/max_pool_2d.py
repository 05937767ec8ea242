"""MAX_POOL_2D: float32, int8, int16."""

from __future__ import annotations

import numpy as np

from . import Kernel, kernel
from ._common import apply_float_activation
from ._pool import PoolParams, prepare_pool


@kernel("MAX_POOL_2D")
class MaxPool2D(Kernel):
    """reference_ops::MaxPool (float) and reference_integer_ops::MaxPool (int8/int16): max over the
    in-range taps, then the fused-activation clamp. No arithmetic, so exact on every type."""

    def prepare(self, ctx, op):
        return prepare_pool(ctx, op)

    def eval(self, p: PoolParams, inputs):
        x = inputs[0]
        win = p.win
        low = -np.inf if p.kind == "float" else np.iinfo(p.dtype).min
        acc = None
        for _, _, tap in win.taps(win.padded(x, low)):
            acc = tap.copy() if acc is None else np.maximum(acc, tap, out=acc)
        if p.kind == "float":
            return [apply_float_activation(acc, p.act_min, p.act_max)]
        np.clip(acc, p.act_min, p.act_max, out=acc)
        return [acc]
