"""The quantizer end to end on the committed digits fixtures: every mode runs in LiteRT (default and reference
kernels), full-integer models run bit-identically in tflite-micro, the TFLite spec's constraints hold in the
written file, and bad input gives one-line errors without writing anything."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import edgequant as eq
from edgequant import dtypes
from edgequant.errors import EdgequantError, UnsupportedError
from edgequant.quantizer import Recipe, quantize, quantize_with_report

FIX = Path(__file__).resolve().parent / "data" / "fixtures"
SHARED = Path(__file__).resolve().parents[2] / "shared"
MODELS = ("digits_cnn", "digits_resnet")

litert = pytest.importorskip("ai_edge_litert.interpreter")


@pytest.fixture(scope="module")
def split():
    return dict(np.load(FIX / "digits_split.npz"))


@pytest.fixture(scope="module", params=MODELS)
def model(request):
    return request.param, eq.load_file(FIX / f"{request.param}.tflite")


_cache: dict = {}


def _quantized(name, m, recipe, calib):
    key = (name, recipe.to_json())
    if key not in _cache:
        _cache[key] = quantize_with_report(m, recipe, calib)
    return _cache[key]


def run_litert(blob: bytes, x: np.ndarray, ref: bool) -> np.ndarray:
    """Raw outputs (the model's own dtype) for float samples ``x``, one invoke per sample."""
    kind = litert.OpResolverType.BUILTIN_REF if ref else litert.OpResolverType.AUTO
    it = litert.Interpreter(model_content=blob, experimental_op_resolver_type=kind)
    it.allocate_tensors()
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    xs = to_input(x, i["dtype"], i["quantization"])
    ys = []
    for k in range(len(xs)):
        it.set_tensor(i["index"], xs[k:k + 1])
        it.invoke()
        ys.append(it.get_tensor(o["index"]).copy())
    return np.concatenate(ys)


def to_input(x, dtype, quant):
    if dtype == np.float32:
        return x.astype(np.float32)
    s, z = quant
    info = np.iinfo(dtype)
    return np.clip(np.floor(x / s + 0.5) + z, info.min, info.max).astype(dtype)


def as_float(y, blob):
    it = litert.Interpreter(model_content=blob)
    o = it.get_output_details()[0]
    if o["dtype"] == np.float32:
        return y
    s, z = o["quantization"]
    return (y.astype(np.float32) - z) * s


def sqnr(ref, y):
    return 10 * np.log10(np.sum(ref.astype(np.float64) ** 2) / max(np.sum((ref - y).astype(np.float64) ** 2), 1e-30))


# The tests below pass calibration data, so the presets round weights with GPTQ ("auto"); "nearest" rounds each
# weight on its own, with MSE-searched scales; min_weight_elements=1024 is TFLiteConverter's small-weight rule.
NEAREST = {"weight_rounding": "nearest"}
RECIPES = [
    Recipe.float16(), Recipe.weight_only_int8(), Recipe.weight_only_int8(**NEAREST),
    Recipe.weight_only_int8(min_weight_elements=1024), Recipe.dynamic_int8(), Recipe.dynamic_int8(**NEAREST),
    Recipe.dynamic_int8(min_weight_elements=1024, **NEAREST),
    Recipe.int8(), Recipe.int8(**NEAREST), Recipe.int8(io="uint8"), Recipe.int8(io="float"),
    Recipe.int8(per_channel=False), Recipe.int8(per_channel=False, **NEAREST),
    Recipe.int16x8(), Recipe.int16x8(io="float"), Recipe.int16x8(**NEAREST),
    # MSE-searched weight scales with GPTQ, and min/max ones with nearest rounding: every check holds for both
    Recipe.weight_only_int8(weight_range="mse"), Recipe.dynamic_int8(weight_range="mse"),
    Recipe.int8(weight_range="mse"), Recipe.int16x8(weight_range="mse"),
    Recipe.dynamic_int8(weight_range="minmax", **NEAREST),
]


def _rid(r: Recipe) -> str:
    return f"{r.mode}-{r.io}-{'pc' if r.per_channel else 'pt'}" + (f"-min{r.min_weight_elements}"
                                                                    if r.min_weight_elements is not None else "") + (
        f"-{r.weight_range}" if r.weight_range != "minmax" else "") + (
        f"-{r.weight_rounding}" if r.weight_rounding != "auto" else "")


# Floor on output SQNR vs the float model (dB) by mode: weight compression loses little, 8-bit
# activations more. Measured values are ~10 dB above these.
MIN_SQNR = {"float16": 60, "weight_only_int8": 35, "dynamic_int8": 35, "int8": 30, "int16x8": 35}


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda r: _rid(r))
def test_every_mode_runs_in_litert_and_keeps_accuracy(model, split, recipe):
    name, m = model
    q, rep = _quantized(name, m, recipe, split["x_calib"])
    blob = eq.save(q)
    x, y = split["x_test"], split["y_test"]
    ref = run_litert(eq.save(m), x, ref=True)
    out_ref = run_litert(blob, x, ref=True)
    out_def = run_litert(blob, x, ref=False)
    assert out_ref.shape == ref.shape
    got = as_float(out_ref, blob)
    assert sqnr(ref, got) > MIN_SQNR[recipe.mode]
    acc_f = np.mean(ref.argmax(1) == y)
    acc_q = np.mean(got.argmax(1) == y)
    assert acc_q >= acc_f - 0.01
    assert np.mean(as_float(out_def, blob).argmax(1) == y) >= acc_f - 0.01  # default (XNNPACK) kernels too
    assert len(blob) < len(eq.save(m)) * (0.6 if recipe.mode != "float16" else 0.75)
    # nothing stays float but weights the recipe's size rule leaves float
    assert all("under min_weight_elements" in f for f in rep.float_ops), rep.float_ops
    if recipe.mode == "float16" or not rep.recipe["min_weight_elements"]:
        assert not rep.float_ops


