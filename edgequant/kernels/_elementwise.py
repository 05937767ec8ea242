"""Binary elementwise helpers: broadcasting, batching rules, ADD/SUB quantized math."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import dtypes
from ..errors import UnsupportedError
from ._common import (
    apply_float_activation,
    broadcast_shape,
    float_activation_range,
    mul_by_qm_smaller_than_one_exp,
    quant_activation_range,
    quantize_multiplier,
    scale_zp,
)


def batchable_binary(ctx, out_rank: int) -> bool:
    """Batching along axis 0 is safe unless a constant input spans the batch axis with size > 1."""
    for i in range(2):
        t = ctx.input(i)
        if t is None:
            continue
        shape = list(t.shape or [])
        if ctx.const(i) is not None and len(shape) == out_rank and shape and shape[0] != 1:
            return False
        if ctx.const(i) is None and len(shape) < out_rank:
            return False  # a non-constant input without the batch axis cannot be stacked
    return True


@dataclass(frozen=True)
class AddSubParams:
    kind: str  # "float" | "int" (plain integer add) | "q8" | "q16"
    sign: int
    act_min: Any
    act_max: Any
    batchable: bool
    q: Any = None


@dataclass(frozen=True)
class QuantAddParams:
    """The ArithmeticParams of reference_integer_ops::Add (names as in the C++)."""

    input1_offset: int
    input2_offset: int
    output_offset: int
    left_shift: int
    input1_multiplier: int
    input1_shift: int
    input2_multiplier: int
    input2_shift: int
    output_multiplier: int
    output_shift: int
    out_dtype: Any
    rounding: str


def prepare_add_sub(ctx, op, sign: int) -> AddSubParams:
    a, b, y = ctx.input(0), ctx.input(1), ctx.output(0)
    o = op.options
    act = o.fused_activation_function if o is not None else 0
    batchable = batchable_binary(ctx, len(y.shape or []))
    if a.type != b.type:
        raise UnsupportedError(f"input types differ: {dtypes.name(a.type)} and {dtypes.name(b.type)}")
    if a.type == dtypes.FLOAT32:
        lo, hi = float_activation_range(act)
        return AddSubParams("float", sign, lo, hi, batchable)
    if a.type in (dtypes.INT32, dtypes.INT64):
        lo, hi = dtypes.integer_range(a.type)
        if act:
            lo, hi = _int_activation(act, lo, hi)
        return AddSubParams("int", sign, lo, hi, batchable)
    if a.type in (dtypes.INT8, dtypes.INT16):
        q = _prepare_quant(a, b, y, sign, op, ctx.rounding_for("double"))
        lo, hi = quant_activation_range(act, y)
        return AddSubParams("q8" if a.type == dtypes.INT8 else "q16", sign, lo, hi, batchable, q)
    raise UnsupportedError(f"input type {dtypes.name(a.type)}")


def _int_activation(act: int, lo: int, hi: int) -> tuple[int, int]:
    if act == 1:
        return 0, hi
    if act == 3:
        return 0, 6
    if act == 2:
        return -1, 1
    return lo, hi


def _prepare_quant(a, b, y, sign: int, op, rounding: str) -> QuantAddParams:
    """PrepareGeneralSubgraph-style parameters of add.cc / sub.cc (left_shift 20 for int8, 15 for int16)."""
    s1, z1 = scale_zp(a)
    s2, z2 = scale_zp(b)
    so, zo = scale_zp(y)
    if a.type == dtypes.INT16 and (z1 or z2 or zo):
        raise UnsupportedError("int16 ADD/SUB needs zero points of 0")
    if a.type == dtypes.INT16 and getattr(op.options, "pot_scale_int16", False) and all(
            _is_pot(v) for v in (s1, s2, so)):
        # add.cc/sub.cc then take a separate shift-only path (pot_scale_int16) that we do not implement
        raise UnsupportedError("int16 ADD/SUB with power-of-two scales and pot_scale_int16 is not implemented")
    left_shift = 20 if a.type == dtypes.INT8 else 15
    twice_max = 2.0 * max(float(s1), float(s2))
    real1 = float(s1) / twice_max
    real2 = float(s2) / twice_max
    real_out = twice_max / ((1 << left_shift) * float(so))
    m1, sh1 = quantize_multiplier(real1, rounding)
    m2, sh2 = quantize_multiplier(real2, rounding)
    mo, sho = quantize_multiplier(real_out, rounding)
    return QuantAddParams(-z1, -z2, zo, left_shift, m1, sh1, m2, sh2, mo, sho,
                          np.int8 if a.type == dtypes.INT8 else np.int16, rounding)


def _is_pot(scale: float) -> bool:
    """tflite::CheckedLog2: log2 of the scale within 1e-3 of an integer."""
    lg = float(np.log2(np.float32(scale)))
    return abs(lg - round(lg)) < 1e-3


def eval_add_sub(p: AddSubParams, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if p.kind == "float":
        y = a + b if p.sign > 0 else a - b
        return apply_float_activation(np.asarray(y, np.float32), p.act_min, p.act_max)
    if p.kind == "int":
        y = a + b if p.sign > 0 else a - b
        return np.clip(y, p.act_min, p.act_max).astype(a.dtype)
    q = p.q
    x1 = (a.astype(np.int64) + q.input1_offset) << q.left_shift
    x2 = (b.astype(np.int64) + q.input2_offset) << q.left_shift
    s1 = mul_by_qm_smaller_than_one_exp(x1, q.input1_multiplier, q.input1_shift, q.rounding)
    s2 = mul_by_qm_smaller_than_one_exp(x2, q.input2_multiplier, q.input2_shift, q.rounding)
    raw = s1 + s2 if p.sign > 0 else s1 - s2
    out = mul_by_qm_smaller_than_one_exp(raw, q.output_multiplier, q.output_shift, q.rounding)
    out = np.asarray(out) + q.output_offset
    np.clip(out, p.act_min, p.act_max, out=out)
    return out.astype(q.out_dtype)


def check_shapes(a, b) -> tuple:
    return broadcast_shape(a.shape, b.shape)
