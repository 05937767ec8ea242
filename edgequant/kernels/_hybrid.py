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


def round_half_away_f32(v: np.ndarray, nonnegative: bool = False) -> np.ndarray:
    """``qmath.round_half_away`` for a float32 array we own, in few passes; v is overwritten.

    ``np.rint`` rounds halves to even; only exact ties differ from TfLiteRound. ``d = v - rint(v)`` is
    exact in float32 (Sterbenz) and lies in [-0.5, 0.5], so v holds a tie exactly when the max of d
    is 0.5 or its min is -0.5 (two cheap reductions). Ties are rare (random data has one every few
    hundred thousand values), so only the rows whose own max or min shows one are searched; there a
    tie rint rounded toward zero moves one step away from zero: d == 0.5 with rint(v) >= 0 (v > 0
    was rounded down) gets +1, d == -0.5 with rint(v) <= 0 gets -1; the other ties already went
    away from zero. ``nonnegative``: the caller knows v >= 0: ``_round_half_up_nonnegative`` instead. Checked
    against ``qmath.round_half_away`` on all ties below 2**16, their float neighbours and random bit patterns."""
    if nonnegative:
        return _round_half_up_nonnegative(v)
    r = np.rint(v)
    d = np.subtract(v, r, out=v)  # exact, in [-0.5, 0.5]
    if d.size and (d.max() == 0.5 or d.min() == -0.5):
        _move_ties_away(r, d)
    return r


# the float32 just below 0.5: floor(v + _HALF_DOWN) rounds halves up (see _round_half_up_nonnegative)
_HALF_DOWN = np.float32(0.5) - np.float32(2.0**-25)


def _round_half_up_nonnegative(v: np.ndarray) -> np.ndarray:
    """TfLiteRound of v >= 0 in two in-place passes (three fewer than rint's tie search): floor(v + h), h the
    float32 just below 0.5. Adding 0.5 itself is wrong once: 0.5 - 2**-25 + 0.5 rounds (ties to even) to
    1.0. With h: a tie k + 0.5 sums to k + 1 - 2**-25, which rounds to k + 1 (k = 0: a float32 tie
    between 1 - 2**-24 and 1, even is 1); v = k + f with f < 0.5 sums at least ulp(v) + 2**-25 below
    k + 1, more than half an ulp of the sum, so it stays below; f > 0.5 sums above k + 1 (exactly
    representable). From 2**22 on, sums round to v or v + 0.5, whose floor is v's rounding. Checked
    against ``qmath.round_half_away`` in tests/test_hybrid_exact.py (every tie below 2**16 and both
    neighbours, random bit patterns)."""
    np.add(v, _HALF_DOWN, out=v)
    return np.floor(v, out=v)


def _move_ties_away(r: np.ndarray, d: np.ndarray) -> None:
    d2 = d.reshape(d.shape[0] if d.ndim > 1 else 1, -1)  # rows of v
    r2 = r.reshape(d2.shape)
    for half, step in ((np.float32(0.5), np.float32(1)), (np.float32(-0.5), np.float32(-1))):
        edge = d2.max(axis=1) if half > 0 else d2.min(axis=1)
        for row in np.flatnonzero(edge == half):  # only the rows holding a tie
            k = np.flatnonzero(d2[row] == half)
            k = k[r2[row, k] * step >= 0]  # rint went toward zero (or to 0)
            r2[row, k] += step


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
    q = round_half_away_f32(np.multiply(x, inv[:, None], dtype=np.float32), nonnegative)
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
    v = np.multiply(x, inv[:, None], dtype=np.float32)
    v += offset[:, None].astype(np.float32)
    q = round_half_away_f32(v)
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
