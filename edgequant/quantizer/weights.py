"""Scales of constant weights: symmetric narrow-range int8 (zero point 0, [-127, 127]), per channel or per tensor.

Two ways to pick the range a scale covers (``Recipe.weight_range``):

* ``"minmax"``: ``scale = max|w| / 127``, TFLiteConverter's and ai-edge-quantizer's choice. Nothing clips, but
  one outlier stretches the steps of the whole channel.
* ``"mse"``: per channel, the clipping ratio ``r`` in [0.5, 1.0] (``scale = r * max|w| / 127``, searched in steps
  of 0.0025) whose quantize/dequantize round trip has the smallest squared error. A channel keeps min/max's
  scale unless the ratio found has less error over all its weights, so the weight MSE is not above min/max's.
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
# clipping ratios searched by "mse", largest first so that ties keep the wider range (less clipping)
_COARSE = np.linspace(1.0, 0.5, 11)
_FINE = np.array([d for k in range(1, 11) for d in (0.0025 * k, -0.0025 * k)])
_TINY = np.finfo(np.float32).tiny


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
    """Per-channel scales (shape of ``scale``) from ``ratio * scale`` minimising the round-trip squared error.

    The search: coarse ratios 1.0, 0.95, ..., 0.5 for every channel, then steps of 0.0025 within 0.025 of each
    channel's best (31 trials instead of 201 for the same resolution). Every weight counts: a search on a strided sample of
    big channels was 3x faster and lost 1-2 dB of output SQNR on the digits models. Ratio 1.0 (min/max's scale)
    is the first trial and a ratio replaces it only with strictly less error.
    """
    s0 = np.atleast_1d(np.asarray(scale, np.float32))
    if axis is None:
        rows = np.asarray(w, np.float32).reshape(1, -1)  # (1, N)
    else:
        rows = np.moveaxis(np.asarray(w, np.float32), axis, 0).reshape(s0.size, -1)  # (C, N / C)
    with np.errstate(over="ignore", invalid="ignore"):
        coarse = np.repeat(_COARSE[:, None], s0.size, axis=1)  # (trials, channels)
        ratio, err = _best_ratio(rows, s0, coarse, qmin, qmax)
        fine = np.clip(ratio + _FINE[:, None], 0.5, 1.0)
        fine_ratio, fine_err = _best_ratio(rows, s0, fine, qmin, qmax)
        ratio = np.where(fine_err < err, fine_ratio, ratio)  # strict: ties keep the coarse ratio
    return np.maximum((s0 * ratio.astype(np.float32)).astype(np.float32), _TINY).reshape(np.shape(scale))


def _best_ratio(rows: np.ndarray, s0: np.ndarray, ratios: np.ndarray, qmin: int, qmax: int):
    """For each channel (row of ``rows``), the ratio of ``ratios[:, c]`` whose quantize/dequantize round trip has the
    least squared error, the first one on ties, and that error. Trials run together in chunks of ~64k values
    (they stay in cache), in float32 with a reciprocal multiply and ties to even: an estimate for a search (the
    runtime divides and rounds halves away from zero; the two differ only at exact ties)."""
    n_trials = ratios.shape[0]
    per = max(1, (1 << 16) // max(rows.size, 1))
    errs = np.empty(ratios.shape)
    for t0 in range(0, n_trials, per):
        r = ratios[t0:t0 + per]
        s = np.maximum(s0 * r.astype(np.float32), _TINY)  # (trials, C)
        t = rows * (np.float32(1) / s)[..., None]  # weights in steps
        q = np.rint(t)
        np.clip(q, qmin, qmax, out=q)
        np.subtract(t, q, out=t)  # the error, in steps
        errs[t0:t0 + per] = np.einsum("tij,tij->ti", t, t, dtype=np.float64) * np.square(s, dtype=np.float64)
    k = np.argmin(errs, axis=0)  # the first minimum: coarse trials run from the widest ratio down
    cols = np.arange(ratios.shape[1])
    return ratios[k, cols], errs[k, cols]
