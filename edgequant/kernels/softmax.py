"""SOFTMAX: float32 (int8/int16 paths in the quantized section below)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import dtypes
from ..errors import UnsupportedError
from . import Kernel, kernel


@dataclass(frozen=True)
class SoftmaxParams:
    kind: str
    beta: float
    q: Any = None


@kernel("SOFTMAX")
class Softmax(Kernel):
    """reference_ops::Softmax (float): exp((x - max) * beta) / sum over the last axis, in float32."""

    def prepare(self, ctx, op):
        x = ctx.input(0)
        beta = float(op.options.beta) if op.options is not None else 1.0
        if x.type == dtypes.FLOAT32:
            return SoftmaxParams("float", beta)
        try:
            from ._softmax_q import prepare_quantized
        except ImportError:
            raise UnsupportedError(f"SOFTMAX on {dtypes.name(x.type)} is not implemented yet") from None
        return SoftmaxParams("int", beta, prepare_quantized(ctx, beta))

    def eval(self, p: SoftmaxParams, inputs):
        x = inputs[0]
        if p.kind == "float":
            e = np.exp((x - x.max(axis=-1, keepdims=True)) * np.float32(p.beta))
            return [(e / e.sum(axis=-1, keepdims=True, dtype=np.float32)).astype(np.float32)]
        return [p.q.run(x)]


