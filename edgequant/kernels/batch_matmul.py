"""BATCH_MATMUL: float32, int8 (int8 or int32 output), int16 (int16 or int8 rhs), hybrid (float lhs, int8 rhs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import dtypes
from ..errors import UnsupportedError
from . import Kernel, kernel
from ._common import (
    exact_gemm_dtype,
    mul_by_qm,
    quantize_multiplier,
    requantize_int64,
    scale_zp,
    scales,
    zero_points,
)
from ._hybrid import HybridFC


@dataclass(frozen=True)
class BatchMatMulParams:
    kind: str  # "float" | "int" | "int32out" | "hybrid"
    adj_x: bool
    adj_y: bool
    rhs: Any  # prepared constant rhs (adjoint applied; float64 of centred ints for "int") or None
    batchable: bool
    lhs_offset: int = 0  # -lhs zero point
    rhs_offset: int = 0  # -rhs zero point
    output_offset: int = 0
    output_multiplier: int = 0
    output_shift: int = 0
    qmin: int = 0
    qmax: int = 0
    out_dtype: Any = np.float32
    wide: bool = False  # int64 accumulator (int16 lhs)
    rounding: str = "double"
    hybrid: Any = None


def _adj(a: np.ndarray, flag: bool) -> np.ndarray:
    return np.swapaxes(a, -1, -2) if flag else a


@kernel("BATCH_MATMUL")
class BatchMatMul(Kernel):
    """reference_ops::BatchMatMul (float; int8 with int32 accumulators; int16 with int64 accumulators;
    the hybrid path with BatchQuantizeFloats per lhs row). ``out = adj(lhs) @ adj(rhs)`` with batch dims
    broadcast. Multiplier: GetQuantizedConvolutionMultipler (per-tensor scales) -> QuantizeMultiplier.
    Requantization: MultiplyByQuantizedMultiplier with gemmlowp double rounding on the int32 accumulator (int8)
    and the int64 overload on the int64 accumulator (int16 lhs), in LiteRT 2.3.0 and tflite-micro alike (the
    bmm_i8* and bmm_i16 goldens carry both runtimes' outputs)."""

    def prepare(self, ctx, op):
        lhs, rhs, y = ctx.input(0), ctx.input(1), ctx.output(0)
        o = op.options
        adj_x, adj_y = (bool(o.adj_x), bool(o.adj_y)) if o is not None else (False, False)
        rv = ctx.const(1)
        lr, rr = len(lhs.shape), len(rhs.shape)
        batchable = rv is not None and rr <= lr or (lr >= 3 and rr >= 3 and rv is None)
        if lhs.type == dtypes.FLOAT32 and rhs.type == dtypes.FLOAT32:
            return BatchMatMulParams("float", adj_x, adj_y, None if rv is None else _adj(rv, adj_y).astype(np.float32),
                                     batchable)
        if lhs.type == dtypes.FLOAT32 and rhs.type == dtypes.INT8:
            if rv is None or rv.ndim != 2 and any(d != 1 for d in rv.shape[:-2]):
                raise UnsupportedError("hybrid BATCH_MATMUL needs a constant rhs without batch dims")
            if adj_x:
                raise UnsupportedError("hybrid BATCH_MATMUL with adj_x")
            w = _adj(rv.reshape(rv.shape[-2:]), adj_y).astype(np.int64)  # (K, N)
            s = scales(rhs)
            asym = bool(getattr(o, "asymmetric_quantize_inputs", False)) if o is not None else False
            gd = exact_gemm_dtype(w)
            hw = HybridFC(w.astype(gd), gd, s if s.size > 1 else s[0], s.size > 1, asym, w.sum(axis=0))
            return BatchMatMulParams("hybrid", adj_x, adj_y, None, batchable, hybrid=hw)
        if lhs.type not in (dtypes.INT8, dtypes.INT16) or rhs.type not in (dtypes.INT8, dtypes.INT16):
            raise UnsupportedError(f"BATCH_MATMUL {dtypes.name(lhs.type)} x {dtypes.name(rhs.type)}")
        ls, lz = scale_zp(lhs)
        rz = int(zero_points(rhs)[0])
        rs_all = scales(rhs)
        n_out = rhs.shape[-2] if adj_y else rhs.shape[-1]
        if rs_all.size > 1:
            # Per-channel rhs: LiteRT 2.3.0's reference kernel reads the legacy per-tensor scale, which is 0
            # for such tensors, and outputs all zeros. We apply one multiplier per output column instead
            # (what the quantizer meant); tests/test_models.py records the disagreement.
            axis = rhs.quantization.quantized_dimension
            col_axis = len(rhs.shape) - (2 if adj_y else 1)
            if axis != col_axis or rs_all.size != n_out:
                raise UnsupportedError(f"per-channel rhs quantized on axis {axis}; only the output-column axis "
                                       f"({col_axis}) is supported")
        prep_rhs = None
        if rv is not None:
            prep_rhs = (_adj(rv, adj_y).astype(np.int64) - rz).astype(np.float64)
        wide = lhs.type == dtypes.INT16
        if y.type == dtypes.INT32:
            return BatchMatMulParams("int32out", adj_x, adj_y, prep_rhs, batchable, -lz, -rz, out_dtype=np.int32)
        so, zo = scale_zp(y)
        rounding = ctx.rounding_for("double")
        if rs_all.size > 1:
            real = np.float64(ls) * rs_all.astype(np.float64) / np.float64(so)
        else:
            real = np.float64(np.float32(ls) * rs_all[0]) / np.float64(so)  # GetQuantizedConvolutionMultipler
        m, s = quantize_multiplier(real, rounding)
        qmin, qmax = dtypes.integer_range(y.type)
        return BatchMatMulParams("int", adj_x, adj_y, prep_rhs, batchable, -lz, -rz, zo, m, s, qmin, qmax, y.dtype,
                                 wide, rounding)

    def eval(self, p: BatchMatMulParams, inputs):
        a = _adj(inputs[0], p.adj_x)
        if p.kind == "float":
            b = p.rhs if p.rhs is not None else _adj(inputs[1], p.adj_y)
            return [np.matmul(a, b).astype(np.float32)]
        if p.kind == "hybrid":
            rows = a.reshape(-1, a.shape[-1])
            y = p.hybrid.run(rows, None)
            return [y.reshape(a.shape[:-1] + (y.shape[-1],))]
        b = p.rhs if p.rhs is not None else (_adj(inputs[1], p.adj_y).astype(np.int64) + p.rhs_offset).astype(np.float64)
        acc = np.matmul((a.astype(np.int64) + p.lhs_offset).astype(np.float64), b).astype(np.int64)  # exact
        if p.kind == "int32out":
            return [acc.astype(np.int32)]
        if p.wide:
            return [requantize_int64(acc, p.output_multiplier, p.output_shift, p.output_offset, p.qmin, p.qmax,
                                     p.out_dtype)]
        y = mul_by_qm(acc, p.output_multiplier, p.output_shift, p.rounding) + p.output_offset
        return [np.clip(y, p.qmin, p.qmax).astype(p.out_dtype)]
