"""Scales of constant weights: symmetric narrow-range int8 (zero point 0, [-127, 127]), per channel or per tensor.

Two ways to pick the range a scale covers (``Recipe.weight_range``):

* ``"minmax"``: ``scale = max|w| / 127``, TFLiteConverter's and ai-edge-quantizer's choice. Nothing clips, but
  one outlier stretches the steps of the whole channel.
* ``"mse"``: per channel, the clipping ratio ``r`` in [0.5, 1.0] (``scale = r * max|w| / 127``, searched in steps of 0.0025)
  whose quantize/dequantize round trip has the smallest squared error, computed with the same arithmetic the
  runtime uses (float32 division, round half away from zero, float32 ``q * scale``). The grid holds ``r = 1.0``
  with exactly min/max's scale and ties keep the larger ratio, so the weight MSE is never above min/max's.

>>> import numpy as np
>>> w = np.array([[0.01, -0.02, 0.015, 1.0]], np.float32)   # one outlier in a channel of small weights
>>> float(weight_params(w, 0, "mse").scale[0]) <= float(weight_params(w, 0, "minmax").scale[0])
True
"""

from __future__ import annotations

import numpy as np

from ..errors import EdgequantError
from ..qmath import round_half_away
from ..quantization import QuantParams, choose_qparams

WEIGHT_RANGES = ("minmax", "mse")
# clipping ratios searched by "mse", largest first so that ties keep the wider range (less clipping)
_COARSE = np.linspace(1.0, 0.5, 21)
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

    Coarse ratios 1.0, 0.975, ..., 0.5 for every channel, then steps of 0.0025 around each channel's best
    (42 passes over the weights instead of 201 for the same resolution).
    """
    s0 = np.atleast_1d(np.asarray(scale, np.float32))
    if axis is None:
        rows = np.asarray(w, np.float32).reshape(1, -1)  # (1, N)
    else:
        rows = np.moveaxis(np.asarray(w, np.float32), axis, 0).reshape(s0.size, -1)  # (C, N / C)
    best_err = np.full(s0.size, np.inf)
    best_ratio = np.ones(s0.size)
    best = s0.copy()

    def trial(ratio: np.ndarray) -> None:
        nonlocal best_err, best_ratio, best
        s = np.maximum((s0 * ratio.astype(np.float32)).astype(np.float32), _TINY)  # ratio 1.0: min/max's scale
        with np.errstate(over="ignore", invalid="ignore"):
            q = np.clip(round_half_away(np.divide(rows, s[:, None], dtype=np.float32)), qmin, qmax)
            d = ((q * s[:, None]).astype(np.float32) - rows).astype(np.float64)  # (C, N / C)
        err = np.einsum("ij,ij->i", d, d)
        better = err < best_err  # strict: ties keep the earlier, wider ratio
        best_err = np.where(better, err, best_err)
        best_ratio = np.where(better, ratio, best_ratio)
        best = np.where(better, s, best)

    for r in _COARSE:
        trial(np.full(s0.size, r))
    centre = best_ratio.copy()
    for step in _FINE:
        trial(np.clip(centre + step, 0.5, 1.0))
    return best.reshape(np.shape(scale)).astype(np.float32)
