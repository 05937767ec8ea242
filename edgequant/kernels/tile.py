"""TILE: repeat a tensor along each axis by constant or runtime multiples; any type."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dtypes
from ..errors import EdgequantError, UnsupportedError
from . import Kernel, kernel
from .pack import same_quantization


@dataclass(frozen=True)
class TileParams:
    reps: tuple | None
    batchable: bool


@kernel("TILE")
class Tile(Kernel):
    """reference: lite/kernels/tile.cc (copies); multiples int32 or int64, one per input axis."""

    def prepare(self, ctx, op):
        x, m, y = ctx.input(0), ctx.input(1), ctx.output(0)
        if m.type not in (dtypes.INT32, dtypes.INT64):
            raise UnsupportedError(f"TILE multiples '{m.name}' must be INT32/INT64")
        same_quantization(x, y)
        reps = ctx.const(1)
        if reps is None:
            return TileParams(None, False)
        reps_t = tuple(int(r) for r in reps.reshape(-1))
        if len(reps_t) != len(x.shape or []) or any(r < 0 for r in reps_t):
            raise UnsupportedError(f"TILE multiples {list(reps_t)} do not fit input shape {list(x.shape or [])}")
        return TileParams(reps_t, bool(reps_t) and reps_t[0] == 1)

    def eval(self, p: TileParams, inputs):
        x = inputs[0]
        reps = p.reps if p.reps is not None else tuple(int(r) for r in np.asarray(inputs[1]).reshape(-1))
        if len(reps) != x.ndim:
            raise EdgequantError(f"TILE multiples {list(reps)} do not match rank {x.ndim}")
        return [np.tile(x, reps)]
