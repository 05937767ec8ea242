"""CONV_2D: float32, int8 (per-tensor / per-channel), int16x8, hybrid (int8 weights, float activations);
grouped (filter channels < input channels) for float32, int8 and int16x8 in ``_grouped_conv``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import dtypes
from ..errors import UnsupportedError
from . import Kernel, kernel
from ._common import (
    ACT_RELU,
    ACT_RELU6,
    Requant,
    Window,
    channel_tile,
    check_type,
    epilogue,
    exact_gemm_dtype,
    exact_in_float32,
    float_activation_range,
    mark_finite,
    per_channel_requant,
    requantize_output,
    scales,
    zero_points,
)
from ._grouped_conv import GroupedConvParams, eval_grouped, prepare_grouped
from ._hybrid import asymmetric_quantize_rows, symmetric_quantize_rows

COLS_BUDGET = 1 << 20  # bytes of im2col matrix per GEMM call


@dataclass(frozen=True)
class ConvParams(Requant):
    kind: str  # "float" | "int" | "int16" | "hybrid"
    win: Window
    w_mat: np.ndarray  # (KH*KW*C_in, C_out) in the GEMM dtype
    bias: Any
    gemm_dtype: Any = np.float32
    out_dtype: Any = np.float32
    hybrid: Any = None
    patches: str = "c"  # im2col layout, see _patch_layout; "t" orders w_mat's rows (KW, KH, C_in)
    bias_tile: Any = None  # float and hybrid: channel_tile(bias) for the epilogue
    hybrid_scale_tile: Any = None  # per-channel hybrid: channel_tile(filter scales)
    input_nonnegative: bool = False  # hybrid: input 0 is a RELU/RELU6 output (see _relu_output)
    finite_limit: float = 0.0  # hybrid: outputs are finite when every per-sample scale is below it (_proved_finite)


def _patch_layout(kh: int, kw: int, cin: int, out_w: int) -> str:
    """How to copy the im2col matrix; numpy copies long contiguous runs fast and short ones slowly.

    "c": row-major patches (N*OH*OW, KH*KW*C), runs of KW*C values; fine when KW*C is large.
    "k": K-major (KH*KW*C, N*OH*OW), each row gathers one tap over a whole output row (OW values):
        better for few channels and wide outputs (vww's first 3x3 conv on 3 channels: 0.34 -> 0.26 ms
        for copy + GEMM per 4 samples; the GEMM reads it transposed).
    "t": row-major from the input transposed to (N, W, H, C), runs of KH*C values: tall narrow filters
        over few channels on narrow outputs (kws's 10x4 on 1 channel, OW 5: im2col 0.37 -> 0.19 ms)."""
    if kw * cin >= 16:
        return "c"
    if out_w >= 16:
        return "k"
    return "t" if kh > kw else "c"


# ops whose fused activation clamps their (float) output, as our kernels and TFLite's do
_CLAMPING_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "SUB", "MUL", "AVERAGE_POOL_2D",
                 "MAX_POOL_2D")


def _relu_output(ctx, tensor: int) -> bool:
    """True when an op of this subgraph writes the float tensor through RELU or RELU6 (the op itself,
    or fused into one of _CLAMPING_OPS): its values are >= 0 (or NaN) whenever a kernel reads it,
    because the interpreter runs the producer first. Lets the hybrid quantization skip its min
    reductions."""
    o = ctx.subgraph.producers().get(tensor)
    if o is None or ctx.subgraph.tensor(tensor).type != dtypes.FLOAT32:
        return False
    op = ctx.subgraph.operators[o]
    name = ctx.model.op_name(op)
    if name in ("RELU", "RELU6"):
        return True
    return name in _CLAMPING_OPS and getattr(op.options, "fused_activation_function", None) in (ACT_RELU, ACT_RELU6)


# a scaling factor (input range / 127, or / 255) at least this large has a finite float32 inverse
_SMALLEST_SCALE = 1e-36


