"""AVERAGE_POOL_2D: float32, int8, int16."""

from __future__ import annotations

import numpy as np

from . import Kernel, kernel
from ._common import apply_float_activation
from ._pool import PoolParams, prepare_pool


@kernel("AVERAGE_POOL_2D")
class AveragePool2D(Kernel):
    """reference_ops::AveragePool (float) and reference_integer_ops::AveragePool (int8/int16).

    Only in-range taps count (padding is excluded from the divisor). Integer: int32 sum, then
    ``(sum +/- count/2) / count`` with C's truncating division (halves away from zero), clamp.
    """

    def prepare(self, ctx, op):
        return prepare_pool(ctx, op)

    def eval(self, p: PoolParams, inputs):
        x = inputs[0]
        win = p.win
        if p.kind == "float":
            acc = None
            for _, _, tap in win.taps(win.padded(x, 0)):
                acc = tap.copy() if acc is None else np.add(acc, tap, out=acc)
            acc /= p.counts
            return [apply_float_activation(acc, p.act_min, p.act_max)]
        acc = None
        for _, _, tap in win.taps(win.padded(x.astype(np.int32), 0)):
            acc = tap.copy() if acc is None else np.add(acc, tap, out=acc)
        acc = acc.astype(np.int64)
        c = p.counts
        half = c // 2
        num = np.where(acc > 0, acc + half, acc - half)
        avg = np.sign(num) * (np.abs(num) // c)  # C truncating division
        np.clip(avg, p.act_min, p.act_max, out=avg)
        return [avg.astype(p.dtype)]