@pytest.mark.parametrize("recipe", [r for r in RECIPES if r.full_integer], ids=lambda r: _rid(r))
def test_full_integer_runs_in_tflite_micro_as_edgequant_models_it(model, split, recipe):
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    name, m = model
    q, _ = _quantized(name, m, recipe, split["x_calib"])
    blob = eq.save(q)
    x = split["x_test"][:40]
    ref = run_litert(blob, x, ref=True)
    it = litert.Interpreter(model_content=blob)
    i = it.get_input_details()[0]
    xs = to_input(x, i["dtype"], i["quantization"])
    micro = runtime.Interpreter.from_bytes(blob)
    got = []
    for k in range(len(xs)):
        micro.set_input(xs[k:k + 1], 0)
        micro.invoke()
        got.append(micro.get_output(0).copy())
    got = np.concatenate(got)
    # bit for bit with edgequant's model of tflite-micro. LiteRT's reference kernels requantize differently
    # (FULLY_CONNECTED: LiteRT 2.3.0 rounds round(double(acc) * scale) once, tflite-micro uses the fixed-point
    # multiplier and rounds twice; 16x8: the int64-bias requantization; edgequant.interpreter's docstring), so a
    # value on a rounding boundary lands a step apart, and the difference grows a little through later layers:
    # within one int8 step of the output's range (1 in int8, 256 in int16)
    ours = eq.Interpreter(q, target="tflm").run([xs])[0]
    np.testing.assert_array_equal(got, ours)
    step = 1 if got.dtype == np.int8 else 256
    assert np.max(np.abs(got.astype(np.int64) - ref.astype(np.int64))) <= step


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda r: _rid(r))
def test_edgequant_interpreter_matches_litert_reference(model, split, recipe):
    """Integer outputs bit for bit; float outputs of the weight modes to float32 rounding (summation order)."""
    from edgequant.interpreter import Interpreter

    name, m = model
    q, _ = _quantized(name, m, recipe, split["x_calib"])
    blob = eq.save(q)
    x = split["x_test"][:40]
    it = litert.Interpreter(model_content=blob)
    i = it.get_input_details()[0]
    xs = to_input(x, i["dtype"], i["quantization"])
    try:
        ours = Interpreter(q).run([xs])[0]
    except UnsupportedError as e:
        pytest.skip(f"edgequant interpreter lacks a kernel: {e}")
    ref = run_litert(blob, x, ref=True)
    assert ours.dtype == ref.dtype
    if recipe.full_integer:
        np.testing.assert_array_equal(ours, ref)  # float io too: DEQUANTIZE of identical integers
    else:
        # the project's float criterion: within 1e-5 of the largest output (summation order differs)
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-5 * float(np.abs(ref).max()))


# -- the spec, checked in the written file ------------------------------------------------------------------

def _q(t):
    return t.quantization.scale, t.quantization.zero_point


@pytest.mark.parametrize("recipe", [Recipe.int8(), Recipe.int16x8()], ids=["int8", "int16x8"])
def test_written_model_follows_the_quantization_spec(split, recipe):
    m = eq.load_file(FIX / "digits_resnet.tflite")
    q = eq.load(eq.save(quantize(m, recipe, split["x_calib"])))
    sg = q.main
    act = dtypes.INT16 if recipe.mode == "int16x8" else dtypes.INT8
    seen = set()
    for op in sg.operators:
        name = q.op_name(op)
        seen.add(name)
        ins = [sg.tensors[i] for i in op.inputs]
        outs = [sg.tensors[i] for i in op.outputs]
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            x, w, b = ins
            axis = 3 if name == "DEPTHWISE_CONV_2D" else 0
            assert w.type == dtypes.INT8 and w.quantization.quantized_dimension == axis
            assert len(w.quantization.scale) == w.shape[axis]
            assert not np.any(w.quantization.zero_point)
            wq = w.numpy()
            assert wq.min() >= -127 and wq.max() <= 127
            assert b.type == (dtypes.INT64 if act == dtypes.INT16 else dtypes.INT32)
            np.testing.assert_array_equal(b.quantization.scale,
                                          (np.float32(x.quantization.scale[0]) * w.quantization.scale).astype(np.float32))
            assert not np.any(b.quantization.zero_point)
        if name == "SOFTMAX":
            s, z = _q(outs[0])
            want = (1 / 256, -128) if act == dtypes.INT8 else (1 / 32768, 0)
            assert (float(s[0]), int(z[0])) == (np.float32(want[0]), want[1])
        if name in ("CONCATENATION", "AVERAGE_POOL_2D", "MAX_POOL_2D", "RESHAPE"):
            ref = _q(outs[0])
            for t in ins:
                if t.type == act:
                    np.testing.assert_array_equal(_q(t)[0], ref[0])
                    np.testing.assert_array_equal(_q(t)[1], ref[1])
        for t in outs:
            if t.type == act and act == dtypes.INT16:
                assert not np.any(t.quantization.zero_point)
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "CONCATENATION", "AVERAGE_POOL_2D", "SOFTMAX"} <= seen


