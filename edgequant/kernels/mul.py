"""MUL: float32, int32/int64, int8, int16 (with broadcasting)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import dtypes
from ..errors import UnsupportedError
from . import Kernel, kernel
from ._common import (
    apply_float_activation,
    float_activation_range,
    mul_by_qm,
    quant_activation_range,
    quantize_multiplier,
    scale_zp,
)
from ._elementwise import _int_activation, batchable_binary


@dataclass(frozen=True)
class MulParams:
    kind: str  # "float" | "int" | "q"
    act_min: Any
    act_max: Any
    batchable: bool
    input1_offset: int = 0
    input2_offset: int = 0
    output_offset: int = 0
    output_multiplier: int = 0
    output_shift: int = 0
    out_dtype: Any = None
    rounding: str = "double"


@kernel("MUL")
class Mul(Kernel):
    """reference_ops::Mul / BroadcastMul6DSlow (float, int32, int64) and reference_integer_ops::Mul
    (int8, int16): ``output_offset + MultiplyByQuantizedMultiplier((q1 + input1_offset) *
    (q2 + input2_offset), m, s)`` with m, s from float(s1 * s2 / s_out) (computed in float32 as mul.cc does)."""

    def prepare(self, ctx, op):
        a, b, y = ctx.input(0), ctx.input(1), ctx.output(0)
        act = op.options.fused_activation_function if op.options is not None else 0
        batchable = batchable_binary(ctx, len(y.shape or []))
        if a.type != b.type:
            raise UnsupportedError(f"input types differ: {dtypes.name(a.type)} and {dtypes.name(b.type)}")
        if a.type == dtypes.FLOAT32:
            lo, hi = float_activation_range(act)
            return MulParams("float", lo, hi, batchable)
        if a.type in (dtypes.INT32, dtypes.INT64):
            lo, hi = _int_activation(act, *dtypes.integer_range(a.type))
            return MulParams("int", lo, hi, batchable, out_dtype=a.dtype)
        if a.type in (dtypes.INT8, dtypes.INT16):
            s1, z1 = scale_zp(a)
            s2, z2 = scale_zp(b)
            so, zo = scale_zp(y)
            rounding = ctx.rounding_for("double")
            # mul.cc computes the real multiplier in float: input1 scale * input2 scale / output scale
            m, s = quantize_multiplier(np.float64(np.float32(s1) * np.float32(s2) / np.float32(so)), rounding)
            lo, hi = quant_activation_range(act, y)
            return MulParams("q", lo, hi, batchable, -z1, -z2, zo, m, s, y.dtype, rounding)
        raise UnsupportedError(f"MUL on {dtypes.name(a.type)}")

    def eval(self, p: MulParams, inputs):
        a, b = inputs
        if p.kind == "float":
            return [apply_float_activation(np.asarray(a * b, np.float32), p.act_min, p.act_max)]
        if p.kind == "int":
            return [np.clip(a * b, p.act_min, p.act_max).astype(p.out_dtype)]
        prod = (a.astype(np.int64) + p.input1_offset) * (b.astype(np.int64) + p.input2_offset)
        y = mul_by_qm(prod, p.output_multiplier, p.output_shift, p.rounding) + p.output_offset
        return [np.clip(y, p.act_min, p.act_max).astype(p.out_dtype)]
