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


def _int16_binary(op: str, scales: tuple, shapes=((1, 8), (1, 8))) -> bytes:
    """A single int16 ADD/SUB with pot_scale_int16 (the schema default) and the given (s1, s2, s_out)."""
    import edgequant
    from edgequant.graph import Buffer, Model, Operator, QuantizationParameters, SubGraph, Tensor, new_node

    m = Model(version=3, operator_codes=[], subgraphs=[], buffers=[Buffer()], description="refusal")
    sg = SubGraph(tensors=[], operators=[], inputs=[], outputs=[], name="main")
    m.subgraphs.append(sg)
    out_shape = list(np.broadcast_shapes(*shapes))
    for name, s, shape in (("a", scales[0], shapes[0]), ("b", scales[1], shapes[1]), ("y", scales[2], out_shape)):
        q = QuantizationParameters(scale=np.array([s], np.float32), zero_point=np.array([0], np.int64))
        sg.add_tensor(Tensor(name=name, type=edgequant.dtypes.INT16, shape=list(shape), buffer=0, quantization=q))
    sg.inputs, sg.outputs = [0, 1], [2]
    table = "AddOptions" if op == "ADD" else "SubOptions"
    sg.operators.append(Operator(opcode_index=m.op_code_index(op, 3), inputs=[0, 1], outputs=[2],
                                 builtin_options=new_node(table, pot_scale_int16=True)))
    m.bind()
    return edgequant.save(m)


@pytest.mark.parametrize("op", ["ADD", "SUB"])
@pytest.mark.parametrize("scales", [(2.0 ** -15, 2.0 ** -14, 2.0 ** -12), (2.0 ** -10, 2.0 ** -12, 2.0 ** -12)],
                         ids=["both-inputs-shifted", "input-coarser-than-output"])
def test_int16_pot_add_sub_refuse_what_litert_refuses_and_run_like_tflite_micro(op, scales):
    """On the power-of-two path add.cc / sub.cc need one input at the output's scale and the other at a finer
    one; LiteRT's Prepare fails otherwise, and so do we. tflite-micro has no such path (it rescales), and
    target="tflm" computes what it computes."""
    li = pytest.importorskip("ai_edge_litert.interpreter")
    from edgequant.errors import UnsupportedError

    data = _int16_binary(op, scales)
    ref = li.Interpreter(model_content=data, experimental_op_resolver_type=li.OpResolverType.BUILTIN_REF)
    with pytest.raises(RuntimeError):
        ref.allocate_tensors()
    with pytest.raises(UnsupportedError, match=rf"op 0 \({op};.*refuse this too"):
        Interpreter(data).allocate_tensors()
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    rng = np.random.default_rng(1)
    a, b = (rng.integers(-32768, 32767, (1, 8), endpoint=True).astype(np.int16) for _ in range(2))
    micro = runtime.Interpreter.from_bytes(data)
    micro.set_input(a, 0)
    micro.set_input(b, 1)
    micro.invoke()
    np.testing.assert_array_equal(Interpreter(data, target="tflm").run([a, b])[0], micro.get_output(0))


def test_int16_pot_add_with_broadcasting_is_refused_because_litert_aborts():
    """reference_ops::Add(int16) on the power-of-two path is elementwise: with broadcasting LiteRT's
    MatchingElementsSize check aborts the process (checked in a child process). SUB broadcasts there."""
    pytest.importorskip("ai_edge_litert.interpreter")
    import signal
    import subprocess
    import sys

    from edgequant.errors import UnsupportedError

    data = _int16_binary("ADD", (2.0 ** -12, 2.0 ** -14, 2.0 ** -12), shapes=((2, 8), (1, 8)))
    code = ("import sys, numpy as np\n"
            "from ai_edge_litert.interpreter import Interpreter, OpResolverType\n"
            "it = Interpreter(model_content=sys.stdin.buffer.read(),"
            " experimental_op_resolver_type=OpResolverType.BUILTIN_REF)\n"
            "it.allocate_tensors()\n"
            "it.set_tensor(it.get_input_details()[0]['index'], np.ones((2, 8), np.int16))\n"
            "it.set_tensor(it.get_input_details()[1]['index'], np.ones((1, 8), np.int16))\n"
            "it.invoke()\n")
    sub = _int16_binary("SUB", (2.0 ** -12, 2.0 ** -14, 2.0 ** -12), shapes=((2, 8), (1, 8)))
    codes = [subprocess.run([sys.executable, "-c", code], check=False, input=model, capture_output=True,
                            timeout=120).returncode for model in (data, sub)]
    assert codes == [-signal.SIGABRT, 0], codes
    with pytest.raises(UnsupportedError, match=r"op 0 \(ADD;.*cannot broadcast.*abort"):
        Interpreter(data).allocate_tensors()
    Interpreter(sub).allocate_tensors()


