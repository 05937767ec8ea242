"""TRANSPOSE: any type."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UnsupportedError
from . import Kernel, kernel


@dataclass(frozen=True)
class TransposeParams:
    perm: tuple
    batchable: bool


@kernel("TRANSPOSE")
class Transpose(Kernel):
    """reference_ops::Transpose: output dim i is input dim perm[i] (negative perms count from the end)."""

    def prepare(self, ctx, op):
        rank = len(ctx.input(0).shape)
        perm = tuple(int(p) % rank if rank else 0 for p in ctx.require_const(1, "perm").reshape(-1))
        if sorted(perm) != list(range(rank)):
            raise UnsupportedError(f"perm {list(perm)} is not a permutation of {rank} dims")
        return TransposeParams(perm, bool(perm) and perm[0] == 0)

    def eval(self, p: TransposeParams, inputs):
        return [np.ascontiguousarray(np.transpose(inputs[0], p.perm))]
