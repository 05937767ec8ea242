"""Error-compensating weight rounding from calibration inputs (GPTQ: Frantar et al., 2022, arXiv:2210.17323).

Rounding each weight to its nearest int8 step makes every weight's error as small as it can be on its own,
but a layer's *output* error is ``(W - Wq) @ x``, and errors of weights that see correlated inputs can cancel.
GPTQ rounds the columns of ``W`` (one input feature each) in order and, after each one, moves the weights not yet
rounded so that they make up for the error just made, weighting by ``H = E[x x^T]`` of the layer's real inputs:

    for each column i:   q_i = clip(round(w_i / s)),   e = (w_i - s q_i) / U[i, i],   w_{>i} -= e U[i, >i]

where ``U`` is the upper Cholesky factor of ``H^-1``. The scales (``Recipe.weight_range``) are kept: only which
integer each weight gets changes, so the file and the kernels are exactly those of nearest rounding.

Which inputs: FULLY_CONNECTED rows of its input; CONV_2D the im2col patches (kh, kw, c order, as the filter
is stored (O, KH, KW, I)); DEPTHWISE_CONV_2D each output channel's own (kh, kw) patches of its input channel,
one small ``H`` per channel. Other weight ops (and grouped convolutions) keep nearest rounding.

>>> hs = Hessians(model)                 # doctest: +SKIP
>>> for values in float_runs: hs.update(values)          # {tensor index: float array} per batch
>>> q = round_weights(w, qp, hs.get(weight_index), "CONV_2D")   # integers in [qp.qmin, qp.qmax], or None
"""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..graph import Model, Operator
from ..kernels._common import Window
from ..qmath import round_half_away
from ..quantization import QuantParams

ROUNDINGS = ("auto", "nearest", "balanced", "gptq")
DAMP = 0.01  # added to H's diagonal, times its mean: keeps H invertible when calibration inputs are few
BLOCK = 128  # columns updated lazily per block (the rest get one matrix product per block)
# Input rows H is estimated from, per calibration sample and weight op: as many as WORK_PER_SAMPLE multiply-adds
# of x x^T buy, between ROWS_PER_SAMPLE and MAX_ROWS_PER_SAMPLE (every row of a map of 64 positions or fewer, as
# before), and MIN_ROWS at least per batch. One row is drawn at random in each of that many equal strata, not at
# a fixed stride: that lattice (columns 0 and 16 of a 32-wide map) kept the left edge's padded patches and never
# the right edge's, and resnet_large's held-out layer-output error was 2 dB worse with it (64 rows per sample)
# than with every row, or with 8 drawn per sample (benchmarks/bench_full_integer.md).
WORK_PER_SAMPLE = 1 << 20
ROWS_PER_SAMPLE = 8
MAX_ROWS_PER_SAMPLE = 64  # above it, copying the sampled patches costs more than their products
MIN_ROWS = 256


class Hessians:
    """Running ``sum x x^T`` of the input of every weight op of ``model``'s main subgraph, keyed by the
    index of the op's constant float weight tensor."""

    OPS = ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D")

    def __init__(self, model: Model):
        sg = model.main
        self._sums: dict[int, np.ndarray] = {}
        self._counts: dict[int, int] = {}
        self._ops: list[tuple[str, Operator, np.ndarray]] = []
        self._rng = np.random.default_rng(0)  # which rows are sampled: the same on every run
        shared = _shared_weights(model)  # a weight read by two ops gets one rounding: keep nearest for it
        for op in sg.operators or []:
            name = model.op_name(op)
            ins = op.inputs or []
            if name not in self.OPS or len(ins) < 2 or ins[1] < 0 or ins[1] in shared:
                continue
            t = sg.tensors[ins[1]]
            w = t.numpy() if t.type == dtypes.FLOAT32 else None
            if w is not None and w.ndim in (2, 4):
                self._ops.append((name, op, w))

    def update(self, values: dict[int, np.ndarray]) -> None:
        """Add one batch: ``values`` maps tensor indices to float arrays (batch first), as calibration has them."""
        for name, op, w in self._ops:
            x = values.get(op.inputs[0])
            if x is None or x.dtype != np.float32:
                continue
            h = _input_products(name, op, w, x, self._rng)
            if h is None:
                continue
            k = op.inputs[1]
            prods, n = h
            if k in self._sums:
                np.add(self._sums[k], prods, out=self._sums[k])  # float32 into float64, no float64 copy first
                self._counts[k] += n
            else:
                self._sums[k], self._counts[k] = prods.astype(np.float64), n

    def get(self, weight_index: int) -> np.ndarray | None:
        """Mean ``x x^T`` for this weight: (K, K), or (C, K, K) for a depthwise filter; None if never seen."""
        if weight_index not in self._sums:
            return None
        return self._sums[weight_index] / max(self._counts[weight_index], 1)


