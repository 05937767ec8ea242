"""The tflite-micro lint: its errors agree with what tflite-micro itself refuses, and its claims hold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import MODELS, model_params, need_shared
from test_arena import tflm_allocations

import edgequant
from edgequant import dtypes
from edgequant.analysis.lint import ERROR, can_run, describe_group, group, lint
from edgequant.graph import Buffer, Model, Operator, QuantizationParameters, SubGraph, Tensor, new_node


@pytest.mark.parametrize("path", model_params())
def test_lint_errors_iff_tflite_micro_refuses(path):
    data = path.read_bytes()
    findings = lint(edgequant.load(data))
    runs = tflm_allocations(data) is not None
    errors = [f"{f.rule} at {f.where()}" for f in findings if f.severity == ERROR]
    assert can_run(findings) == runs, f"tflite-micro runs={runs}, lint errors={errors}"


def test_every_finding_names_op_tensor_and_fix():
    for name in ("mlperf_tiny_kws_dscnn_float32.tflite", "tflm_person_detect_int8.tflite"):
        for f in lint(edgequant.load_file(need_shared(MODELS / name))):
            if f.rule == "float-model":
                continue
            assert f.op_index is not None and f.op and f.tensor and f.fix, f


def test_hybrid_model_is_flagged_with_the_int8_fix():
    fs = lint(edgequant.load_file(need_shared(MODELS / "mlperf_tiny_kws_dscnn_float32.tflite")))
    hybrid = [f for f in fs if f.rule == "hybrid-op"]
    assert hybrid and all(f.severity == ERROR and "--mode int8" in f.fix for f in hybrid)
    assert {f.op for f in hybrid} == {"CONV_2D"}  # the manifest: only CONV_2D weights are int8


def test_person_detect_bias_quantized_dimension_is_a_warning():
    fs = lint(edgequant.load_file(need_shared(MODELS / "tflm_person_detect_int8.tflite")))
    odd = [f for f in fs if f.rule == "nonstandard-quantized-dimension"]
    assert odd and all(f.severity == "warning" and f.tensor.endswith("bias") for f in odd)
    assert can_run(fs)


def weight_only_model(scales: np.ndarray, w: np.ndarray) -> bytes:
    """x (float) -> FULLY_CONNECTED with DEQUANTIZE(int8 per-channel w): a weight-only int8 model."""
    m = Model(version=3, operator_codes=[], subgraphs=[], buffers=[Buffer()], description="weight-only")
    wb = m.add_buffer(w)
    n_out, n_in = w.shape
    tensors = [Tensor(name="x", type=dtypes.FLOAT32, shape=[1, n_in], buffer=0),
               Tensor(name="w_q", type=dtypes.INT8, shape=[n_out, n_in], buffer=wb,
                      quantization=QuantizationParameters(scale=scales, zero_point=np.zeros(n_out, np.int64),
                                                          quantized_dimension=0)),
               Tensor(name="w", type=dtypes.FLOAT32, shape=[n_out, n_in], buffer=0),
               Tensor(name="y", type=dtypes.FLOAT32, shape=[1, n_out], buffer=0)]
    ops = [Operator(opcode_index=m.op_code_index("DEQUANTIZE", 4), inputs=[1], outputs=[2]),
           Operator(opcode_index=m.op_code_index("FULLY_CONNECTED"), inputs=[0, 2, -1], outputs=[3],
                    builtin_options=new_node("FullyConnectedOptions"))]
    m.subgraphs = [SubGraph(tensors=tensors, operators=ops, inputs=[0], outputs=[3], name="main")]
    return edgequant.save(m.bind())


def test_per_channel_dequantize_is_wrong_in_tflite_micro_and_flagged():
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    rng = np.random.default_rng(7)
    w = rng.integers(-127, 128, size=(4, 8)).astype(np.int8)
    scales = np.array([0.01, 0.1, 1.0, 10.0], np.float32)
    data = weight_only_model(scales, w)
    x = rng.standard_normal((1, 8)).astype(np.float32)

    ref = litert.Interpreter(model_content=data, experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF)
    ref.allocate_tensors()
    ref.set_tensor(ref.get_input_details()[0]["index"], x)
    ref.invoke()
    y_litert = ref.get_tensor(ref.get_output_details()[0]["index"])[0]
    tflm = runtime.Interpreter.from_bytes(data)
    tflm.set_input(x, 0)
    tflm.invoke()
    y_tflm = tflm.get_output(0)[0]

    exact = (w.astype(np.float64) * scales[:, None].astype(np.float64)) @ x[0].astype(np.float64)
    np.testing.assert_allclose(y_litert, exact, rtol=1e-4, atol=1e-3)  # LiteRT: per-channel, right
    first_scale_only = (w.astype(np.float64) * float(scales[0])) @ x[0].astype(np.float64)
    np.testing.assert_allclose(y_tflm, first_scale_only, rtol=1e-4, atol=1e-3)  # tflite-micro: scale 0 for all
    assert not np.allclose(y_tflm[1:], y_litert[1:], rtol=1e-2)

    fs = lint(edgequant.load(data))
    bad = [f for f in fs if f.rule == "per-channel-dequantize"]
    assert len(bad) == 1 and bad[0].severity == ERROR and bad[0].op_index == 0 and bad[0].tensor == "w_q"
    assert not can_run(fs)


def test_unknown_custom_and_unsupported_builtin_are_errors():
    m = Model(version=3, operator_codes=[], subgraphs=[], buffers=[Buffer()], description="odd")
    t = [Tensor(name=n, type=dtypes.INT8, shape=[1, 4], buffer=0) for n in ("a", "b", "c")]
    ops = [Operator(opcode_index=m.op_code_index("CUSTOM", 1, custom_code="MyOp"), inputs=[0], outputs=[1]),
           Operator(opcode_index=m.op_code_index("LSH_PROJECTION"), inputs=[1], outputs=[2])]
    m.subgraphs = [SubGraph(tensors=t, operators=ops, inputs=[0], outputs=[2], name="main")]
    fs = lint(m.bind())
    assert [(f.rule, f.op_index, f.severity) for f in fs if f.severity == ERROR] == \
        [("custom-op", 0, ERROR), ("unsupported-op", 1, ERROR)]


DATA = Path(edgequant.__file__).parent / "data"


def _digits(recipe) -> bytes:
    fm = edgequant.load_file(DATA / "digits_cnn.tflite")
    x = np.load(DATA / "digits_test.npz")["x"][:50]
    return edgequant.save(edgequant.quantize(fm, recipe, calibration_data=x))


def test_shape_of_an_int16_tensor_is_no_error_and_tflite_micro_runs_it():
    data = _digits(edgequant.Recipe.int16x8(io="float"))  # the model `make demo` writes
    m = edgequant.load(data)
    shape_in = [m.main.tensors[op.inputs[0]].type for op in m.main.operators if m.op_name(op) == "SHAPE"]
    assert shape_in == [dtypes.INT16]  # the case under test is there
    fs = lint(m)
    assert tflm_allocations(data) is not None  # tflite-micro allocates and invokes it
    assert can_run(fs), [f"{f.rule} at {f.where()}" for f in fs if f.severity == ERROR]


def test_integer_model_with_float_io_is_not_a_float_model():
    int8 = lint(edgequant.load(_digits(edgequant.Recipe.int8(io="float"))))
    assert [f.rule for f in int8] == []
    float_model = lint(edgequant.load_file(DATA / "digits_cnn.tflite"))
    fm = [f for f in float_model if f.rule == "float-model"]
    assert len(fm) == 1 and "compute op" in fm[0].message and "CONV_2D" in fm[0].message


def test_identical_findings_are_one_line_with_the_ops(capsys):
    path = need_shared(MODELS / "tflm_person_detect_int8.tflite")
    fs = lint(edgequant.load_file(path))
    odd = [f for f in fs if f.rule == "nonstandard-quantized-dimension"]
    groups = [g for g in group(fs) if g[0].rule == "nonstandard-quantized-dimension"]
    assert len(odd) > 1 and len(groups) == 1 and groups[0] == odd
    assert describe_group(odd).startswith(f"{len({f.op_index for f in odd})} ops (op 0 DEPTHWISE_CONV_2D, ")
    from edgequant.cli import main

    assert main(["mcu", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert sum("nonstandard-quantized-dimension" in ln for ln in lines) == 1


def _one_op(op: str, act_type: int, in_shape, out_shape, consts=(), options=None, n_act: int = 1) -> bytes:
    """A model of one ``op``: ``n_act`` activations of ``act_type`` (scale 2^-12) and int32 constants in, one out."""
    m = Model(version=3, operator_codes=[], subgraphs=[], buffers=[Buffer()], description=op)

    def qp():
        return QuantizationParameters(scale=np.array([2.0 ** -12], np.float32), zero_point=np.zeros(1, np.int64))

    tensors = [Tensor(name=f"x{k}", type=act_type, shape=list(in_shape), buffer=0, quantization=qp())
               for k in range(n_act)]
    for c in consts:
        tensors.append(Tensor(name=f"c{len(tensors)}", type=dtypes.INT32, shape=list(np.shape(c)),
                              buffer=m.add_buffer(np.asarray(c, np.int32))))
    out_type = dtypes.INT32 if op == "SHAPE" else act_type
    tensors.append(Tensor(name="y", type=out_type, shape=list(out_shape), buffer=0,
                          quantization=None if op == "SHAPE" else qp()))
    ops = [Operator(opcode_index=m.op_code_index(op), inputs=list(range(len(tensors) - 1)),
                    outputs=[len(tensors) - 1], builtin_options=options)]
    m.subgraphs = [SubGraph(tensors=tensors, operators=ops, inputs=list(range(n_act)), outputs=[len(tensors) - 1],
                            name="main")]
    return edgequant.save(m.bind())


POOL = {"stride_w": 2, "stride_h": 2, "filter_width": 2, "filter_height": 2}
INT16_CASES = {  # op: (input shape, output shape, int32 constants, options, activations)
    "SHAPE": ([1, 4], [2], (), new_node("ShapeOptions", out_type=dtypes.INT32), 1),
    "REVERSE_V2": ([1, 4], [1, 4], ([1],), None, 1),
    "RSQRT": ([1, 4], [1, 4], (), None, 1),
    "BROADCAST_TO": ([1, 4], [2, 4], ([2, 4],), None, 1),
    "RESIZE_NEAREST_NEIGHBOR": ([1, 2, 2, 1], [1, 4, 4, 1], ([4, 4],), new_node("ResizeNearestNeighborOptions"), 1),
    "GATHER": ([1, 4], [1, 2], ([0, 1],), new_node("GatherOptions", axis=1), 1),
    "HARD_SWISH": ([1, 4], [1, 4], (), None, 1),
    "REDUCE_MAX": ([1, 4], [1], ([1],), new_node("ReducerOptions"), 1),
    "ZEROS_LIKE": ([1, 4], [1, 4], (), None, 1),
    "DEPTH_TO_SPACE": ([1, 2, 2, 4], [1, 4, 4, 1], (), new_node("DepthToSpaceOptions", block_size=2), 1),
    "MAXIMUM": ([1, 4], [1, 4], (), None, 2),
    "MAX_POOL_2D": ([1, 2, 2, 1], [1, 1, 1, 1], (), new_node("Pool2DOptions", **POOL), 1),
}


FLOAT_ONLY_CASES = {op: ([1, 4], [1, 4], (), None, 1) for op in
                    ("NEG", "EXP", "ROUND", "CEIL", "FLOOR", "SQRT", "SIN", "COS", "LOG", "SQUARE")}
FLOAT_ONLY_CASES["FLOOR_MOD"] = ([1, 4], [1, 4], (), None, 2)
FLOAT_ONLY_CASES["L2_POOL_2D"] = ([1, 2, 2, 1], [1, 1, 1, 1], (), new_node("Pool2DOptions", **POOL), 1)
FLOAT_ONLY_CASES["ABS"] = ([1, 4], [1, 4], (), None, 1)  # a control: int8 runs
FLOAT_ONLY_CASES["RSQRT"] = ([1, 4], [1, 4], (), None, 1)  # a control: int8 runs


# (activation type, the type the same op runs in when tflite-micro refuses it, the lint rule that says so)
VERDICTS = {dtypes.INT16: (dtypes.INT8, "int16-kernel"), dtypes.INT8: (dtypes.FLOAT32, "int8-kernel")}


@pytest.mark.parametrize("act, op", [(dtypes.INT16, op) for op in sorted(INT16_CASES)]
                         + [(dtypes.INT8, op) for op in sorted(FLOAT_ONLY_CASES)])
def test_lint_verdict_per_op_and_type_agrees_with_tflite_micro(act, op):
    """Each single-op model: lint says it can run exactly when tflite-micro runs it; where tflite-micro refuses,
    the same model in another type runs, so the type is what it refuses, and lint's error names that."""
    in_shape, out_shape, consts, options, n_act = (INT16_CASES if act == dtypes.INT16 else FLOAT_ONLY_CASES)[op]
    data = _one_op(op, act, in_shape, out_shape, consts, options, n_act)
    runs = tflm_allocations(data) is not None
    fs = lint(edgequant.load(data))
    assert can_run(fs) == runs, f"{op}: tflite-micro runs {dtypes.name(act)}={runs}, lint: {[f.rule for f in fs]}"
    if not runs:
        other, rule = VERDICTS[act]
        assert [f.rule for f in fs if f.severity == ERROR] == [rule]
        assert tflm_allocations(_one_op(op, other, in_shape, out_shape, consts, options, n_act)) is not None


def test_floor_div_int8_fails_at_invoke_in_tflite_micro_and_lint_says_so():
    """tflite-micro's FLOOR_DIV prepares any type and refuses int8 only when invoked; float32 divides."""
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    results = {}
    for act, dt in ((dtypes.INT8, np.int8), (dtypes.FLOAT32, np.float32)):
        data = _one_op("FLOOR_DIV", act, [1, 4], [1, 4], (), None, 2)
        it = runtime.Interpreter.from_bytes(data)
        it.set_input(np.array([[7, -8, 9, 10]], dt), 0)
        it.set_input(np.array([[2, 3, 4, 5]], dt), 1)
        try:
            it.invoke()
            results[act] = it.get_output(0)
        except RuntimeError:
            results[act] = None
    assert results[dtypes.INT8] is None
    np.testing.assert_array_equal(results[dtypes.FLOAT32], [[3, -3, 2, 2]])
    fs = lint(edgequant.load(_one_op("FLOOR_DIV", dtypes.INT8, [1, 4], [1, 4], (), None, 2)))
    assert not can_run(fs) and [f.rule for f in fs if f.severity == ERROR] == ["int8-kernel"]
