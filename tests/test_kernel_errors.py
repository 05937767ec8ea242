"""Kernels refuse what LiteRT refuses and reject malformed models: one-line errors naming the op, raised when
the interpreter prepares the model (the golden cases themselves are in tests/test_kernels.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgequant.interpreter import Interpreter

GOLDENS = Path(__file__).resolve().parent / "data" / "goldens"


def _single_op(op: str, in_type: int, options=None, scale: float = 0.1, zero_point: int = 0):
    from edgequant import dtypes
    from edgequant.graph import Buffer, Model, Operator, QuantizationParameters, SubGraph, Tensor

    q = QuantizationParameters(scale=np.array([scale], np.float32), zero_point=np.array([zero_point], np.int64))
    m = Model(version=3, operator_codes=[], subgraphs=[], buffers=[Buffer()])
    sg = SubGraph(tensors=[Tensor(name="x", type=in_type, shape=[1, 4], buffer=0, quantization=q),
                           Tensor(name="y", type=in_type, shape=[1, 4], buffer=0, quantization=q)],
                  operators=[], inputs=[0], outputs=[1])
    ins = [0]
    if op in ("SUM", "DIV", "SQUARED_DIFFERENCE"):
        extra = np.array([1], np.int32) if op == "SUM" else np.ones((1, 4), dtypes.to_numpy(in_type))
        sg.tensors.append(Tensor(name="k", type=dtypes.from_numpy(extra.dtype), shape=list(extra.shape),
                                 buffer=m.add_buffer(extra), quantization=None if op == "SUM" else q))
        ins.append(2)
    m.subgraphs.append(sg)
    sg.operators.append(Operator(opcode_index=m.op_code_index(op), inputs=ins, outputs=[1],
                                 builtin_options=options))
    return m.bind()


# What LiteRT 2.3.0 itself refuses (checked with BUILTIN_REF): int8/int16 DIV, int16 SQUARED_DIFFERENCE,
# HARD_SWISH and L2_NORMALIZATION; an int8 L2_NORMALIZATION output must be scale 1/128, zero point 0; an int16
# SUM needs zero points of 0.
REFUSED = [("DIV", "INT8", {}, "int8"), ("DIV", "INT16", {}, "int16"),
           ("SQUARED_DIFFERENCE", "INT16", {}, "int16"), ("HARD_SWISH", "INT16", {}, "int16"),
           ("L2_NORMALIZATION", "INT16", {}, "int16"), ("L2_NORMALIZATION", "INT8", {}, "1/128"),
           ("SUM", "INT16", {"zero_point": 3}, "zero points")]


@pytest.mark.parametrize("op,type_name,q,words", REFUSED, ids=[f"{r[0]}-{r[1]}-{r[3]}" for r in REFUSED])
def test_unsupported_integer_paths_are_refused_in_prepare(op, type_name, q, words):
    from edgequant import dtypes
    from edgequant.errors import UnsupportedError

    with pytest.raises(UnsupportedError, match=rf"(?i)op 0 \({op};.*{words}"):
        Interpreter(_single_op(op, getattr(dtypes, type_name), **q)).allocate_tensors()


def _densify_model(case: str):
    import edgequant

    return edgequant.load(np.load(GOLDENS / f"DENSIFY__{case}.npz")["model"].tobytes())


@pytest.mark.parametrize("corrupt,words", [
    ("index", "outside"), ("segments", "array_segments"), ("count", "buffer holds"), ("order", "traversal_order")])
def test_densify_rejects_malformed_sparsity(corrupt, words):
    """Metadata that the C++ would skip over or read out of bounds with is a ModelFormatError naming the op."""
    from edgequant.errors import ModelFormatError
    from edgequant.graph import Buffer, new_node

    m = _densify_model("f32_csr")
    t = m.subgraphs[0].tensors[0]
    level = t.sparsity.dim_metadata[1]
    if corrupt == "index":
        bad = np.asarray(level.array_indices.values).copy()
        bad[0] = 10  # the dense dimension has 10 columns: 0..9
        level.array_indices = new_node("Int32Vector", values=bad)
    elif corrupt == "segments":
        level.array_segments = new_node("Int32Vector", values=np.array([0, 3, 1, 2, 2, 2, 2], np.int32))
    elif corrupt == "count":
        m.buffers.append(Buffer(data=np.frombuffer(t.numpy()[:-1].tobytes(), np.uint8)))
        t.buffer = len(m.buffers) - 1
    else:
        t.sparsity.traversal_order = [0, 0]
    with pytest.raises(ModelFormatError, match=rf"op 0 \(DENSIFY.*{words}"):
        Interpreter(m.bind()).allocate_tensors()


def test_densify_of_a_dense_tensor_is_refused():
    from edgequant.errors import ModelFormatError
    from edgequant.graph import Buffer

    m = _densify_model("f32_csr")
    t = m.subgraphs[0].tensors[0]
    t.sparsity = None
    m.buffers.append(Buffer(data=np.zeros(6 * 10 * 4, np.uint8)))  # a well-formed dense [6, 10] float32
    t.buffer = len(m.buffers) - 1
    with pytest.raises(ModelFormatError, match=r"op 0 \(DENSIFY.*no sparsity"):
        Interpreter(m.bind()).allocate_tensors()


def test_int8_hard_swish_with_a_tiny_output_scale_is_refused():
    """HardSwishPrepare requires output_multiplier_exponent <= 0, i.e. s_in / 128 / s_out < 1."""
    from edgequant import dtypes
    from edgequant.errors import UnsupportedError
    from edgequant.graph import QuantizationParameters

    m = _single_op("HARD_SWISH", dtypes.INT8, scale=1.0)
    m.subgraphs[0].tensors[1].quantization = QuantizationParameters(scale=np.array([0.001], np.float32),
                                                                    zero_point=np.array([0], np.int64))
    with pytest.raises(UnsupportedError, match=r"op 0 \(HARD_SWISH.*exponent 3 > 0"):
        Interpreter(m.bind()).allocate_tensors()