def _shared_weights(model: Model) -> set[int]:
    uses: dict[int, int] = {}
    for op in model.main.operators or []:
        for i in op.inputs or []:
            uses[i] = uses.get(i, 0) + 1
    return {i for i, n in uses.items() if n > 1}


def _input_products(name: str, op: Operator, w: np.ndarray, x: np.ndarray,
                    rng: np.random.Generator) -> tuple[np.ndarray, int] | None:
    """(sum of x x^T over this batch's sampled input rows, float32, number of rows used), or None if the shapes
    don't fit.

    Rows drawn by :func:`sample_rows`: a conv's patches are many and alike, and H only needs to be a good
    estimate, so big early layers cost no more than small late ones."""
    n = x.shape[0]
    if name == "FULLY_CONNECTED":
        if w.ndim != 2 or x.size % w.shape[1]:
            return None
        rows = x.reshape(-1, w.shape[1])
        return _gram(rows[sample_rows(rows.shape[0], n, rows.shape[1], rng)])
    if x.ndim != 4 or w.ndim != 4:
        return None
    o = op.builtin_options
    _, kh, kw, wc = w.shape
    win = Window.make(o.padding, x.shape[1], x.shape[2], kh, kw, o.stride_h, o.stride_w,
                      o.dilation_h_factor, o.dilation_w_factor)
    c = x.shape[3]
    if (name == "CONV_2D" and wc != c) or (name != "CONV_2D" and wc % c):
        return None  # grouped convolutions, or a depthwise filter that does not fit the input
    view = win.im2col(win.padded(x, 0.0))  # (N, OH, OW, KH, KW, C) strided view, zeros where TFLite pads
    keep = sample_rows(n * win.out_h * win.out_w, n, kh * kw * (c if name == "CONV_2D" else 1), rng)
    b, rest = np.divmod(keep, win.out_h * win.out_w)
    i, j = np.divmod(rest, win.out_w)
    patches = view[b, i, j]  # (rows, KH, KW, C): only the sampled patches are copied
    if name == "CONV_2D":
        return _gram(patches.reshape(-1, kh * kw * c))
    # DEPTHWISE_CONV_2D: filter (1, KH, KW, C * M); output channel k reads input channel k // M
    taps = patches.reshape(-1, kh * kw, c)
    per_channel = np.ascontiguousarray(taps.transpose(2, 1, 0), np.float32)  # (C, KH*KW, rows)
    return np.matmul(per_channel, per_channel.transpose(0, 2, 1)), taps.shape[0]