def _proved_finite(p: ConvParams, sf: np.ndarray) -> bool:
    """Whether a hybrid conv's outputs are all finite, from its per-sample scaling factors alone: a finite input
    gives a finite range and scaling factor, and one not too small has a finite inverse, so the quantized
    values are finite (|x * inv| <= 127) and their integer sums |acc| <= bound; scaled and biased they stay
    below FLT_MAX when the factor is below ``finite_limit``. An inf or NaN anywhere in a sample's input makes
    its factor inf or NaN. Lets the depthwise reading the output skip its row-edge check (``known_finite``)."""
    # min() >= and max() < are both False for a NaN
    return bool(sf.size) and bool(sf.min() >= _SMALLEST_SCALE) and bool(sf.max() < p.finite_limit)


def _patch_input(p: ConvParams, x: np.ndarray, value) -> np.ndarray:
    """What _patch_matrix reads: x padded with value, as (N, Wp, Hp, C) for the "t" layout."""
    return p.win.padded(x, value, transposed=p.patches == "t")


def _patch_matrix(p: ConvParams, xp: np.ndarray, dtype) -> np.ndarray:
    """The (N*OH*OW, K) GEMM operand of xp (``_patch_input``), a new array of dtype (K-major for "k")."""
    win = p.win
    m = xp.shape[0] * win.out_h * win.out_w
    if p.patches == "k":
        v = win.im2col(xp)  # (N, OH, OW, KH, KW, C) view
        cols = np.empty(v.shape[3:] + v.shape[:3], dtype)
        np.copyto(cols, v.transpose(3, 4, 5, 0, 1, 2))
        return cols.reshape(-1, m).T
    if xp.dtype == dtype:
        return win.patch_matrix(xp, transposed=p.patches == "t")
    v = win.im2col_transposed(xp) if p.patches == "t" else win.im2col(xp)
    return v.reshape(m, -1).astype(dtype, copy=False)


