"""CAST: convert element types with C++ static_cast semantics (bool: x != 0)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import dtypes
from ..errors import UnsupportedError
from . import Kernel, kernel

_TYPES = (dtypes.FLOAT32, dtypes.FLOAT16, dtypes.FLOAT64, dtypes.INT8, dtypes.INT16, dtypes.INT32, dtypes.INT64,
          dtypes.UINT8, dtypes.UINT16, dtypes.UINT32, dtypes.UINT64, dtypes.BOOL)


@dataclass(frozen=True)
class CastParams:
    out_dtype: Any
    batchable: bool = True


@kernel("CAST")
class Cast(Kernel):
    """reference: lite/kernels/cast.cc (``static_cast<To>(from)`` per element; to bool is ``from != 0``).
    Float to integer truncates toward zero; integer narrowing wraps (two's complement). Values outside
    the target range of a float-to-int cast are undefined behaviour in C++ and not matched."""

    def prepare(self, ctx, op):
        x, y = ctx.input(0), ctx.output(0)
        for t in (x, y):
            if t.type not in _TYPES:
                raise UnsupportedError(f"CAST of '{t.name}' ({dtypes.name(t.type)}) is not supported")
        return CastParams(dtypes.to_numpy(y.type))

    def eval(self, p: CastParams, inputs):
        x = inputs[0]
        if p.out_dtype == np.bool_:
            return [x != 0]
        if x.dtype.kind == "f" and p.out_dtype.kind in "iu":
            with np.errstate(invalid="ignore"):
                return [np.trunc(x).astype(p.out_dtype)]
        return [x.astype(p.out_dtype)]
