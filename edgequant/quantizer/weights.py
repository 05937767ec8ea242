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

import threading

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
# The search: errors for grid indices 0 to _WINDOW (ratios 1.0 to 0.9775) of every channel, one pass per ratio,
# then one index more, round by round, for the channels whose best is within _PATIENCE of the last index they
# looked at (_PATIENCE_FAR past _FAR). Chosen on the weights of the six models of benchmarks/bench_weight_modes.py
# (5738 channels of 8 to 1440 weights, optima all between 0.9775 and 1.0, 52 % at 1.0): every channel gets the
# minimum over the whole grid (tests/test_weight_search.py), as with the former search, whose files are unchanged.
# A window of 0 to 3 with patience 1 (about 4.6 trials per weight instead of 10.4) kept the total weight MSE within
# 0.24 % but cost resnet_large 1.8-2.1 dB of output SQNR and mnist_cnn 0.7-0.9 dB (benchmarks/bench_weight_modes.md).
_WINDOW = 9
_PATIENCE = 2
_FAR, _PATIENCE_FAR = 16, 6  # past index 16 (few channels: big ones clipping outliers) the walk looks further
_SPLIT_RATIO = 0.93  # float32 trials at ratios >= 0.94 leave the weights under 0.93 of max|w| unclamped


def weight_params(w: np.ndarray, axis: int | None, method: str = "minmax") -> QuantParams:
    """Symmetric narrow-range int8 parameters for the constant ``w``, per channel on ``axis`` (or per tensor)."""
    return weight_params_many([(w, axis)], method)[0]


def weight_params_many(weights: list[tuple[np.ndarray, int | None]], method: str = "minmax") -> list[QuantParams]:
    """:func:`weight_params` of each ``(w, axis)``; the "mse" searches of small tensors run together
    (:func:`_mse_rows`), which saves most of their per-call cost on models with many small layers.

    Float32 weights get min/max's scale from their (C, N) rows (a view where the layout allows), as
    :func:`choose_qparams` computes it (``max|w| / qmax`` in float64, 1.0 for an all-zero channel, at least float32's
    tiny, cast to float32); anything else (other dtypes, empty, NaN or Inf, a bad axis) goes to choose_qparams
    itself, which also raises its errors."""
    if method not in WEIGHT_RANGES:
        raise EdgequantError(f"unknown weight range '{method}' (choose from {', '.join(WEIGHT_RANGES)})")
    qps: list[QuantParams] = []
    found = []  # (index, rows, scale) of the float32 tensors
    for i, (w, axis) in enumerate(weights):
        w = np.asarray(w)
        ok = w.dtype == np.float32 and w.size and (axis is None or -w.ndim <= axis < w.ndim)
        # min/max reads the weights where they are, without an |w| array: "minmax" copies nothing, and "mse" copies
        # each weight once, into the aligned rows it searches
        rows = _channel_rows(w, None if axis is None else axis % w.ndim) if ok else None
        amax = np.maximum(rows.max(axis=1), -rows.min(axis=1)).astype(np.float64) if ok else None
        if not ok or not np.isfinite(amax).all():
            qps.append(choose_qparams(w, bits=8, symmetric=True, axis=axis))
            continue
        scale = np.maximum(np.where(amax > 0, amax / 127, 1.0), _TINY).astype(np.float32)
        scale = scale[0] if axis is None else scale
        qps.append(QuantParams(scale, np.zeros_like(scale, np.int64), None if axis is None else axis % w.ndim,
                               8, True, True))
        found.append((i, rows, scale))
    if method == "minmax" or not found:
        return qps
    best = _mse_rows([r for _, r, _ in found], [np.atleast_1d(sc) for _, _, sc in found], -127, 127)
    for (i, _, scale), k in zip(found, best):
        qp = qps[i]
        qps[i] = QuantParams(k.reshape(np.shape(scale)), qp.zero_point, qp.axis, qp.bits, qp.signed, qp.narrow_range)
    return qps


def _channel_rows(w: np.ndarray, axis: int | None) -> np.ndarray:
    """``w`` as float32 (C, N), one row per channel on ``axis`` (one row if None): a view where the layout allows."""
    w = np.asarray(w, np.float32)
    return w.reshape(1, -1) if axis is None else np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)


