"""SUM: sum over constant axes (float32 in float32, int32/int64 wrapping like C++, int8/int16 requantized)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dtypes
from ..errors import UnsupportedError
from . import Kernel, kernel
from ._common import mul_by_qm, quantize_multiplier, scale_zp
from ._reduce import reduce_axes


@dataclass(frozen=True)
class SumParams:
    axes: tuple
    keep_dims: bool
    batchable: bool
    quantized: bool = False
    input_zero_point: int = 0
    output_zero_point: int = 0
    output_multiplier: int = 0
    output_shift: int = 0
    rounding: str = "double"
    out_dtype: object = None


@kernel("SUM")
class Sum(Kernel):
    """reference: lite/kernels/reduce.cc EvalSum. float32/int32/int64: reference_ops::ReduceGeneric with +.
    int8/int16: reference_ops::QuantizedMeanOrSum with ``compute_sum``: per output
    ``shifted_sum = sum(q) - input_zero_point * n`` (int32), ``MultiplyByQuantizedMultiplier(shifted_sum,
    m, s) + output_zero_point``, clamp, where ``m, s = QuantizeMultiplier(double(s_in) / double(s_out))``.
    int16 needs zero points of 0 (PrepareMeanOrSum)."""

    def prepare(self, ctx, op):
        x, y = ctx.input(0), ctx.output(0)
        ok = (dtypes.FLOAT32, dtypes.INT32, dtypes.INT64, dtypes.INT8, dtypes.INT16)
        if x.type not in ok or x.type != y.type:
            raise UnsupportedError(f"SUM of {dtypes.name(x.type)} into {dtypes.name(y.type)}; supported: "
                                   f"FLOAT32, INT32, INT64, INT8, INT16 (same type in and out)")
        axes = reduce_axes(ctx, len(x.shape or []))
        keep = bool(op.options.keep_dims) if op.options is not None else False
        batchable = 0 not in axes
        if x.type not in (dtypes.INT8, dtypes.INT16):
            return SumParams(axes, keep, batchable)
        si, zi = scale_zp(x)
        so, zo = scale_zp(y)
        if x.type == dtypes.INT16 and (zi or zo):
            raise UnsupportedError(f"int16 SUM needs zero points of 0, got input {zi}, output {zo}")
        rounding = ctx.rounding_for("double")
        m, s = quantize_multiplier(np.float64(si) / np.float64(so), rounding)
        return SumParams(axes, keep, batchable, True, zi, zo, m, s, rounding, x.dtype)

    def eval(self, p: SumParams, inputs):
        x = inputs[0]
        if not p.quantized:
            return [np.sum(x, axis=p.axes, keepdims=p.keep_dims, dtype=x.dtype)]
        n = int(np.prod([x.shape[a] for a in p.axes])) if p.axes else 1
        acc = np.sum(x, axis=p.axes, keepdims=p.keep_dims, dtype=np.int64)  # int32 in C++; |acc| < 2**31 here
        shifted_sum = acc - p.input_zero_point * n
        out = mul_by_qm(shifted_sum, p.output_multiplier, p.output_shift, p.rounding) + p.output_zero_point
        info = np.iinfo(p.out_dtype)
        return [np.clip(out, info.min, info.max).astype(p.out_dtype)]
