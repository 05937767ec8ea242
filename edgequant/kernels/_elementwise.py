"""Binary elementwise helpers: broadcasting, batching rules, ADD/SUB quantized math (the general rescaling path
of int8/int16 and the power-of-two int16 path of LiteRT's add.cc / sub.cc)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import dtypes, qmath
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
    kind: str  # "float" | "int" (plain integer add) | "q8" | "q16" | "q16pot"
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


@dataclass(frozen=True)
class PotAddParams:
    """The ArithmeticParams of reference_ops::Add(int16) / Sub16 / BroadcastSub16POTSlow: two right shifts."""

    input1_shift: int  # log2(s1) - log2(s_out), <= 0
    input2_shift: int  # log2(s2) - log2(s_out), <= 0; at least one of the two is 0


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
        # inputs' quantization first, then the output's: errors name the first tensor without a scale
        pot = _prepare_pot(a, b, y, sign, op) if a.type == dtypes.INT16 and ctx.target == "litert" else None
        q = pot if pot is not None else _prepare_quant(a, b, y, sign, op, ctx.rounding_for("double"))
        lo, hi = quant_activation_range(act, y)
        kind = "q16pot" if pot is not None else "q8" if a.type == dtypes.INT8 else "q16"
        return AddSubParams(kind, sign, lo, hi, batchable, q)
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


def _prepare_pot(a, b, y, sign: int, op) -> PotAddParams | None:
    """add.cc / sub.cc Prepare for int16: with ``pot_scale_int16`` (the schema's default; false when the op has
    no options table) and three power-of-two scales, LiteRT takes the LSTM-style shift-only path; else None
    (the general path). tflite-micro has only the general path, so its target never comes here."""
    if op.options is None or not op.options.pot_scale_int16:
        return None
    logs = [checked_log2(scale_zp(t)[0]) for t in (a, b, y)]
    if not all(is_pot for is_pot, _ in logs):
        return None
    if any(scale_zp(t)[1] for t in (a, b, y)):
        raise UnsupportedError("int16 ADD/SUB needs zero points of 0")
    (_, l1), (_, l2), (_, lo) = logs
    shift1, shift2 = l1 - lo, l2 - lo
    if (shift1 and shift2) or shift1 > 0 or shift2 > 0:
        raise UnsupportedError(
            f"int16 ADD/SUB with power-of-two scales and pot_scale_int16: input scales 2^{l1} and 2^{l2} for output "
            f"2^{lo} need one input at the output's scale and the other at a smaller one; LiteRT's reference "
            f"kernels refuse this too")
    out_size = int(np.prod(broadcast_shape(a.shape or [], b.shape or []), dtype=np.int64))
    if sign > 0 and any(int(np.prod(t.shape or [], dtype=np.int64)) != out_size for t in (a, b)):
        # reference_ops::Add(int16) is elementwise only: MatchingElementsSize's TFLITE_CHECK aborts the process
        raise UnsupportedError("int16 ADD with power-of-two scales and pot_scale_int16 cannot broadcast; LiteRT's "
                               "reference kernels refuse this too (they abort)")
    return PotAddParams(shift1, shift2)


def checked_log2(scale: float) -> tuple[bool, int]:
    """tflite::CheckedLog2 in float32: (log2 of the scale within 1e-3 of an integer, that integer rounded)."""
    lg = np.float32(np.log(np.float32(scale))) * np.float32(1.0 / np.log(np.float32(2.0)))
    rounded = float(qmath.round_half_away(lg))
    return bool(abs(float(lg) - rounded) < 1e-3), int(rounded)


def rounding_divide_by_pot_int16(x: np.ndarray, exponent: int) -> np.ndarray:
    """gemmlowp::RoundingDivideByPOT with IntegerType int16 (int64 result). As in the C++, the mask 2**e - 1 is
    cast to int16: for exponents of 16 and more it is -1, which maps x >= 0 to 1 and x < 0 to -1."""
    mask = ((1 << exponent) - 1) & 0xFFFF
    mask = mask - 0x10000 if mask >= 0x8000 else mask
    x = x.astype(np.int64)
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + ((x & mask) > threshold)


def eval_add_sub(p: AddSubParams, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if p.kind == "float":
        y = a + b if p.sign > 0 else a - b
        return apply_float_activation(np.asarray(y, np.float32), p.act_min, p.act_max)
    if p.kind == "int":
        y = a + b if p.sign > 0 else a - b
        return np.clip(y, p.act_min, p.act_max).astype(a.dtype)
    q = p.q
    if p.kind == "q16pot":  # Add / Sub16 saturate to int16 before the clamp, BroadcastSub16POTSlow does not:
        # the same, as the clamp range lies inside int16
        s1 = rounding_divide_by_pot_int16(a, -q.input1_shift)
        s2 = rounding_divide_by_pot_int16(b, -q.input2_shift)
        raw = s1 + s2 if p.sign > 0 else s1 - s2
        return np.clip(raw, p.act_min, p.act_max).astype(np.int16)
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
