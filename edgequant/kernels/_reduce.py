"""Reduction helpers: axis resolution and the quantized MEAN."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dtypes
from ..errors import UnsupportedError
from ._common import mul_by_qm, quantize_multiplier, scale_zp


def reduce_axes(ctx, rank: int) -> tuple:
    ax = ctx.require_const(1, "axis")
    out = sorted({int(a) + rank if int(a) < 0 else int(a) for a in np.asarray(ax).reshape(-1)})
    for a in out:
        if not 0 <= a < rank:
            raise UnsupportedError(f"reduction axis {a} out of range for rank {rank}")
    return tuple(out)


@dataclass(frozen=True)
class QuantMean:
    """Quantized MEAN as lite/kernels/reduce.cc EvalMean for int8/int16 (QuantizedMeanOrSum).

    ``multiplier, shift = QuantizeMultiplier(input_scale / output_scale)``; per output:
    ``acc = sum(q - input_zp)``; ``acc = MultiplyByQuantizedMultiplier(acc, m, s)`` then integer
    division by the count rounded half away (``acc > 0 ? (acc + n/2) / n : (acc - n/2) / n``),
    ``+ output_zp``, clamp.
    """

    axes: tuple
    input_zp: int
    output_zp: int
    multiplier: int
    shift: int
    out_dtype: object
    rounding: str

    def run(self, x: np.ndarray, keep_dims: bool) -> np.ndarray:
        n = int(np.prod([x.shape[a] for a in self.axes])) if self.axes else 1
        acc = (x.astype(np.int64) - self.input_zp).sum(axis=self.axes, keepdims=keep_dims)
        acc = mul_by_qm(acc, self.multiplier, self.shift, self.rounding)
        half = n // 2
        num = np.where(acc > 0, acc + half, acc - half)
        avg = np.sign(num) * (np.abs(num) // n) + self.output_zp
        lo, hi = np.iinfo(self.out_dtype).min, np.iinfo(self.out_dtype).max
        return np.clip(avg, lo, hi).astype(self.out_dtype)


def prepare_quant_mean(x, y, axes, rounding: str) -> QuantMean:
    if x.type not in (dtypes.INT8, dtypes.INT16):
        raise UnsupportedError(f"MEAN on {dtypes.name(x.type)}")
    si, zi = scale_zp(x)
    so, zo = scale_zp(y)
    m, s = quantize_multiplier(np.float64(si) / np.float64(so), rounding)
    return QuantMean(axes, zi, zo, m, s, x.dtype, rounding)
