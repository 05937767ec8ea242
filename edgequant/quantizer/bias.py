"""Bias correction: the mean error that quantized weights put on a layer's output, taken out through its bias.

A weight op computes ``W x + b``. With quantized weights ``Wq`` its output is off by ``(W - Wq) x``, and the mean
of that, ``(W - Wq) mu`` over the layer's real inputs (``mu`` = their mean), does not average away over samples:
it is an offset on every output channel, passed on to every later layer. Adding it to the float bias,

    b' = b + (W - Wq) mu,

makes the layer's mean output the float layer's again, at no cost in size or speed (Nagel et al., "Data-Free
Quantization Through Weight Equalization and Bias Correction", 2019, section 4.2, there with means from batch
norm; here from the calibration data). Balanced rounding (edgequant.quantizer.balanced) removes the same offset
without data, but only as far as a group's inputs share one mean; GPTQ as far as its damped statistics let it.

``mu`` is the mean input row in the filter's own order: for a convolution, the mean im2col patch over the
sampled output positions (so the zeros of padding count where they are read), for a depthwise filter each input
channel's mean taps (edgequant.quantizer.gptq.Hessians gathers both from the float model's calibration run).
The correction is in float: in the weight modes the bias stays float; in the full-integer modes ``b'`` is then
quantized like ``b``. Ops without a bias are left as they are (adding a bias tensor would grow the file).
"""

from __future__ import annotations

import numpy as np

from ..quantization import QuantParams

OPS = ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D")


def bias_shift(w: np.ndarray, q: np.ndarray, qp: QuantParams, op_name: str, mu: np.ndarray | None
               ) -> np.ndarray | None:
    """``(W - Wq) mu`` per output channel (float64), for the float weight ``w`` of an ``op_name`` op stored as
    the integers ``q`` with ``qp`` (symmetric: zero points 0), and the mean input row ``mu`` (Hessians.mean); None
    where it does not apply (no mean, a layout or grid it does not know, a non-finite result)."""
    if mu is None or op_name not in OPS or np.any(np.asarray(qp.zero_point) != 0):
        return None
    scale = np.asarray(qp.scale, np.float64)
    if scale.ndim and qp.axis is not None:
        shape = [1] * w.ndim
        shape[qp.axis % w.ndim] = -1
        scale = scale.reshape(shape)
    err = w.astype(np.float64) - q.astype(np.float64) * scale  # W - Wq, the layout of w
    if op_name == "DEPTHWISE_CONV_2D":  # (1, KH, KW, C*M): output channel k reads input channel k // M
        if w.ndim != 4 or mu.ndim != 2 or w.shape[3] % mu.shape[0] or mu.shape[1] != w.shape[1] * w.shape[2]:
            return None
        rows = err.reshape(-1, w.shape[3]).T  # (C*M, KH*KW)
        shift = np.einsum("kt,kt->k", rows, np.repeat(mu, w.shape[3] // mu.shape[0], axis=0))
    else:  # (O, K) rows against K inputs: FC features, or a convolution's (kh, kw, c) patch
        rows = err.reshape(w.shape[0], -1)
        if mu.shape != rows.shape[1:]:
            return None
        shift = rows @ mu
    return shift if np.all(np.isfinite(shift)) else None
