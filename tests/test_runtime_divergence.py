"""The root causes written in tests/test_kernels.py's RUNTIMES_DISAGREE, checked against the outputs that
LiteRT (BUILTIN_REF) and tflite-micro stored in the goldens. These use only qmath's primitives and the model's
tensors, not our kernels: if a runtime changes its arithmetic, these fail and the explanation is stale."""

from __future__ import annotations

import numpy as np
import pytest
from test_kernels import CASES, RUNTIMES_DISAGREE, Golden

import edgequant
from edgequant import qmath


def _op(g: Golden):
    m = edgequant.load(g.model)
    op = m.main.operators[0]
    return op, [m.main.tensors[i] if i >= 0 else None for i in op.inputs], m.main.tensors[op.outputs[0]]


def _sz(t) -> tuple[np.ndarray, int]:
    return np.asarray(t.quantization.scale, np.float32), int(t.quantization.zero_point[0])


def _cases(op_name: str, with_tflm: bool = True) -> list[str]:
    out = []
    for c in CASES:
        g = Golden(c)
        if g.op == op_name and g.outs[0].dtype.kind == "i" and g.target == "litert" and (g.tflm or not with_tflm):
            out.append(c)
    return out


@pytest.mark.parametrize("name", sorted(RUNTIMES_DISAGREE))
def test_each_listed_disagreement_is_real(name: str):
    g = Golden(name)
    assert g.tflm, f"{name}: no tflite-micro outputs stored"
    assert any(not np.array_equal(a, b) for a, b in zip(g.outs, g.tflm, strict=True)), f"{name}: the runtimes agree"


@pytest.mark.parametrize("name", _cases("RELU6"))
def test_relu6_tflite_micro_clamps_in_the_input_quantization(name: str):
    g = Golden(name)
    _, (x,), y = _op(g)
    (si,), zi = _sz(x)
    lo, hi = np.iinfo(g.outs[0].dtype).min, np.iinfo(g.outs[0].dtype).max
    six = zi + int(qmath.round_half_away(np.float32(6) / si))
    np.testing.assert_array_equal(g.tflm[0], np.clip(g.ins[0], max(zi, lo), min(six, hi)))
    assert (name in RUNTIMES_DISAGREE) == (_sz(x)[0][0] != _sz(y)[0][0] or _sz(x)[1] != _sz(y)[1])


@pytest.mark.parametrize("name", _cases("RELU"))
def test_relu_multiplier_is_a_float_quotient_in_litert_and_a_double_one_in_tflite_micro(name: str):
    g = Golden(name)
    _, (x,), y = _op(g)
    (si,), zi = _sz(x)
    (so,), zo = _sz(y)
    lo, hi = np.iinfo(g.outs[0].dtype).min, np.iinfo(g.outs[0].dtype).max
    lo = max(lo, zo)  # zo + round(0 / so)
    for real, want in ((np.float64(np.float32(si / so)), g.outs[0]), (np.float64(si) / np.float64(so), g.tflm[0])):
        m, s = qmath.quantize_multiplier(real)
        got = qmath.multiply_by_quantized_multiplier(g.ins[0].astype(np.int64) - zi, m, s) + zo
        np.testing.assert_array_equal(np.clip(got, lo, hi), want)


def _fc_acc(g: Golden):
    op, (x, w, b), y = _op(g)
    (si,), zi = _sz(x)
    (so,), zo = _sz(y)
    sw = np.asarray(w.quantization.scale, np.float32)
    fed = iter(g.ins[1:])  # weights / bias that are not constants are fed, in input order
    wq = w.numpy() if w.is_constant else next(fed)
    bq = None if b is None else b.numpy() if b.is_constant else next(fed)
    wzp = int(w.quantization.zero_point[0]) if sw.size == 1 else 0  # per-channel: zero points never read
    acc = (g.ins[0].astype(np.int64).reshape(-1, w.shape[1]) - zi) @ (wq.astype(np.int64) - wzp).T
    if bq is not None:
        acc += bq.astype(np.int64)
    act = op.options.fused_activation_function if op.options is not None else 0
    info = np.iinfo(g.outs[0].dtype)
    lo, hi = qmath.calculate_activation_range_quantized(act, so, zo, info.min, info.max)
    eff = np.float64(si) * sw.astype(np.float64) / np.float64(so)
    return acc, eff, zo, lo, hi


@pytest.mark.parametrize("name", _cases("FULLY_CONNECTED", with_tflm=False))
def test_fc_litert_rounds_the_double_product_once(name: str):
    g = Golden(name)
    acc, eff, zo, lo, hi = _fc_acc(g)
    got = qmath.round_half_away(acc.astype(np.float64) * eff) + zo
    np.testing.assert_array_equal(np.clip(got, lo, hi).reshape(g.outs[0].shape), g.outs[0])


