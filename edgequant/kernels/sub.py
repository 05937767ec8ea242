"""SUB: float32, int32/int64, int8, int16 (with broadcasting)."""

from __future__ import annotations

from . import Kernel, kernel
from ._elementwise import eval_add_sub, prepare_add_sub


@kernel("SUB")
class Sub(Kernel):
    """reference_ops::Sub / BroadcastSubSlow (float, int32, int64) and the quantized SUB of
    lite/kernels/sub.cc (left_shift 20 for int8, 15 for int16; same math as ADD with a minus; for target
    "litert" with pot_scale_int16 and power-of-two scales Sub16 / BroadcastSub16POTSlow, see ``_elementwise``)."""

    def prepare(self, ctx, op):
        return prepare_add_sub(ctx, op, sign=-1)

    def eval(self, p, inputs):
        return [eval_add_sub(p, inputs[0], inputs[1])]
