"""L2_NORMALIZATION: x / max(sqrt(sum(x^2 over the last axis)), 1e-6) (float32). int8 not implemented."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dtypes
from ..errors import UnsupportedError
from . import Kernel, kernel


@dataclass(frozen=True)
class L2NormParams:
    batchable: bool = True


@kernel("L2_NORMALIZATION")
class L2Normalization(Kernel):
    """reference_ops::L2Normalization (float): per position, ``sum(x*x)`` over the depth axis in float32,
    ``l2 = max(sqrt(sum), 1e-6)``, ``x / l2``. The int8 path (GetInvSqrtQuantizedMultiplierExp with a
    fixed output scale of 1/128) is not implemented: int8 models raise UnsupportedError in prepare."""

    def prepare(self, ctx, op):
        x, y = ctx.input(0), ctx.output(0)
        if x.type != dtypes.FLOAT32 or y.type != dtypes.FLOAT32:
            raise UnsupportedError(f"L2_NORMALIZATION of {dtypes.name(x.type)}: only FLOAT32 is implemented")
        act = op.options.fused_activation_function if op.options is not None else 0
        if act:
            raise UnsupportedError(f"L2_NORMALIZATION with fused activation {act}")
        return L2NormParams()

    def eval(self, p, inputs):
        x = inputs[0]
        sq = np.sum(x * x, axis=-1, keepdims=True, dtype=np.float32)
        l2 = np.maximum(np.sqrt(sq), np.float32(1e-6))
        return [x / l2]