def test_hybrid_fully_connected_with_weights_fed_at_run_time_is_refused():
    """Float input with int8 weights that are an input (not a constant): LiteRT runs it, our hybrid path
    packs constant weights only, so prepare refuses it instead of computing something else."""
    import edgequant
    from edgequant.errors import UnsupportedError
    from edgequant.graph import Buffer, Model, Operator, QuantizationParameters, SubGraph, Tensor

    m = Model(version=3, operator_codes=[], subgraphs=[], buffers=[Buffer()])
    sg = SubGraph(tensors=[], operators=[], inputs=[0, 1], outputs=[2], name="main")
    m.subgraphs.append(sg)
    q = QuantizationParameters(scale=np.array([0.02], np.float32), zero_point=np.array([0], np.int64))
    sg.add_tensor(Tensor(name="x", type=edgequant.dtypes.FLOAT32, shape=[2, 8], buffer=0))
    sg.add_tensor(Tensor(name="w", type=edgequant.dtypes.INT8, shape=[3, 8], buffer=0, quantization=q))
    sg.add_tensor(Tensor(name="y", type=edgequant.dtypes.FLOAT32, shape=[2, 3], buffer=0))
    sg.operators.append(Operator(opcode_index=m.op_code_index("FULLY_CONNECTED", 3), inputs=[0, 1, -1],
                                 outputs=[2]))
    with pytest.raises(UnsupportedError, match=r"op 0 \(FULLY_CONNECTED;.*hybrid.*non-constant weights"):
        Interpreter(m.bind()).allocate_tensors()


def _grouped_conv(cout: int, hybrid: bool = False) -> bytes:
    """CONV_2D over 4 input channels with a (cout, 3, 3, 2) filter: 2 groups."""
    import edgequant
    from edgequant.graph import Buffer, Model, Operator, QuantizationParameters, SubGraph, Tensor, new_node

    rng = np.random.default_rng(3)
    m = Model(version=3, operator_codes=[], subgraphs=[], buffers=[Buffer()], description="refusal")
    sg = SubGraph(tensors=[], operators=[], inputs=[0], outputs=[3], name="main")
    m.subgraphs.append(sg)
    w = rng.integers(-127, 127, (cout, 3, 3, 2)).astype(np.int8) if hybrid else \
        rng.uniform(-1, 1, (cout, 3, 3, 2)).astype(np.float32)
    wq = QuantizationParameters(scale=rng.uniform(0.01, 0.02, cout).astype(np.float32),
                                zero_point=np.zeros(cout, np.int64)) if hybrid else None
    f32 = edgequant.dtypes.FLOAT32
    sg.add_tensor(Tensor(name="x", type=f32, shape=[1, 5, 5, 4], buffer=0))
    sg.add_tensor(Tensor(name="w", type=edgequant.dtypes.from_numpy(w.dtype), shape=list(w.shape),
                         buffer=m.add_buffer(w), quantization=wq))
    sg.add_tensor(Tensor(name="b", type=f32, shape=[cout], buffer=m.add_buffer(np.zeros(cout, np.float32))))
    sg.add_tensor(Tensor(name="y", type=f32, shape=[1, 5, 5, cout], buffer=0))
    sg.operators.append(Operator(opcode_index=m.op_code_index("CONV_2D", 2 if hybrid else 1), inputs=[0, 1, 2],
                                 outputs=[3], builtin_options=new_node(
                                     "Conv2DOptions", padding=0, stride_w=1, stride_h=1, dilation_w_factor=1,
                                     dilation_h_factor=1)))
    return edgequant.save(m.bind())


def test_grouped_conv_with_output_channels_not_a_multiple_of_the_groups_is_refused_like_litert():
    li = pytest.importorskip("ai_edge_litert.interpreter")
    from edgequant.errors import UnsupportedError

    data = _grouped_conv(5)
    ref = li.Interpreter(model_content=data, experimental_op_resolver_type=li.OpResolverType.BUILTIN_REF)
    with pytest.raises(RuntimeError):
        ref.allocate_tensors()
    with pytest.raises(UnsupportedError, match=r"op 0 \(CONV_2D;.*5 output channels for 2 groups.*refuse this too"):
        Interpreter(data).allocate_tensors()
    Interpreter(_grouped_conv(6)).allocate_tensors()  # 3 filters per group: runs


def test_grouped_hybrid_conv_is_refused():
    """LiteRT runs it (reference_ops::HybridConvPerChannel); our hybrid conv has no groups, so we refuse."""
    from edgequant.errors import UnsupportedError

    with pytest.raises(UnsupportedError, match=r"op 0 \(CONV_2D;.*grouped hybrid convolution"):
        Interpreter(_grouped_conv(6, hybrid=True)).allocate_tensors()
