"""LEAKY_RELU: x >= 0 ? x : alpha * x (float32; int8/int16 with identity and alpha multipliers)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import dtypes, qmath
from ..errors import UnsupportedError
from . import Kernel, kernel
from ._common import scale_zp

F32 = np.float32


@dataclass(frozen=True)
class LeakyReluParams:
    kind: str
    alpha: Any
    input_offset: int = 0
    output_offset: int = 0
    output_multiplier_identity: int = 0
    output_shift_identity: int = 0
    output_multiplier_alpha: int = 0
    output_shift_alpha: int = 0
    out_dtype: Any = None
    batchable: bool = True


@kernel("LEAKY_RELU")
class LeakyRelu(Kernel):
    """reference: lite/kernels/activations.cc LeakyReluPrepare / reference_ops::QuantizeLeakyRelu:
    ``v = q - zp_in``; ``zp_out + MultiplyByQuantizedMultiplier(v, identity or alpha multiplier)``,
    clamped; multipliers from ``s_in / s_out`` and ``s_in * alpha / s_out``. Float:
    ``max(0, x) + alpha * min(0, x)``.

    The real multipliers differ by target: LiteRT computes both in float; the installed tflite-micro computes
    them in double (measured on the LEAKY_RELU__*_tflm_multipliers goldens, which separate float, all-double
    and double(float(s_in * alpha)) / s_out; leaky_relu_common.cc in the search index still divides in float).
    The Q31 multipliers then part by up to ~2^7 units, which moves an output by one next to a rounding boundary."""

    def prepare(self, ctx, op):
        x, y = ctx.input(0), ctx.output(0)
        alpha = F32(op.options.alpha if op.options is not None else 0.0)
        if x.type != y.type or x.type not in (dtypes.FLOAT32, dtypes.INT8, dtypes.INT16):
            raise UnsupportedError(f"LEAKY_RELU of {dtypes.name(x.type)} into {dtypes.name(y.type)}")
        if x.type == dtypes.FLOAT32:
            return LeakyReluParams("float", alpha)
        si, zi = scale_zp(x)
        so, zo = scale_zp(y)
        if ctx.target == "tflm":
            alpha_multiplier = np.float64(si) * np.float64(alpha) / np.float64(so)
            identity_multiplier = np.float64(si) / np.float64(so)
        else:
            alpha_multiplier = np.float64(F32(F32(F32(si) * alpha) / F32(so)))
            identity_multiplier = np.float64(F32(F32(si) / F32(so)))
        ma, sa = qmath.quantize_multiplier(alpha_multiplier)
        mi, s_i = qmath.quantize_multiplier(identity_multiplier)
        return LeakyReluParams("q", alpha, zi, zo, mi, s_i, ma, sa, x.dtype)

    def eval(self, p: LeakyReluParams, inputs):
        x = inputs[0]
        if p.kind == "float":
            return [np.maximum(x, F32(0)) + p.alpha * np.minimum(x, F32(0))]
        v = x.astype(np.int64) - p.input_offset
        pos = qmath.multiply_by_quantized_multiplier(v, p.output_multiplier_identity, p.output_shift_identity)
        neg = qmath.multiply_by_quantized_multiplier(v, p.output_multiplier_alpha, p.output_shift_alpha)
        out = np.where(v >= 0, pos, neg) + p.output_offset
        info = np.iinfo(p.out_dtype)
        return [np.clip(out, info.min, info.max).astype(p.out_dtype)]
