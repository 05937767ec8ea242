"""RELU / RELU6 / RELU_N1_TO_1 shared implementation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import dtypes, qmath
from ..errors import UnsupportedError
from ._common import mul_by_qm, quantize_multiplier, scale_zp


@dataclass(frozen=True)
class ReluParams:
    kind: str  # "float" | "q"
    lo: Any
    hi: Any
    input_offset: int = 0  # the input zero point (ReluParams.input_offset is positive here)
    output_offset: int = 0
    output_multiplier: int = 0
    output_shift: int = 0
    out_dtype: Any = None
    rounding: str = "double"


def prepare_relu(ctx, lo: float, hi: float) -> ReluParams:
    """QuantizedReluX of activations.cc: bounds ``zp_out + (int)roundf(bound / scale_out)``, values
    ``output_offset + MultiplyByQuantizedMultiplier(q - input_zp, m, s)``.

    The real multiplier differs by target: LiteRT's ReluPrepare divides the float scales in float
    (``double real_multiplier = input->params.scale / output->params.scale``), tflite-micro's
    CalculateReluOpData divides them as doubles. The two quotients can give QuantizeMultiplier results a
    few units apart, which moves an output by one where the product lands next to a rounding boundary
    (the RELU__i8_tflm_multiplier golden)."""
    x, y = ctx.input(0), ctx.output(0)
    if x.type == dtypes.FLOAT32:
        return ReluParams("float", np.float32(lo), np.float32(hi))
    if x.type not in (dtypes.INT8, dtypes.INT16, dtypes.UINT8) or y.type != x.type:
        raise UnsupportedError(f"{ctx.op_name} on {dtypes.name(x.type)} -> {dtypes.name(y.type)}")
    si, zi = scale_zp(x)
    so, zo = scale_zp(y)
    qmin, qmax = dtypes.integer_range(y.type)

    def q(v: float) -> int:
        return zo + int(qmath.round_half_away(np.divide(np.float32(v), np.float32(so), dtype=np.float32)))

    qlo = max(qmin, q(lo))
    qhi = qmax if hi == np.inf else min(qmax, q(hi))
    rounding = ctx.rounding_for("double")
    if ctx.target == "tflm":
        real = np.float64(si) / np.float64(so)
    else:
        real = np.float64(np.divide(np.float32(si), np.float32(so), dtype=np.float32))
    m, s = quantize_multiplier(real, rounding)
    return ReluParams("q", qlo, qhi, zi, zo, m, s, y.dtype, rounding)


def eval_relu(p: ReluParams, x: np.ndarray) -> np.ndarray:
    if p.kind == "float":
        return np.clip(x, p.lo, p.hi).astype(np.float32)
    v = mul_by_qm(x.astype(np.int64) - p.input_offset, p.output_multiplier, p.output_shift, p.rounding)
    return np.clip(v + p.output_offset, p.lo, p.hi).astype(p.out_dtype)
