"""Scales of constant weights: symmetric narrow-range int8 (zero point 0, [-127, 127]), per channel or per tensor.

Two ways to pick the range a scale covers (``Recipe.weight_range``):

* ``"minmax"``: ``scale = max|w| / 127``, TFLiteConverter's and ai-edge-quantizer's choice. Nothing clips, but
  one outlier stretches the steps of the whole channel.
* ``"mse"``: per channel, the clipping ratio ``r`` in [0.5, 1.0] (``scale = r * max|w| / 127``, on a grid of
  steps of 0.0025) whose quantize/dequantize round trip has the smallest squared error, found by a local search
  (see :func:`mse_scales`). A channel keeps min/max's scale unless the ratio found has less
  error over all its weights, so the weight MSE is not above min/max's.
  With nearest rounding this is the better choice (``Recipe.weight_range="auto"`` picks it then); GPTQ makes up
  for rounding error itself and keeps min/max's unclipped range.

>>> import numpy as np
>>> w = np.array([[0.01, -0.02, 0.015, 1.0]], np.float32)   # one outlier in a channel of small weights
>>> float(weight_params(w, 0, "mse").scale[0]) <= float(weight_params(w, 0, "minmax").scale[0])
True
"""

from __future__ import annotations

import numpy as np

from ..errors import EdgequantError
from ..quantization import QuantParams, choose_qparams

WEIGHT_RANGES = ("minmax", "mse")
_TINY = np.finfo(np.float32).tiny
_CHUNK = 1 << 16  # values per exact evaluation step: the scratch arrays stay in cache


def _grid() -> np.ndarray:
    """The clipping ratios "mse" may pick: 1.0 down to 0.5 in steps of 0.0025, float32, index 0 = min/max's scale.

    Each is the float64 sum ``coarse + 0.0025 * k`` of the former two-stage search (coarse ratios 1.0, 0.95, ...,
    0.5, then k = -10..10 around the best) rounded to float32, so every ratio that search could choose is on
    this grid bit for bit; where two coarse ratios reach the same point, their float32 roundings agree."""
    grid = np.zeros(201, np.float32)
    for coarse in np.linspace(1.0, 0.5, 11):
        for k in range(-10, 11):
            r = coarse + 0.0025 * k
            if 0.5 <= r <= 1.0:
                grid[round((1.0 - r) / 0.0025)] = np.float32(r)
    return grid


_GRID = _grid()
# The search: exact errors in a window of ratios, first the one next to 1.0 (indices 1 to _BELOW + _ABOVE + 1), a
# side widened while the best error found is within PATIENCE indices of its edge. A channel still widening after
# _JUMP rounds gets a window around the estimate's optimum instead (larger index = smaller ratio: the estimate
# leans to wider ratios than the exact optimum, hence the asymmetry). Chosen on the weights of the six models of
# benchmarks/bench_weight_modes.py (5738 channels of 8 to 1440 weights, optima all between 0.9775 and 1.0, 52 % at 1.0):
# every channel gets the minimum over the whole grid (tests/test_weight_search.py) from about 10 trials, where the
# former two-stage search took 31, and none needs the estimate.
_BELOW, _ABOVE = 2, 6
_PATIENCE_BELOW, _PATIENCE_ABOVE = 3, 5
_JUMP = 8


def weight_params(w: np.ndarray, axis: int | None, method: str = "minmax") -> QuantParams:
    """Symmetric narrow-range int8 parameters for the constant ``w``, per channel on ``axis`` (or per tensor)."""
    if method not in WEIGHT_RANGES:
        raise EdgequantError(f"unknown weight range '{method}' (choose from {', '.join(WEIGHT_RANGES)})")
    qp = choose_qparams(w, bits=8, symmetric=True, axis=axis)
    if method == "minmax" or w.size == 0:
        return qp
    best = mse_scales(w, qp.scale, axis, qp.qmin, qp.qmax)
    return QuantParams(best, qp.zero_point, qp.axis, qp.bits, qp.signed, qp.narrow_range)