def sample_rows(total: int, samples: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of the rows (``total`` rows of ``width`` values, from ``samples`` samples) that H is estimated
    from: all of them, or ``WORK_PER_SAMPLE // width**2`` per sample (clipped to ``[ROWS_PER_SAMPLE,
    MAX_ROWS_PER_SAMPLE]``; ``MIN_ROWS`` at least), one drawn at random in each of that many equal strata.
    Unlike a fixed stride, no row position is always or never taken."""
    per_sample = min(max(WORK_PER_SAMPLE // max(width, 1) ** 2, ROWS_PER_SAMPLE), MAX_ROWS_PER_SAMPLE)
    k = max(per_sample * samples, MIN_ROWS)
    if k >= total:
        return np.arange(total)
    lo = np.arange(k + 1) * total // k  # stratum i is [lo[i], lo[i + 1]), 1 row or more
    return lo[:-1] + rng.integers(0, np.diff(lo))


def _gram(rows: np.ndarray) -> tuple[np.ndarray, int]:
    part = np.ascontiguousarray(rows, np.float32)
    return part.T @ part, part.shape[0]  # x.T @ x: numpy hands it to BLAS syrk


def round_weights(w: np.ndarray, qp: QuantParams, h: np.ndarray | None, op_name: str) -> np.ndarray | None:
    """GPTQ integers for the float weight ``w`` with the (fixed) scales of ``qp``, or None where GPTQ does not
    apply (no statistics, an axis it cannot use, a non-symmetric grid): the caller then rounds to nearest."""
    if h is None or np.any(np.asarray(qp.zero_point) != 0):
        return None
    scale = np.asarray(qp.scale, np.float64)
    if op_name == "DEPTHWISE_CONV_2D":
        if qp.axis not in (3, None) or h.ndim != 3:
            return None
        _, kh, kw, ch = w.shape
        mult = ch // h.shape[0]
        rows = w.reshape(kh * kw, ch).T  # (C*M, KH*KW): one row per output channel
        s = np.broadcast_to(scale.reshape(-1), (ch,)) if scale.size in (1, ch) else None
        if s is None:
            return None
        q = _gptq(rows, s, np.repeat(h, mult, axis=0), qp.qmin, qp.qmax)  # channel k reads input k // M
        return q.T.reshape(w.shape)
    if qp.axis not in (0, None) or h.ndim != 2:
        return None
    rows = w.reshape(w.shape[0], -1)
    if rows.shape[1] != h.shape[0]:
        return None
    s = np.broadcast_to(scale.reshape(-1), (rows.shape[0],)) if scale.size in (1, rows.shape[0]) else None
    if s is None:
        return None
    return _gptq(rows, s, h, qp.qmin, qp.qmax).reshape(w.shape)


def _gptq(w: np.ndarray, s: np.ndarray, h: np.ndarray, qmin: int, qmax: int) -> np.ndarray:
    """Integers (as float64) for rows ``w`` (R, K) with per-row scales ``s`` (R,) and input statistics ``h``:
    (K, K) shared by every row, or (R, K, K), one per row (depthwise filters)."""
    w = w.astype(np.float64)  # a copy: it is updated as columns are rounded
    k = w.shape[1]
    h = np.array(h, np.float64)
    diag = np.diagonal(h, axis1=-2, axis2=-1)  # a view: writing h's diagonal below updates it
    # Inputs that were always zero in calibration: H leaves their weights free, but the quantized model's inputs
    # are not exactly the float model's, so they round to nearest (a unit diagonal decouples them) rather than
    # to whatever would be cheapest on the calibration set.
    dead = diag <= 0
    damp = DAMP * np.mean(diag, axis=-1, keepdims=True)
    h[..., np.arange(k), np.arange(k)] = np.where(dead, 1.0, diag + damp)
    u = _upper_inverse_cholesky(h)
    if u is None:
        return _nearest(w, s, qmin, qmax)
    if h.ndim == 3:  # one small problem per row: columns in order, every row at once
        q = np.empty_like(w)
        for i in range(k):
            q[:, i] = np.clip(round_half_away(w[:, i] / s), qmin, qmax)
            e = (w[:, i] - q[:, i] * s) / u[:, i, i]
            w[:, i + 1:] -= e[:, None] * u[:, i, i + 1:]
        return q
    # shared H: lazy block updates, one product per block for the rest. Transposed, so that column i of w is
    # the contiguous row wt[i]; rounding a clipped value gives the same integer as clipping a rounded one.
    wt, qt = np.ascontiguousarray(w.T), np.empty((k, w.shape[0]))
    for b0 in range(0, k, BLOCK):
        b1 = min(b0 + BLOCK, k)
        err = np.empty((b1 - b0, w.shape[0]))
        for i in range(b0, b1):
            col = wt[i]
            qt[i] = round_half_away(np.clip(col / s, qmin, qmax))
            e = err[i - b0]
            np.divide(col - qt[i] * s, u[i, i], out=e)
            wt[i + 1:b1] -= u[i, i + 1:b1, None] * e
        if b1 < k:
            wt[b1:] -= u[b0:b1, b1:].T @ err
    return qt.T


def _nearest(w: np.ndarray, s: np.ndarray, qmin: int, qmax: int) -> np.ndarray:
    return np.clip(round_half_away(w / s[:, None]), qmin, qmax)


def _upper_inverse_cholesky(h: np.ndarray) -> np.ndarray | None:
    """Upper-triangular U with U^T U = H^-1 (for each matrix of a stack), or None if H is not positive definite
    even after damping.

    No explicit H^-1: with J the exchange matrix (indices reversed), J H J = L L^T gives
    H^-1 = (J L^-1 J)^T (J L^-1 J), and J L^-1 J is upper triangular with a positive diagonal, so it is the
    factor. One Cholesky and one triangular inverse: about a quarter of the work of inverting H and factoring
    the inverse (a 576-input layer, as in digits_cnn: 34 -> 8 ms single-threaded, same U to 1e-15)."""
    if not np.all(np.isfinite(h)):  # calibration values near 1e19 overflow the float32 Gram products
        return None
    try:
        low = np.linalg.cholesky(h[..., ::-1, ::-1])
        u = _lower_inverse(low)[..., ::-1, ::-1]
    except np.linalg.LinAlgError:  # not positive definite, or a factor too ill-conditioned to invert
        return None
    return u if np.all(np.isfinite(u)) else None


def _lower_inverse(low: np.ndarray) -> np.ndarray:
    """Inverse of a lower-triangular matrix (or stack): [[A, 0], [C, D]]^-1 = [[A^-1, 0], [-D^-1 C A^-1, D^-1]],
    halves down to small blocks, so the work is matrix products (n^3 / 3 multiply-adds in all)."""
    n = low.shape[-1]
    if n <= 64:
        return np.tril(np.linalg.inv(low))
    m = n // 2
    a = _lower_inverse(low[..., :m, :m])
    d = _lower_inverse(low[..., m:, m:])
    out = np.zeros_like(low)
    out[..., :m, :m] = a
    out[..., m:, m:] = d
    out[..., m:, :m] = -(d @ (low[..., m:, :m] @ a))
    return out
