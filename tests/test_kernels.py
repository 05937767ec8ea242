"""Every golden case (tools/make_goldens.py: single-op models run in LiteRT's reference kernels and in
tflite-micro) through our interpreter: integer outputs bit for bit, float outputs within 1e-5 relative."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgequant.interpreter import Interpreter
from edgequant.kernels import load_all

GOLDENS = Path(__file__).resolve().parent / "data" / "goldens"
CASES = sorted(p.stem for p in GOLDENS.glob("*.npz"))

# Known gaps: case name -> reason. Each is a real disagreement with the reference, kept visible here.
KNOWN_GAPS: dict[str, str] = {
    # int16 LOGISTIC/TANH interpolate a 256-entry sigmoid table (sigmoid(i/24) in 0.16 fixed point) whose
    # published values do not follow from any rounding of the formula we found (up to 2 off), so matching
    # them bit for bit would mean copying the table; the kernels raise UnsupportedError for int16.
    "logistic_i16": "int16 LOGISTIC: needs the reference sigmoid table",
    "tanh_i16": "int16 TANH: needs the reference sigmoid table",
}


def _load(name: str):
    z = np.load(GOLDENS / f"{name}.npz")
    ins = [z[f"in{i}"] for i in range(sum(k.startswith("in") for k in z.files))]
    outs = [z[f"out{i}"] for i in range(sum(k.startswith("out") for k in z.files))]
    tflm = [z[f"tflm_out{i}"] for i in range(sum(k.startswith("tflm_out") for k in z.files))]
    return z["model"].tobytes(), str(z["op"]), ins, outs, tflm


def _compare(got: np.ndarray, want: np.ndarray, what: str) -> None:
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    if want.dtype.kind in "iub":
        np.testing.assert_array_equal(got, want, err_msg=what)
    else:
        scale = max(float(np.abs(want).max(initial=0.0)), 1e-30)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * scale, err_msg=what)


def test_goldens_exist_and_cover_the_priority_ops():
    if not CASES:
        pytest.fail(f"no golden cases in {GOLDENS}; run tools/make_goldens.py")
    ops = {_load(c)[1] for c in CASES}
    for op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D", "RESHAPE",
               "SOFTMAX", "ADD", "QUANTIZE", "DEQUANTIZE"):
        assert op in ops, f"no golden case for {op}"
        assert op in load_all()


@pytest.mark.parametrize("name", CASES)
def test_golden_litert(name: str):
    if name in KNOWN_GAPS:
        pytest.skip(f"known gap: {KNOWN_GAPS[name]}")
    model, op, ins, outs, _ = _load(name)
    it = Interpreter(model)
    for d, x in zip(it.get_input_details(), ins):
        it.set_tensor(d["index"], x)
    it.invoke()
    for d, want in zip(it.get_output_details(), outs):
        _compare(it.get_tensor(d["index"]), want, f"{name} ({op}) vs LiteRT BUILTIN_REF")
    # the batched path gives the same rows: three copies of the sample stacked along axis 0
    if all(x.ndim and x.shape[0] == 1 for x in ins):
        got = it.run([np.concatenate([x] * 3) for x in ins])
        for g, want in zip(got, outs):
            for k in range(3):
                _compare(g[k * want.shape[0]:(k + 1) * want.shape[0]], want, f"{name} batched row {k}")


@pytest.mark.parametrize("name", [c for c in CASES if "tflm_out0" in np.load(GOLDENS / f"{c}.npz").files])
def test_golden_tflm(name: str):
    if name in KNOWN_GAPS:
        pytest.skip(f"known gap: {KNOWN_GAPS[name]}")
    model, op, ins, _, tflm = _load(name)
    got = Interpreter(model, target="tflm").run(ins)
    for g, want in zip(got, tflm):
        _compare(g, want, f"{name} ({op}) vs tflite-micro")


@pytest.mark.parametrize("rounding", ["single", "double"])
def test_fast_requantize_equals_qmath(rounding):
    """The in-place few-pass MultiplyByQuantizedMultiplier of kernels/_common equals qmath's transliteration."""
    from edgequant import qmath
    from edgequant.kernels._common import mbqm_inplace

    rng = np.random.default_rng(5)
    x = np.concatenate([rng.integers(-(1 << 31), 1 << 31, 200000), rng.integers(-5000, 5000, 200000),
                        np.array([0, 1, -1, (1 << 31) - 1, -(1 << 31)])]).astype(np.int64)
    lo_shift = -31
    hi_shift = 8 if rounding == "double" else 30
    for _ in range(20):
        m = int(rng.integers(1 << 30, 1 << 31))
        s = int(rng.integers(lo_shift, hi_shift))
        xs = x if rounding == "double" or s <= 0 else x >> s  # single rounding needs an in-range result
        want = qmath.multiply_by_quantized_multiplier(xs, m, s, rounding=rounding)
        np.testing.assert_array_equal(mbqm_inplace(xs.copy(), m, s, rounding), want)
    # per-channel: arrays of multipliers and shifts along the last axis, including shift 0 and positive
    xc = rng.integers(-(1 << 24), 1 << 24, (1000, 6)).astype(np.int64)
    m = rng.integers(1 << 30, 1 << 31, 6)
    s = np.array([-9, 0, 1, -1, -20, 2])
    want = qmath.multiply_by_quantized_multiplier(xc, m, s, rounding=rounding)
    np.testing.assert_array_equal(mbqm_inplace(xc.copy(), m, s, rounding), want)
