"""Helpers shared by kernels: padding, fused activations, windows, quantization parameters, requantize."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import dtypes, qmath
from ..errors import ModelFormatError, UnsupportedError

SAME, VALID = 0, 1
ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6, ACT_TANH, ACT_SIGN_BIT = range(6)

FLOAT_TYPES = (dtypes.FLOAT32,)
INT_TYPES = (dtypes.INT8, dtypes.INT16, dtypes.UINT8)


def tname(t) -> str:
    return dtypes.name(t.type)


# -- shapes and padding (tflite::ComputeOutSize, ComputePaddingHeightWidth) ----------------------

def out_size(padding: int, in_size: int, filter_size: int, stride: int, dilation: int = 1) -> int:
    eff = (filter_size - 1) * dilation + 1
    if stride <= 0 or dilation <= 0:
        raise ModelFormatError(f"stride {stride} and dilation {dilation} must be positive")
    if padding == SAME:
        return (in_size + stride - 1) // stride
    if padding == VALID:
        return (in_size + stride - eff) // stride
    raise UnsupportedError(f"padding type {padding}")


def pad_before(in_size: int, out: int, filter_size: int, stride: int, dilation: int = 1) -> int:
    """ComputePaddingWithOffset's return value: half the total padding, rounded down (extra goes after)."""
    eff = (filter_size - 1) * dilation + 1
    total = max((out - 1) * stride + eff - in_size, 0)
    return total // 2


_BULK_MIN = 1 << 14  # values from which patch_matrix copies void runs and row_edges_finite calls BLAS
ROW_TAPS_MAX = 1 << 17  # values of depthwise weights tiled over output rows for Window.row_taps (512 KB)


