"""Interpreter API: LiteRT-shaped details, set/invoke/get, batched run, intermediates, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import edgequant
from edgequant import dtypes
from edgequant.errors import EdgequantError, UnsupportedError
from edgequant.graph import Buffer, Model, Operator, QuantizationParameters, SubGraph, Tensor, new_node
from edgequant.interpreter import Interpreter
from edgequant.kernels import load_all

SHARED = Path(__file__).resolve().parents[2] / "shared"
MODELS = SHARED / "models"


def _shared(name: str) -> Path:
    p = MODELS / name
    if not p.exists():
        pytest.skip(f"{p} not available (shared models absent)")
    return p


def _fc_model(in_type=dtypes.FLOAT32) -> Model:
    """x (1, 3) -> FULLY_CONNECTED(w (2, 3), b (2,)) -> RELU6 fused -> y (1, 2)."""
    m = Model(version=3, operator_codes=[], subgraphs=[], buffers=[Buffer()], description="test")
    w = m.add_buffer(np.array([[1, 2, 3], [-1, 0.5, 2]], np.float32))
    b = m.add_buffer(np.array([0.5, -1], np.float32))
    sg = SubGraph(tensors=[], operators=[], inputs=[0], outputs=[3], name="main")
    m.subgraphs.append(sg)
    sg.tensors += [Tensor(name="x", type=in_type, shape=[1, 3], buffer=0),
                   Tensor(name="w", type=dtypes.FLOAT32, shape=[2, 3], buffer=w),
                   Tensor(name="b", type=dtypes.FLOAT32, shape=[2], buffer=b),
                   Tensor(name="y", type=dtypes.FLOAT32, shape=[1, 2], buffer=0)]
    sg.operators.append(Operator(opcode_index=m.op_code_index("FULLY_CONNECTED"), inputs=[0, 1, 2], outputs=[3],
                                 builtin_options=new_node("FullyConnectedOptions", fused_activation_function=3)))
    return m.bind()


def test_fc_by_hand_and_litert_style_calls():
    it = Interpreter(edgequant.save(_fc_model()))
    d = it.get_input_details()[0]
    assert d["name"] == "x" and list(d["shape"]) == [1, 3] and d["dtype"] is np.float32
    assert d["quantization"] == (0.0, 0) and d["quantization_parameters"]["scales"].size == 0
    it.set_tensor(d["index"], np.array([[1.0, -2.0, 0.5]], np.float32))
    it.invoke()
    y = it.get_tensor(it.get_output_details()[0]["index"])
    # hand computed: [1-4+1.5+0.5, -1-1+1-1] = [-1, -2] -> relu6 -> [0, 0]; and a positive case below
    np.testing.assert_array_equal(y, [[0.0, 0.0]])
    it.set_tensor(d["index"], np.array([[1.0, 1.0, 1.0]], np.float32))
    it.invoke()
    np.testing.assert_allclose(it.get_tensor(3), [[6.0, 0.5]])  # 6.5 clamps to 6; -1+.5+2-1 = .5


def test_run_batches_and_keeps_intermediates():
    it = Interpreter(_fc_model())
    x = np.random.default_rng(1).standard_normal((7, 3)).astype(np.float32)
    (y,), inter = it.run([x], keep_intermediates=True)
    assert y.shape == (7, 2)
    w = np.array([[1, 2, 3], [-1, 0.5, 2]], np.float32)
    np.testing.assert_allclose(y, np.clip(x @ w.T + [0.5, -1], 0, 6), rtol=1e-6)
    assert set(inter) == {3}
    # the same samples one at a time give the same rows
    for k in range(7):
        np.testing.assert_array_equal(it.run([x[k:k + 1]])[0], y[k:k + 1])
    # dict input by name
    np.testing.assert_array_equal(it.run({"x": x})[0], y)


def test_bad_inputs_raise_edgequant_errors():
    it = Interpreter(_fc_model())
    with pytest.raises(EdgequantError, match="needs float32"):
        it.set_tensor(0, np.zeros((1, 3), np.int8))
    with pytest.raises(EdgequantError, match="shape"):
        it.set_tensor(0, np.zeros((1, 4), np.float32))
    with pytest.raises(EdgequantError, match="is not an input"):
        it.run({"nope": np.zeros((1, 3), np.float32)})


def test_custom_op_unsupported_then_registered():
    m = Model(version=3, operator_codes=[], subgraphs=[], buffers=[Buffer()])
    sg = SubGraph(tensors=[Tensor(name="a", type=dtypes.FLOAT32, shape=[1, 4], buffer=0),
                           Tensor(name="b", type=dtypes.FLOAT32, shape=[1, 4], buffer=0)],
                  operators=[], inputs=[0], outputs=[1])
    m.subgraphs.append(sg)
    sg.operators.append(Operator(opcode_index=m.op_code_index("CUSTOM", custom_code="Twice"), inputs=[0],
                                 outputs=[1]))
    m.bind()
    it = Interpreter(m)
    with pytest.raises(UnsupportedError, match="op 0: custom op 'Twice'"):
        it.allocate_tensors()
    it.register_custom("Twice", lambda inputs, op: [inputs[0] * 2])
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    np.testing.assert_array_equal(it.run([x])[0], x * 2)


def test_kernel_error_names_op_and_tensors():
    m = _fc_model()
    m.subgraphs[0].tensors[1].shape = [2, 5]  # weights no longer match the 3-wide input
    m.buffers[1] = Buffer(data=np.zeros(40, np.uint8))
    with pytest.raises(EdgequantError, match=r"op 0 \(FULLY_CONNECTED; inputs 'x', 'w', 'b'; outputs 'y'\)"):
        Interpreter(m).allocate_tensors()


def test_registry_lists_priority_ops():
    reg = load_all()
    for name in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D", "RESHAPE",
                 "SOFTMAX", "ADD", "CONCATENATION", "MEAN"):
        assert name in reg


def test_float_model_intermediates_cover_every_op_output():
    it = Interpreter(_shared("mlperf_tiny_kws_dscnn_int8.tflite"))
    sg = it.model.main
    x = np.random.default_rng(0).integers(-128, 128, (3, 49, 10, 1)).astype(np.int8)
    try:
        outs, inter = it.run([x], keep_intermediates=True)
    except UnsupportedError as e:  # integer kernels land after the float path
        pytest.skip(f"not yet supported: {e}")
    produced = {t for op in sg.operators for t in op.outputs}
    assert set(inter) == produced
    assert all(v.shape[0] == 3 for v in inter.values())
    np.testing.assert_array_equal(outs[0], inter[sg.outputs[0]])


@pytest.mark.parametrize("name", ["mlperf_tiny_kws_dscnn_int8.tflite", "tflm_keyword_scrambled.tflite",
                                  "mlperf_tiny_vww_96_float.tflite"])
def test_details_equal_litert(name: str):
    """get_input/output/tensor_details: same keys, names, indices, shapes, dtypes and quantization as LiteRT."""
    lite = pytest.importorskip("ai_edge_litert.interpreter")
    model = _shared(name).read_bytes()
    ref = lite.Interpreter(model_content=model, experimental_op_resolver_type=lite.OpResolverType.BUILTIN_REF)
    ref.allocate_tensors()
    ours = Interpreter(model)

    def same(a: dict, b: dict) -> None:
        assert a["name"] == b["name"] and a["index"] == b["index"], (a["name"], b["name"])
        assert a["dtype"] == b["dtype"], a["name"]
        np.testing.assert_array_equal(a["shape"], b["shape"])
        np.testing.assert_array_equal(a["shape_signature"], b["shape_signature"])
        assert a["quantization"][1] == b["quantization"][1]
        np.testing.assert_allclose(a["quantization"][0], b["quantization"][0], rtol=1e-7)
        qa, qb = a["quantization_parameters"], b["quantization_parameters"]
        np.testing.assert_array_equal(qa["scales"], qb["scales"])
        np.testing.assert_array_equal(qa["zero_points"], qb["zero_points"])
        assert qa["quantized_dimension"] == qb["quantized_dimension"]

    for a, b in zip(ours.get_input_details(), ref.get_input_details()):
        same(a, b)
    for a, b in zip(ours.get_output_details(), ref.get_output_details()):
        same(a, b)
    theirs = {d["index"]: d for d in ref.get_tensor_details()}
    checked = 0
    for d in ours.get_tensor_details():
        if d["index"] in theirs:  # LiteRT adds scratch tensors of its own; compare the model's
            same(d, theirs[d["index"]])
            checked += 1
    assert checked == len(ours.model.main.tensors)


def test_signature_runner_and_errors():
    it = Interpreter(_shared("litert_multi_signature_model.tflite"))
    assert set(it.get_signature_list()) == {"add", "mul", "sub"}
    runner = it.get_signature_runner("sub")
    feeds = {k: np.full(tuple(d["shape"]), 3.0 if i == 0 else 1.25, np.float32)
             for i, (k, d) in enumerate(sorted(runner.get_input_details().items()))}
    out = runner(**feeds)
    a, b = (feeds[k] for k in sorted(feeds))
    np.testing.assert_allclose(next(iter(out.values())), a - b)  # 3 - 1.25, by hand: 1.75
    with pytest.raises(EdgequantError, match="no signature 'div'"):
        it.get_signature_runner("div")
    with pytest.raises(EdgequantError, match="takes inputs"):
        runner(nope=np.zeros(1, np.float32))


def test_float16_weights_behind_dequantize_match_litert():
    """float16 constant -> DEQUANTIZE -> CONV_2D (the float16-weight export), batched, against LiteRT."""
    lite = pytest.importorskip("ai_edge_litert.interpreter")
    rng = np.random.default_rng(3)
    m = Model(version=3, operator_codes=[], subgraphs=[], buffers=[Buffer()], description="f16 weights")
    w16 = m.add_buffer(rng.normal(0, 0.5, (3, 3, 3, 2)).astype(np.float16))
    b = m.add_buffer(rng.normal(0, 0.5, 3).astype(np.float32))
    sg = SubGraph(tensors=[], operators=[], inputs=[0], outputs=[4], name="main")
    m.subgraphs.append(sg)
    sg.tensors += [Tensor(name="x", type=dtypes.FLOAT32, shape=[1, 6, 5, 2], buffer=0),
                   Tensor(name="w16", type=dtypes.FLOAT16, shape=[3, 3, 3, 2], buffer=w16),
                   Tensor(name="w", type=dtypes.FLOAT32, shape=[3, 3, 3, 2], buffer=0),
                   Tensor(name="b", type=dtypes.FLOAT32, shape=[3], buffer=b),
                   Tensor(name="y", type=dtypes.FLOAT32, shape=[1, 6, 5, 3], buffer=0)]
    sg.operators += [Operator(opcode_index=m.op_code_index("DEQUANTIZE", 3), inputs=[1], outputs=[2]),
                     Operator(opcode_index=m.op_code_index("CONV_2D"), inputs=[0, 2, 3], outputs=[4],
                              builtin_options=new_node("Conv2DOptions", padding=0, stride_w=1, stride_h=1,
                                                       dilation_w_factor=1, dilation_h_factor=1))]
    data = edgequant.save(m.bind())
    ref = lite.Interpreter(model_content=data, experimental_op_resolver_type=lite.OpResolverType.BUILTIN_REF)
    ref.allocate_tensors()
    xs = rng.standard_normal((4, 6, 5, 2)).astype(np.float32)
    got = Interpreter(data).run([xs])[0]
    for k in range(4):
        ref.set_tensor(0, xs[k:k + 1])
        ref.invoke()
        want = ref.get_tensor(4)
        np.testing.assert_allclose(got[k:k + 1], want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


def test_int16_broadcast_add_on_the_power_of_two_path_is_refused_not_guessed():
    """LiteRT aborts the process on this one (see tests/test_kernel_errors.py); we name the op and why."""
    m = Model(version=3, operator_codes=[], subgraphs=[], buffers=[Buffer()])
    q = QuantizationParameters(scale=np.array([2.0 ** -10], np.float32), zero_point=np.array([0], np.int64))
    shapes = {"a": [1, 4], "b": [1, 1], "c": [1, 4]}
    sg = SubGraph(tensors=[Tensor(name=n, type=dtypes.INT16, shape=s, buffer=0, quantization=q)
                           for n, s in shapes.items()], operators=[], inputs=[0, 1], outputs=[2])
    m.subgraphs.append(sg)
    sg.operators.append(Operator(opcode_index=m.op_code_index("ADD", 3), inputs=[0, 1], outputs=[2],
                                 builtin_options=new_node("AddOptions", pot_scale_int16=True)))
    with pytest.raises(UnsupportedError, match=r"op 0 \(ADD.*power-of-two scales and pot_scale_int16 cannot broadcast"):
        Interpreter(m.bind()).allocate_tensors()


def test_scalar_intermediates_of_a_per_sample_model_are_stacked():
    """A model that cannot be batched (MEAN over every axis) runs sample by sample; its 0-d outputs stack."""
    m = Model(version=3, operator_codes=[], subgraphs=[], buffers=[Buffer()])
    ax = m.add_buffer(np.array([0, 1], np.int32))
    sg = SubGraph(tensors=[Tensor(name="x", type=dtypes.FLOAT32, shape=[1, 3], buffer=0),
                           Tensor(name="axes", type=dtypes.INT32, shape=[2], buffer=ax),
                           Tensor(name="m", type=dtypes.FLOAT32, shape=[], buffer=0)],
                  operators=[], inputs=[0], outputs=[2])
    m.subgraphs.append(sg)
    sg.operators.append(Operator(opcode_index=m.op_code_index("MEAN"), inputs=[0, 1], outputs=[2],
                                 builtin_options=new_node("ReducerOptions", keep_dims=False)))
    x = np.array([[1, 2, 3], [4, 5, 6]], np.float32)
    (y,), inter = Interpreter(m.bind()).run([x], keep_intermediates=True)
    np.testing.assert_allclose(y, [2.0, 5.0])  # one mean per sample, by hand
    np.testing.assert_array_equal(inter[2], y)


def test_run_slices_each_input_by_its_own_leading_dimension():
    """FULLY_CONNECTED with fed weights: the weights input's leading dimension is its units, not the batch, so
    run() over 3 samples must cut 3 row-blocks of each input by that input's own size (it used the first's)."""
    golden = Path(__file__).resolve().parent / "data" / "goldens" / "FULLY_CONNECTED__f32_weights_bias_input_keepdims.npz"
    with np.load(golden, allow_pickle=False) as z:
        model = z["model"].tobytes()
    it = Interpreter(model)
    details = it.get_input_details()
    rng = np.random.default_rng(0)
    samples = [[rng.normal(size=d["shape"]).astype(np.float32) for d in details] for _ in range(3)]
    want = []
    for feed in samples:
        for d, v in zip(details, feed):
            it.set_tensor(d["index"], v)
        it.invoke()
        want.append(it.get_tensor(it.get_output_details()[0]["index"]).copy())
    stacked = [np.concatenate([s[j] for s in samples]) for j in range(len(details))]
    assert any(d["shape"][0] != details[0]["shape"][0] for d in details)  # the case this test is about
    got = Interpreter(model).run(stacked)[0]
    np.testing.assert_array_equal(got, np.concatenate(want))