def mse_scales(w: np.ndarray, scale: np.ndarray, axis: int | None, qmin: int, qmax: int) -> np.ndarray:
    """Per-channel scales (shape of ``scale``) from ``ratio * scale``, ratio on ``_GRID``, minimising the round-trip
    squared error.

    Exact errors (every weight counts: a search on a strided sample of big channels lost 1-2 dB of output SQNR
    on the digits models) cost a pass over the weights per ratio, so only a few ratios get one: a window next to
    1.0, widened while the best is near an edge; channels whose optimum lies further get a window around an
    estimate's (:func:`_estimate`, see ``_JUMP``). Ratio 1.0 (min/max's scale) is always evaluated and replaced
    only with strictly less error. The search sums squares in float32 and settles the channels where that
    rounding could change the choice in float64 (:func:`_search`).
    """
    s0 = np.atleast_1d(np.asarray(scale, np.float32))
    if axis is None:
        rows = np.asarray(w, np.float32).reshape(1, -1)  # (1, N)
    else:
        rows = np.moveaxis(np.asarray(w, np.float32), axis, 0).reshape(s0.size, -1)  # (C, N / C)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        k, lo, hi, unsure = _search(rows, s0, qmin, qmax)
        if unsure.size:  # float32 sums too close to call: float64 ones decide, over the same ratios
            k[unsure] = _decide(rows[unsure], s0[unsure], lo[unsure], hi[unsure], qmin, qmax)
    return np.maximum(s0 * _GRID[k], _TINY).astype(np.float32).reshape(np.shape(scale))


def _search(rows: np.ndarray, s0: np.ndarray, qmin: int, qmax: int):
    """The search of :func:`mse_scales` on float32 sums of squares: per channel the chosen grid index, the span
    [lo, hi] of indices it looked at (with gaps where it jumped), and the channels whose choice float32 rounding
    could have changed.

    A float32 sum of ``n`` squares is within a relative ``(n + 2) * 2**-24`` of the exact value in any order of
    summation, so two errors further apart than that are ordered as float64 sums would order them; where the best
    and the runner-up (or ratio 1.0) are closer, the channel is returned as unsure."""
    last, cols, width = _GRID.size - 1, np.arange(s0.size), _BELOW + _ABOVE + 1
    lo = np.ones(s0.size, np.intp)
    hi = lo + width - 1
    idx = lo + np.arange(width)[:, None]  # (trials, C)
    errs = _errors(rows, s0, np.concatenate([np.zeros((1, s0.size), np.intp), idx]), qmin, qmax, exact=False)
    e1, errs = errs[0], errs[1:]
    j = np.argmin(errs, axis=0)  # the first minimum: the widest ratio on ties
    best, best_err = idx[j, cols], errs[j, cols]
    errs[j, cols] = np.inf
    second = errs.min(axis=0)
    span_lo, span_hi = lo.copy(), hi.copy()
    for rounds in range(1, 4 * last):  # widen a side while the best is within its patience of that edge
        down = (best - lo < _PATIENCE_BELOW) & (lo > 1)
        up = (hi - best < _PATIENCE_ABOVE) & (hi < last)
        if not (down.any() or up.any()):
            break
        if rounds == _JUMP:  # still widening: a window around the estimate's optimum, where it lies outside
            a = np.flatnonzero(down | up)
            k0 = _estimate(rows[a], s0[a], qmax)
            a, k0 = a[(k0 < lo[a]) | (k0 > hi[a])], k0[(k0 < lo[a]) | (k0 > hi[a])]
            if a.size:
                lo[a] = np.clip(k0 - _BELOW, 1, last + 1 - width)
                hi[a] = lo[a] + width - 1
                new = lo[a] + np.arange(width)[:, None]
                _update(best, best_err, second, a, new, _errors(rows[a], s0[a], new, qmin, qmax, exact=False))
                span_lo[a], span_hi[a] = np.minimum(span_lo[a], lo[a]), np.maximum(span_hi[a], hi[a])
                continue
        lo, hi = lo - down, hi + up
        for side, edge in ((down, lo), (up, hi)):
            a = np.flatnonzero(side)
            if a.size:
                _update(best, best_err, second, a, edge[a][None],
                        _errors(rows[a], s0[a], edge[a][None], qmin, qmax, exact=False))
        span_lo, span_hi = np.minimum(span_lo, lo), np.maximum(span_hi, hi)
    tau = (rows.shape[1] + 2) * 2.0**-24
    near = (1 + tau) / (1 - tau) + 1e-9 if tau < 0.5 else np.inf
    unsure = (second <= best_err * near) | ((e1 <= best_err * near) & (best_err <= e1 * near))
    return np.where(best_err < e1, best, 0), span_lo, span_hi, np.flatnonzero(unsure)