@dataclass(frozen=True)
class Window:
    """A 2-D sliding window over NHWC data."""

    kh: int
    kw: int
    sh: int
    sw: int
    dh: int
    dw: int
    pad_top: int
    pad_left: int
    out_h: int
    out_w: int
    in_h: int
    in_w: int

    @classmethod
    def make(cls, padding: int, in_h: int, in_w: int, kh: int, kw: int, sh: int, sw: int,
             dh: int = 1, dw: int = 1) -> Window:
        oh = out_size(padding, in_h, kh, sh, dh)
        ow = out_size(padding, in_w, kw, sw, dw)
        if oh <= 0 or ow <= 0:
            raise ModelFormatError(f"window {kh}x{kw} stride {sh}x{sw} gives an empty output on {in_h}x{in_w}")
        top = pad_before(in_h, oh, kh, sh, dh) if padding == SAME else 0
        left = pad_before(in_w, ow, kw, sw, dw) if padding == SAME else 0
        return cls(kh, kw, sh, sw, dh, dw, top, left, oh, ow, in_h, in_w)

    def padded(self, x: np.ndarray, value, transposed: bool = False) -> np.ndarray:
        """x (N, H, W, C) padded so every window position is in range (contiguous). ``transposed``: the same
        padded input as (N, Wp, Hp, C), made in the same one pass (what ``im2col_transposed`` reads)."""
        need_h = (self.out_h - 1) * self.sh + (self.kh - 1) * self.dh + 1
        need_w = (self.out_w - 1) * self.sw + (self.kw - 1) * self.dw + 1
        bottom = max(need_h - self.in_h - self.pad_top, 0)
        right = max(need_w - self.in_w - self.pad_left, 0)
        if self.pad_top == bottom == self.pad_left == right == 0 and not transposed:
            return np.ascontiguousarray(x)
        n, h, w, c = x.shape
        top, left = self.pad_top, self.pad_left
        hp, wp = h + top + bottom, w + left + right
        # transposed: fill the (N, Wp, Hp, C) array through its (N, Hp, Wp, C) view
        out = np.empty((n, wp, hp, c), x.dtype).transpose(0, 2, 1, 3) if transposed else \
            np.empty((n, hp, wp, c), x.dtype)
        # fill only the border, then copy the interior: one pass over the data instead of two
        out[:, :top] = value
        out[:, top + h:] = value
        out[:, top:top + h, :left] = value
        out[:, top:top + h, left + w:] = value
        out[:, top:top + h, left:left + w, :] = x
        return out.transpose(0, 2, 1, 3) if transposed else out

    @property
    def is_pointwise(self) -> bool:
        """1x1 window, stride 1, no padding: the input itself is the im2col matrix."""
        return (self.kh == self.kw == self.sh == self.sw == 1 and self.pad_top == self.pad_left == 0
                and self.out_h == self.in_h and self.out_w == self.in_w)

    def tiled_taps(self, w: np.ndarray) -> np.ndarray:
        """Depthwise weights (KH, KW, C) tiled to (KH, KW, OW*C) for ``accumulate_taps`` (once, in prepare)."""
        return np.ascontiguousarray(np.tile(w, (1, 1, self.out_w)))

    def tap_input(self, x: np.ndarray, value, dtype=None) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """What ``accumulate_taps`` reads: the padded input (``padded``), or at stride 2 along W (dilation
        1) its even and odd padded columns as two contiguous arrays, built from x in one pass (padding
        and then splitting the columns cost two). dtype: of the result (default x's); it may be x itself
        when nothing is padded and the dtype is x's."""
        dtype = x.dtype if dtype is None else dtype
        if not (self.sw == 2 and self.dw == 1):
            return self.padded(x, value).astype(dtype, copy=False)
        n, h, w, c = x.shape
        need_h = (self.out_h - 1) * self.sh + (self.kh - 1) * self.dh + 1
        need_w = (self.out_w - 1) * self.sw + self.kw
        top, left = self.pad_top, self.pad_left
        hp = max(need_h, top + h)
        phases = []
        for q in range(2):
            wq = len(range(q, max(need_w, left + w), 2))
            out = np.empty((n, hp, wq, c), dtype)
            lo = max(0, (left - q + 1) // 2)  # first phase column holding an input column
            hi = min(wq, (w - 1 + left - q) // 2 + 1)  # one past the last
            out[:, :top] = value
            out[:, top + h:] = value
            out[:, top:top + h, :lo] = value
            out[:, top:top + h, max(hi, lo):] = value
            if hi > lo:
                x0 = 2 * lo + q - left
                out[:, top:top + h, lo:hi] = x[:, :, x0:x0 + 2 * (hi - lo) - 1:2]
            phases.append(out)
        return phases[0], phases[1]

    def accumulate_taps(self, xp, w: np.ndarray, wt: np.ndarray | None = None) -> np.ndarray:
        """sum over taps of tap(N, OH, OW, C) * w[i, j] (C,): depthwise accumulation.

        At stride 1 along W a tap's (OW, C) block is one contiguous run of a padded row, so all taps
        are one strided view (N, OH, KH, KW, OW*C) of the input (no copy) and one ``einsum`` against
        the weights tiled to (KH, KW, OW*C) sums them, about 2.5x faster than a multiply and an add
        per tap. Stride 2 (dilation 1) reads the padded columns split into two phases, each again one
        contiguous run per tap. Integer sums are exact in any order; float sums may differ from the
        tap-by-tap order in the last bits. xp: ``tap_input(x, ...)`` (or the padded input); ``wt``:
        ``tiled_taps(w)`` if the caller prepared it."""
        if self.sw == 1:
            groups = [(xp, 0, self.kw, self.dw)]  # (array, first tap, taps, column step between taps)
        elif self.sw == 2 and self.dw == 1:
            if not isinstance(xp, tuple):
                xp = tuple(np.ascontiguousarray(xp[:, :, q::2, :]) for q in range(2))
            groups = [(xp[q], q, len(range(q, self.kw, 2)), 1) for q in range(2)]
        else:
            return self._accumulate_taps_loop(xp, w)
        n, _, _, c = groups[0][0].shape
        span = self.out_w * c
        if wt is None:
            wt = self.tiled_taps(w)  # (KH, KW, OW*C)
        acc = None
        for arr, j0, nj, step in groups:
            if nj == 0:
                continue
            s0, s1, s2, s3 = arr.strides
            view = np.lib.stride_tricks.as_strided(
                arr, (n, self.out_h, self.kh, nj, span), (s0, s1 * self.sh, s1 * self.dh, s2 * step, s3),
                writeable=False)
            part = np.einsum("nhijl,ijl->nhl", view, wt[:, j0::self.sw][:, :nj])  # (N, OH, OW*C)
            acc = part if acc is None else np.add(acc, part, out=acc)
        return acc.reshape(n, self.out_h, self.out_w, c)

    def row_group(self, c: int, budget: int = ROW_TAPS_MAX) -> int:
        """Output rows per inner loop of ``row_taps``: at stride 1 along H with OW == W, consecutive
        output rows read consecutive input rows, so G rows are one run and the weights are tiled over
        G rows; G is the largest divisor of OH whose tiled weights (KH*KW*G*OW*C values) fit the budget."""
        if self.sh != 1 or self.out_w != self.in_w:
            return 1
        per_row = self.kh * self.kw * self.out_w * c
        return max([g for g in range(1, self.out_h + 1) if self.out_h % g == 0 and g * per_row <= budget] or [1])

    def masked_tiled_taps(self, w: np.ndarray, rows: int = 1) -> np.ndarray:
        """``tiled_taps(w)`` with a zero wherever a tap falls left or right of the input row, tiled over
        ``rows`` output rows (``row_group``), for ``row_taps`` (stride 1 along W; once, in prepare)."""
        kh, kw, c = w.shape
        wt = self.tiled_taps(w).reshape(kh, kw, self.out_w, c)
        for j in range(kw):
            col = np.arange(self.out_w) + j * self.dw - self.pad_left  # input column of each output column
            wt[:, j, (col < 0) | (col >= self.in_w)] = 0
        return np.ascontiguousarray(np.tile(wt.reshape(kh, kw, -1), (1, 1, rows)))

    def row_edges_finite(self, x: np.ndarray) -> bool:
        """Whether ``row_taps`` may run on x: the columns a neighbouring row's off-row taps read (the last
        ``pad_left`` and the first columns the right padding would have covered) hold no inf or NaN, which a
        zero weight would turn into NaN beside them. Their sum is finite exactly when they are, short of an
        overflow (then the padded path runs, which is only slower). The last columns of one row and the first
        of the next are one run in memory, so one (rows - 1, run) view covers every boundary, plus the first
        row's head and the last row's tail (kws: 2 of 5 columns, 128-value runs). The view is summed per run by
        a matrix-vector product with ones (BLAS reads a strided matrix at full speed; numpy's reduction over
        it loops per 128-value run: 0.03 instead of 0.08 ms per 65 kws inputs; a small view, e.g. one sample's,
        is reduced directly): inf or NaN in a run makes its sum inf or NaN, and a finite total has none."""
        n, h, w, c = x.shape
        left = min(self.pad_left, w)
        right = min(max((self.out_w - 1) + (self.kw - 1) * self.dw - self.pad_left - (w - 1), 0), w)
        if left + right == 0:
            return True
        flat = np.ascontiguousarray(x).reshape(-1)
        with np.errstate(over="ignore", invalid="ignore"):
            if left + right >= w or n * h == 1:
                total = np.add.reduce(flat, dtype=np.float32)
            else:
                rc, run = w * c, (left + right) * c
                seams = np.lib.stride_tricks.as_strided(flat[(w - left) * c:], (n * h - 1, run),
                                                        (rc * flat.itemsize, flat.itemsize), writeable=False)
                per_run = np.matmul(seams, np.ones(run, flat.dtype)) if seams.size >= _BULK_MIN else seams
                total = (np.add.reduce(per_run, axis=None, dtype=np.float32)
                         + np.add.reduce(flat[:right * c], dtype=np.float32)
                         + np.add.reduce(flat[flat.size - left * c:], dtype=np.float32))
        return bool(np.isfinite(total))

    def row_taps(self, x: np.ndarray, wt: np.ndarray) -> np.ndarray:
        """Depthwise accumulation at stride 1 along W, with no padding along W: the same ``einsum`` as
        ``accumulate_taps`` over a copy of x that is padded only with whole zero rows, shared between
        consecutive samples. A tap left or right of its row reads the neighbouring row's edge instead
        of a zero, and ``wt`` (``masked_tiled_taps``) gives it weight zero. The copy is one run per
        sample; padding along W costs two short runs per row (kws, 65 inputs of 25x5x64: 0.16 ms of
        padding). Same products in the same order: sums equal ``accumulate_taps``'s (up to the sign
        of a zero) for finite x; callers check ``row_edges_finite`` first (an inf or NaN at a row's edge
        would reach the outputs beside it in the next row through its zero weight).
        ``wt`` tiled over G output rows (``row_group``) makes G rows one inner loop of the einsum, whose
        per-loop cost dominates at OW*C = 320 values (kws: 0.64 instead of 1.16 ms per 65 inputs)."""
        n, h, w, c = x.shape
        rc = w * c  # values per input row
        need_h = (self.out_h - 1) * self.sh + (self.kh - 1) * self.dh + 1
        z = max(self.pad_top, need_h - h - self.pad_top, 0)  # zero rows between samples
        lead = self.pad_left * c
        trail = max((self.out_w - 1) + (self.kw - 1) * self.dw - self.pad_left - (w - 1), 0) * c
        per = (z + h) * rc  # zero rows, then one sample
        buf = np.empty(lead + n * per + z * rc + trail, x.dtype)
        buf[:lead] = 0
        buf[lead + n * per:] = 0  # the last sample's zero rows below, and the guard
        rows = buf[lead:lead + n * per].reshape(n, per)
        rows[:, :z * rc] = 0
        rows[:, z * rc:] = x.reshape(n, -1)
        start = lead + (z - self.pad_top) * rc - self.pad_left * c  # tap (0, 0) of output (0, 0) of sample 0
        it = buf.itemsize
        g = wt.shape[2] // (self.out_w * c)  # output rows per inner loop, a divisor of OH
        view = np.ndarray((n, self.out_h // g, self.kh, self.kw, g * self.out_w * c), x.dtype, buf, start * it,
                          (per * it, g * self.sh * rc * it, self.dh * rc * it, self.dw * c * it, it))
        return np.einsum("nhijl,ijl->nhl", view, wt).reshape(n, self.out_h, self.out_w, c)

    def _accumulate_taps_loop(self, xp: np.ndarray, w: np.ndarray) -> np.ndarray:
        acc = tmp = None
        for i, j, tap in self.taps(xp):
            if acc is None:
                acc = np.multiply(tap, w[i, j])
                tmp = np.empty_like(acc)
            else:
                np.multiply(tap, w[i, j], out=tmp)
                acc += tmp
        return acc

    def taps(self, xp: np.ndarray):
        """Yield (i, j, view) for each filter tap: view (N, OH, OW, C) of the padded input."""
        he = (self.out_h - 1) * self.sh + 1
        we = (self.out_w - 1) * self.sw + 1
        for i in range(self.kh):
            for j in range(self.kw):
                y0, x0 = i * self.dh, j * self.dw
                yield i, j, xp[:, y0:y0 + he:self.sh, x0:x0 + we:self.sw, :]

    def im2col(self, xp: np.ndarray) -> np.ndarray:
        """(N, OH, OW, KH, KW, C) strided view of the padded input."""
        n, _, _, c = xp.shape
        s = xp.strides
        return np.lib.stride_tricks.as_strided(
            xp, (n, self.out_h, self.out_w, self.kh, self.kw, c),
            (s[0], s[1] * self.sh, s[2] * self.sw, s[1] * self.dh, s[2] * self.dw, s[3]), writeable=False)

    def im2col_transposed(self, xt: np.ndarray) -> np.ndarray:
        """(N, OH, OW, KW, KH, C) strided view of the padded input given as (N, Wp, Hp, C): ``padded(x, value,
        transposed=True)``.

        ``im2col`` copies runs of KW*C contiguous values; for a tall window over few channels (a 10x4
        filter on 1 channel) that is 4 values per run. In the transposed input a patch column is KH*C
        contiguous values, which numpy copies about twice as fast."""
        n, _, _, c = xt.shape
        s0, s_w, s_h, s_c = xt.strides
        return np.lib.stride_tricks.as_strided(
            xt, (n, self.out_h, self.out_w, self.kw, self.kh, c),
            (s0, s_h * self.sh, s_w * self.sw, s_w * self.dw, s_h * self.dh, s_c), writeable=False)

    def patch_matrix(self, xp: np.ndarray, transposed: bool = False, void_from: int = _BULK_MIN) -> np.ndarray:
        """The (N*OH*OW, K) im2col matrix as a new contiguous array: rows of ``im2col(xp)`` (K ordered (KH, KW,
        C)), or with ``transposed`` of ``im2col_transposed(xp)`` ((KW, KH, C)); xp contiguous, from ``padded``.

        numpy copies a strided view one innermost run at a time, and the runs are short (4 or 10 values
        for kws's 10x4 filter on one channel). Where a patch's runs are contiguous memory (dilation 1 along
        them), each run is copied as a single void element instead: 0.25 -> 0.16 ms for kws's 65 x 125
        patches of 40 values. Below ``void_from`` values (one kws sample) the fixed cost of that copy is
        the larger one, and the strided view is copied as it is."""
        n, c = xp.shape[0], xp.shape[3]
        s0, s1, s2, _ = xp.strides
        s_h, s_w = (s2, s1) if transposed else (s1, s2)
        # a patch: KW runs of KH*C values, one per column (transposed), or KH runs of KW*C values, one per row
        inner, dilation, runs, between = (self.kh, self.dh, self.kw, s_w * self.dw) if transposed else \
            (self.kw, self.dw, self.kh, s_h * self.dh)
        m, k = n * self.out_h * self.out_w, self.kh * self.kw * c
        if dilation != 1 or not xp.flags.c_contiguous or m * k < void_from:
            v = self.im2col_transposed(xp) if transposed else self.im2col(xp)
            return v.reshape(m, k)  # a copy
        src = np.ndarray((n, self.out_h, self.out_w, runs), np.dtype((np.void, inner * c * xp.itemsize)), xp, 0,
                         (s0, s_h * self.sh, s_w * self.sw, between))
        out = np.empty(src.shape, src.dtype)
        np.copyto(out, src)
        return out.view(xp.dtype).reshape(m, k)

    def counts(self) -> np.ndarray:
        """(OH, OW, 1) number of in-range taps per output position (for average pooling)."""
        ys = np.arange(self.out_h) * self.sh - self.pad_top
        xs = np.arange(self.out_w) * self.sw - self.pad_left
        ch = np.minimum(ys + self.kh, self.in_h) - np.maximum(ys, 0)
        cw = np.minimum(xs + self.kw, self.in_w) - np.maximum(xs, 0)
        return (ch[:, None] * cw[None, :])[:, :, None]


# -- float epilogues ----------------------------------------------------------------------------

TILE_MAX = 1 << 16  # values of a per-channel vector tiled for the epilogues (256 KB)


def channel_tile(v, win: Window):
    """A per-channel vector (C,) tiled over the output positions, float32, for ``epilogue``; None stays None.

    numpy runs one inner loop per row of the smaller operand, so adding a (C,) vector to an
    (N, OH, OW, C) array loops over C values at a time; tiled over a whole output plane (or one
    output row when the plane is large) the loops are long. Made once, in prepare."""
    if v is None:
        return None
    v = np.asarray(v, np.float32)
    reps = win.out_h * win.out_w if win.out_h * win.out_w * v.size <= TILE_MAX else win.out_w
    return np.ascontiguousarray(np.tile(v, reps))


def epilogue(y: np.ndarray, bias_tile, lo: float, hi: float) -> np.ndarray:
    """y (N, OH, OW, C) float32: += bias (``channel_tile``), then the activation clamp; in place when y is
    contiguous (the kernels' own fresh arrays), else on a contiguous copy. Returns the result."""
    if not y.flags.c_contiguous or not y.flags.writeable:
        y = np.array(y, np.float32, order="C")
    if bias_tile is not None:
        rows = y.reshape(-1, bias_tile.size)
        np.add(rows, bias_tile, out=rows)
    apply_float_activation(y, lo, hi)
    return y


# -- arrays known to be finite ------------------------------------------------------------------

_FINITE: dict[int, weakref.ref] = {}


def mark_finite(a: np.ndarray) -> np.ndarray:
    """Record that float array a, a kernel's fresh output, holds no inf or NaN: its kernel proved it from a few
    scalars (hybrid CONV_2D: per-sample scales and a bound on the integer sums), so that a reader can skip a
    pass that looks for them (``known_finite``). Kernels never write an array they returned; the record goes
    when a is freed. Returns a."""
    key = id(a)
    _FINITE[key] = weakref.ref(a, lambda _, key=key: _FINITE.pop(key, None))
    return a


def known_finite(a: np.ndarray) -> bool:
    """True when ``mark_finite`` recorded this very array (not a copy, not a view of it)."""
    r = _FINITE.get(id(a))
    return r is not None and r() is a


# -- activations ---------------------------------------------------------------------------------

def float_activation_range(act: int) -> tuple[float, float]:
    """tflite::CalculateActivationRange<float>."""
    if act == ACT_NONE:
        return -np.inf, np.inf
    if act == ACT_RELU:
        return 0.0, np.inf
    if act == ACT_RELU6:
        return 0.0, 6.0
    if act == ACT_RELU_N1_TO_1:
        return -1.0, 1.0
    raise UnsupportedError(f"fused activation {act} on a float op")


def apply_float_activation(y: np.ndarray, lo: float, hi: float) -> np.ndarray:
    if lo == -np.inf and hi == np.inf:
        return y
    # the ndarray method: numpy's clip ufunc without np.clip's two Python wrapper layers (1.4 us per call)
    return y.clip(np.float32(lo), np.float32(hi), out=y if y.flags.writeable else None)


# -- quantization parameters ---------------------------------------------------------------------

def scale_zp(t, where: str = "") -> tuple[float, int]:
    """Per-tensor (scale, zero_point) of a quantized tensor."""
    qp = t.quantization
    if qp is None or qp.scale is None or len(qp.scale) == 0:
        raise ModelFormatError(f"tensor '{t.name}' ({tname(t)}) has no quantization scale{where}")
    zp = int(qp.zero_point[0]) if qp.zero_point is not None and len(qp.zero_point) else 0
    return float(np.float32(qp.scale[0])), zp


def scales(t) -> np.ndarray:
    """All scales (float32) of a quantized tensor (length 1 for per-tensor)."""
    qp = t.quantization
    if qp is None or qp.scale is None or len(qp.scale) == 0:
        raise ModelFormatError(f"tensor '{t.name}' ({tname(t)}) has no quantization scale")
    return np.asarray(qp.scale, np.float32)


def zero_points(t) -> np.ndarray:
    qp = t.quantization
    if qp is None or qp.zero_point is None or len(qp.zero_point) == 0:
        return np.zeros(1, np.int64)
    return np.asarray(qp.zero_point, np.int64)


def quant_activation_range(act: int, t) -> tuple[int, int]:
    """tflite::CalculateActivationRangeQuantized for output tensor t."""
    s, zp = scale_zp(t)
    lo, hi = dtypes.integer_range(t.type)
    return qmath.calculate_activation_range_quantized(act, s, zp, lo, hi)


def quantize_multiplier(real, rounding: str):
    """tflite::QuantizeMultiplier; single-rounding builds cap the shift at 30."""
    return qmath.quantize_multiplier(real, single_rounding=rounding == "single")


def per_channel_multipliers(x, w, y, cout: int, rounding: str):
    """PopulateConvolutionQuantizationParams: for each output channel, the effective scale
    double(input_scale) * double(filter_scale[c]) / double(output_scale) as (multiplier, shift) arrays."""
    in_s, _ = scale_zp(x)
    out_s, _ = scale_zp(y)
    w_s = scales(w)
    if w_s.size not in (1, cout):
        raise UnsupportedError(f"filter has {w_s.size} scales for {cout} output channels")
    eff = np.float64(in_s) * w_s.astype(np.float64) / np.float64(out_s)
    return quantize_multiplier(np.broadcast_to(eff, (cout,)).copy(), rounding)


def mul_by_qm(x, multiplier, shift, rounding: str) -> np.ndarray:
    """MultiplyByQuantizedMultiplier(int32 x, ...), in the kernel's rounding variant (new int64 array)."""
    return mbqm_inplace(np.array(x, dtype=np.int64, copy=True), multiplier, shift, rounding)


def mul_by_qm_smaller_than_one_exp(x, multiplier, left_shift, rounding: str) -> np.ndarray:
    """MultiplyByQuantizedMultiplierSmallerThanOneExp (single-rounding builds route it to MBQM)."""
    if rounding == "single":
        return mul_by_qm(x, multiplier, left_shift, rounding)
    return np.asarray(qmath.multiply_by_quantized_multiplier_smaller_than_one_exp(x, multiplier, left_shift))


def mul_by_qm_greater_than_one(x, multiplier, left_shift, rounding: str) -> np.ndarray:
    """MultiplyByQuantizedMultiplierGreaterThanOne (single-rounding builds route it to MBQM)."""
    if rounding == "single":
        return mul_by_qm(x, multiplier, left_shift, rounding)
    return np.asarray(qmath.multiply_by_quantized_multiplier_greater_than_one(x, multiplier, left_shift))


def mbqm_inplace(x: np.ndarray, multiplier, shift, rounding: str) -> np.ndarray:
    """MultiplyByQuantizedMultiplier on an int64 array, in place, in few passes (the hot path).

    Exact rewrites of the C++ (tests/test_kernels.py checks them against ``qmath`` on random data):
    * SaturatingRoundingDoublingHighMul(a, m) == (a * m + 2**30) >> 31 (floor shift) for m > INT32_MIN:
      the nudge ``ab >= 0 ? 2**30 : 1 - 2**30`` followed by truncating division rounds halves up in
      both signs, which is what the floor of ``ab + 2**30`` does.
    * RoundingDivideByPOT(x, e) == (x + 2**(e-1) - (x < 0)) >> e for e >= 1 (halves away from zero).
    * single rounding: (x * m + 2**(30 - s)) >> (31 - s).
    """
    m = np.asarray(multiplier, np.int64)
    s = np.asarray(shift, np.int64)
    if rounding == "single":
        total = 31 - s
        x *= m
        x += np.int64(1) << (total - 1)
        x >>= total
        return x
    left = np.maximum(s, 0)
    right = np.maximum(-s, 0)
    if np.any(left > 0):
        x <<= left
        x += 1 << 31
        x &= 0xFFFFFFFF
        x -= 1 << 31  # the int32 product x * (1 << left) wraps like the compiled C++
    x *= m
    x += 1 << 30
    x >>= 31
    if np.any(right > 0):
        neg = x < 0
        if right.ndim and np.any(right == 0):
            neg &= right > 0
        x += (np.int64(1) << right) >> 1
        x -= neg
        x >>= right
    return x


def requantize(acc: np.ndarray, multiplier, shift, output_offset: int, act_min: int, act_max: int,
               dtype, rounding: str = "double") -> np.ndarray:
    """MultiplyByQuantizedMultiplier (the kernel's rounding variant) + output_offset, clamp, cast."""
    x = np.array(acc, dtype=np.int64, copy=True) if not (isinstance(acc, np.ndarray) and acc.dtype == np.int64
                                                        and acc.flags.writeable and acc.flags.owndata) else acc
    mbqm_inplace(x, multiplier, shift, rounding)
    x += output_offset
    np.clip(x, act_min, act_max, out=x)
    return x.astype(dtype)


def requantize_int64(acc: np.ndarray, multiplier, shift, output_offset: int, act_min: int, act_max: int,
                     dtype) -> np.ndarray:
    """The int16x8 path: MultiplyByQuantizedMultiplier(int64 acc, ...) + output_offset, clamp, cast."""
    y = qmath.multiply_by_quantized_multiplier_int64(acc, multiplier, shift)
    y = np.asarray(y) + output_offset
    np.clip(y, act_min, act_max, out=y)
    return y.astype(dtype)


@dataclass(frozen=True, kw_only=True)
class Requant:
    """What a weight op's epilogue reads, in TFLite's names: the activation clamp (every kind) and, for integer
    kinds, the offsets and the (multiplier, shift) of MultiplyByQuantizedMultiplier with its rounding. The base of
    the CONV_2D, DEPTHWISE_CONV_2D, grouped-conv, TRANSPOSE_CONV and FULLY_CONNECTED params; keyword-only, so each
    kernel's own fields stay positional."""

    act_min: Any
    act_max: Any
    input_offset: int = 0
    output_offset: int = 0
    output_multiplier: Any = None
    output_shift: Any = None
    rounding: str = "double"


def per_channel_requant(ctx, act: int, channels: int) -> dict:
    """``Requant``'s fields for the op being prepared (input 0 x, input 1 the int8 filter, output 0 y): offsets
    from the zero points, per-channel multipliers from double(s_x) * double(s_w[c]) / double(s_y), the quantized
    activation clamp, and the runtime's rounding. Shared by CONV_2D, DEPTHWISE_CONV_2D and grouped convolutions."""
    x, w, y = ctx.input(0), ctx.input(1), ctx.output(0)
    rounding = ctx.rounding_for("double")
    mult, shift = per_channel_multipliers(x, w, y, channels, rounding)
    lo, hi = quant_activation_range(act, y)
    return {"act_min": lo, "act_max": hi, "input_offset": -scale_zp(x)[1], "output_offset": scale_zp(y)[1],
            "output_multiplier": mult, "output_shift": shift, "rounding": rounding}


def requantize_output(acc: np.ndarray, p) -> np.ndarray:
    """The integer epilogue shared by CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED params ``p``: kind "int" ->
    int8 with the kernel's rounding, kind "int16" -> the int16x8 path on the int64 accumulator."""
    if p.kind == "int":
        return requantize(acc, p.output_multiplier, p.output_shift, p.output_offset, p.act_min, p.act_max, np.int8,
                          p.rounding)
    return requantize_int64(acc, p.output_multiplier, p.output_shift, p.output_offset, p.act_min, p.act_max, np.int16)


def is_float(t) -> bool:
    return t.type == dtypes.FLOAT32


def check_type(t, allowed, what: str) -> None:
    if t.type not in allowed:
        names = "/".join(dtypes.name(a) for a in allowed)
        raise UnsupportedError(f"{what} '{t.name}' is {tname(t)}; supported: {names}")


def exact_in_float32(bound: float) -> bool:
    """True when every partial sum of integer products stays below 2**24 (float32 GEMM is exact)."""
    return bound < (1 << 24)


def exact_gemm_dtype(w_int: np.ndarray, axis: int = 0):
    """The float GEMM dtype that is exact for these integer weights against inputs of magnitude <= 255: float32
    when every sum of |w| * 255 along ``axis`` (the GEMM's reduction axis) stays below 2**24, else float64."""
    bound = float(np.abs(w_int).sum(axis=axis).max(initial=0)) * 255
    return np.float32 if exact_in_float32(bound) else np.float64


def int_gemm(a: np.ndarray, b: np.ndarray, ftype) -> np.ndarray:
    """Exact integer GEMM via float BLAS (caller checked the bound for ftype); int64 result."""
    return np.matmul(a.astype(ftype, copy=False), b).astype(np.int64)


def broadcast_shape(*shapes) -> tuple[int, ...]:
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise ModelFormatError(f"shapes {', '.join(str(list(s)) for s in shapes)} do not broadcast") from None
