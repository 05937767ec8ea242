"""run() stacks samples only through ops that leave axis 0 alone: cutting a shape vector is fine, cutting the
batch is not."""

from __future__ import annotations

import numpy as np
import pytest

import edgequant
from edgequant import Interpreter, dtypes
from edgequant.graph import Buffer, Model, Operator, SubGraph, Tensor, new_node


def _cut_model(op: str, source: str) -> bytes:
    """x (2, 4, 3) float -> [SHAPE ->] ``op`` taking entry/row 0 -> y; a RESHAPE of x is the second output."""
    m = Model(version=3, operator_codes=[], subgraphs=[], buffers=[Buffer()])

    def i32(v):
        return m.add_buffer(np.asarray(v, np.int32))

    sg = SubGraph(tensors=[], operators=[], inputs=[0], outputs=[2, 5], name="main")
    m.subgraphs.append(sg)
    cut_from_shape = source == "shape"
    src_shape, src_type = ([3], dtypes.INT32) if cut_from_shape else ([2, 4, 3], dtypes.FLOAT32)
    sg.tensors += [Tensor(name="x", type=dtypes.FLOAT32, shape=[2, 4, 3], buffer=0),
                   Tensor(name="src", type=src_type, shape=src_shape, buffer=0),
                   Tensor(name="y", type=src_type, shape=[1] + src_shape[1:], buffer=0),
                   Tensor(name="a", type=dtypes.INT32, shape=[len(src_shape)], buffer=i32([0] * len(src_shape))),
                   Tensor(name="b", type=dtypes.INT32, shape=[len(src_shape)], buffer=i32([1] + src_shape[1:])),
                   Tensor(name="flat", type=dtypes.FLOAT32, shape=[2, 12], buffer=0)]
    if cut_from_shape:
        sg.operators.append(Operator(opcode_index=m.op_code_index("SHAPE"), inputs=[0], outputs=[1],
                                     builtin_options=new_node("ShapeOptions", out_type=dtypes.INT32)))
    else:
        sg.tensors[1] = sg.tensors[0]  # cut x itself
    src = 1 if cut_from_shape else 0
    if op == "SLICE":
        sg.operators.append(Operator(opcode_index=m.op_code_index("SLICE"), inputs=[src, 3, 4], outputs=[2]))
    elif op == "STRIDED_SLICE":
        sg.operators.append(Operator(opcode_index=m.op_code_index("STRIDED_SLICE"), inputs=[src, 3, 4],
                                     outputs=[2], builtin_options=new_node("StridedSliceOptions")))
    else:  # GATHER of entry / row 0
        sg.tensors[3] = Tensor(name="a", type=dtypes.INT32, shape=[1], buffer=i32([0]))
        sg.operators.append(Operator(opcode_index=m.op_code_index("GATHER"), inputs=[src, 3], outputs=[2],
                                     builtin_options=new_node("GatherOptions", axis=0)))
    sg.operators.append(Operator(opcode_index=m.op_code_index("RESHAPE"), inputs=[0], outputs=[5],
                                 builtin_options=new_node("ReshapeOptions", new_shape=[2, 12])))
    return edgequant.save(m.bind())


@pytest.mark.parametrize("op", ["SLICE", "STRIDED_SLICE", "GATHER"])
def test_cutting_a_shape_vector_keeps_the_batch(op):
    it = Interpreter(_cut_model(op, "shape"))
    assert it._plan(0).batchable
    x = np.random.default_rng(0).standard_normal((10, 4, 3)).astype(np.float32)  # 5 samples of 2 rows
    first, flat = it.run([x])
    assert first.tolist() == [10]  # SHAPE reports the stacked rows, as with a dynamic batch
    np.testing.assert_array_equal(flat, x.reshape(10, 12))


@pytest.mark.parametrize("op", ["SLICE", "STRIDED_SLICE", "GATHER"])
def test_cutting_the_samples_runs_them_one_by_one(op):
    it = Interpreter(_cut_model(op, "data"))
    assert not it._plan(0).batchable
    x = np.random.default_rng(0).standard_normal((10, 4, 3)).astype(np.float32)  # 5 samples of 2 rows
    first, flat = it.run([x])
    np.testing.assert_array_equal(first, x[0::2])  # row 0 of every sample, not row 0 of the stack
    np.testing.assert_array_equal(flat, x.reshape(10, 12))


def test_intermediates_of_a_split_batch_are_whole_or_left_out():
    """digits_cnn in run() with more samples than one call takes: every tensor with a row per sample comes back
    with all 360 rows, equal to a run of each part; the SHAPE/STRIDED_SLICE/PACK values (the batch size of each
    call) have no single value for the whole batch and are left out instead of being glued end to end."""
    from pathlib import Path

    data = Path(edgequant.__file__).parent / "data"
    x = np.load(data / "digits_test.npz")["x"].astype(np.float32)
    it = Interpreter(data / "digits_cnn.tflite")
    assert it._plan(0).chunk < len(x)
    _, inter = it.run([x], keep_intermediates=True)
    _, first = it.run([x[:100]], keep_intermediates=True)  # one call: every tensor, as that call saw it
    shape_ops = {i for i in first if first[i].ndim <= 1}
    assert shape_ops and not shape_ops & set(inter)
    assert set(inter) == set(first) - shape_ops
    for i, v in inter.items():
        assert v.shape[0] == len(x)
        np.testing.assert_allclose(v[:100], first[i], rtol=1e-5, atol=1e-5)
