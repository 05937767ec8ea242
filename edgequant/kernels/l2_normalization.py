"""L2_NORMALIZATION over the last axis: float32 ``x / max(sqrt(sum(x^2)), 1e-6)``; int8 with output scale 1/128."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dtypes
from ..errors import UnsupportedError
from . import Kernel, kernel
from ._common import mul_by_qm, scale_zp
from .rsqrt import inv_sqrt_quantized_multiplier_exp


@dataclass(frozen=True)
class L2NormParams:
    quantized: bool = False
    input_zero_point: int = 0
    rounding: str = "double"
    batchable: bool = True


@kernel("L2_NORMALIZATION")
class L2Normalization(Kernel):
    """reference_ops::L2Normalization (float): per position, ``sum(x*x)`` over the depth axis in float32,
    ``l2 = max(sqrt(sum), 1e-6)``, ``x / l2``. int8: reference_integer_ops::L2Normalization: per row
    ``acc = sum((q - zp)^2)`` (int32), ``(m, s) = GetInvSqrtQuantizedMultiplierExp(acc, -1)``, output
    ``clamp(MultiplyByQuantizedMultiplier(q - zp, m, s + 7), -128, 127)``. l2norm.cc Prepare demands an
    int8 output scale of exactly 1/128 with zero point 0, no fused activation and rank <= 4; LiteRT has no
    int16 L2_NORMALIZATION."""

    def prepare(self, ctx, op):
        x, y = ctx.input(0), ctx.output(0)
        if x.type != y.type or x.type not in (dtypes.FLOAT32, dtypes.INT8):
            raise UnsupportedError(f"L2_NORMALIZATION of {dtypes.name(x.type)} into {dtypes.name(y.type)}; "
                                   f"supported: FLOAT32, INT8 (LiteRT has no int16 L2_NORMALIZATION)")
        act = op.options.fused_activation_function if op.options is not None else 0
        if act:
            raise UnsupportedError(f"L2_NORMALIZATION with fused activation {act}")
        if len(x.shape or []) > 4:
            raise UnsupportedError(f"L2_NORMALIZATION of rank {len(x.shape)}; at most 4")
        if x.type == dtypes.FLOAT32:
            return L2NormParams()
        _, zi = scale_zp(x)
        so, zo = scale_zp(y)
        if so != 1.0 / 128.0 or zo != 0:
            raise UnsupportedError(f"int8 L2_NORMALIZATION output must have scale 1/128 and zero point 0, "
                                   f"got {so:g} and {zo}")
        return L2NormParams(True, zi, ctx.rounding_for("double"))

    def eval(self, p: L2NormParams, inputs):
        x = inputs[0]
        if not p.quantized:
            sq = np.sum(x * x, axis=-1, keepdims=True, dtype=np.float32)
            l2 = np.maximum(np.sqrt(sq), np.float32(1e-6))
            return [x / l2]
        v = x.astype(np.int64) - p.input_zero_point  # (..., depth)
        acc = np.sum(v * v, axis=-1, keepdims=True)  # (..., 1) int32 in C++; < 2**16 * depth
        # GetInvSqrtQuantizedMultiplierExp is scalar integer code: run it once per distinct row sum
        uniq, where = np.unique(acc, return_inverse=True)
        ms = np.array([inv_sqrt_quantized_multiplier_exp(int(a)) for a in uniq], np.int64).reshape(-1, 2)
        mult = ms[:, 0][where].reshape(acc.shape)
        shift = ms[:, 1][where].reshape(acc.shape)
        out = mul_by_qm(v, mult, shift + 7, p.rounding)  # kOutputScale = 7
        return [np.clip(out, -128, 127).astype(np.int8)]