def _aligned(rows: np.ndarray) -> np.ndarray:
    """``rows`` 64-byte aligned and contiguous, copied if not (a view into a file whose buffers are only 4-byte
    aligned is slower to read)."""
    return rows.copy() if rows.ctypes.data % 64 or not rows.flags.c_contiguous else rows


def mse_scales(w: np.ndarray, scale: np.ndarray, axis: int | None, qmin: int, qmax: int) -> np.ndarray:
    """Per-channel scales (shape of ``scale``) from ``ratio * scale``, ratio on ``_GRID``, minimising the round-trip
    squared error.

    Exact errors (every weight counts: a search on a strided sample of big channels lost 1-2 dB of output SQNR
    on the digits models) cost a pass over the weights per ratio, so only a few ratios get one: a window next to
    1.0, widened one ratio at a time while the best is near its end. Ratio 1.0 (min/max's scale) is always
    evaluated and replaced only with strictly less error. The search sums squares in float32 and settles the
    channels where that rounding could change the choice in float64 (:func:`_search`).
    """
    return mse_scales_many([(w, scale, axis)], qmin, qmax)[0]


def mse_scales_many(items: list[tuple[np.ndarray, np.ndarray, int | None]], qmin: int, qmax: int) -> list[np.ndarray]:
    """:func:`mse_scales` of each ``(w, scale, axis)``, searched together (:func:`_mse_rows`)."""
    rows = [_channel_rows(w, axis) for w, _, axis in items]
    s0 = [np.atleast_1d(np.asarray(scale, np.float32)) for _, scale, _ in items]
    return [k.reshape(np.shape(scale)) for k, (_, scale, _) in zip(_mse_rows(rows, s0, qmin, qmax), items)]


def _mse_rows(rows_list: list[np.ndarray], s0_list: list[np.ndarray], qmin: int, qmax: int) -> list[np.ndarray]:
    """The searched scales (C,) of each (C, N) ``rows`` with min/max scales ``s0`` (C,). Channels of tensors under
    ``_CHUNK // 2`` weights are searched together, zero padded to the next power of two of their length (a zero
    errs by exactly 0 at every ratio, so each channel's errors are its own); larger tensors alone, or with tensors
    of the same channel length. ``rows`` may be views of the file: each weight is copied once, into the aligned
    arrays searched."""
    groups: dict[tuple[int, bool], list[tuple[int, np.ndarray, np.ndarray]]] = {}
    for i, (rows, s0) in enumerate(zip(rows_list, s0_list)):
        n = rows.shape[1]
        small = rows.size < _CHUNK // 2
        groups.setdefault((1 << max(n - 1, 0).bit_length() if small else n, small), []).append((i, rows, s0))
    out: list[np.ndarray] = [np.empty(0)] * len(rows_list)
    for (n, _), members in groups.items():
        s0 = np.concatenate([m[2] for m in members])
        if len(members) == 1 and members[0][1].shape[1] == n:
            rows = _aligned(members[0][1])
        else:
            rows = np.empty((s0.size, n), np.float32)
            c0 = 0
            for _, r, _ in members:
                rows[c0:c0 + r.shape[0], :r.shape[1]] = r
                rows[c0:c0 + r.shape[0], r.shape[1]:] = 0
                c0 += r.shape[0]
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            k, hi, unsure = _search(rows, s0, qmin, qmax)
            if unsure.size:  # float32 sums too close to call: float64 ones decide, over the same ratios
                k[unsure] = _decide(rows[unsure], s0[unsure], np.ones(unsure.size, np.intp), hi[unsure], qmin, qmax)
        scales = np.maximum(s0 * _GRID[k], _TINY).astype(np.float32)
        c0 = 0
        for i, r, _ in members:
            out[i] = scales[c0:c0 + r.shape[0]]
            c0 += r.shape[0]
    return out


