"""FULLY_CONNECTED: float32, int8 (per-tensor / per-channel), int16x8, hybrid (int8 weights, float input);
constant or non-constant weights and bias (hybrid: constant weights only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import dtypes, qmath
from ..errors import UnsupportedError
from . import Kernel, kernel
from ._common import (
    Requant,
    apply_float_activation,
    check_type,
    exact_in_float32,
    float_activation_range,
    quant_activation_range,
    quantize_multiplier,
    requantize_output,
    scale_zp,
    scales,
    zero_points,
)


@dataclass(frozen=True)
class FCParams(Requant):
    """``rounding`` (int kinds): "float" (LiteRT: ``effective_scale``) or "double" (tflite-micro: gemmlowp for
    int8, the Q15 int64 multiplier for 16x8)."""

    kind: str  # "float" | "int" | "int16" | "hybrid"
    w_mat: Any  # (input_depth, units) in the GEMM dtype; None when the weights are an input (built in eval)
    bias: Any  # constant bias (float32 or int64), or None (absent, or an input: see bias_is_input)
    keep_num_dims: bool
    filter_offset: int = 0
    gemm_dtype: Any = np.float32
    out_dtype: Any = np.float32
    hybrid: Any = None
    effective_scale: Any = None  # (units,) float64: double(s_in) * double(s_w[c]) / double(s_out)
    depth: int = 0  # the weights' input depth (their last dimension)
    bias_is_input: bool = False  # the bias is a non-constant input: read it in eval
    batchable: bool = True  # False with non-constant weights or bias: run() must not stack them


@kernel("FULLY_CONNECTED")
class FullyConnected(Kernel):
    """reference_ops::FullyConnected (float), reference_integer_ops::FullyConnected (int8 with int32
    bias, int16x8 with int64 bias), and the hybrid
    EvalHybrid of lite/kernels/fully_connected.cc (per-row symmetric or asymmetric input quantization).

    Requantization differs between the runtimes (``ctx.target``):

    * LiteRT (BUILTIN_REF) calls the reference_integer_ops::FullyConnected / FullyConnectedPerChannel
      overloads that take the float scales: no fixed-point multiplier at all, but
      ``round(double(acc) * (double(s_in) * double(s_w[c]) / double(s_out)))`` with std::round (halves away
      from zero), for int8 and int16x8 alike.
    * tflite-micro uses QuantizeMultiplier of the same double product and MultiplyByQuantizedMultiplier:
      gemmlowp double rounding on the int32 accumulator (int8), and for 16x8 the int64 overload, which
      first rounds the Q31 multiplier to Q15 (``(m + 2**15) >> 16``) and rounds halves up.

    Both agree on most elements; they part on ties (-2.5: LiteRT -3, tflite-micro 16x8 -2), where
    gemmlowp's two roundings compound (int8), and where the Q15 multiplier's lost bits cross a rounding
    boundary (16x8, the fc_i16x8_pt golden). tflite-micro's sources list per-channel weights for int8 input
    only, but the wheel runs 16x8 ones with one Q15 multiplier per channel (the fc_i16x8_pc golden).

    Weights and bias may be non-constant (both runtimes read them, and nothing derived from them, at every
    Eval): float32, int8 and 16x8 then build the GEMM matrix in eval, and such a model is not batchable.
    Per-channel weights' zero points are ignored, as FullyConnectedPerChannel does in both runtimes.
    """

    def prepare(self, ctx, op):
        x, w, b, y = ctx.input(0), ctx.input(1), ctx.input(2), ctx.output(0)
        o = op.options
        act = o.fused_activation_function if o is not None else 0
        keep = bool(o.keep_num_dims) if o is not None else False
        if o is not None and o.weights_format != 0:
            raise UnsupportedError("shuffled FULLY_CONNECTED weights format")
        # Weights and bias may be activations (e.g. attention's K and V): LiteRT's reference kernels read
        # them, and their scales, at every Eval and cache nothing, so their values are taken in eval then.
        wv = ctx.const(1)
        w_shape = list(wv.shape) if wv is not None else list(w.shape or [])
        if len(w_shape) != 2:
            raise UnsupportedError(f"weights of rank {len(w_shape)}; need 2")
        units, depth = w_shape
        if x.shape and int(np.prod(x.shape)) % depth:
            raise UnsupportedError(f"input shape {list(x.shape)} is not a multiple of the weights' depth {depth}")
        bv = ctx.const(2) if b is not None else None
        dyn = {"depth": depth, "bias_is_input": b is not None and bv is None,
               "batchable": wv is not None and (b is None or bv is not None)}
        wt = None if wv is None else np.ascontiguousarray(wv.T)  # (depth, units)
        if x.type == dtypes.FLOAT32 and w.type == dtypes.FLOAT32:
            lo, hi = float_activation_range(act)
            return FCParams("float", None if wt is None else wt.astype(np.float32),
                            None if bv is None else bv.astype(np.float32), keep, act_min=lo, act_max=hi, **dyn)
        if x.type == dtypes.FLOAT32 and w.type in (dtypes.INT8, dtypes.UINT8):
            from ._hybrid import prepare_hybrid_fc
            if wt is None or dyn["bias_is_input"]:
                # LiteRT runs these (EvalHybridDense reads them each time; with asymmetric inputs it computes
                # the weights' row sums on the first Eval only), but our hybrid path packs constant weights
                raise UnsupportedError("hybrid FULLY_CONNECTED (float input, int8 weights) with non-constant "
                                       "weights or bias is not implemented")
            lo, hi = float_activation_range(act)
            hw = prepare_hybrid_fc(w, wt, bool(o.asymmetric_quantize_inputs) if o is not None else False)
            return FCParams("hybrid", hw.w_mat, None if bv is None else bv.astype(np.float32), keep, act_min=lo,
                            act_max=hi, hybrid=hw, gemm_dtype=hw.gemm_dtype)
        check_type(x, (dtypes.INT8, dtypes.INT16), "input")
        check_type(w, (dtypes.INT8,), "weights")
        in_s, in_zp = scale_zp(x)
        out_s, out_zp = scale_zp(y)
        w_s = scales(w)
        # FullyConnectedPerChannel (both runtimes) assumes symmetric weights and never reads their zero points
        w_zp = int(zero_points(w)[0]) if w_s.size == 1 else 0
        if w_s.size not in (1, units):
            raise UnsupportedError(f"weights have {w_s.size} scales for {units} units")
        tflm = ctx.target == "tflm"
        eff = np.float64(in_s) * w_s.astype(np.float64) / np.float64(out_s)  # (1,) or (units,)
        rounding = "double" if tflm else "float"
        mult, shift = quantize_multiplier(eff, "double") if tflm else (None, None)
        lo, hi = quant_activation_range(act, y)
        bias = None if bv is None else bv.astype(np.int64)
        if wt is None:  # |w - w_zp| <= 255 and |x + input_offset| <= 255 (int8) bound every partial sum
            wi = None
            bound = depth * 255.0 * 255.0
        else:
            wi = wt.astype(np.int64) - w_zp  # filter_offset folded into the weights
            bound = float(np.abs(wi).sum(axis=0).max(initial=0)) * 255
        if x.type == dtypes.INT8:
            gd = np.float32 if exact_in_float32(bound) else np.float64
            return FCParams("int", None if wi is None else wi.astype(gd), bias, keep, -w_zp, gd, np.int8, act_min=lo,
                            act_max=hi, input_offset=-in_zp, output_offset=out_zp, output_multiplier=mult,
                            output_shift=shift, rounding=rounding, effective_scale=eff, **dyn)
        return FCParams("int16", None if wi is None else wi.astype(np.float64), bias, keep, -w_zp, np.float64,
                        np.int16, act_min=lo, act_max=hi, input_offset=-in_zp, output_offset=out_zp,
                        output_multiplier=mult, output_shift=shift, rounding=rounding, effective_scale=eff, **dyn)

    def eval(self, p: FCParams, inputs):
        x = inputs[0]
        w_mat = p.w_mat if p.w_mat is not None else self._weights(p, inputs[1])
        bias = p.bias
        if p.bias_is_input:
            bias = inputs[2].astype(np.float32 if p.kind == "float" else np.int64)
        depth, units = w_mat.shape
        rows = x.reshape(-1, depth)
        out_shape = (x.shape[:-1] + (units,)) if p.keep_num_dims else (rows.shape[0], units)
        if p.kind == "float":
            y = rows @ w_mat  # (rows, units) float32
            if bias is not None:
                y += bias
            return [apply_float_activation(y, p.act_min, p.act_max).reshape(out_shape)]
        if p.kind == "hybrid":
            y = p.hybrid.run(rows, p.bias)
            return [apply_float_activation(y, p.act_min, p.act_max).reshape(out_shape)]
        xs = rows.astype(p.gemm_dtype)
        xs += p.gemm_dtype(p.input_offset)
        acc = np.matmul(xs, w_mat).astype(np.int64)  # (rows, units) exact int
        if bias is not None:
            acc += bias
        if p.rounding == "float":  # LiteRT: std::round(double(acc) * effective_scale), then offset and clamp
            y = qmath.round_half_away(acc.astype(np.float64) * p.effective_scale)  # (rows, units) float64
            y += p.output_offset
            y = np.clip(y, p.act_min, p.act_max).astype(p.out_dtype)
        else:
            y = requantize_output(acc, p)
        return [y.reshape(out_shape)]

    @staticmethod
    def _weights(p: FCParams, w: np.ndarray) -> np.ndarray:
        """(depth, units) GEMM matrix of weights fed at run time, the filter offset added as in prepare."""
        wt = w.reshape(-1, p.depth).T.astype(p.gemm_dtype)  # (depth, units)
        if p.kind != "float" and p.filter_offset:
            wt += p.gemm_dtype(p.filter_offset)
        return wt