@pytest.mark.parametrize("name", _cases("FULLY_CONNECTED"))
def test_fc_tflite_micro_uses_a_fixed_point_multiplier(name: str):
    """int8: gemmlowp double rounding; 16x8: the int64 MultiplyByQuantizedMultiplier (Q15 multiplier)."""
    g = Golden(name)
    acc, eff, zo, lo, hi = _fc_acc(g)
    m, s = qmath.quantize_multiplier(eff)
    if g.outs[0].dtype == np.int8:
        got = qmath.multiply_by_quantized_multiplier(acc, m, s, "double")
    else:
        got = qmath.multiply_by_quantized_multiplier_int64(acc, m, s)
    np.testing.assert_array_equal(np.clip(got + zo, lo, hi).reshape(g.tflm[0].shape), g.tflm[0])


def _relu_family(g: Golden, real_1: float, real_2: float) -> np.ndarray:
    """PRELU / LEAKY_RELU from the stored inputs: ``v = q - zp_in``; ``v >= 0``: v times the identity
    multiplier, else v (times ``alpha_q - zp_alpha`` for PRELU) times the alpha multiplier; ``+ zp_out``, clamp."""
    _, ins, y = _op(g)
    (_, zi), (_, zo) = _sz(ins[0]), _sz(y)
    v = g.ins[0].astype(np.int64) - zi
    prod = v
    if g.op == "PRELU":
        _, za = _sz(ins[1])
        prod = v * (ins[1].numpy().astype(np.int64) - za)
    info = np.iinfo(g.outs[0].dtype)
    got = [qmath.multiply_by_quantized_multiplier(x, *qmath.quantize_multiplier(np.float64(r)))
           for x, r in ((v, real_1), (prod, real_2))]
    return np.clip(np.where(v >= 0, got[0], got[1]) + zo, info.min, info.max)


def _relu_family_scales(g: Golden) -> tuple[np.float32, np.float32, np.float32]:
    """(s_in, s_out, s_alpha): PRELU's alpha tensor scale, LEAKY_RELU's alpha option."""
    op, ins, y = _op(g)
    (si,), _ = _sz(ins[0])
    (so,), _ = _sz(y)
    s2 = _sz(ins[1])[0][0] if g.op == "PRELU" else np.float32(op.options.alpha)
    return si, so, s2


@pytest.mark.parametrize("name", _cases("PRELU") + _cases("LEAKY_RELU"))
def test_prelu_and_leaky_relu_multipliers_are_float_in_litert_and_double_in_tflite_micro(name: str):
    """LiteRT: float(s_in / s_out), float(float(s_in * s_2) / s_out); tflite-micro: the same in double, where s_2
    is PRELU's alpha scale or LEAKY_RELU's alpha. The listed cases also rule out a double quotient of the float
    product, double(float(s_in * s_2)) / double(s_out), for tflite-micro."""
    g = Golden(name)
    si, so, s2 = _relu_family_scales(g)
    f32, f64 = np.float32, np.float64
    litert = _relu_family(g, f64(f32(si / so)), f64(f32(f32(si * s2) / so)))
    tflm = _relu_family(g, f64(si) / f64(so), f64(si) * f64(s2) / f64(so))
    np.testing.assert_array_equal(litert, g.outs[0])
    np.testing.assert_array_equal(tflm, g.tflm[0])
    if name in RUNTIMES_DISAGREE:
        mixed = _relu_family(g, f64(si) / f64(so), f64(f32(si * s2)) / f64(so))
        assert not np.array_equal(mixed, g.tflm[0]), f"{name} does not tell the two double formulas apart"


@pytest.mark.parametrize("name", [c for c in CASES if Golden(c).op == "DEQUANTIZE" and Golden(c).tflm])
def test_tflite_micro_dequantizes_every_channel_with_the_first_channels_parameters(name: str):
    g = Golden(name)
    _, (x,), _ = _op(g)
    s = np.asarray(x.quantization.scale, np.float32)
    zp = np.asarray(x.quantization.zero_point, np.int64)
    q = g.ins[0].astype(np.int64)
    np.testing.assert_array_equal(g.tflm[0], ((q - zp[0]).astype(np.float32) * s[0]).astype(np.float32))
    if s.size > 1:
        axis = x.quantization.quantized_dimension
        shape = [1] * q.ndim
        shape[axis] = s.size
        per_channel = ((q - zp.reshape(shape)).astype(np.float32) * s.reshape(shape)).astype(np.float32)
        np.testing.assert_array_equal(g.outs[0], per_channel)  # LiteRT: each channel its own
        assert name in RUNTIMES_DISAGREE