def test_input_model_is_not_modified(split):
    m = eq.load_file(FIX / "digits_resnet.tflite")
    before = eq.save(m)
    quantize(m, Recipe.int8(io="float"), split["x_calib"])
    quantize(m, Recipe.dynamic_int8())
    assert eq.save(m) == before


def test_keep_float_override_wraps_the_op_in_dequantize_quantize(split):
    m = eq.load_file(FIX / "digits_resnet.tflite")
    q, rep = quantize_with_report(m, Recipe.int8(io="float").keep_float(op="ADD"), split["x_calib"])
    sg = q.main
    names = [q.op_name(op) for op in sg.operators]
    add = names.index("ADD")
    assert all(sg.tensors[i].type == dtypes.FLOAT32 for i in sg.operators[add].inputs + sg.operators[add].outputs)
    assert "DEQUANTIZE" in names[:add] and "QUANTIZE" in names[add + 1:]
    assert any("ADD" in f for f in rep.float_ops)
    x = split["x_test"]
    got = run_litert(eq.save(q), x, ref=True)
    assert np.mean(got.argmax(1) == split["y_test"]) > 0.95


def test_dynamic_range_marks_hybrid_fully_connected(split):
    m = eq.load_file(FIX / "digits_cnn.tflite")
    q = eq.load(eq.save(quantize(m, Recipe.dynamic_int8())))
    fc = next(op for op in q.main.operators if q.op_name(op) == "FULLY_CONNECTED")
    assert fc.options.asymmetric_quantize_inputs
    assert q.main.tensors[fc.inputs[1]].type == dtypes.INT8
    assert q.main.tensors[fc.inputs[0]].type == dtypes.FLOAT32
    conv = next(op for op in q.main.operators if q.op_name(op) == "CONV_2D")
    assert q.main.tensors[conv.inputs[1]].type == dtypes.INT8  # every weight, small ones too (min_weight_elements 0)
    q1024 = eq.load(eq.save(quantize(m, Recipe.dynamic_int8(min_weight_elements=1024))))
    conv = next(op for op in q1024.main.operators if q1024.op_name(op) == "CONV_2D")
    assert q1024.main.tensors[conv.inputs[1]].type == dtypes.FLOAT32  # TFLiteConverter's rule: 576 < 1024 stays float


# -- bad input ------------------------------------------------------------------------------------------------

def test_already_quantized_model_is_refused():
    path = SHARED / "models" / "mlperf_tiny_ic_resnet8_int8.tflite"
    if not path.exists():
        pytest.skip("shared models not available")
    with pytest.raises(UnsupportedError, match="already quantized"):
        quantize(eq.load_file(path), Recipe.float16())
    for name in ("mlperf_tiny_kws_dscnn_float32.tflite", "tflm_hello_world_int8.tflite"):  # hybrid, full int8
        with pytest.raises(UnsupportedError, match="already quantized: .* with quantization parameters"):
            quantize(eq.load_file(SHARED / "models" / name), Recipe.dynamic_int8())


def test_integer_data_without_quantization_parameters_is_not_called_quantized():
    """tflm's audio preprocessor takes raw int16 samples (no scale, no zero point) and computes in float: it is a
    float model with integer data, not a quantized one. float16 compresses its constant; nothing is refused."""
    path = SHARED / "models" / "tflm_audio_preprocessor_float.tflite"
    if not path.exists():
        pytest.skip("shared models not available")
    m = eq.load_file(path)
    assert m.main.tensors[m.main.inputs[0]].type == dtypes.INT16
    _, rep = quantize_with_report(m, Recipe.float16())
    assert [q.split()[1] for q in rep.quantized_ops] == ["MUL"]


@pytest.mark.parametrize("bad, msg", [
    (np.zeros((4, 8, 8, 2), np.float32), "shape"),
    (np.zeros((0, 8, 8, 1), np.float32), "empty"),
    (np.array(["a"] * 4), "dtype"),
    ([], "empty"),
    (np.zeros((4, 8, 8, 1), np.uint8), r"is uint8 but the model takes float32: convert it as the model expects"),
])
def test_bad_calibration_data_gives_one_line_errors(bad, msg):
    m = eq.load_file(FIX / "digits_cnn.tflite")
    with pytest.raises(EdgequantError, match=msg) as e:
        quantize(m, Recipe.int8(), bad)
    assert "\n" not in str(e.value)


def test_nan_in_calibration_data_names_the_sample():
    m = eq.load_file(FIX / "digits_cnn.tflite")
    x = np.zeros((5, 8, 8, 1), np.float32)
    x[3, 2, 2, 0] = np.nan
    with pytest.raises(EdgequantError, match="sample 3 contains NaN"):
        quantize(m, Recipe.int8(), x)


def test_full_integer_without_calibration_is_refused():
    with pytest.raises(EdgequantError, match="calibration"):
        quantize(eq.load_file(FIX / "digits_cnn.tflite"), Recipe.int8())


# -- the command line ----------------------------------------------------------------------------------------

def test_cli_writes_model_and_summary(tmp_path, capsys):
    from edgequant.cli import main

    out = tmp_path / "q.tflite"
    np.savez(tmp_path / "c.npz", x=np.load(FIX / "digits_split.npz")["x_calib"])
    rc = main(["quantize", str(FIX / "digits_resnet.tflite"), "-o", str(out), "--mode", "int8",
               "--calib", str(tmp_path / "c.npz"), "--io", "float", "--json"])
    assert rc == 0
    import json

    s = json.loads(capsys.readouterr().out)
    assert s["size_after"] == out.stat().st_size < s["size_before"]
    assert min(s["sqnr_db"].values()) > 30
    assert eq.load_file(out).main.tensors[eq.load_file(out).main.inputs[0]].type == dtypes.FLOAT32


