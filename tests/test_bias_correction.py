"""Bias correction (edgequant.quantizer.bias): exact mean input rows against a plain-loop im2col, the corrected
model's mean output against the float model's, the defaults per mode, and the CLI switch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from test_gptq_rows import SAME, VALID, _patches_by_loops

import edgequant as eq
from edgequant.errors import EdgequantError
from edgequant.interpreter import Interpreter
from edgequant.quantizer import Recipe, bias, quantize_with_report

FIX = Path(__file__).resolve().parent / "data" / "fixtures"


@pytest.mark.parametrize("kind, geometry", [
    ("CONV_2D", (3, 3, 1, 1, 1, 1, SAME)), ("CONV_2D", (3, 2, 2, 1, 1, 2, VALID)), ("CONV_2D", (2, 2, 2, 2, 1, 1, SAME)),
    ("CONV_2D", (1, 1, 1, 1, 1, 1, SAME)), ("DEPTHWISE_CONV_2D", (3, 3, 2, 2, 1, 1, SAME)),
    ("DEPTHWISE_CONV_2D", (2, 3, 1, 1, 2, 1, VALID)), ("FULLY_CONNECTED", None)])
def test_mean_row_is_the_mean_im2col_patch(kind, geometry):
    rng = np.random.default_rng(3)
    n, c = 4, 3
    if kind == "FULLY_CONNECTED":
        x = rng.normal(size=(n, 2, 7)).astype(np.float32)  # rows of 7 features, two per sample
        total, count = bias.mean_row(kind, None, (5, 7), x)
        np.testing.assert_allclose(total / count, x.reshape(-1, 7).astype(np.float64).mean(axis=0), rtol=1e-12)
        return
    kh, kw, sh, sw, dh, dw, padding = geometry
    x = rng.normal(size=(n, 9, 8, c)).astype(np.float32)
    op = SimpleNamespace(builtin_options=SimpleNamespace(padding=padding, stride_h=sh, stride_w=sw,
                                                         dilation_h_factor=dh, dilation_w_factor=dw))
    total, count = bias.mean_row(kind, op, (5 if kind == "CONV_2D" else 1, kh, kw, c), x)
    patches = _patches_by_loops(x.astype(np.float64), kh, kw, sh, sw, dh, dw, padding)  # (P, KH, KW, C)
    assert count == len(patches)
    want = patches.mean(axis=0)
    if kind == "CONV_2D":
        np.testing.assert_allclose(total / count, want.reshape(-1), rtol=1e-10, atol=1e-12)
    else:
        np.testing.assert_allclose(total / count, want.reshape(kh * kw, c).T, rtol=1e-10, atol=1e-12)


@pytest.fixture(scope="module")
def digits():
    d = np.load(FIX / "digits_split.npz")
    return eq.load_file(FIX / "digits_cnn.tflite"), d["x_calib"]


def _mean_logit_error(m, q, x) -> float:
    """Largest per-class mean difference of the logits (edgequant's interpreter; integer outputs dequantized)."""
    want = Interpreter(m).run([x])[0].astype(np.float64)
    it = Interpreter(q)
    o = it.get_output_details()[0]
    got = it.run([x])[0].astype(np.float64)
    if o["dtype"] != np.float32:
        s, z = o["quantization"]
        got = (got - z) * s
    return float(np.abs((got - want).mean(axis=0)).max())


def test_weight_only_logits_have_the_float_mean_on_the_samples_it_ran(digits):
    """Weight-only int8 computes in float with the dequantized weights, as the correction's run does: on its
    samples, the last layer's mean output is the float model's again, to float rounding."""
    m, x = digits
    first = x[:bias.SAMPLES]
    q_off, rep_off = quantize_with_report(m, Recipe.weight_only_int8(bias_correction=False), x)
    q_on, rep_on = quantize_with_report(m, Recipe.weight_only_int8(), x)
    off, on = _mean_logit_error(m, q_off, first), _mean_logit_error(m, q_on, first)
    assert off > 1e-3 and on < 1e-5, (off, on)
    assert rep_off.corrected_biases == [] and len(rep_on.corrected_biases) == 2  # the conv's and the logits'
    assert _mean_logit_error(m, q_on, x[bias.SAMPLES:]) < off / 2  # and on samples it did not see


@pytest.mark.parametrize("mode", ["dynamic_int8", "int8", "int16x8"])
def test_other_modes_move_the_mean_output_toward_the_float_one(digits, mode):
    """Hybrid and integer kernels round activations too, so the mean is not matched exactly; it gets closer."""
    m, x = digits
    io = {} if mode == "dynamic_int8" else {"io": "float"}
    first = x[:bias.SAMPLES]
    errors = [_mean_logit_error(m, quantize_with_report(m, Recipe.preset(mode, bias_correction=on, **io), x)[0],
                                first) for on in (False, True)]
    assert errors[1] < 0.7 * errors[0], errors


def test_integer_biases_are_the_corrected_float_biases_over_their_scales(digits):
    m, x = digits
    q, rep = quantize_with_report(m, Recipe.int8(bias_correction=True), x)
    fc = next(op for op in q.main.operators if q.op_name(op) == "FULLY_CONNECTED")
    t = q.main.tensors[fc.inputs[2]]
    assert t.type_name == "int32" and t.name in rep.corrected_biases
    b = m.main.tensors[next(op for op in m.main.operators if m.op_name(op) == "FULLY_CONNECTED").inputs[2]].numpy()
    plain = quantize_with_report(m, Recipe.int8(bias_correction=False), x)[0]
    t0 = plain.main.tensors[next(op for op in plain.main.operators if plain.op_name(op) == "FULLY_CONNECTED").inputs[2]]
    np.testing.assert_array_equal(t0.numpy(), np.trunc(b / t0.quantization.scale + np.copysign(0.5, b)))
    assert not np.array_equal(t.numpy(), t0.numpy())
    np.testing.assert_array_equal(t.quantization.scale, t0.quantization.scale)  # only the integers move


def test_defaults_per_mode_and_json():
    assert Recipe.weight_only_int8().resolved(True).bias_correction is True
    assert Recipe.dynamic_int8().resolved(True).bias_correction is True
    assert Recipe.int8().resolved(True).bias_correction is False
    assert Recipe.int16x8().resolved(True).bias_correction is False
    for r in (Recipe.int8(bias_correction=True), Recipe.dynamic_int8(bias_correction=False), Recipe.int8()):
        assert Recipe.from_json(r.to_json()) == r
    assert json.loads(Recipe.int8().to_json())["bias_correction"] is None


def test_without_data_nothing_is_corrected(digits):
    m, _ = digits
    q, rep = quantize_with_report(m, Recipe.weight_only_int8(), None)
    fc, qfc = (next(op for op in g.main.operators if g.op_name(op) == "FULLY_CONNECTED") for g in (m, q))
    np.testing.assert_array_equal(q.main.tensors[qfc.inputs[2]].numpy(), m.main.tensors[fc.inputs[2]].numpy())
    assert rep.corrected_biases == []


def test_cli_switch_and_summary(digits, tmp_path):
    np.savez(tmp_path / "c.npz", x=digits[1][:60])
    lines = {}
    for mode, flag in (("weight_only_int8", []), ("weight_only_int8", ["--no-bias-correction"]), ("int8", []),
                       ("int8", ["--bias-correction"])):
        out = tmp_path / f"{mode}{len(flag)}.tflite"
        p = subprocess.run([sys.executable, "-m", "edgequant", "quantize", str(FIX / "digits_cnn.tflite"), "-o",
                            str(out), "--mode", mode, "--calib", str(tmp_path / "c.npz"), *flag],
                           capture_output=True, text=True, timeout=300, check=False)
        assert p.returncode == 0, p.stderr
        lines[mode, tuple(flag)] = [ln for ln in p.stdout.splitlines() if ln.startswith("biases:")]
    line = (f"biases: 2 biases shifted, each by its layer's mean output error on {bias.SAMPLES} calibration samples "
            f"(--no-bias-correction keeps them)")
    want = [line]
    assert lines["weight_only_int8", ()] == want == lines["int8", ("--bias-correction",)]
    assert lines["weight_only_int8", ("--no-bias-correction",)] == [] == lines["int8", ()]


def test_a_model_the_interpreter_cannot_run_keeps_its_biases_with_a_note(digits, monkeypatch):
    """Calibration can fall back to LiteRT for an op edgequant has no kernel for; the correction runs the
    quantized model in edgequant's interpreter, so it is skipped, and the report says why."""
    pytest.importorskip("ai_edge_litert", reason="calibration falls back to LiteRT here: pip install "
                        "'edgequant[litert]'")
    from edgequant.errors import UnsupportedError
    from edgequant.interpreter import Interpreter as Real

    def refuse(model, *a, **kw):
        raise UnsupportedError("subgraph 0 op 3 (GELU): no kernel for this op")

    m, x = digits
    plain, _ = quantize_with_report(m, Recipe.weight_only_int8(bias_correction=False), x)
    monkeypatch.setattr("edgequant.interpreter.Interpreter", refuse)
    q, rep = quantize_with_report(m, Recipe.weight_only_int8(), x)
    monkeypatch.setattr("edgequant.interpreter.Interpreter", Real)
    assert rep.corrected_biases == []
    why = "bias correction skipped: edgequant's interpreter cannot run this model (subgraph 0 op 3 (GELU): no kernel"
    assert rep.notes == [why + " for this op)"]
    assert eq.save(q) == eq.save(plain)


def test_an_lstm_keeps_its_quality():
    """Samples run from the initial state in the float and the quantized pass alike (the float pass once carried
    an LSTM's state from sample to sample, and mnist_lstm's dynamic SQNR fell from 77 to 30 dB)."""
    from conftest import MODELS, need_shared

    m = eq.load_file(need_shared(MODELS / "tflm_mnist_lstm_float.tflite"))
    rng = np.random.default_rng(7)
    x, held = rng.uniform(0, 1, (48, 28, 28)).astype(np.float32), rng.uniform(0, 1, (20, 28, 28)).astype(np.float32)

    def sqnr(q):
        ref, got = [], []
        for k in range(len(held)):  # each sample its own sequence
            for it, out in ((Interpreter(m), ref), (Interpreter(q), got)):
                out.append(it.run([held[k:k + 1]])[0])
        ref, got = np.concatenate(ref).astype(np.float64), np.concatenate(got).astype(np.float64)
        return 10 * np.log10(np.sum(ref ** 2) / np.sum((ref - got) ** 2))

    for mode in ("dynamic_int8", "weight_only_int8"):
        off = sqnr(quantize_with_report(m, Recipe.preset(mode, bias_correction=False), x)[0])
        q, rep = quantize_with_report(m, Recipe.preset(mode), x)
        assert rep.corrected_biases and sqnr(q) > off - 3, (mode, off, sqnr(q))


def test_a_grouped_convolution_is_left_alone():
    from conftest import MODELS, need_shared

    m = eq.load_file(need_shared(MODELS / "mlperf_tiny_ic_resnet8_float.tflite"))
    sg = m.main
    op = next(op for op in sg.operators if m.op_name(op) == "CONV_2D" and sg.tensors[op.inputs[1]].shape[3] >= 16)
    wt = sg.tensors[op.inputs[1]]
    half = np.ascontiguousarray(wt.numpy()[..., : wt.shape[3] // 2])  # two groups
    wt.buffer, wt.shape = m.add_buffer(half), list(half.shape)
    x = np.random.default_rng(1).uniform(0, 1, (40, 32, 32, 3)).astype(np.float32)
    _, rep = quantize_with_report(eq.load(eq.save(m)), Recipe.weight_only_int8(), x)
    grouped_bias = sg.tensors[op.inputs[2]].name
    assert rep.corrected_biases and grouped_bias not in rep.corrected_biases


def test_too_few_samples_skip_the_correction_with_a_note(digits):
    m, x = digits
    _, rep = quantize_with_report(m, Recipe.weight_only_int8(), x[:bias.MIN_SAMPLES - 1])
    assert rep.corrected_biases == []
    few = bias.MIN_SAMPLES - 1
    why = f"bias correction skipped: {few} calibration samples (it needs {bias.MIN_SAMPLES} to measure a layer's"
    assert rep.notes == [why + " mean output)"]
    _, rep = quantize_with_report(m, Recipe.weight_only_int8(), x[:20])
    assert rep.bias_samples == 20 and len(rep.corrected_biases) == 2 and rep.notes == []


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # numpy's, on the way to the error
def test_data_that_overflows_the_float_model_is_one_line(digits):
    m, x = digits
    with pytest.raises(EdgequantError, match=r"^calibration data: the float model overflows on it \(op \d+ \w+ reads "
                       r"values that are not finite\); check the data's range$"):
        quantize_with_report(m, Recipe.dynamic_int8(weight_rounding="balanced"), np.full_like(x[:32], 3e38))


def test_the_api_warns_what_the_report_notes(digits):
    m, x = digits
    with pytest.warns(UserWarning, match=r"^quantize\(weight_only_int8\): bias correction skipped: 5 calibration "
                      r"samples"):
        eq.quantize(m, Recipe.weight_only_int8(), x[:5])
