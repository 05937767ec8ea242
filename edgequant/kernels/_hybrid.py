"""Hybrid (dynamic-range) kernels: int8 weights, float activations quantized on the fly per batch row.

Matches tensor_utils::SymmetricQuantizeFloats / AsymmetricQuantizeFloats and the float epilogues of
fully_connected.cc EvalHybrid (``bias + float(dotprod) * scale``) and conv.cc EvalHybrid /
reference_ops::HybridConvPerChannel (``float(acc) * per_channel_scale * scaling_factor + bias``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import qmath
from ..errors import UnsupportedError
from ._common import exact_gemm_dtype, scales, zero_points

# NeonSymmetricQuantizeFloats / NeonAsymmetricQuantizeFloats quantize 8 floats per step of their vector loop and
# the last n % 8 of a row one at a time
_VECTOR = 8


def round_rows_like_litert(v: np.ndarray, nonnegative: bool = False) -> np.ndarray:
    """Round the rows of v (rows, n), float32, in place, as LiteRT's Symmetric/AsymmetricQuantizeFloats do.

    On x86 (and 32-bit ARM) LiteRT compiles the Neon versions of those two (through NEON_2_SSE), and every
    kernel resolver calls them, BUILTIN_REF's too. Their vector loop rounds ``RoundToNearest``: add 0.5 with the
    sign of v in float32, then truncate. That is round-half-away except for v = +-(0.5 - 2**-25), whose sum
    rounds to +-1.0 (ties to even) and truncates to +-1. The scalar tail (the last n % 8 values of a row) uses
    TfLiteRound, exactly half-away. Measured against BUILTIN_REF with ties in both parts
    (tests/test_hybrid_exact.py). ``nonnegative``: the caller knows v >= 0, so the vector part is
    floor(v + 0.5)."""
    n = v.shape[1]
    head = n - n % _VECTOR
    if head:
        main = v[:, :head]
        if nonnegative:
            np.add(main, np.float32(0.5), out=main)
            np.floor(main, out=main)
        else:
            np.add(main, np.copysign(np.float32(0.5), main), out=main)
            np.trunc(main, out=main)
    if head < n:
        v[:, head:] = qmath.round_half_away(v[:, head:])
    return v


def symmetric_quantize_rows(x: np.ndarray, nonnegative: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """SymmetricQuantizeFloats per row of x (rows, n): int values in [-127, 127] (float32) and float32 scales.

    No clamp is needed: |x| <= range and inv = fl(127 / range) give |x * inv| <= 127 * (1 + 2**-23)**2,
    which rounds to at most 127; an all-zero row gives zeros (the C++'s special case). ``nonnegative``:
    the caller knows x >= 0 (a RELU/RELU6 output), so the range is the row max and two reductions go."""
    hi = x.max(axis=1)
    # max(|min|, |max|), exactly, since min <= max
    rng = (hi if nonnegative else np.maximum(np.negative(x.min(axis=1)), hi)).astype(np.float32, copy=False)
    zero = rng == 0
    some_zero = zero.any()  # rare: skip the where()s otherwise (a batch of one pays per numpy call)
    safe = np.where(zero, np.float32(1), rng) if some_zero else rng
    scale = np.divide(safe, np.float32(127), dtype=np.float32)
    inv = np.divide(np.float32(127), safe, dtype=np.float32)
    q = round_rows_like_litert(np.multiply(x, inv[:, None], dtype=np.float32), nonnegative)
    if some_zero:
        scale[zero] = 1
        q[zero] = 0
    return q, scale


def asymmetric_quantize_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AsymmetricQuantizeFloats per row: int values in [-128, 127], float32 scales, int offsets."""
    rmin = np.minimum(x.min(axis=1), 0).astype(np.float64)
    rmax = np.maximum(x.max(axis=1), 0).astype(np.float64)
    same = rmin == rmax
    scale = np.where(same, 1.0, (rmax - rmin) / 255.0)
    zp_min = -128.0 - rmin / scale
    zp_max = 127.0 - rmax / scale
    err_min = 128.0 + np.abs(rmin / scale)
    err_max = 127.0 + np.abs(rmax / scale)
    zpd = np.where(err_min < err_max, zp_min, zp_max)
    offset = np.where(zpd <= -128, -128, np.where(zpd >= 127, 127, qmath.round_half_away(zpd))).astype(np.int64)
    offset[same] = 0
    sf = scale.astype(np.float32)
    sf[same] = 1
    inv = (1.0 / sf.astype(np.float64)).astype(np.float32)
    q = round_rows_like_litert(np.multiply(x, inv[:, None], dtype=np.float32))
    q += offset[:, None].astype(np.float32)  # after rounding, as the Neon/SSE path does (the portable one: before)
    np.clip(q, -128, 127, out=q)
    q[same] = 0
    return q, sf, offset


@dataclass(frozen=True)
class HybridFC:
    """Weights (depth, units) as a float GEMM operand of exact small integers."""

    w_mat: np.ndarray
    gemm_dtype: Any
    filter_scale: Any  # float32 scalar (per-tensor) or (units,) per-channel
    per_channel: bool
    asymmetric: bool
    row_sums: np.ndarray  # (units,) sum of weights per output unit

    def run(self, rows: np.ndarray, bias) -> np.ndarray:
        if self.asymmetric:
            q, sf, off = asymmetric_quantize_rows(rows)
        else:
            q, sf = symmetric_quantize_rows(rows)
            off = None
        dot = np.matmul(q.astype(self.gemm_dtype), self.w_mat).astype(np.int64)  # (rows, units) exact
        if off is not None:
            dot -= self.row_sums[None, :] * off[:, None]
        if self.per_channel:
            scale = np.multiply(sf[:, None], self.filter_scale[None, :], dtype=np.float32)
        else:
            scale = np.multiply(sf, np.float32(self.filter_scale), dtype=np.float32)[:, None]
        y = np.multiply(dot.astype(np.float32), scale, dtype=np.float32)
        if bias is not None:
            y = np.add(bias, y, dtype=np.float32)
        return y


def prepare_hybrid_fc(w, wt: np.ndarray, asymmetric: bool) -> HybridFC:
    s = scales(w)
    if np.any(zero_points(w) != 0):
        raise UnsupportedError("hybrid weights must be symmetric (zero point 0)")
    wi = wt.astype(np.int64)
    gd = exact_gemm_dtype(wi)
    units = wt.shape[1]
    if s.size not in (1, units):
        raise UnsupportedError(f"{s.size} weight scales for {units} units")
    return HybridFC(wi.astype(gd), gd, s if s.size > 1 else s[0], s.size > 1, asymmetric, wi.sum(axis=0))
