"""Bias correction (edgequant.quantizer.bias): the shift against a plain-loop reference, the biases the quantizer
writes in the weight and full-integer modes, and the switch that turns it off."""

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
from edgequant.interpreter import Interpreter
from edgequant.quantization import QuantParams
from edgequant.quantizer import Recipe, gptq, quantize_with_report
from edgequant.quantizer.bias import bias_shift

FIX = Path(__file__).resolve().parent / "data" / "fixtures"


def _qp(scale: np.ndarray, axis: int) -> QuantParams:
    return QuantParams(scale=scale.astype(np.float32), zero_point=np.zeros(scale.size, np.int64), axis=axis,
                       narrow_range=True)


@pytest.mark.parametrize("kind, geometry", [
    ("CONV_2D", (3, 3, 1, 1, 1, 1, SAME)), ("CONV_2D", (3, 2, 2, 1, 1, 2, VALID)), ("CONV_2D", (1, 1, 1, 1, 1, 1, SAME)),
    ("DEPTHWISE_CONV_2D", (3, 3, 2, 2, 1, 1, SAME)), ("DEPTHWISE_CONV_2D", (2, 3, 1, 1, 2, 1, VALID)),
    ("FULLY_CONNECTED", None)])
def test_shift_is_the_mean_output_of_the_weight_error(kind, geometry, monkeypatch):
    """bias_shift with Hessians' mean rows (every row kept) equals the mean over samples and output positions of
    the layer computed with the weights W - Wq alone, by loops."""
    monkeypatch.setattr(gptq, "MIN_ROWS", 1 << 30)  # every row: the mean is exact
    rng = np.random.default_rng(3)
    n, c, mult, units = 4, 3, 2, 5
    if kind == "FULLY_CONNECTED":
        x = rng.uniform(0, 2, size=(n, 7)).astype(np.float32)
        w = rng.normal(size=(units, 7)).astype(np.float32)
        op = SimpleNamespace(builtin_options=None)
    else:
        kh, kw, sh, sw, dh, dw, padding = geometry
        x = rng.uniform(0, 2, size=(n, 9, 8, c)).astype(np.float32)
        w = rng.normal(size=(units, kh, kw, c) if kind == "CONV_2D" else (1, kh, kw, c * mult)).astype(np.float32)
        op = SimpleNamespace(builtin_options=SimpleNamespace(padding=padding, stride_h=sh, stride_w=sw,
                                                             dilation_h_factor=dh, dilation_w_factor=dw))
    axis = 3 if kind == "DEPTHWISE_CONV_2D" else 0
    scale = np.abs(w).max(axis=tuple(a for a in range(w.ndim) if a != axis)) / 127
    q = np.clip(np.round(w / np.expand_dims(scale, [a for a in range(w.ndim) if a != axis])
                         + rng.integers(-1, 2, size=w.shape)), -127, 127).astype(np.int8)  # not nearest: errors
    hs = gptq.Hessians(SimpleNamespace(main=SimpleNamespace(operators=[])), grams=False)  # a model of no ops,
    hs._ops = [(kind, SimpleNamespace(inputs=[0, 1], builtin_options=op.builtin_options), w)]  # then this one
    hs.update({0: x[: n // 2]})
    hs.update({0: x[n // 2:]})  # two batches: a running mean
    got = bias_shift(w, q, _qp(scale, axis), kind, hs.mean(1))

    err = w.astype(np.float64) - q * np.expand_dims(scale.astype(np.float64),
                                                     [a for a in range(w.ndim) if a != axis])
    if kind == "FULLY_CONNECTED":
        want = (x.astype(np.float64) @ err.T).mean(axis=0)
    else:
        patches = _patches_by_loops(x.astype(np.float64), kh, kw, sh, sw, dh, dw, padding)  # (P, KH, KW, C)
        if kind == "CONV_2D":
            want = np.einsum("pabc,oabc->po", patches, err).mean(axis=0)
        else:  # output channel k reads input channel k // mult
            want = np.einsum("pabk,abk->pk", np.repeat(patches, mult, axis=3), err[0]).mean(axis=0)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-9)


def test_no_mean_or_an_asymmetric_grid_gives_no_shift():
    w = np.ones((2, 3), np.float32)
    qp = _qp(np.full(2, 0.01), 0)
    assert bias_shift(w, np.zeros((2, 3), np.int8), qp, "FULLY_CONNECTED", None) is None
    assert bias_shift(w, np.zeros((2, 3), np.int8), qp, "TRANSPOSE_CONV", np.ones(3)) is None
    skewed = QuantParams(scale=np.full(2, 0.01, np.float32), zero_point=np.array([3, 3]), axis=0)
    assert bias_shift(w, np.zeros((2, 3), np.int8), skewed, "FULLY_CONNECTED", np.ones(3)) is None
    assert bias_shift(w, np.zeros((2, 3), np.int8), qp, "FULLY_CONNECTED", np.ones(4)) is None  # wrong length


@pytest.fixture(scope="module")
def digits():
    d = np.load(FIX / "digits_split.npz")
    return eq.load_file(FIX / "digits_cnn.tflite"), d["x_calib"]


def _fc(m):
    sg = m.main
    return next(op for op in sg.operators if m.op_name(op) == "FULLY_CONNECTED")


def _fc_input_mean(m, x) -> np.ndarray:
    """The float model's mean FULLY_CONNECTED input over ``x``, from edgequant's interpreter."""
    fc = _fc(m)
    _, inter = Interpreter(m).run([x], keep_intermediates=True)
    return inter[fc.inputs[0]].reshape(len(x), -1).astype(np.float64).mean(axis=0)


@pytest.mark.parametrize("mode", ["weight_only_int8", "dynamic_int8"])
def test_weight_modes_write_the_float_bias_plus_the_mean_weight_error(digits, mode):
    m, x = digits
    fc = _fc(m)
    w = m.main.tensors[fc.inputs[1]].numpy().astype(np.float64)
    b = m.main.tensors[fc.inputs[2]].numpy()
    mu = _fc_input_mean(m, x)  # one row per sample: Hessians keeps every FC row here
    for on in (True, False):
        q, rep = quantize_with_report(m, Recipe.preset(mode, bias_correction=on), x)
        qfc = _fc(q)
        wt = q.main.tensors[qfc.inputs[1]]
        if mode == "weight_only_int8":  # the int8 weight sits behind a DEQUANTIZE
            wt = q.main.tensors[q.main.operators[q.main.producers()[qfc.inputs[1]]].inputs[0]]
        wq = wt.dequantize().astype(np.float64)
        got = q.main.tensors[qfc.inputs[2]].numpy()
        assert got.dtype == np.float32
        if on:
            # the file's bias to float32 rounding of the shift, which comes from calibration's batched run and
            # float64 scales (here: one batch, float32 dequantized weights)
            want = (b + (w - wq) @ mu).astype(np.float32)
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
            assert not np.array_equal(got, b)
            assert m.main.tensors[fc.inputs[2]].name in rep.corrected_biases
            assert len(rep.corrected_biases) == 2  # the conv's and the FC's
        else:
            np.testing.assert_array_equal(got, b)
            assert rep.corrected_biases == []


def test_weight_modes_without_data_keep_the_biases(digits):
    m, _ = digits
    q, rep = quantize_with_report(m, Recipe.weight_only_int8(), None)
    fc, qfc = _fc(m), _fc(q)
    np.testing.assert_array_equal(q.main.tensors[qfc.inputs[2]].numpy(), m.main.tensors[fc.inputs[2]].numpy())
    assert rep.corrected_biases == []


def test_full_integer_quantizes_the_corrected_bias(digits):
    m, x = digits
    fc = _fc(m)
    w = m.main.tensors[fc.inputs[1]].numpy().astype(np.float64)
    b = m.main.tensors[fc.inputs[2]].numpy().astype(np.float64)
    mu = _fc_input_mean(m, x)
    for on in (True, False):
        q, rep = quantize_with_report(m, Recipe.int8(bias_correction=on), x)
        qfc = _fc(q)
        wt, bt, xt = (q.main.tensors[i] for i in (qfc.inputs[1], qfc.inputs[2], qfc.inputs[0]))
        assert bt.type_name == "int32"
        wq = wt.dequantize().astype(np.float64)
        scale = np.float32(xt.quantization.scale[0]) * wt.quantization.scale.astype(np.float32)
        want_float = b + (w - wq) @ mu if on else b
        want = np.trunc(want_float / scale.astype(np.float64) + np.copysign(0.5, want_float))  # half away
        np.testing.assert_array_equal(bt.numpy().astype(np.int64), want.astype(np.int64))
        assert (len(rep.corrected_biases) == 2) == on


def test_recipe_json_and_cli_switch(digits, tmp_path):
    r = Recipe.int8(bias_correction=False)
    assert json.loads(r.to_json())["bias_correction"] is False
    assert Recipe.from_json(r.to_json()) == r
    np.savez(tmp_path / "c.npz", x=digits[1][:60])
    lines = {}
    for flag in ([], ["--no-bias-correction"]):
        out = tmp_path / f"q{len(flag)}.tflite"
        p = subprocess.run([sys.executable, "-m", "edgequant", "quantize", str(FIX / "digits_cnn.tflite"), "-o",
                            str(out), "--mode", "weight_only_int8", "--calib", str(tmp_path / "c.npz"), *flag],
                           capture_output=True, text=True, timeout=300, check=False)
        assert p.returncode == 0, p.stderr
        lines[bool(flag)] = [ln for ln in p.stdout.splitlines() if ln.startswith("biases:")]
    want = ("biases: 2 biases shifted by their layer's mean weight error on the calibration inputs "
            "(--no-bias-correction keeps them)")
    assert lines[False] == [want]
    assert lines[True] == []
