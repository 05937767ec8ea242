"""ADD: float32, int32/int64, int8, int16 (with broadcasting)."""

from __future__ import annotations

from . import Kernel, kernel
from ._elementwise import eval_add_sub, prepare_add_sub


@kernel("ADD")
class Add(Kernel):
    """reference_ops::Add / BroadcastAdd6DSlow (float, int32, int64) and reference_integer_ops::Add
    (int8; int16 through the general int16 path of lite/kernels/add.cc, or for target "litert" with
    pot_scale_int16 and power-of-two scales the shift-only reference_ops::Add(int16), see ``_elementwise``)."""

    def prepare(self, ctx, op):
        return prepare_add_sub(ctx, op, sign=1)

    def eval(self, p, inputs):
        return [eval_add_sub(p, inputs[0], inputs[1])]
