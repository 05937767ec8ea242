"""TRANSPOSE_CONV: float32, int8 (per-channel), int16x8 (int64 bias)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import dtypes
from ..errors import UnsupportedError
from . import Kernel, kernel
from ._common import (
    SAME,
    Requant,
    apply_float_activation,
    check_type,
    float_activation_range,
    mbqm_inplace,
    quant_activation_range,
    quantize_multiplier,
    requantize_int64,
    scale_zp,
    scales,
)


@dataclass(frozen=True)
class TransposeConvParams(Requant):
    kind: str  # "float" | "int" | "int16"
    w: np.ndarray  # (KH, KW, Cin, Cout) in the accumulation dtype
    stride_h: int
    stride_w: int
    pad_top: int
    pad_left: int
    out_h: int
    out_w: int
    bias: Any


@kernel("TRANSPOSE_CONV")
class TransposeConv(Kernel):
    """reference_ops::TransposeConv (float) and reference_integer_ops::TransposeConv (int8 with int32
    scratch, int16 with int64 scratch): every input pixel scatters ``(q + input_offset) * w`` into the
    output window at ``in * stride - pad``; then bias, per-channel MultiplyByQuantizedMultiplier
    (int64 overload for int16), output_offset, clamp. Padding: ComputePaddingHeightWidth with the
    output as the convolution's input. Inputs: output_shape, weights (Cout, KH, KW, Cin), input, bias."""

    def prepare(self, ctx, op):
        w_t, x, y = ctx.input(1), ctx.input(2), ctx.output(0)
        wv = ctx.require_const(1, "weights")
        o = op.options
        if len(x.shape) != 4 or wv.ndim != 4:
            raise UnsupportedError("TRANSPOSE_CONV needs NHWC input and 4-D weights")
        cout, kh, kw, cin = wv.shape
        if x.shape[3] != cin:
            raise UnsupportedError(f"input has {x.shape[3]} channels, weights expect {cin}")
        _, oh, ow, _ = y.shape
        sh, sw = o.stride_h, o.stride_w
        pad_top = pad_left = 0
        if o.padding == SAME:
            # ComputePaddingHeightWidth(stride, dilation 1, in = output size, filter, out = input size)
            pad_top = max(((x.shape[1] - 1) * sh + kh - oh) // 2, 0)
            pad_left = max(((x.shape[2] - 1) * sw + kw - ow) // 2, 0)
        act = getattr(o, "fused_activation_function", 0)
        bv = ctx.const(3) if ctx.input(3) is not None else None
        wk = np.ascontiguousarray(np.transpose(wv, (1, 2, 3, 0)))  # (KH, KW, Cin, Cout)
        if x.type == dtypes.FLOAT32:
            lo, hi = float_activation_range(act)
            return TransposeConvParams("float", wk.astype(np.float32), sh, sw, pad_top, pad_left, oh, ow,
                                       None if bv is None else bv.astype(np.float32), act_min=lo, act_max=hi)
        check_type(x, (dtypes.INT8, dtypes.INT16), "input")
        check_type(w_t, (dtypes.INT8,), "weights")
        in_s, in_zp = scale_zp(x)
        out_s, out_zp = scale_zp(y)
        ws = scales(w_t)
        eff = np.float64(in_s) * np.broadcast_to(ws.astype(np.float64), (cout,)) / np.float64(out_s)
        rounding = ctx.rounding_for("double")
        m, s = quantize_multiplier(eff.copy(), rounding)
        lo, hi = quant_activation_range(act, y)
        kind = "int" if x.type == dtypes.INT8 else "int16"
        return TransposeConvParams(kind, wk.astype(np.float64), sh, sw, pad_top, pad_left, oh, ow,
                                   None if bv is None else bv.astype(np.int64), act_min=lo, act_max=hi,
                                   input_offset=-in_zp, output_offset=out_zp, output_multiplier=m, output_shift=s,
                                   rounding=rounding)

    def eval(self, p: TransposeConvParams, inputs):
        x = inputs[2]
        n, h, w, _ = x.shape
        kh, kw = p.w.shape[:2]
        full_h = max((h - 1) * p.stride_h + kh, p.pad_top + p.out_h)
        full_w = max((w - 1) * p.stride_w + kw, p.pad_left + p.out_w)
        if p.kind == "float":
            xs = x
            acc = np.zeros((n, full_h, full_w, p.w.shape[3]), np.float32)
        else:
            xs = x.astype(np.float64) + p.input_offset
            acc = np.zeros((n, full_h, full_w, p.w.shape[3]), np.float64)  # exact integer sums
        for i in range(kh):
            for j in range(kw):
                contrib = xs @ p.w[i, j]  # (N, H, W, Cout)
                acc[:, i:i + (h - 1) * p.stride_h + 1:p.stride_h, j:j + (w - 1) * p.stride_w + 1:p.stride_w] += contrib
        acc = acc[:, p.pad_top:p.pad_top + p.out_h, p.pad_left:p.pad_left + p.out_w]
        if p.kind == "float":
            if p.bias is not None:
                acc = acc + p.bias
            return [apply_float_activation(np.ascontiguousarray(acc, np.float32), p.act_min, p.act_max)]
        acc = acc.astype(np.int64)
        if p.bias is not None:
            acc += p.bias
        if p.kind == "int":
            mbqm_inplace(acc, p.output_multiplier, p.output_shift, p.rounding)
            acc += p.output_offset
            return [np.clip(acc, p.act_min, p.act_max).astype(np.int8)]
        return [requantize_int64(acc, p.output_multiplier, p.output_shift, p.output_offset, p.act_min, p.act_max,
                                 np.int16)]