def _search(rows: np.ndarray, s0: np.ndarray, qmin: int, qmax: int):
    """The search of :func:`mse_scales` on float32 sums of squares: per channel the chosen grid index, the last
    index it looked at (it looked at all from 0 on), and the channels whose choice float32 rounding could have
    changed.

    A float32 sum of ``n`` squares is within a relative ``(n + 2) * 2**-24`` of the exact value in any order of
    summation, so two errors further apart than that are ordered as float64 sums would order them; where the best
    and the runner-up (or ratio 1.0) are closer, the channel is returned as unsure."""
    channels, n = rows.shape
    last, cols = _GRID.size - 1, np.arange(channels)
    idx = np.broadcast_to(np.arange(_WINDOW + 1)[:, None], (_WINDOW + 1, channels))  # (trials, C)
    if qmin == -qmax and rows.size >= _CHUNK // 4 and _GRID[_WINDOW] >= _SPLIT_RATIO + 0.01:
        errs = _window_errors(rows, s0, idx, qmax)
    else:
        errs = _errors(rows, s0, idx, qmin, qmax, exact=False)
    e1 = errs[0]
    best = 1 + np.argmin(errs[1:], axis=0)  # the first minimum: the widest ratio on ties
    best_err = errs[best, cols]
    errs[best, cols] = np.inf
    second = errs[1:].min(axis=0)
    hi = np.full(channels, _WINDOW)
    a = np.flatnonzero((hi - best < _PATIENCE) & (hi < last))
    while a.size:  # one ratio more for the channels whose best is near the last one they looked at
        hi[a] += 1
        if a.size * n <= 4 * _CHUNK:  # gathered into a kept work array: no fresh one to fault in
            sub = np.take(rows, a, axis=0, out=_scratch(4 * _CHUNK)[2][:a.size * n].reshape(a.size, n), mode="clip")
        else:
            sub = rows[a]
        _update(best, best_err, second, a, hi[a][None], _errors(sub, s0[a], hi[a][None], qmin, qmax, False))
        patience = np.where(hi[a] < _FAR, _PATIENCE, _PATIENCE_FAR)
        a = a[(hi[a] - best[a] < patience) & (hi[a] < last)]
    tau = (n + 2) * 2.0**-24
    near = (1 + tau) / (1 - tau) + 1e-9 if tau < 0.5 else np.inf
    unsure = (second <= best_err * near) | ((e1 <= best_err * near) & (best_err <= e1 * near))
    return np.where(best_err < e1, best, 0), hi, np.flatnonzero(unsure)


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


def _window_errors(rows: np.ndarray, s0: np.ndarray, idx: np.ndarray, qmax: int) -> np.ndarray:
    """:func:`_errors` (float32 sums) of every channel at indices ``idx`` whose ratios are all at least
    ``_SPLIT_RATIO + 0.01``, with the clamp applied only where it can act.

    There only the weights with ``|w| >= (qmax + 0.5) * _SPLIT_RATIO * s0`` (a channel's top few) can round
    past ``qmax``: every weight is rounded without the clamp (one pass fewer over the bulk of them), then what the
    clamp changes is added for the top ones. Clamping only moves an error away from zero, so the float32 sum is
    of no more than the true squares and :func:`_search`'s bound on its rounding holds."""
    channels, n = rows.shape
    s = np.maximum(s0 * _GRID[idx], _TINY)  # (trials, C)
    inv = np.float32(1) / s
    errs = _float32_sums(rows, inv, None).astype(np.float64)
    flat = _top(rows, s0 * np.float32((qmax + 0.5) * _SPLIT_RATIO))
    if flat.size:
        row = flat // n
        t = (rows.reshape(-1)[flat] * inv[:, row]).astype(np.float64)  # (trials, top weights): float32 values
        q = np.rint(t)
        extra = np.square(t - np.clip(q, -qmax, qmax)) - np.square(t - q)
        for k in np.flatnonzero(extra.any(axis=1)):
            errs[k] += np.bincount(row, extra[k], channels)
    return errs * np.square(s, dtype=np.float64)


_SCRATCH = threading.local()