@kernel("CONV_2D")
class Conv2D(Kernel):
    """reference_ops::Conv (float), reference_integer_ops::ConvPerChannel (int8, int16x8), and the
    hybrid EvalHybridPerChannel / EvalHybrid of lite/kernels/conv.cc.

    Integer requantization: MultiplyByQuantizedMultiplier with double rounding (the default build),
    per-channel multipliers from double(input_scale) * double(filter_scale[c]) / double(output_scale).
    Integer GEMM runs on float BLAS (float32 when every partial sum stays below 2**24, else float64):
    exact, because every partial sum of the int products is an integer that float represents exactly.
    """

    def prepare(self, ctx, op):
        x, w, b = ctx.input(0), ctx.input(1), ctx.input(2)
        o = op.options
        if o is None:
            raise UnsupportedError("missing Conv2DOptions")
        wv = ctx.require_const(1, "filter")
        if len(x.shape) != 4 or wv.ndim != 4:
            raise UnsupportedError(f"input rank {len(x.shape)} / filter rank {wv.ndim}; need 4 and 4")
        cout, kh, kw, cin_w = wv.shape
        cin = x.shape[3]
        if cin % cin_w:
            raise UnsupportedError(f"input channels {cin} not a multiple of filter channels {cin_w}")
        groups = cin // cin_w
        if groups != 1:
            return prepare_grouped(ctx, op, wv, groups)  # float, int8, 16x8: one GEMM per group
        win = Window.make(o.padding, x.shape[1], x.shape[2], kh, kw, o.stride_h, o.stride_w,
                          o.dilation_h_factor, o.dilation_w_factor)
        act = o.fused_activation_function
        bv = ctx.const(2) if b is not None else None
        pl = _patch_layout(kh, kw, cin, win.out_w)
        w2 = np.ascontiguousarray((wv.transpose(0, 2, 1, 3) if pl == "t" else wv).reshape(cout, -1).T)  # (K, Cout)
        if x.type == dtypes.FLOAT32 and w.type == dtypes.FLOAT32:
            lo, hi = float_activation_range(act)
            bias = None if bv is None else bv.astype(np.float32)
            return ConvParams("float", win, w2.astype(np.float32), bias, act_min=lo, act_max=hi, patches=pl,
                              bias_tile=channel_tile(bias, win))
        if x.type == dtypes.FLOAT32 and w.type in (dtypes.INT8, dtypes.UINT8):
            return self._prepare_hybrid(ctx, op, win, w2, bv, act, pl)
        check_type(x, (dtypes.INT8, dtypes.INT16), "input")
        check_type(w, (dtypes.INT8,), "filter")
        rq = per_channel_requant(ctx, act, cout)
        bias = None if bv is None else bv.astype(np.int64)
        wi = w2.astype(np.int64)
        if x.type == dtypes.INT8:
            gd = exact_gemm_dtype(wi)
            return ConvParams("int", win, wi.astype(gd), bias, gemm_dtype=gd, out_dtype=np.int8, patches=pl, **rq)
        return ConvParams("int16", win, wi.astype(np.float64), bias, gemm_dtype=np.float64, out_dtype=np.int16,
                          patches=pl, **rq)

    def eval(self, p: ConvParams, inputs):
        x = inputs[0]
        if isinstance(p, GroupedConvParams):
            return [eval_grouped(p, x)]
        if p.kind == "hybrid":
            return [self._hybrid(p, x)]
        if p.kind == "float":
            return [self._float(p, x)]
        n = x.shape[0]
        win = p.win
        # the im2col matrix is KH*KW times the input: do few samples at a time so it stays in cache
        per = 0 if win.is_pointwise else win.out_h * win.out_w * win.kh * win.kw * x.shape[3] * 4
        step = max(COLS_BUDGET // per, 1) if per else n
        if step >= n:
            return self._eval(p, x)
        return [np.concatenate([self._eval(p, x[k:k + step])[0] for k in range(0, n, step)])]

    def _eval(self, p: ConvParams, x: np.ndarray) -> list[np.ndarray]:
        n = x.shape[0]
        win = p.win
        # int: pad with the zero point so padded taps contribute (x + input_offset) == 0
        xs = x.reshape(-1, x.shape[3]).astype(p.gemm_dtype) if win.is_pointwise else \
            _patch_matrix(p, _patch_input(p, x, -p.input_offset), p.gemm_dtype)  # a new array
        xs += p.gemm_dtype(p.input_offset)
        acc = np.matmul(xs, p.w_mat).astype(np.int64)  # (N*OH*OW, Cout) exact int
        if p.bias is not None:
            acc += p.bias
        return [requantize_output(acc, p).reshape(n, win.out_h, win.out_w, -1)]

    def _float(self, p: ConvParams, x: np.ndarray) -> np.ndarray:
        """GEMM straight into the output (im2col a few samples at a time), then bias and clamp in place."""
        n = x.shape[0]
        win = p.win
        out = np.empty((n, win.out_h, win.out_w, p.w_mat.shape[1]), np.float32)
        if win.is_pointwise:
            np.matmul(x.reshape(-1, x.shape[3]), p.w_mat, out=out.reshape(-1, out.shape[3]))
        else:
            step = max(COLS_BUDGET // (win.out_h * win.out_w * p.w_mat.shape[0] * 4), 1)
            xp = _patch_input(p, x, 0)
            for k in range(0, n, step):
                y = out[k:k + step]
                np.matmul(_patch_matrix(p, xp[k:k + step], np.float32), p.w_mat,
                          out=y.reshape(-1, y.shape[3]))  # (N*OH*OW, Cout) float32
        return epilogue(out, p.bias_tile, p.act_min, p.act_max)

    def _prepare_hybrid(self, ctx, op, win, w2, bv, act, pl):
        """conv.cc Prepare: per-channel hybrid only when the filter has several *different* scales."""
        w = ctx.input(1)
        if np.any(zero_points(w) != 0):
            raise UnsupportedError("hybrid filter must be symmetric (zero point 0)")
        o = op.options
        # the hybrid kernels run with dilation 1 whatever the options say (conv.cc EvalHybrid*)
        win = Window.make(o.padding, win.in_h, win.in_w, win.kh, win.kw, o.stride_h, o.stride_w, 1, 1)
        s = scales(w)
        per_channel = s.size > 1 and bool(np.any(s != s[0]))
        wi = w2.astype(np.int64)
        bound = float(np.abs(wi).sum(axis=0).max(initial=0)) * 255
        gd = np.float32 if exact_in_float32(bound) else np.float64
        lo, hi = float_activation_range(act)
        bias = None if bv is None else bv.astype(np.float32)
        hybrid = (per_channel, s if per_channel else np.float32(s[0]))
        # |acc| <= bound (quantized inputs within +-255), so |output| <= bound * max(filter scale) * scaling
        # factor + max |bias|, up to float32 roundings: a factor 2 of margin on each term keeps it below
        # FLT_MAX when the scaling factor is below this limit
        biggest = float(np.max(np.abs(s))) * max(bound, 1.0) * 2
        room = float(np.finfo(np.float32).max) / 2 - (0.0 if bias is None else float(np.max(np.abs(bias), initial=0)) * 2)
        limit = room / biggest if room > 0 and biggest > 0 and np.isfinite(biggest) else 0.0
        return ConvParams("hybrid", win, wi.astype(gd), bias, act_min=lo, act_max=hi, hybrid=hybrid, gemm_dtype=gd,
                          patches=pl,
                          input_nonnegative=_relu_output(ctx, ctx.op.inputs[0]), finite_limit=limit,
                          bias_tile=channel_tile(bias, win),
                          hybrid_scale_tile=channel_tile(s, win) if per_channel else None)

    def _hybrid(self, p: ConvParams, x: np.ndarray) -> np.ndarray:
        """Quantize the whole batch, GEMM straight into the output (a few samples at a time when there is an
        im2col matrix: it is KH*KW times the input), then rescale, bias and clamp in place."""
        n = x.shape[0]
        win = p.win
        out = np.empty((n, win.out_h, win.out_w, p.w_mat.shape[1]), np.float32)
        per_channel, fscale = p.hybrid
        rows = x.reshape(n, -1)
        if per_channel:  # reference_ops::HybridConvPerChannel: taps outside the input are skipped
            q, sf, off = asymmetric_quantize_rows(rows)
            q -= off[:, None].astype(np.float32)  # exact: small integers
        else:  # optimized_ops::HybridConv (the only hybrid implementation): symmetric, zero padding
            q, sf = symmetric_quantize_rows(rows, p.input_nonnegative)
        q = q.reshape(x.shape)
        y = out.reshape(n * win.out_h * win.out_w, -1)
        if win.is_pointwise:
            self._hybrid_gemm(p, q.reshape(-1, x.shape[3]), y)
        else:
            qp = _patch_input(p, q, 0)
            step = max(COLS_BUDGET // (win.out_h * win.out_w * p.w_mat.shape[0] * 4), 1)
            pix = win.out_h * win.out_w
            for k in range(0, n, step):
                self._hybrid_gemm(p, _patch_matrix(p, qp[k:k + step], np.float32), y[k * pix:(k + step) * pix])
        self._hybrid_epilogue(p, out, sf, fscale, per_channel)
        return mark_finite(out) if _proved_finite(p, sf) else out

    @staticmethod
    def _hybrid_gemm(p: ConvParams, cols: np.ndarray, y: np.ndarray) -> None:
        if p.gemm_dtype is np.float32:
            np.matmul(cols, p.w_mat, out=y)  # (N*OH*OW, Cout) exact integer sums
        else:
            y[...] = np.matmul(cols.astype(p.gemm_dtype), p.w_mat)  # exact, then rounded like float(int32)

    @staticmethod
    def _hybrid_epilogue(p: ConvParams, out: np.ndarray, sf: np.ndarray, fscale, per_channel: bool) -> None:
        """float(acc) * (scaling_factor[b] * filter_scale) + bias, then the activation clamp, in place."""
        n = out.shape[0]
        y = out.reshape(-1, out.shape[3])
        per_sample = y.reshape(n, -1)
        if per_channel:
            tiles = y.reshape(-1, p.hybrid_scale_tile.size)
            np.multiply(tiles, p.hybrid_scale_tile, out=tiles)
            np.multiply(per_sample, sf[:, None], out=per_sample)
        else:
            scale = np.multiply(sf, fscale, dtype=np.float32)  # scaling_factors[b] *= filter scale
            np.multiply(per_sample, scale[:, None], out=per_sample)
        epilogue(out, p.bias_tile, p.act_min, p.act_max)
