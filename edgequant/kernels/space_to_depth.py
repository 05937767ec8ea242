"""SPACE_TO_DEPTH: move block_size x block_size spatial blocks into channels (NHWC, any type)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UnsupportedError
from . import Kernel, kernel
from .pack import same_quantization


@dataclass(frozen=True)
class BlockParams:
    block: int
    batchable: bool = True


def prepare_block(ctx, op, what: str) -> BlockParams:
    x, y = ctx.input(0), ctx.output(0)
    shape = list(x.shape or [])
    b = int(op.options.block_size) if op.options is not None else 0
    if len(shape) != 4 or b < 1:
        raise UnsupportedError(f"{what} needs a 4-D NHWC input and block_size >= 1 (shape {shape}, block {b})")
    same_quantization(x, y)
    return BlockParams(b)


@kernel("SPACE_TO_DEPTH")
class SpaceToDepth(Kernel):
    """reference_ops::SpaceToDepth: out[n, h, w, (by * b + bx) * C + c] = in[n, h*b + by, w*b + bx, c]."""

    def prepare(self, ctx, op):
        p = prepare_block(ctx, op, "SPACE_TO_DEPTH")
        _, h, w, _ = ctx.input(0).shape
        if h % p.block or w % p.block:
            raise UnsupportedError(f"SPACE_TO_DEPTH: {h}x{w} is not divisible by block {p.block}")
        return p

    def eval(self, p: BlockParams, inputs):
        x = inputs[0]
        n, h, w, c = x.shape
        b = p.block
        y = x.reshape(n, h // b, b, w // b, b, c).transpose(0, 1, 3, 2, 4, 5)
        return [y.reshape(n, h // b, w // b, b * b * c)]
