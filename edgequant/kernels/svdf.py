"""SVDF: float32 and integer (int8 input/weights_feature, int16 or int8 weights_time and state)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import dtypes
from ..errors import UnsupportedError
from . import Kernel, kernel
from ._common import float_activation_range, mbqm_inplace, quantize_multiplier, scale_zp


@dataclass(frozen=True)
class SVDFParams:
    kind: str  # "float" | "int"
    wf: np.ndarray  # (n_input, n_filter) GEMM operand
    wt: np.ndarray  # (n_filter, n_memory)
    bias: Any
    rank: int
    act_min: Any
    act_max: Any
    state_shape: tuple
    state_inputs: tuple = (4,)
    batchable: bool = False  # stateful: run() feeds samples one at a time
    input_zp: int = 0
    output_zp: int = 0
    scale_1: tuple = (0, 0)
    scale_2: tuple = (0, 0)
    state_range: tuple = (0, 0)
    state_dtype: Any = None
    rounding: str = "double"


@kernel("SVDF")
class SVDF(Kernel):
    """reference_ops::EvalFloatSVDF and EvalIntegerSVDF (svdf.h). Per call: shift each filter's memory
    left by one, write the new feature projection (int: MultiplyByQuantizedMultiplier(dot, scale_1),
    clamped to the state type) in the last slot, dot with weights_time, sum over rank, add bias,
    rescale (scale_2) + output zero point, clamp. Multipliers: double(float(s_in * s_wf / s_state)) and
    double(float(s_state * s_wt / s_out)) as svdf.cc computes them. Inputs: input, weights_feature,
    weights_time, bias, state (variable)."""

    def prepare(self, ctx, op):
        x, wf_t, wt_t, st, y = ctx.input(0), ctx.input(1), ctx.input(2), ctx.input(4), ctx.output(0)
        if st is None or not st.is_variable:
            raise UnsupportedError("SVDF state (input 4) must be a variable tensor")
        wf = ctx.require_const(1, "weights_feature")
        wt = ctx.require_const(2, "weights_time")
        bv = ctx.const(3) if ctx.input(3) is not None else None
        rank = op.options.rank
        act = op.options.fused_activation_function
        n_filter, n_memory = wt.shape
        if wf.shape[0] != n_filter or n_filter % rank:
            raise UnsupportedError(f"weights_feature {list(wf.shape)} / weights_time {list(wt.shape)} / rank {rank}")
        state_shape = tuple(st.shape)
        if int(np.prod(state_shape)) != x.shape[0] * n_filter * n_memory:
            raise UnsupportedError(f"state shape {list(state_shape)} does not hold {n_filter} x {n_memory} per batch")
        if x.type == dtypes.FLOAT32:
            lo, hi = float_activation_range(act)
            return SVDFParams("float", np.ascontiguousarray(wf.T, np.float32), wt.astype(np.float32),
                              None if bv is None else bv.astype(np.float32), rank, lo, hi, state_shape)
        if x.type != dtypes.INT8 or wf_t.type != dtypes.INT8 or st.type not in (dtypes.INT16, dtypes.INT8):
            raise UnsupportedError(f"SVDF {dtypes.name(x.type)} / {dtypes.name(wf_t.type)} / {dtypes.name(st.type)}")
        si, zi = scale_zp(x)
        s_wf, _ = scale_zp(wf_t)
        s_wt, _ = scale_zp(wt_t)
        s_st, _ = scale_zp(st)
        so, zo = scale_zp(y)
        f32 = np.float32
        e1 = np.float64(f32(f32(f32(si) * f32(s_wf)) / f32(s_st)))
        e2 = np.float64(f32(f32(f32(s_st) * f32(s_wt)) / f32(so)))
        rounding = ctx.rounding_for("double")
        s1 = quantize_multiplier(e1, rounding)
        s2 = quantize_multiplier(e2, rounding)
        return SVDFParams("int", np.ascontiguousarray(wf.T).astype(np.float64), wt.astype(np.int64),
                          None if bv is None else bv.astype(np.int64), rank, -128, 127, state_shape,
                          input_zp=zi, output_zp=zo, scale_1=s1, scale_2=s2,
                          state_range=dtypes.integer_range(st.type), state_dtype=st.dtype, rounding=rounding)

    def eval(self, p: SVDFParams, inputs):
        x, state = inputs[0], inputs[4]
        b = x.shape[0]
        n_filter, n_memory = p.wt.shape
        s = state.reshape(b, n_filter, n_memory)
        new = np.empty_like(s)
        new[..., :-1] = s[..., 1:]
        if p.kind == "float":
            new[..., -1] = x @ p.wf  # (B, n_filter)
            scratch = np.einsum("bfm,fm->bf", new, p.wt, dtype=np.float32)
            out = scratch.reshape(b, -1, p.rank).sum(axis=-1, dtype=np.float32)
            if p.bias is not None:
                out = out + p.bias
            out = np.clip(out, p.act_min, p.act_max).astype(np.float32)
            return [out, new.reshape(state.shape)]
        dot = np.matmul(x.astype(np.float64) - p.input_zp, p.wf).astype(np.int64)  # exact
        mbqm_inplace(dot, *p.scale_1, p.rounding)
        new[..., -1] = np.clip(dot, *p.state_range)
        scratch = np.einsum("bfm,fm->bf", new.astype(np.int64), p.wt)
        out = scratch.reshape(b, -1, p.rank).sum(axis=-1)
        if p.bias is not None:
            out = out + p.bias
        mbqm_inplace(out, *p.scale_2, p.rounding)
        out += p.output_zp
        return [np.clip(out, -128, 127).astype(np.int8), new.reshape(state.shape)]
