"""PADV2: PAD with an explicit constant value input."""

from __future__ import annotations

import numpy as np

from . import Kernel, kernel
from .pad import prepare_pad


@kernel("PADV2")
class PadV2(Kernel):
    """reference_ops::Pad with ``constant_values`` (input 2)."""

    def prepare(self, ctx, op):
        return prepare_pad(ctx, v2=True)

    def eval(self, p, inputs):
        return [np.pad(inputs[0], p.pads, constant_values=p.value)]
