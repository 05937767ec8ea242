"""Array-level post-training quantization math: choose parameters, quantize, dequantize, measure error.

For people exploring quantization and for the quantize pipeline. The integer results of
:func:`quantize` are bit-identical to TFLite's reference Quantize (``qmath.quantize_affine``:
float32 division, ``std::round``, clamp), but computed in cache-sized blocks with in-place ufuncs on
both cores, which makes it several times faster than the naive one-liner (``benchmarks/bench_quantize.py``).

>>> import numpy as np
>>> x = np.array([-1.0, 0.0, 0.5, 2.0], np.float32)
>>> qp = choose_qparams(x)                 # asymmetric int8, TFLite conventions
>>> float(qp.scale), int(qp.zero_point)
(0.0117647061124444, -43)
>>> quantize(x, qp)
array([-128,  -43,    0,  127], dtype=int8)
>>> dequantize(quantize(x, qp), qp)
array([-1.       ,  0.       ,  0.5058824,  2.       ], dtype=float32)
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .errors import EdgequantError

# Elements per block: 64 Ki float32 = 256 KiB, two scratch buffers of that size stay in L2.
BLOCK = 1 << 16
# Below this many elements threads cost more than they save.
_THREAD_MIN = 1 << 20
_ALMOST_HALF = np.nextafter(np.float32(0.5), np.float32(0)).view(np.int32)
_SIGN = np.int32(-(1 << 31))


class QuantizationError(EdgequantError, ValueError):
    """Bad input to the quantization math (empty, non-finite, bits or axis out of range, ...)."""


@dataclass(frozen=True)
class QuantParams:
    """How real values map to integers: ``real = (q - zero_point) * scale`` (or ``q * scale + midpoint``).

    ``scale``/``zero_point`` are 0-d for per-tensor or 1-d along ``axis`` for per-channel. ``dtype``
    "float16" means a cast to half precision instead (scale/zero point unused). ``midpoint`` is set
    only by ``scheme="midpoint"``: a real-valued centre that TFLite cannot express (its zero point
    must be an integer).
    """

    scale: np.ndarray
    zero_point: np.ndarray
    axis: int | None = None
    bits: int = 8
    signed: bool = True
    narrow_range: bool = False
    dtype: str = "int"
    midpoint: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.dtype not in ("int", "float16"):
            raise QuantizationError(f"dtype must be 'int' or 'float16', not {self.dtype!r}")
        if self.dtype == "int" and not 2 <= self.bits <= 16:
            raise QuantizationError(f"bits must be in 2..16, not {self.bits}")
        object.__setattr__(self, "scale", np.asarray(self.scale, np.float32))
        object.__setattr__(self, "zero_point", np.asarray(self.zero_point, np.int64))
        if self.midpoint is not None:
            object.__setattr__(self, "midpoint", np.asarray(self.midpoint, np.float32))
        if self.dtype == "int":
            s, zp = self.scale, self.zero_point
            # array methods, not np.all/np.any: this runs for every tensor the quantizer touches
            if s.size and not ((s > 0) & (s < np.inf)).all():  # NaN fails both
                raise QuantizationError("scale must be finite and > 0")
            if zp.size and (zp.min() < self.qmin or zp.max() > self.qmax):
                raise QuantizationError(f"zero point outside [{self.qmin}, {self.qmax}]")
        if (self.scale.ndim > 0) != (self.axis is not None) and self.dtype == "int":
            raise QuantizationError("per-channel params need an axis and 1-d scales (and per-tensor neither)")

    @classmethod
    def float16(cls) -> QuantParams:
        """Half-precision "quantization": a cast to float16."""
        return cls(np.float32(1.0), np.int64(0), bits=16, dtype="float16")

    @property
    def qmin(self) -> int:
        return _int_range(self.bits, self.signed, self.narrow_range)[0]

    @property
    def qmax(self) -> int:
        return _int_range(self.bits, self.signed, self.narrow_range)[1]

    @property
    def levels(self) -> int:
        """Number of representable integer values."""
        return self.qmax - self.qmin + 1

    @property
    def per_channel(self) -> bool:
        return self.axis is not None

    @property
    def storage_dtype(self) -> np.dtype:
        """Smallest numpy integer type holding [qmin, qmax] (float16 for dtype "float16")."""
        if self.dtype == "float16":
            return np.dtype(np.float16)
        if self.bits <= 8:
            return np.dtype(np.int8 if self.signed else np.uint8)
        return np.dtype(np.int16 if self.signed else np.uint16)


def _int_range(bits: int, signed: bool, narrow_range: bool) -> tuple[int, int]:
    """[qmin, qmax] of a ``bits``-wide integer; narrow range drops the most negative value of a signed one."""
    if not signed:
        return 0, (1 << bits) - 1
    return -(1 << (bits - 1)) + (1 if narrow_range else 0), (1 << (bits - 1)) - 1


# ---- choosing parameters --------------------------------------------------------------------------
def _check_bits_axis(bits: int, axis: int | None, ndim: int) -> int | None:
    if not isinstance(bits, (int, np.integer)) or not 2 <= bits <= 16:
        raise QuantizationError(f"bits must be an integer in 2..16, not {bits!r}")
    if axis is None:
        return None
    if ndim == 0 and axis < 0:
        raise QuantizationError(f"axis {axis} counts from the end of an array's shape: give the array (x), or a "
                                "non-negative axis with a per-channel range")
    if ndim and not -ndim <= axis < ndim:
        raise QuantizationError(f"axis {axis} out of range for a {ndim}-d array")
    return axis % ndim if ndim else axis


def _min_max(x: np.ndarray, axis: int | None) -> tuple[np.ndarray, np.ndarray]:
    if x.size == 0:
        raise QuantizationError("cannot choose quantization parameters for an empty array")
    if axis is None:
        lo, hi = np.min(x), np.max(x)
    else:
        rows = np.moveaxis(x, axis, 0).reshape(x.shape[axis], -1)
        if rows.shape[1] == 0:
            raise QuantizationError("cannot choose quantization parameters for an empty array")
        lo, hi = rows.min(axis=1), rows.max(axis=1)
    lo = np.asarray(lo, np.float64)
    hi = np.asarray(hi, np.float64)
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):  # NaN propagates through min/max
        raise QuantizationError("input contains NaN or Inf")
    return lo, hi


def _asymmetric(lo: np.ndarray, hi: np.ndarray, qmin: int, qmax: int) -> tuple[np.ndarray, np.ndarray]:
    """TFLite's ``ChooseQuantizationParams`` (quantization_util.h), vectorised, in double.

    The range is widened to include 0; the zero point comes from whichever end loses less precision
    and is rounded to an integer (std::round) so 0.0 is exact; the scale is not re-nudged. A range
    of a single point (all zeros) gets scale 1.0 instead of TFLite's 0.0, which would divide by zero.
    """
    lo = np.minimum(lo, 0.0)
    hi = np.maximum(hi, 0.0)
    width = hi - lo
    point = width == 0
    scale = np.where(point, 1.0, width / (qmax - qmin))
    # Scales below float32's smallest normal would flush or overflow 1/scale; keep them sane.
    scale = np.maximum(scale, np.finfo(np.float32).tiny)
    zp_from_min = qmin - lo / scale
    zp_from_max = qmax - hi / scale
    err_min = abs(qmin) + np.abs(lo / scale)
    err_max = abs(qmax) + np.abs(hi / scale)
    zp = np.where(err_min < err_max, zp_from_min, zp_from_max)
    zp = np.clip(_round_away64(zp), qmin, qmax)
    zp = np.where(point, np.clip(0, qmin, qmax), zp)
    return scale.astype(np.float32), zp.astype(np.int64)


def _round_away64(v: np.ndarray) -> np.ndarray:
    a = np.asarray(v, np.float64)
    return np.trunc(a + np.copysign(np.nextafter(0.5, 0.0), a))


def choose_qparams(x: np.ndarray | None, bits: int = 8, symmetric: bool = False, axis: int | None = None,
                   narrow_range: bool | None = None, signed: bool = True, scheme: str = "tflite",
                   range: tuple | None = None, dtype: str = "int") -> QuantParams:
    """Choose scale and zero point for ``x`` (or for an observed ``range=(lo, hi)``).

    ``scheme="tflite"``:

    * asymmetric (activations): the range always includes 0.0; the zero point is an integer nudged
      so that 0.0 is exactly representable (TFLite's ``ChooseQuantizationParams``); the largest
      rounding error inside the range is half a step, ``scale / 2``.
    * symmetric (weights): zero point 0, ``scale = max|x| / qmax``; ``narrow_range`` defaults to True
      here, giving [-127, 127] for int8 like TFLite's weights (pass False to keep -128).

    ``scheme="midpoint"`` is the seed lesson's scheme, reproduced exactly: ``scale = (max - min) / 2**bits``,
    ``midpoint = (max + min) / 2``, ``q = clip(np.round((x - midpoint) / scale), -2**(bits-1), 2**(bits-1) - 1)``
    (numpy's round-half-to-even), ``x' = q * scale + midpoint``. Compared with TFLite's scheme:
    0.0 is generally not representable (it lands between two levels), the midpoint is a real-valued
    offset that no TFLite tensor can store, and because 2**bits steps span the range but only
    2**bits - 1 of them fit, ``max`` itself is clipped by a full step. Measured on 100k N(0, 1)
    float32 samples with 8 bits (``tests/test_quantization.py::test_midpoint_vs_tflite_numbers``):
    midpoint max error = 1.0 step, TFLite max error = 0.5 step; the error at 0.0 is ~0.1 step for
    midpoint and exactly 0 for TFLite.

    Bad input raises :class:`QuantizationError`: empty arrays, NaN/Inf, bits outside 2..16, axis
    out of range. A constant tensor gets a valid scale: asymmetric/symmetric widen the range to
    include 0 (so ``c`` gets ``|c| / qmax``-sized steps; all zeros get scale 1.0); midpoint uses
    scale 1.0 centred on the constant (reconstructed exactly).

    >>> qp = choose_qparams(np.array([-0.5, 0.25, 1.27], np.float32), symmetric=True)
    >>> float(qp.scale), int(qp.zero_point), qp.qmin, qp.qmax
    (0.009999999776482582, 0, -127, 127)
    """
    if dtype == "float16":
        return QuantParams.float16()
    if dtype != "int":
        raise QuantizationError(f"dtype must be 'int' or 'float16', not {dtype!r}")
    if scheme not in ("tflite", "midpoint"):
        raise QuantizationError(f"scheme must be 'tflite' or 'midpoint', not {scheme!r}")
    if range is not None:
        lo, hi = (np.asarray(v, np.float64) for v in range)
        if lo.shape != hi.shape or lo.ndim > 1:
            raise QuantizationError("range must be two scalars or two 1-d arrays of the same length")
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))) or np.any(lo > hi):
            raise QuantizationError("range must be finite with lo <= hi")
        if (lo.ndim == 1) != (axis is not None):
            raise QuantizationError("per-channel ranges need an axis (and an axis needs per-channel ranges)")
        if x is not None:
            axis = _check_bits_axis(bits, axis, max(np.ndim(x), 1))
        else:  # no array to check a negative axis against
            axis = _check_bits_axis(bits, axis, axis + 1 if axis is not None and axis >= 0 else 0)
    else:
        if x is None:
            raise QuantizationError("give an array or a range")
        x = np.asarray(x)
        axis = _check_bits_axis(bits, axis, max(x.ndim, 1))
        if x.ndim == 0 and axis is not None:
            raise QuantizationError("a scalar has no channel axis")
        lo, hi = _min_max(x, axis)
    if scheme == "midpoint":
        if not signed:
            raise QuantizationError("the midpoint scheme is signed")
        width = (hi - lo).astype(np.float32)
        scale = np.where(width > 0, width / np.float32(1 << bits), np.float32(1.0)).astype(np.float32)
        mid = ((hi + lo) / 2).astype(np.float32)
        return QuantParams(scale, np.zeros_like(lo, np.int64), axis, bits, True, False, "int", mid)
    if narrow_range is None:
        narrow_range = bool(symmetric)
    qmin, qmax = _int_range(bits, signed, narrow_range)
    if symmetric:
        if not signed:
            raise QuantizationError("symmetric quantization needs a signed type")
        amax = np.maximum(np.abs(lo), np.abs(hi))
        scale = np.where(amax > 0, amax / qmax, 1.0)
        scale = np.maximum(scale, np.finfo(np.float32).tiny).astype(np.float32)
        zp = np.zeros_like(scale, np.int64)
    else:
        scale, zp = _asymmetric(lo, hi, qmin, qmax)
    return QuantParams(scale, zp, axis, bits, signed, narrow_range)


# ---- the blocked engine ---------------------------------------------------------------------------
def _plan(shape: tuple[int, ...], axis: int | None) -> tuple[tuple[int, int], str]:
    """View the data as 2-d (rows, cols) so per-channel params apply per row or per column."""
    n = math.prod(shape)
    if axis is None:
        return (1, n), "none"
    c = shape[axis]
    inner = math.prod(shape[axis + 1:])
    if inner == 1:  # channel is the fastest axis: params per column
        return (n // max(c, 1), c), "col"
    return (n // max(inner, 1), inner), "row"


def _blocks(rows: int, cols: int):
    """(r0, r1, c0, c1) tiles of about BLOCK elements covering a rows x cols array."""
    if cols >= BLOCK:
        for r in range(rows):
            for c in range(0, cols, BLOCK):
                yield r, r + 1, c, min(c + BLOCK, cols)
    else:
        step = max(1, BLOCK // max(cols, 1))
        for r in range(0, rows, step):
            yield r, min(r + step, rows), 0, cols


def _run_blocks(fn, rows: int, cols: int, work_items: int) -> None:
    """Run ``fn(list_of_tiles)`` over all tiles, split across the machine's cores when worth it."""
    tiles = list(_blocks(rows, cols))
    threads = min(os.cpu_count() or 1, 8, len(tiles))
    if work_items < _THREAD_MIN or threads <= 1:
        fn(tiles)
        return
    per = -(-len(tiles) // threads)
    with ThreadPoolExecutor(threads) as pool:
        for f in [pool.submit(fn, tiles[i:i + per]) for i in range(0, len(tiles), per)]:
            f.result()


def _param_views(qp: QuantParams, mode: str, rows: int, shape: tuple[int, ...]):
    """Per-row or per-column views of scale and zero point matching the 2-d plan."""
    s = qp.scale.astype(np.float32)
    z = qp.zero_point.astype(np.float32)
    if mode == "none":
        return s.reshape(1, 1), z.reshape(1, 1)
    if mode == "col":
        return s.reshape(1, -1), z.reshape(1, -1)
    # rows run over (outer, channel): repeat the per-channel values for each outer index
    reps = rows // len(s)
    return np.tile(s, reps).reshape(-1, 1), np.tile(z, reps).reshape(-1, 1)


def _tile_params(p: np.ndarray, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
    if p.shape == (1, 1):
        return p
    return p[r0:r1] if p.shape[1] == 1 else p[:, c0:c1]


def quantize(x: np.ndarray, qp: QuantParams) -> np.ndarray:
    """Real values -> integers (or float16), bit-identical to TFLite's reference Quantize.

    ``q = clamp(zero_point + std::round(x / scale), qmin, qmax)`` with the division in float32 (as
    ``qmath.quantize_affine``; not a multiplication by 1/scale, which differs in the last bit for
    about 1 value in 10^3 and flips some roundings). Returns the smallest integer dtype holding
    [qmin, qmax]. Inf saturates to qmin/qmax; NaN raises :class:`QuantizationError`.
    """
    x = np.asarray(x)
    if qp.dtype == "float16":
        with np.errstate(over="ignore"):
            return x.astype(np.float16)
    if qp.midpoint is not None:
        return _quantize_midpoint(x, qp)
    if x.size == 0:
        return np.empty(x.shape, qp.storage_dtype)
    x32 = np.ascontiguousarray(x, dtype=np.float32)
    if qp.per_channel and (x32.ndim <= qp.axis or x32.shape[qp.axis] != qp.scale.size):
        raise QuantizationError(f"array of shape {x32.shape} does not match {qp.scale.size} channels on axis {qp.axis}")
    (rows, cols), mode = _plan(x32.shape, qp.axis)
    src = x32.reshape(rows, cols)
    out = np.empty((rows, cols), qp.storage_dtype)
    s_all, z_all = _param_views(qp, mode, rows, x32.shape)
    lo_all = np.float32(qp.qmin) - z_all
    hi_all = np.float32(qp.qmax) - z_all
    per_tensor_zero = mode == "none" and qp.zero_point == 0
    bad = []

    def work(tiles) -> None:
        buf = np.empty(BLOCK, np.float32)
        tmp = np.empty(BLOCK, np.int32)
        for r0, r1, c0, c1 in tiles:
            n = (r1 - r0) * (c1 - c0)
            v = buf[:n].reshape(r1 - r0, c1 - c0)
            t = tmp[:n].reshape(r1 - r0, c1 - c0)
            s = _tile_params(s_all, r0, r1, c0, c1)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                np.divide(src[r0:r1, c0:c1], s, out=v)
                # round half away = trunc(v + copysign(0.5f - ulp, v)); copysign done on the bits
                # because np.copysign is not vectorised and costs 4x the other passes.
                np.bitwise_and(v.view(np.int32), _SIGN, out=t)
                np.bitwise_or(t, _ALMOST_HALF, out=t)
                np.add(v, t.view(np.float32), out=v)
                np.clip(v, _tile_params(lo_all, r0, r1, c0, c1), _tile_params(hi_all, r0, r1, c0, c1), out=v)
                if not np.isfinite(v.sum()):  # after the clip only NaN is left unbounded
                    bad.append(True)
                    return
                if not per_tensor_zero:
                    np.trunc(v, out=v)  # zero point is added after rounding, as in the C++
                    np.add(v, _tile_params(z_all, r0, r1, c0, c1), out=v)
                # the cast truncates toward zero, which finishes the rounding when nothing was added
                np.copyto(out[r0:r1, c0:c1], v, casting="unsafe")

    _run_blocks(work, rows, cols, x32.size)
    if bad:
        raise QuantizationError("input contains NaN")
    return out.reshape(x32.shape)


def _quantize_midpoint(x: np.ndarray, qp: QuantParams) -> np.ndarray:
    x32 = np.asarray(x, np.float32)
    if np.isnan(x32).any():
        raise QuantizationError("input contains NaN")
    s, m = _broadcast(qp.scale, x32, qp.axis), _broadcast(qp.midpoint, x32, qp.axis)
    q = np.clip(np.round((x32 - m) / s), qp.qmin, qp.qmax)
    return q.astype(qp.storage_dtype)


def _broadcast(p: np.ndarray, x: np.ndarray, axis: int | None) -> np.ndarray:
    if axis is None or p.ndim == 0:
        return p
    shape = [1] * x.ndim
    shape[axis] = -1
    return p.reshape(shape)


def dequantize(q: np.ndarray, qp: QuantParams) -> np.ndarray:
    """Integers -> float32: ``float(q - zero_point) * scale`` (TFLite's reference Dequantize), per-channel aware."""
    q = np.asarray(q)
    if qp.dtype == "float16":
        return q.astype(np.float32)
    if q.dtype.kind not in "iu":
        raise QuantizationError(f"dequantize takes integers (from quantize), got {q.dtype} values")
    if qp.midpoint is not None:
        s, m = _broadcast(qp.scale, q, qp.axis), _broadcast(qp.midpoint, q, qp.axis)
        return (q.astype(np.float32) * s + m).astype(np.float32)
    if q.size == 0:
        return np.empty(q.shape, np.float32)
    q = np.ascontiguousarray(q)
    (rows, cols), mode = _plan(q.shape, qp.axis)
    src = q.reshape(rows, cols)
    out = np.empty((rows, cols), np.float32)
    s_all, z_all = _param_views(qp, mode, rows, q.shape)

    def work(tiles) -> None:
        for r0, r1, c0, c1 in tiles:
            o = out[r0:r1, c0:c1]
            np.copyto(o, src[r0:r1, c0:c1], casting="unsafe")
            np.subtract(o, _tile_params(z_all, r0, r1, c0, c1), out=o)  # exact: small integers in float32
            np.multiply(o, _tile_params(s_all, r0, r1, c0, c1), out=o)

    _run_blocks(work, rows, cols, q.size)
    return out.reshape(q.shape)


def fake_quantize(x: np.ndarray, qp: QuantParams) -> np.ndarray:
    """``dequantize(quantize(x, qp), qp)``: the float values the quantized tensor stands for."""
    return dequantize(quantize(x, qp), qp)


# ---- error metrics --------------------------------------------------------------------------------
def _pair(x, y) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    if x.shape != y.shape:
        raise QuantizationError(f"shapes differ: {x.shape} vs {y.shape}")
    if x.size == 0:
        raise QuantizationError("empty arrays")
    return x, y


def max_abs_error(x, y) -> float:
    """Largest absolute difference."""
    x, y = _pair(x, y)
    return float(np.max(np.abs(x - y)))


def mse(x, y) -> float:
    """Mean squared error."""
    x, y = _pair(x, y)
    return float(np.mean((x - y) ** 2))


def sqnr_db(x, y) -> float:
    """Signal-to-quantization-noise ratio in dB: ``10 log10(sum x^2 / sum (x - y)^2)``; inf if exact."""
    x, y = _pair(x, y)
    noise = float(np.sum((x - y) ** 2))
    signal = float(np.sum(x**2))
    if noise == 0:
        return math.inf
    if signal == 0:
        return -math.inf
    return 10.0 * math.log10(signal / noise)


def cosine_similarity(x, y) -> float:
    """Cosine of the angle between the flattened arrays (1.0 if both are all zeros)."""
    x, y = _pair(x, y)
    nx, ny = float(np.linalg.norm(x)), float(np.linalg.norm(y))
    if nx == 0 and ny == 0:
        return 1.0
    if nx == 0 or ny == 0:
        return 0.0
    return float(np.dot(x.ravel(), y.ravel()) / (nx * ny))


def levels_used(q: np.ndarray, qp: QuantParams | None = None) -> int:
    """How many distinct integer levels the quantized tensor actually uses."""
    q = np.asarray(q)
    if q.dtype.itemsize <= 2 and q.dtype.kind in "iu":
        return int(np.count_nonzero(np.bincount(q.ravel().astype(np.int64) - int(q.min()))))
    return int(np.unique(q).size)


def fraction_clipped(x: np.ndarray, qp: QuantParams) -> float:
    """Fraction of values outside the representable range by more than half a step (saturated)."""
    x = np.asarray(x, np.float32)
    if x.size == 0:
        raise QuantizationError("empty array")
    if qp.dtype == "float16":
        return float(np.mean(np.abs(x) > np.finfo(np.float16).max))
    s = _broadcast(qp.scale, x, qp.axis).astype(np.float64)
    if qp.midpoint is not None:
        m = _broadcast(qp.midpoint, x, qp.axis)
        lo, hi = m + (qp.qmin - 0.5) * s, m + (qp.qmax + 0.5) * s
    else:
        z = _broadcast(qp.zero_point, x, qp.axis)
        lo, hi = (qp.qmin - z - 0.5) * s, (qp.qmax - z + 0.5) * s
    return float(np.mean((x < lo) | (x > hi)))


def error_report(x: np.ndarray, qp: QuantParams) -> dict:
    """Every metric for ``x`` quantized with ``qp``, in one dict (JSON-friendly floats and ints).

    >>> r = error_report(np.linspace(-1, 1, 1001, dtype=np.float32), choose_qparams(np.array([-1.0, 1.0])))
    >>> r["levels_used"], r["fraction_clipped"], round(r["max_abs_error"] / r["scale"], 3)
    (255, 0.0, 0.5)
    """
    x = np.asarray(x, np.float32)
    q = quantize(x, qp)
    y = dequantize(q, qp)
    return {
        "max_abs_error": max_abs_error(x, y),
        "mse": mse(x, y),
        "sqnr_db": sqnr_db(x, y),
        "cosine_similarity": cosine_similarity(x, y),
        "levels_used": levels_used(q) if qp.dtype == "int" else int(np.unique(q).size),
        "levels": qp.levels if qp.dtype == "int" else 1 << 16,
        "fraction_clipped": fraction_clipped(x, qp),
        "scale": float(np.max(qp.scale)),
    }