def test_cli_weight_modes_use_calibration_data_for_gptq(tmp_path, capsys):
    import json

    from edgequant.cli import main

    np.savez(tmp_path / "c.npz", x=np.load(FIX / "digits_split.npz")["x_calib"])
    model = str(FIX / "digits_cnn.tflite")
    runs = {}
    for tag, extra in (("gptq", ["--calib", str(tmp_path / "c.npz")]), ("plain", [])):
        rc = main(["quantize", model, "-o", str(tmp_path / f"{tag}.tflite"), "--mode", "dynamic_int8", "--json",
                   *extra])
        assert rc == 0
        runs[tag] = json.loads(capsys.readouterr().out)
    g, p = runs["gptq"], runs["plain"]
    assert g["recipe"]["weight_rounding"] == "gptq" and g["recipe"]["min_weight_elements"] == 0
    assert g["calibration"]["samples"] == 200 - 40  # the default 20% held out to measure SQNR
    assert min(g["sqnr_db"].values()) > 50
    assert p["recipe"]["weight_rounding"] == "balanced" and p["recipe"]["weight_range"] == "minmax"
    assert g["recipe"]["weight_range"] == "minmax"  # GPTQ compensates rounding error itself: no clipping
    assert "calibration" not in p and g["size_after"] == p["size_after"]  # same layout, other integers
    rc = main(["quantize", model, "-o", str(tmp_path / "never.tflite"), "--mode", "dynamic_int8", "--rounding", "gptq"])
    err = capsys.readouterr().err
    assert rc == 2 and err == "error: --rounding gptq needs calibration data: pass --calib data.npz\n"
    assert not (tmp_path / "never.tflite").exists()


def test_cli_bad_input_writes_nothing(tmp_path, capsys):
    from edgequant.cli import main

    bad = tmp_path / "c.npz"
    x = np.ones((8, 8, 8, 1), np.float32)
    x[1] = np.nan
    np.savez(bad, x=x)
    out = tmp_path / "q.tflite"
    rc = main(["quantize", str(FIX / "digits_cnn.tflite"), "-o", str(out), "--mode", "int8", "--calib", str(bad)])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert not out.exists() and not list(tmp_path.glob(".q.tflite*"))


# -- operator versions, from LiteRT's rules (tensorflow/lite/tools/versioning/op_version.cc) --------------------

def _versions(q):
    return {oc.name: oc.version for oc in q.operator_codes}


@pytest.mark.parametrize("recipe, want", [
    # int8 in/out conv/depthwise 3, int8 FC 4 whatever its weight granularity, int8 ADD/CONCATENATION/pools/SOFTMAX 2,
    # QUANTIZE to int8 1, DEQUANTIZE from int8 2
    (Recipe.int8(io="float"), {"CONV_2D": 3, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 4, "ADD": 2,
                               "CONCATENATION": 2, "AVERAGE_POOL_2D": 2, "SOFTMAX": 2, "QUANTIZE": 1, "DEQUANTIZE": 2}),
    # 16x8: conv with quantized_bias_type 8, FC with it 11, ADD without pot_scale_int16 3, int16 CONCATENATION/pool/
    # SOFTMAX 3, QUANTIZE to int16 2, DEQUANTIZE from int16 3
    (Recipe.int16x8(io="float"), {"CONV_2D": 8, "FULLY_CONNECTED": 11, "ADD": 3, "CONCATENATION": 3,
                                  "AVERAGE_POOL_2D": 3, "SOFTMAX": 3, "QUANTIZE": 2, "DEQUANTIZE": 3}),
    # hybrid: per-channel FC 12, per-tensor FC with asymmetric inputs 9; per-channel conv 5, per-tensor 2;
    # depthwise per-channel 6, and per-tensor too: LiteRT's hybrid depthwise reads a scale per channel, so the one
    # scale is written for each channel (version 4, a one-scale filter, is read past its end)
    (Recipe.dynamic_int8(min_weight_elements=0), {"FULLY_CONNECTED": 12, "CONV_2D": 5, "DEPTHWISE_CONV_2D": 6}),
    (Recipe.dynamic_int8(min_weight_elements=0, per_channel=False),
     {"FULLY_CONNECTED": 9, "CONV_2D": 2, "DEPTHWISE_CONV_2D": 6}),
    # DEQUANTIZE: per-channel int8 5, per-tensor int8 2, float16 3; float ops stay 1
    (Recipe.weight_only_int8(), {"DEQUANTIZE": 5, "CONV_2D": 1, "FULLY_CONNECTED": 1}),
    (Recipe.weight_only_int8(per_channel=False), {"DEQUANTIZE": 2}),
    (Recipe.float16(), {"DEQUANTIZE": 3, "CONV_2D": 1}),
], ids=["int8", "int16x8", "hybrid-pc", "hybrid-pt", "weight-only-pc", "weight-only-pt", "float16"])
def test_operator_versions_follow_litert_versioning_rules(split, recipe, want):
    m = eq.load_file(FIX / "digits_resnet.tflite")
    q = eq.load(eq.save(quantize(m, recipe, split["x_calib"] if recipe.full_integer else None)))
    got = _versions(q)
    assert {k: got.get(k) for k in want} == want
    codes = [(oc.code, oc.custom_code) for oc in q.operator_codes]
    assert len(codes) == len(set(codes))  # one code per op type, none unused
    assert {op.opcode_index for op in q.main.operators} == set(range(len(codes)))
    if recipe.mode == "int16x8":
        for op in q.main.operators:
            name = q.op_name(op)
            if name in ("CONV_2D", "FULLY_CONNECTED"):
                assert op.options.quantized_bias_type == dtypes.INT64
            if name == "ADD":
                assert op.options.pot_scale_int16 is False