def _update(best: np.ndarray, best_err: np.ndarray, second: np.ndarray, a: np.ndarray, idx: np.ndarray,
            errs: np.ndarray) -> None:
    """Fold the errors ``errs[k, i]`` of grid index ``idx[k, i]`` into channel ``a[i]``'s best and runner-up: the
    smaller error wins, the smaller index (wider ratio) on ties."""
    for k in range(idx.shape[0]):
        e, b, be = errs[k], best[a], best_err[a]
        better = (e < be) | ((e == be) & (idx[k] < b))
        second[a] = np.where(better, be, np.minimum(second[a], e))
        best[a] = np.where(better, idx[k], b)
        best_err[a] = np.where(better, e, be)


def _decide(rows: np.ndarray, s0: np.ndarray, lo: np.ndarray, hi: np.ndarray, qmin: int, qmax: int) -> np.ndarray:
    """Per channel, the grid index in [lo, hi] (all of it, gaps the search jumped over included) with the least
    float64 error if strictly below ratio 1.0's, else 0; the widest ratio on ties."""
    idx = np.minimum(lo + np.arange(int(np.max(hi - lo)) + 1)[:, None], hi)  # hi repeats: never a first minimum
    errs = _errors(rows, s0, np.concatenate([np.zeros((1, s0.size), np.intp), idx]), qmin, qmax, exact=True)
    j = np.argmin(errs[1:], axis=0)
    cols = np.arange(s0.size)
    return np.where(errs[1:][j, cols] < errs[0], idx[j, cols], 0)


def _estimate(rows: np.ndarray, s0: np.ndarray, qmax: int) -> np.ndarray:
    """Per channel, the grid index (>= 1) nearest the ratio that minimises an estimate of the round-trip error.

    In steps of min/max's scale, ``t = |w| / s0``. At ratio ``r`` a weight clips when ``t >= (qmax + 0.5) * r``
    and then errs by exactly ``t - qmax * r``; every other weight is taken to err by a uniform rounding error,
    ``r**2 / 12`` squared. With the channel's ``m`` largest weights clipped (sums ``S1``, ``S2`` of ``t`` and
    ``t**2``) the estimate is the quadratic ``r**2 * ((n - m) / 12 + m * qmax**2) - 2 * qmax * r * S1 + S2``
    on the interval of ratios where exactly those clip; the best over all ``m`` is the estimate's optimum.
    The ratios 0.9 to 1.0 come first (few weights can clip there: 1-2 % in the benchmark models, whose optima
    all lie there); channels whose optimum is 0.9 itself are estimated again down to 0.5.
    """
    r, _ = _estimate_above(rows, s0, qmax, 0.9)
    low = np.flatnonzero(r <= 0.9)
    if low.size:
        r[low], _ = _estimate_above(rows[low], s0[low], qmax, 0.5)
    return np.clip(np.rint((1.0 - r) / 0.0025).astype(np.intp), 1, _GRID.size - 1)


