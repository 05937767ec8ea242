"""AVERAGE_POOL_2D: float32, int8, int16."""

from __future__ import annotations

import numpy as np

from . import Kernel, kernel
from ._common import apply_float_activation
from ._pool import PoolParams, prepare_pool

_SHORT_RUN = 256  # channels up to which a global pool transposes before reducing (see AveragePool2D._sum)


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
            acc = self._sum(win, x)
            acc /= p.counts
            return [apply_float_activation(acc, p.act_min, p.act_max)]
        acc = self._sum(win, x.astype(np.int32)).astype(np.int64)
        c = p.counts
        half = c // 2
        num = np.where(acc > 0, acc + half, acc - half)
        avg = np.sign(num) * (np.abs(num) // c)  # C truncating division
        np.clip(avg, p.act_min, p.act_max, out=avg)
        return [avg.astype(p.dtype)]

    @staticmethod
    def _sum(win, x: np.ndarray) -> np.ndarray:
        """Sum of the in-range taps, tap by tap in the reference's (row, column) order.

        A global pool (one window over the whole unpadded input, as in most classifiers' heads) is one
        reduction over the (H*W) axis of an (N, H*W, C) view: numpy accumulates a non-innermost axis in
        order, so the float sums are the tap loop's to the bit, without one numpy call per tap. Over few
        channels numpy's inner loop is C values long; the samples are first moved to (H*W, N, C), each
        C-value run copied as one void element, so that the reduction runs over N*C values at a time
        (kws, 65 x 125 x 64: 0.16 -> 0.10 ms, copy included; float only: kws int8's int32 sums got 16% slower)."""
        n, h, w, c = x.shape
        if win.out_h == win.out_w == 1 and (win.kh, win.kw) == (h, w) and win.pad_top == win.pad_left == 0:
            xs = np.ascontiguousarray(x).reshape(n, h * w, c)
            if n == 1 or c > _SHORT_RUN or xs.dtype.kind != "f":  # int32 sums: the copy cost more than it saved
                return np.add.reduce(xs, axis=1).reshape(n, 1, 1, c)
            run = np.dtype((np.void, c * xs.itemsize))
            taps = np.empty((h * w, n), run)
            np.copyto(taps, np.ndarray((h * w, n), run, xs, 0, (xs.strides[1], xs.strides[0])))
            return np.add.reduce(taps.view(xs.dtype).reshape(h * w, n, c), axis=0).reshape(n, 1, 1, c)
        acc = None
        for _, _, tap in win.taps(win.padded(x, 0)):
            acc = tap.copy() if acc is None else np.add(acc, tap, out=acc)
        return acc