def test_written_file_keeps_metadata_and_points_activations_at_the_empty_buffer(split):
    m = eq.load_file(FIX / "digits_resnet.tflite")
    q = eq.load(eq.save(quantize(m, Recipe.int8(), split["x_calib"])))
    before = {md.name: bytes(m.buffers[md.buffer].data) for md in m.metadata}
    after = {md.name: bytes(q.buffers[md.buffer].data) for md in q.metadata}
    assert before and after == before
    for t in q.main.tensors:
        assert t.is_constant or t.buffer == 0
    used = {t.buffer for t in q.main.tensors} | {md.buffer for md in q.metadata}
    assert used | {0} == set(range(len(q.buffers)))  # no orphan buffers


# -- core edgequant without LiteRT ---------------------------------------------------------------------------------

def test_calibration_runs_in_our_interpreter_without_litert(monkeypatch, split):
    import sys

    for mod in [k for k in sys.modules if k == "ai_edge_litert" or k.startswith("ai_edge_litert.")]:
        monkeypatch.setitem(sys.modules, mod, None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    from edgequant.quantizer import calibrate, load_calibration

    m = eq.load_file(FIX / "digits_resnet.tflite")
    ranges = calibrate(m, load_calibration(split["x_calib"], m), "minmax")
    assert ranges.backend == "edgequant" and ranges.samples == len(split["x_calib"])
    # every float activation observed, and the input's range is the data's
    acts = {t.index for t in m.main.tensors if t.type == dtypes.FLOAT32 and not t.is_constant}
    assert set(ranges.ranges) == acts
    x = split["x_calib"]
    assert ranges.ranges[m.main.inputs[0]] == (float(x.min()), float(x.max()))
    q = quantize(m, Recipe.int8(), ranges=ranges)
    assert q.main.tensors[q.main.inputs[0]].type == dtypes.INT8


def test_cli_output_has_no_litert_banner_and_measures_sqnr_in_our_interpreter(tmp_path, capfd):
    from edgequant.cli import main

    np.savez(tmp_path / "c.npz", x=np.load(FIX / "digits_split.npz")["x_calib"])
    out = tmp_path / "q.tflite"
    rc = main(["quantize", str(FIX / "digits_cnn.tflite"), "-o", str(out), "--mode", "int8",
               "--calib", str(tmp_path / "c.npz")])
    captured = capfd.readouterr()  # file-descriptor level: catches LiteRT's C++ stderr too
    assert rc == 0
    assert "XNNPACK" not in captured.out + captured.err and "INFO:" not in captured.out + captured.err
    assert "(edgequant)" in captured.out  # calibration backend
    assert "output SQNR vs float" in captured.out and " dB" in captured.out


def test_multi_subgraph_model_gets_one_line_error_in_full_integer_mode(tmp_path, capsys):
    path = SHARED / "models" / "litert_multi_signature_model.tflite"
    if not path.exists():
        pytest.skip("shared models not available")
    m = eq.load_file(path)
    x = {m.main.tensors[i].name: np.ones(m.main.tensors[i].shape, np.float32) for i in m.main.inputs}
    with pytest.raises(UnsupportedError, match="one subgraph") as e:
        quantize(m, Recipe.int8(), x)
    assert "\n" not in str(e.value)
    from edgequant.cli import main

    out = tmp_path / "q.tflite"
    assert main(["quantize", str(path), "-o", str(out), "--mode", "int16x8", "--calib", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: full-integer quantization handles models with one subgraph")
    assert err.count("\n") == 1
    assert not out.exists()
    with pytest.warns(UserWarning, match="no op was quantized"):  # it has no weights to compress
        assert len(quantize(m, Recipe.float16()).subgraphs) == 3  # weight modes handle every subgraph


@pytest.mark.parametrize("mode, limit", [("int8", 2**31), ("int16x8", 2**31)])
def test_near_zero_weight_channel_widens_its_scale_instead_of_clipping_the_bias(mode, limit):
    """A channel whose weights are ~1e-30 (a dead, folded batch-norm channel) but whose bias is not: its
    weight scale must grow so the bias stays representable (TFLite's AdjustWeightsForBiasScale)."""
    from edgequant import dtypes
    from edgequant.graph import Buffer, Model, Operator, SubGraph, Tensor, new_node

    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 3, 3, 2)).astype(np.float32) * 0.3
    w[2] = 1e-30
    b = np.array([0.1, -0.2, 0.5, 0.0], np.float32)
    m = Model(version=3, buffers=[Buffer()], operator_codes=[], description="dead channel")
    sg = SubGraph(tensors=[], inputs=[], outputs=[], operators=[], name="main")
    m.subgraphs = [sg]
    m.bind()
    x = sg.add_tensor(Tensor(name="x", type=dtypes.FLOAT32, shape=[1, 6, 6, 2]))
    tw = sg.add_tensor(Tensor(name="w", type=dtypes.FLOAT32, shape=[4, 3, 3, 2], buffer=m.add_buffer(w)))
    tb = sg.add_tensor(Tensor(name="b", type=dtypes.FLOAT32, shape=[4], buffer=m.add_buffer(b)))
    y = sg.add_tensor(Tensor(name="y", type=dtypes.FLOAT32, shape=[1, 4, 4, 4]))
    sg.inputs, sg.outputs = [x], [y]
    sg.operators = [Operator(opcode_index=m.op_code_index("CONV_2D"), inputs=[x, tw, tb], outputs=[y],
                             builtin_options=new_node("Conv2DOptions", padding=1, stride_w=1, stride_h=1))]
    fm = eq.load(eq.save(m))
    calib = rng.standard_normal((32, 6, 6, 2)).astype(np.float32)
    q = eq.quantize(fm, Recipe.preset(mode, io="float"), calibration_data=calib)
    qb = q.main.tensors[q.main.operators[[q.op_name(o) for o in q.main.operators].index("CONV_2D")].inputs[2]]
    assert np.abs(qb.numpy().astype(np.float64)).max() < limit / 2
    ref = eq.Interpreter(fm).run([calib])[0]
    got = eq.Interpreter(q).run([calib])[0]
    np.testing.assert_allclose(got[..., 2], ref[..., 2], atol=0.02)  # the dead channel outputs its bias


# -- weight ranges (Recipe.weight_range) and file layout ------------------------------------------------------------

def _weight_mse(w: np.ndarray, scale: np.ndarray, axis: int | None) -> np.ndarray:
    """Per-channel squared error of w after int8 symmetric quantize/dequantize, written out independently of the
    quantizer: float32 division, round half away from zero, clamp to [-127, 127], float32 q * scale."""
    s = np.asarray(scale, np.float32)
    if axis is not None:
        shape = [1] * w.ndim
        shape[axis] = -1
        s = s.reshape(shape)
    v = (w / s).astype(np.float32)
    q = np.clip(np.sign(v) * np.floor(np.abs(v).astype(np.float64) + 0.5), -127, 127)
    d = (q.astype(np.float32) * s).astype(np.float32).astype(np.float64) - w
    other = tuple(k for k in range(w.ndim) if k != axis) if axis is not None else None
    return np.sum(d * d, axis=other)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("axis", [0, 3, None])
def test_mse_weight_ranges_never_have_more_weight_error_than_minmax(seed, axis):
    from edgequant.quantizer.weights import weight_params

    rng = np.random.default_rng(seed)
    # heavy tails (Student t, 2 degrees of freedom) and channels of very different magnitude
    w = (rng.standard_t(2, size=(16, 3, 3, 24)) * rng.uniform(0.01, 2.0, size=(16, 1, 1, 1))).astype(np.float32)
    mm, mse = weight_params(w, axis, "minmax"), weight_params(w, axis, "mse")
    e_mm, e_mse = _weight_mse(w, mm.scale, axis), _weight_mse(w, mse.scale, axis)
    assert np.all(e_mse <= e_mm)
    assert np.sum(e_mse) < np.sum(e_mm)  # the search finds something better, not just min/max again
    assert np.all(mse.zero_point == 0) and mse.qmin == -127 and mse.qmax == 127
    ratio = mse.scale / mm.scale
    assert np.all((ratio >= 0.5 - 1e-6) & (ratio <= 1.0))


def test_mse_weight_range_keeps_minmax_where_nothing_is_gained():
    from edgequant.quantizer.weights import weight_params

    # every value is a multiple of max/127: min/max reconstructs them exactly, no other scale can do better
    w = (np.arange(-127, 128, dtype=np.float32) * np.float32(0.01)).reshape(1, -1)
    assert_scale = weight_params(w, 0, "mse").scale
    np.testing.assert_array_equal(assert_scale, weight_params(w, 0, "minmax").scale)


def test_mse_weights_in_the_written_file_have_less_error(split):
    m = eq.load_file(FIX / "digits_resnet.tflite")
    floats = {t.name: t.numpy().copy() for t in m.main.tensors if t.is_constant and t.type == dtypes.FLOAT32}
    total = {}
    for wr in ("minmax", "mse"):
        q = eq.load(eq.save(quantize(m, Recipe.weight_only_int8(weight_range=wr, weight_rounding="nearest"))))
        total[wr] = 0.0
        for t in q.main.tensors:
            if t.type == dtypes.INT8 and t.name in floats:
                qp = t.quantization
                axis = qp.quantized_dimension if len(qp.scale) > 1 else None
                got = np.sum(_weight_mse(floats[t.name], qp.scale, axis))
                # the file's int8 values are exactly the ones the stored scale gives
                s = qp.scale.reshape([-1 if k == axis else 1 for k in range(t.numpy().ndim)]) if axis is not None \
                    else qp.scale
                d = t.numpy().astype(np.float32) * s - floats[t.name]
                assert np.isclose(np.sum(d.astype(np.float64) ** 2), got, rtol=1e-6)
                total[wr] += got
    assert total["minmax"] > 0 and total["mse"] < total["minmax"]


@pytest.mark.parametrize("recipe", [Recipe.weight_only_int8(), Recipe.dynamic_int8(min_weight_elements=0),
                                    Recipe.float16()], ids=lambda r: r.mode)
def test_compressed_weights_take_the_float_weights_buffer_slot(recipe):
    # the converter's buffer order is kept (int8 data where the float data was), and nothing is left orphaned
    m = eq.load_file(FIX / "digits_cnn.tflite")
    q = eq.load(eq.save(quantize(m, recipe)))
    assert any(t.type in (dtypes.INT8, dtypes.FLOAT16) for t in q.main.tensors)
    order_q = [t.name for t in sorted(q.main.tensors, key=lambda t: t.buffer) if t.buffer]
    kept = set(order_q)
    order_m = [t.name for t in sorted(m.main.tensors, key=lambda t: t.buffer) if t.is_constant and t.name in kept]
    assert order_q == order_m  # compressed constants did not move to the end
    assert len(q.buffers) == 1 + len(order_m) + len(q.metadata)
    used = {t.buffer for t in q.main.tensors} | {md.buffer for md in q.metadata}
    assert used | {0} == set(range(len(q.buffers)))


def test_weight_only_file_is_no_larger_than_ai_edge_quantizers_plus_opcode_fields(split):
    aeq = pytest.importorskip("ai_edge_quantizer.quantizer")
    recipe_mod = pytest.importorskip("ai_edge_quantizer.recipe")
    blob = (FIX / "digits_cnn.tflite").read_bytes()
    theirs = bytes(aeq.Quantizer(blob, recipe_mod.weight_only_wi8_afp32()).quantize(
        None, enable_progress_report=False).quantized_model)
    ours = eq.save(quantize(eq.load(blob), Recipe.weight_only_int8()))
    # Same int8 weights. Their DEQUANTIZE OperatorCode has version 1 and no deprecated_builtin_code; ours has
    # version 5 (op_version.cc, per-channel) and deprecated_builtin_code = 6 (readable by pre-2.4 runtimes). Set
    # those two fields like theirs and our file must not be larger.
    q = eq.load(ours)
    for oc in q.operator_codes:
        if oc.name == "DEQUANTIZE":
            assert oc.version == 5 and oc.deprecated_builtin_code == 6
            oc.version, oc.deprecated_builtin_code = 1, 0
    assert len(eq.save(q)) <= len(theirs)


def test_cli_weight_range_flag(tmp_path, capsys):
    import json

    from edgequant.cli import main

    scales = {}
    for wr in ("minmax", "mse"):
        out = tmp_path / f"{wr}.tflite"
        assert main(["quantize", str(FIX / "digits_cnn.tflite"), "-o", str(out), "--mode", "weight_only_int8",
                     "--weight-range", wr, "--json"]) == 0
        json.loads(capsys.readouterr().out)
        q = eq.load_file(out)
        scales[wr] = np.concatenate([t.quantization.scale for t in q.main.tensors if t.type == dtypes.INT8])
    assert scales["mse"].shape == scales["minmax"].shape
    assert np.all(scales["mse"] <= scales["minmax"]) and np.any(scales["mse"] < scales["minmax"])
    # a recipe file's weight_range is honoured, and a bad value is a one-line error with exit code 2
    (tmp_path / "r.json").write_text(Recipe.weight_only_int8(weight_range="mse").to_json())
    out = tmp_path / "r.tflite"
    assert main(["quantize", str(FIX / "digits_cnn.tflite"), "-o", str(out), "--recipe", str(tmp_path / "r.json"),
                 "--json"]) == 0
    capsys.readouterr()
    got = np.concatenate([t.quantization.scale for t in eq.load_file(out).main.tensors if t.type == dtypes.INT8])
    np.testing.assert_array_equal(got, scales["mse"])
    (tmp_path / "bad.json").write_text('{"mode": "int8", "weight_range": "median"}')
    assert main(["quantize", str(FIX / "digits_cnn.tflite"), "-o", str(tmp_path / "bad.tflite"), "--recipe",
                 str(tmp_path / "bad.json")]) == 2
    err = capsys.readouterr().err
    assert "weight_range" in err and err.count("\n") == 1
    assert not (tmp_path / "bad.tflite").exists()


def test_keep_float_by_weight_name_keeps_that_layer_float():
    """The summary lists weights by name; a --keep-float pattern naming one (here the last dense layer, whose
    output is only 'StatefulPartitionedCall:0') keeps exactly that op float."""
    m = eq.load_file(FIX / "digits_cnn.tflite")
    fc = next(op for op in m.main.operators if m.op_name(op) == "FULLY_CONNECTED")
    weight = m.main.tensors[fc.inputs[1]].name
    assert not any(weight in m.main.tensors[i].name for i in fc.outputs)
    _, all_q = quantize_with_report(m, Recipe.dynamic_int8(min_weight_elements=0))
    q, rep = quantize_with_report(m, Recipe.dynamic_int8(min_weight_elements=0).keep_float(weight))
    assert weight in all_q.quantized_weights and weight not in rep.quantized_weights
    assert [f.split()[1] for f in rep.float_ops] == ["FULLY_CONNECTED"]
    fc_q = next(op for op in q.main.operators if q.op_name(op) == "FULLY_CONNECTED")
    assert q.main.tensors[fc_q.inputs[1]].type == dtypes.FLOAT32


@pytest.mark.parametrize("recipe", [Recipe.int8(io="float").keep_float("no_such_layer"),
                                    Recipe.dynamic_int8().per_tensor(op="LSTM")])
def test_an_override_that_matches_nothing_is_an_error(split, recipe, tmp_path):
    m = eq.load_file(FIX / "digits_cnn.tflite")
    with pytest.raises(EdgequantError, match="matches no op"):
        quantize(m, recipe, split["x_calib"])


def test_weights_left_float_for_being_small_are_listed_with_the_reason():
    m = eq.load_file(FIX / "digits_cnn.tflite")  # conv 64x3x3x1 = 576 weights, dense 576x10
    _, rep = quantize_with_report(m, Recipe.dynamic_int8(min_weight_elements=1024))  # TFLiteConverter's rule
    assert rep.float_ops == ["0 CONV_2D (576 weights, under min_weight_elements 1024)"]
    assert [q.split()[1] for q in rep.quantized_ops] == ["FULLY_CONNECTED"]
    _, rep0 = quantize_with_report(m, Recipe.dynamic_int8())  # default: every weight
    assert rep0.float_ops == [] and [q.split()[1] for q in rep0.quantized_ops] == ["CONV_2D", "FULLY_CONNECTED"]


def _mnist_lstm():
    path = SHARED / "models" / "tflm_mnist_lstm_float.tflite"
    if not path.exists():
        pytest.skip(f"{path} not found (../shared is not here)")
    return eq.load_file(path)


def test_an_op_whose_weights_no_rule_covers_is_listed_as_float():
    """The LSTM of tflite-micro's MNIST model keeps float weights in dynamic_int8 (no hybrid LSTM rule): the
    summary says so instead of leaving it out of both lists."""
    _, rep = quantize_with_report(_mnist_lstm(), Recipe.dynamic_int8(min_weight_elements=0))
    assert rep.float_ops == ["0 UNIDIRECTIONAL_SEQUENCE_LSTM (no dynamic_int8 rule for its weights: they stay float)"]
    assert rep.quantized_ops == ["2 FULLY_CONNECTED"]


def test_weight_only_int8_compresses_the_lstm_gate_matrices():
    """Its eight gate matrices become int8 behind DEQUANTIZE (per tensor); LiteRT runs the result close to the
    float model on MNIST-shaped inputs."""
    m = _mnist_lstm()
    q, rep = quantize_with_report(m, Recipe.weight_only_int8())
    assert rep.float_ops == [] and rep.quantized_ops == ["0 UNIDIRECTIONAL_SEQUENCE_LSTM", "2 FULLY_CONNECTED"]
    assert rep.inserted == {"DEQUANTIZE": 9}
    lstm = next(op for op in q.main.operators if q.op_name(op) == "UNIDIRECTIONAL_SEQUENCE_LSTM")
    producers = q.main.producers()
    for k in range(1, 9):
        src = q.main.operators[producers[lstm.inputs[k]]]
        assert q.op_name(src) == "DEQUANTIZE" and q.main.tensors[src.inputs[0]].type == dtypes.INT8
    assert len(eq.save(q)) < 0.45 * len(eq.save(m))
    x = np.random.default_rng(0).uniform(0, 1, (20, 28, 28)).astype(np.float32)
    ref, got = run_litert(eq.save(m), x, ref=True), run_litert(eq.save(q), x, ref=True)
    assert sqnr(ref, got) > 40


def test_a_fixed_batch_input_calibrates_in_whole_invocations():
    """A model whose input takes 6 rows per run (fixed batch, like a time-major sequence model's [T, 1, F]):
    calibration batches of 32 rows would split runs; they are rounded to whole runs instead."""
    tf = pytest.importorskip("tensorflow")
    import contextlib
    import io

    inp = tf.keras.Input((4,), batch_size=6)
    m = tf.keras.Model(inp, tf.keras.layers.Dense(3)(inp))
    with contextlib.redirect_stdout(io.StringIO()):
        blob = tf.lite.TFLiteConverter.from_keras_model(m).convert()
    model = eq.load(blob)
    assert list(model.main.tensors[model.main.inputs[0]].shape) == [6, 4]
    runs = [np.random.default_rng(k).standard_normal((6, 4)).astype(np.float32) for k in range(10)]
    q = quantize(model, Recipe.int8(io="float"), runs)
    y = eq.Interpreter(q).run([runs[0]])[0]
    ref = eq.Interpreter(model).run([runs[0]])[0]
    assert y.shape == (6, 3) and sqnr(ref, y) > 30


def test_a_fixed_batch_input_takes_an_array_of_several_invocations():
    """One array of k * 6 rows for a model that takes 6 rows per run is k runs (as Interpreter.run takes it); a
    row count that is not a multiple is one line naming both numbers. Bias correction then runs on 32 runs."""
    tf = pytest.importorskip("tensorflow")
    import contextlib
    import io

    from edgequant.quantizer import bias, load_calibration

    inp = tf.keras.Input((4,), batch_size=6)
    m = tf.keras.Model(inp, tf.keras.layers.Dense(3, bias_initializer="ones")(inp))  # a zero bias is dropped
    with contextlib.redirect_stdout(io.StringIO()):
        model = eq.load(tf.lite.TFLiteConverter.from_keras_model(m).convert())
    x = np.random.default_rng(3).standard_normal((6 * 40, 4)).astype(np.float32)
    batches = load_calibration(x, model)
    assert sum(len(b[next(iter(b))]) for b in batches) == 240
    with pytest.raises(EdgequantError, match=r"has 241 rows, not a multiple of the model's fixed batch of 6$"):
        load_calibration(np.concatenate([x, x[:1]]), model)
    _, rep = quantize_with_report(model, Recipe.weight_only_int8(), x)
    assert rep.bias_samples == bias.SAMPLES and len(rep.corrected_biases) == 1


def test_a_calibration_dict_missing_one_of_two_inputs_names_the_missing_one():
    from edgequant.quantizer.data import _pick

    names = ["serving_default_a:0", "serving_default_b:0"]
    with pytest.raises(EdgequantError, match=r"^calib.npz: no array for input 'serving_default_b:0' \(it holds a\)$"):
        _pick({"a": np.zeros(2)}, names, "calib.npz")
    with pytest.raises(EdgequantError, match=r"do not name the model's inputs"):  # nothing matches: the full list
        _pick({"c": np.zeros(2)}, names, "calib.npz")
