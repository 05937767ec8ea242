"""Which tensors hold a shape rather than samples, for ``run()``'s batching decisions.

A kernel that cuts axis 0 of its input cannot run on a stack of samples: axis 0 is the samples. A vector
written by SHAPE is different: its axis 0 lists dimensions, and under batching its first entry is simply
the real batch, as in a model converted with a dynamic batch. Slicing or gathering from it is therefore
batch-safe; this is the Keras ``Flatten`` pattern SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE, which
otherwise sends every such model to one sample per call.
"""

from __future__ import annotations


def from_shape_op(ctx, k: int) -> bool:
    """True when input ``k`` of the op being prepared is written by a SHAPE op."""
    tensor = ctx.op.inputs[k]
    o = ctx.subgraph.producers().get(tensor)
    return o is not None and ctx.model.op_name(ctx.subgraph.operators[o]) == "SHAPE"
