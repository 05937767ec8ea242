"""Grouped CONV_2D (filter input channels = input channels / groups): float32, int8 and int16x8.

LiteRT's conv.cc sets ``groups = input_channels / filter_input_channels`` and runs every grouped convolution on
its reference kernels: reference_ops::Conv (float) and reference_integer_ops::ConvPerChannel (int8, 16x8), where
output channel ``c`` belongs to group ``c / (output_channels / groups)`` and reads input channels
``[g * filter_input_channels, (g + 1) * filter_input_channels)``. Requantization is the ungrouped one
(per-channel multipliers, double rounding), and tflite-micro computes the same. ``conv_2d.Conv2D`` hands the
grouped case here: one GEMM per group over the group's slice of the im2col patches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import dtypes
from ..errors import UnsupportedError
from ._common import (
    Requant,
    Window,
    apply_float_activation,
    check_type,
    exact_gemm_dtype,
    float_activation_range,
    per_channel_requant,
    requantize_output,
    zero_points,
)

COLS_BUDGET = 1 << 20  # bytes of grouped im2col matrix per GEMM call


@dataclass(frozen=True)
class GroupedConvParams(Requant):
    kind: str  # "float" | "int" | "int16"
    win: Window
    groups: int
    w_mats: np.ndarray  # (G, KH*KW*C_in/G, C_out/G) in the GEMM dtype
    bias: Any  # (C_out,) float32 or int64, or None
    gemm_dtype: Any = np.float32


def prepare_grouped(ctx, op, wv: np.ndarray, groups: int) -> GroupedConvParams:
    """Conv2D.prepare for groups > 1: ``wv`` is the constant (C_out, KH, KW, C_in/G) filter."""
    x, w, b = ctx.input(0), ctx.input(1), ctx.input(2)
    o = op.options
    cout, kh, kw, cg = wv.shape
    if cout % groups:
        raise UnsupportedError(f"grouped convolution with {cout} output channels for {groups} groups (not a "
                               f"multiple); LiteRT's reference kernels refuse this too")
    win = Window.make(o.padding, x.shape[1], x.shape[2], kh, kw, o.stride_h, o.stride_w,
                      o.dilation_h_factor, o.dilation_w_factor)
    # (C_out, KH, KW, Cg) -> (G, C_out/G, KH*KW*Cg) -> (G, K, C_out/G): group g's filters as one GEMM matrix
    w_mats = np.ascontiguousarray(wv.reshape(groups, cout // groups, kh * kw * cg).transpose(0, 2, 1))
    bv = ctx.const(2) if b is not None else None
    if b is not None and bv is None:
        raise UnsupportedError("non-constant bias")
    act = o.fused_activation_function
    if x.type == dtypes.FLOAT32 and w.type == dtypes.FLOAT32:
        lo, hi = float_activation_range(act)
        return GroupedConvParams("float", win, groups, w_mats.astype(np.float32),
                                 None if bv is None else bv.astype(np.float32), act_min=lo, act_max=hi)
    if x.type == dtypes.FLOAT32:
        # LiteRT runs it through reference_ops::HybridConvPerChannel (per-channel filter scales only)
        raise UnsupportedError("grouped hybrid convolution (float input, int8 filter) is not implemented")
    check_type(x, (dtypes.INT8, dtypes.INT16), "input")
    check_type(w, (dtypes.INT8,), "filter")
    if np.any(zero_points(w) != 0):
        raise UnsupportedError("filter zero points must be 0")
    rq = per_channel_requant(ctx, act, cout)
    bias = None if bv is None else bv.astype(np.int64)
    wi = w_mats.astype(np.int64)
    if x.type == dtypes.INT8:
        gd = exact_gemm_dtype(wi, axis=1)
        kind = "int"
    else:
        gd, kind = np.float64, "int16"
    return GroupedConvParams(kind, win, groups, wi.astype(gd), bias, gd, **rq)


def eval_grouped(p: GroupedConvParams, x: np.ndarray) -> np.ndarray:
    n = x.shape[0]
    win = p.win
    per = win.out_h * win.out_w * win.kh * win.kw * x.shape[3] * 4  # bytes of one sample's patches (float32)
    step = max(COLS_BUDGET // max(per, 1), 1)
    return np.concatenate([_eval_block(p, x[k:k + step]) for k in range(0, n, step)]) if step < n \
        else _eval_block(p, x)


def _eval_block(p: GroupedConvParams, x: np.ndarray) -> np.ndarray:
    n, _, _, c = x.shape
    win = p.win
    g = p.groups
    pix = n * win.out_h * win.out_w
    # pad with the zero point so padded taps contribute (x + input_offset) == 0, as the reference skips them
    patches = win.im2col(win.padded(x, -p.input_offset))  # (N, OH, OW, KH, KW, C) view
    cols = patches.reshape(pix, win.kh * win.kw, g, c // g).transpose(2, 0, 1, 3).astype(p.gemm_dtype)
    cols = cols.reshape(g, pix, -1)  # (G, N*OH*OW, KH*KW*Cg), a copy
    if p.kind == "float":
        y = np.matmul(cols, p.w_mats).transpose(1, 0, 2).reshape(pix, -1)  # (N*OH*OW, C_out) float32
        if p.bias is not None:
            y = y + p.bias
        return apply_float_activation(y, p.act_min, p.act_max).reshape(n, win.out_h, win.out_w, -1)
    cols += p.gemm_dtype(p.input_offset)
    acc = np.matmul(cols, p.w_mats).transpose(1, 0, 2).reshape(pix, -1).astype(np.int64)  # exact int
    if p.bias is not None:
        acc += p.bias
    return requantize_output(acc, p).reshape(n, win.out_h, win.out_w, -1)