def _scratch(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three float32 work arrays of ``size`` values, kept between calls (per thread) up to ``4 * _CHUNK`` values:
    fresh ones of this size cost their page faults on every first write, as much as the arithmetic."""
    bufs = getattr(_SCRATCH, "bufs", None)
    if bufs is None or bufs[0].size < size:
        bufs = tuple(np.empty(size, np.float32) for _ in range(3))
        if size <= 4 * _CHUNK:
            _SCRATCH.bufs = bufs
    return bufs[0][:size], bufs[1][:size], bufs[2][:size]


def _blocks(rows: np.ndarray, n_trials: int):
    """Blocks of about ``_CHUNK`` values: (first channel, channels, first trial, trials) to evaluate together."""
    channels, n = rows.shape
    per_block = max(1, _CHUNK // max(n, 1))  # channels per block
    per_pass = max(1, _CHUNK // max(min(channels, per_block) * n, 1))  # trials per pass over a block
    for c0 in range(0, channels, per_block):
        for k0 in range(0, n_trials, per_pass):
            yield c0, min(per_block, channels - c0), k0, min(per_pass, n_trials - k0)


def _float32_sums(rows: np.ndarray, inv: np.ndarray, clamp: tuple[int, int] | None) -> np.ndarray:
    """Per trial and channel, the float32 sum of squared round-trip errors in steps of ``rows`` scaled by
    ``inv`` (trials, C): float32 products, ties to even, clamped to ``clamp`` if given."""
    n_trials, (channels, n) = inv.shape[0], rows.shape
    sq = np.empty((n_trials, channels), np.float32)
    per_block = min(channels, max(1, _CHUNK // max(n, 1)))
    size = min(n_trials, max(1, _CHUNK // max(per_block * n, 1))) * per_block * n  # the largest block
    t_buf, q_buf, _ = _scratch(size)
    lo, hi = (np.float32(clamp[0]), np.float32(clamp[1])) if clamp else (None, None)
    for c0, cb, k0, kb in _blocks(rows, n_trials):
        t = t_buf[:kb * cb * n].reshape(kb * cb, n)
        np.multiply(rows[None, c0:c0 + cb], inv[k0:k0 + kb, c0:c0 + cb, None], out=t.reshape(kb, cb, n))
        q = np.rint(t, out=q_buf[:t.size].reshape(t.shape))
        if clamp:
            np.minimum(np.maximum(q, lo, out=q), hi, out=q)
        np.subtract(t, q, out=t)  # the error, in steps
        sq[k0:k0 + kb, c0:c0 + cb] = _row_squares(t).reshape(kb, cb)
    return sq


def _row_squares(t: np.ndarray) -> np.ndarray:
    """Float32 sum of squares of each row of ``t`` (2-d): BLAS dots per row, einsum for short rows (per-row
    call overhead)."""
    if t.shape[1] < 64:
        return np.einsum("ij,ij->i", t, t)
    return np.matmul(t[:, None, :], t[:, :, None])[:, 0, 0]


def _top(rows: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """Flat indices of the weights with ``|w| >= limit`` of their channel (``limit`` (C,))."""
    channels, n = rows.shape
    per_block = max(1, _CHUNK // max(n, 1))
    a_buf, _, _ = _scratch(min(channels, per_block) * n)
    found = []
    for c0 in range(0, channels, per_block):
        block = rows[c0:c0 + per_block]
        a = np.abs(block, out=a_buf[:block.size].reshape(block.shape))
        found.append(np.flatnonzero(a >= limit[c0:c0 + per_block, None]) + c0 * n)  # (2-d nonzero is 10x slower)
    return found[0] if len(found) == 1 else np.concatenate(found)


def _errors(rows: np.ndarray, s0: np.ndarray, idx: np.ndarray, qmin: int, qmax: int, exact: bool) -> np.ndarray:
    """Round-trip squared errors, ``(trials, C)``, of each channel (row of ``rows``) at the grid ratios
    ``idx[:, c]``. In float32 with a reciprocal multiply and ties to even: an estimate for a search (the runtime
    divides and rounds halves away from zero; the two differ only at exact ties). The differences are exact in
    float32; ``exact`` sums their squares in float64, else in float32 (BLAS, about twice as fast). Trials run
    together in chunks of about ``_CHUNK`` values."""
    if not exact:
        s = np.maximum(s0 * _GRID[idx], _TINY)  # (trials, C)
        return _float32_sums(rows, np.float32(1) / s, (qmin, qmax)) * np.square(s, dtype=np.float64)
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
