"""DEPTH_TO_SPACE: move channel groups into block_size x block_size spatial blocks (NHWC, any type)."""

from __future__ import annotations

from ..errors import UnsupportedError
from . import Kernel, kernel
from .space_to_depth import BlockParams, prepare_block


@kernel("DEPTH_TO_SPACE")
class DepthToSpace(Kernel):
    """reference_ops::DepthToSpace (DCR order): out[n, h*b + by, w*b + bx, c] = in[n, h, w, (by*b + bx)*C' + c]."""

    def prepare(self, ctx, op):
        p = prepare_block(ctx, op, "DEPTH_TO_SPACE")
        c = ctx.input(0).shape[3]
        if c % (p.block * p.block):
            raise UnsupportedError(f"DEPTH_TO_SPACE: {c} channels not divisible by block {p.block} squared")
        return p

    def eval(self, p: BlockParams, inputs):
        x = inputs[0]
        n, h, w, c = x.shape
        b = p.block
        y = x.reshape(n, h, w, b, b, c // (b * b)).transpose(0, 1, 3, 2, 4, 5)
        return [y.reshape(n, h * b, w * b, c // (b * b))]