def _estimate_above(rows: np.ndarray, s0: np.ndarray, qmax: int, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """The estimate's optimal ratio in [floor, 1.0] and its value, per channel (see :func:`_estimate`)."""
    channels, n = rows.shape
    a = np.abs(rows)
    flat = np.flatnonzero(a >= (s0 * np.float32((qmax + 0.5) * floor))[:, None])  # (2-d nonzero is 10x slower)
    ci = flat // n
    t = a.reshape(-1)[flat] * (np.float32(1) / s0)[ci]
    # By channel, largest first, in one sort of float64 keys c * 512 - t (exact: t is a float32 in (0, 512),
    # as a clipping candidate has t < 2 * qmax + 1; c < 2**29).
    key = np.sort(ci * 512.0 - t)
    ci = np.ceil(key / 512.0).astype(np.intp)
    t = ci * 512.0 - key
    first = np.searchsorted(ci, ci)  # where each weight's channel starts
    m = np.arange(ci.size) - first + 1  # clipped weights in the channel when this one is the smallest of them
    c1, c2 = np.cumsum(t), np.cumsum(t * t)
    s1, s2 = c1 - (c1[first] - t[first]), c2 - (c2[first] - t[first] ** 2)
    edge = t / (qmax + 0.5)  # the ratio below which this weight clips
    nxt = np.append(edge[1:], 0.0)
    nxt[np.append(ci[1:] != ci[:-1], True)] = 0.0  # the channel's last one: no smaller weight clips
    lo = np.maximum(nxt, floor)
    hi = np.minimum(edge, 1.0)
    quad = (n - m) / 12 + m * float(qmax * qmax)
    r = np.clip(qmax * s1 / quad, lo, hi)
    est = np.where(lo <= hi, r * r * quad - 2 * qmax * r * s1 + s2, np.inf)
    # Nothing clipped: the estimate n * r**2 / 12 is least at the smallest such ratio.
    best_r = np.full(channels, floor)
    best_r[ci[m == 1]] = np.maximum(edge[m == 1], floor)
    best_e = n * best_r * best_r / 12
    if ci.size:
        per = np.full(channels, np.inf)
        np.minimum.at(per, ci, est)
        better = (est == per[ci]) & (est < best_e[ci])
        best_r[ci[better]] = r[better]
        best_e = np.minimum(best_e, per)
    return best_r, best_e


def _errors(rows: np.ndarray, s0: np.ndarray, idx: np.ndarray, qmin: int, qmax: int, exact: bool) -> np.ndarray:
    """Round-trip squared errors, ``(trials, C)``, of each channel (row of ``rows``) at the grid ratios
    ``idx[:, c]``. In float32 with a reciprocal multiply and ties to even: an estimate for a search (the runtime
    divides and rounds halves away from zero; the two differ only at exact ties). The differences are exact in
    float32; ``exact`` sums their squares in float64, else in float32 (BLAS, about twice as fast). Trials run
    together in chunks of about ``_CHUNK`` values."""
    n_trials = idx.shape[0]
    per = max(1, _CHUNK // max(rows.size, 1))
    errs = np.empty(idx.shape)
    for t0 in range(0, n_trials, per):
        s = np.maximum(s0 * _GRID[idx[t0:t0 + per]], _TINY)  # (trials, C)
        t = rows * (np.float32(1) / s)[..., None]  # weights in steps
        q = np.rint(t)
        np.clip(q, qmin, qmax, out=q)
        np.subtract(t, q, out=t)  # the error, in steps
        if exact:
            sq = np.einsum("tij,tij->ti", t, t, dtype=np.float64)
        else:
            sq = np.matmul(t[..., None, :], t[..., :, None])[..., 0, 0]
        errs[t0:t0 + per] = sq * np.square(s, dtype=np.float64)
    return errs
