"""GATHER_ND: gather slices of params addressed by the last axis of indices; any type."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dtypes
from ..errors import EdgequantError, UnsupportedError
from . import Kernel, kernel
from .pack import same_quantization


@dataclass(frozen=True)
class GatherNdParams:
    batchable: bool


@kernel("GATHER_ND")
class GatherNd(Kernel):
    """reference_ops::GatherNd (lite/kernels/gather_nd.cc): output shape ``indices.shape[:-1] +
    params.shape[indices.shape[-1]:]``; an out-of-range index is an error as in the reference."""

    def prepare(self, ctx, op):
        params, idx, y = ctx.input(0), ctx.input(1), ctx.output(0)
        if idx.type not in (dtypes.INT16, dtypes.INT32, dtypes.INT64):
            raise UnsupportedError(f"GATHER_ND indices '{idx.name}' are {dtypes.name(idx.type)}")
        ishape = list(idx.shape or [])
        if not ishape or ishape[-1] > len(params.shape or []):
            raise UnsupportedError(f"GATHER_ND indices shape {ishape} does not fit params rank "
                                   f"{len(params.shape or [])}")
        same_quantization(params, y)
        # Indices address the params' leading axes, so only stacked indices over constant params batch.
        batchable = ctx.const(0) is not None and len(ishape) >= 2
        return GatherNdParams(batchable)

    def eval(self, p: GatherNdParams, inputs):
        params, idx = inputs
        idx = np.asarray(idx, np.int64)
        k = idx.shape[-1]
        bounds = np.array(params.shape[:k], np.int64)
        if idx.size and (np.any(idx < 0) or np.any(idx >= bounds)):
            raise EdgequantError(f"GATHER_ND index out of range for params shape {list(params.shape)}")
        flat = idx.reshape(-1, k)
        out = params[tuple(flat[:, j] for j in range(k))]
        return [out.reshape(idx.shape[:-1] + params.shape[k:])]
