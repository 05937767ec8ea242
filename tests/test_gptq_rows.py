"""Which input rows GPTQ's statistics come from (edgequant.quantizer.gptq.sample_rows), the sampled Gram products
against a plain-loop im2col reference, and the float32 fast paths of calibration's finite check and the minmax
observer against their float64 reference."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import edgequant as eq
from edgequant.calibration import make_observer
from edgequant.errors import EdgequantError
from edgequant.quantization import QuantizationError
from edgequant.quantizer import calibrate, gptq

FIX = Path(__file__).resolve().parent / "data" / "fixtures"
SAME, VALID = 0, 1  # tflite Padding


@pytest.mark.parametrize("total, samples, width", [(32 * 1024, 32, 360), (32 * 64, 32, 9), (8 * 256, 8, 1440),
                                                   (5 * 1024, 5, 27), (300, 32, 1000)])
def test_sample_rows_takes_one_row_per_stratum(total, samples, width):
    rows = gptq.sample_rows(total, samples, width, np.random.default_rng(0))
    assert rows.dtype.kind == "i" and rows.min() >= 0 and rows.max() < total
    assert np.all(np.diff(rows) > 0)  # sorted, no row twice
    per_sample = min(max(gptq.WORK_PER_SAMPLE // width ** 2, gptq.ROWS_PER_SAMPLE), gptq.MAX_ROWS_PER_SAMPLE)
    k = min(total, max(per_sample * samples, gptq.MIN_ROWS))
    assert len(rows) == k
    # stratum i, rows [i * total // k, (i + 1) * total // k), holds exactly row i
    bounds = np.arange(k + 1) * total // k
    np.testing.assert_array_equal(np.searchsorted(bounds, rows, side="right") - 1, np.arange(k))
    if k == total:
        np.testing.assert_array_equal(rows, np.arange(total))


def test_sampled_rows_reach_every_column_of_a_map():
    """Over a 32x32 map, the sampled positions fall on every column about equally often, edges included (a fixed
    stride of 16 took columns 0 and 16 only: the left edge's padded patches often, the right edge's never)."""
    rng = np.random.default_rng(1)
    cols = np.concatenate([gptq.sample_rows(32 * 1024, 32, 360, rng) % 32 for _ in range(100)])
    counts = np.bincount(cols, minlength=32)
    assert counts.min() > 0.8 * counts.mean() and counts.max() < 1.2 * counts.mean()


def _patches_by_loops(x, kh, kw, sh, sw, dh, dw, padding):
    """(N*OH*OW, KH, KW, C) im2col, one output position and tap at a time, with TFLite's padding rule."""
    n, h, w, c = x.shape

    def axis(size, k, s, d):
        if padding == VALID:
            out = (size - (k - 1) * d - 1) // s + 1
            return out, 0
        out = -(-size // s)
        return out, max((out - 1) * s + (k - 1) * d + 1 - size, 0) // 2

    oh, top = axis(h, kh, sh, dh)
    ow, left = axis(w, kw, sw, dw)
    out = np.zeros((n, oh, ow, kh, kw, c), np.float64)
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                for a in range(kh):
                    for e in range(kw):
                        y, z = i * sh - top + a * dh, j * sw - left + e * dw
                        if 0 <= y < h and 0 <= z < w:
                            out[b, i, j, a, e] = x[b, y, z]
    return out.reshape(n * oh * ow, kh, kw, c)


@pytest.mark.parametrize("kind", ["CONV_2D", "DEPTHWISE_CONV_2D"])
@pytest.mark.parametrize("geometry", [(3, 3, 2, 2, 1, 1, SAME), (3, 2, 1, 1, 2, 1, SAME), (3, 3, 1, 2, 1, 1, VALID)])
def test_sampled_products_equal_the_loop_reference(kind, geometry, monkeypatch):
    kh, kw, sh, sw, dh, dw, padding = geometry
    monkeypatch.setattr(gptq, "MIN_ROWS", 16)  # so that a small map is sampled, not taken whole
    monkeypatch.setattr(gptq, "MAX_ROWS_PER_SAMPLE", 4)
    rng = np.random.default_rng(4)
    n, c, mult = 6, 5, 2
    x = rng.normal(size=(n, 11, 10, c)).astype(np.float32)
    w = rng.normal(size=(7, kh, kw, c) if kind == "CONV_2D" else (1, kh, kw, c * mult)).astype(np.float32)
    op = SimpleNamespace(builtin_options=SimpleNamespace(padding=padding, stride_h=sh, stride_w=sw,
                                                         dilation_h_factor=dh, dilation_w_factor=dw))
    got, used = gptq._input_products(kind, op, w, x, np.random.default_rng(9))
    patches = _patches_by_loops(x.astype(np.float64), kh, kw, sh, sw, dh, dw, padding)
    width = kh * kw * (c if kind == "CONV_2D" else 1)
    keep = gptq.sample_rows(len(patches), n, width, np.random.default_rng(9))
    assert used == len(keep) < len(patches)
    rows = patches[keep]
    if kind == "CONV_2D":
        flat = rows.reshape(len(rows), -1)
        want = flat.T @ flat
    else:
        taps = rows.reshape(len(rows), kh * kw, c)
        want = np.einsum("rkc,rlc->ckl", taps, taps)
    assert got.shape == want.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)  # products summed in float32


def test_fully_connected_rows_and_the_running_mean(monkeypatch):
    """Hessians.get is the mean x x^T over every batch's sampled rows; with every row kept, the exact mean."""
    m = eq.load_file(FIX / "digits_cnn.tflite")
    hs = gptq.Hessians(m)
    fc = next(op for name, op, _ in hs._ops if name == "FULLY_CONNECTED")
    k = m.main.tensors[fc.inputs[1]].shape[1]
    rng = np.random.default_rng(2)
    xs = [rng.normal(size=(b, k)).astype(np.float32) for b in (32, 32, 7)]
    for x in xs:
        hs.update({fc.inputs[0]: x})
    every = np.concatenate(xs).astype(np.float64)
    np.testing.assert_allclose(hs.get(fc.inputs[1]), every.T @ every / len(every), rtol=1e-5, atol=1e-5)


def test_minmax_float32_path_equals_the_float64_reference():
    rng = np.random.default_rng(3)
    for x in (rng.standard_t(3, (4, 50, 7)).astype(np.float32), np.float32([-0.0, 0.0]), np.float32([3.5])):
        fast, ref = make_observer("minmax"), make_observer("minmax")
        fast.update(x)
        ref.update(x.astype(np.float64))
        assert fast.range() == ref.range()
        assert all(type(v) is float for v in fast.range())
    for bad in (np.float32([]), np.float32([1.0, np.nan]), np.float32([np.inf, 0.0]), np.float32([-np.inf])):
        with pytest.raises(QuantizationError):
            make_observer("minmax").update(bad)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_calibration_names_the_tensor_that_overflows():
    """The finite check on min and max: activations that overflow float32 are an error naming the tensor."""
    m = eq.load_file(FIX / "digits_cnn.tflite")
    sg = m.main
    shape = list(sg.tensors[sg.inputs[0]].shape)
    x = np.full([4] + shape[1:], 3e38, np.float32)
    with pytest.raises(EdgequantError, match="became NaN or Inf"):
        calibrate(m, [{sg.tensors[sg.inputs[0]].name: x}])
    r = calibrate(m, [{sg.tensors[sg.inputs[0]].name: x * 0}])
    assert r.samples == 4 and all(lo <= hi for lo, hi in r.ranges.values())
