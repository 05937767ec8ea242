"""Balanced rounding (edgequant.quantizer.balanced): the vectorised selection against a loop over groups written
straight from the definition, its guarantees (every weight on a step next to its value, group sums within half a
step), and what it buys on the digits fixtures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import edgequant as eq
from edgequant.qmath import quantize_affine
from edgequant.quantizer import Recipe, quantize
from edgequant.quantizer.balanced import balanced_ints
from edgequant.quantizer.rewrite import _may_balance

FIX = Path(__file__).parent / "data" / "fixtures"


@pytest.fixture(scope="module")
def digits():
    d = dict(np.load(FIX / "digits_split.npz"))
    return {name: eq.load_file(FIX / f"{name}.tflite") for name in ("digits_cnn", "digits_resnet")}, d


def _groups(w: np.ndarray, op: str) -> list[tuple[int, ...]]:
    """Index arrays (as tuples over w's axes) of every group of the op's weight, by the module docstring."""
    idx = np.indices(w.shape).reshape(w.ndim, -1).T
    if op == "DEPTHWISE_CONV_2D":
        key = idx[:, 3]
    elif w.ndim == 4 and w.shape[1] * w.shape[2] > 1:
        key = idx[:, 0] * w.shape[3] + idx[:, 3]
    else:
        key = idx[:, 0]
    return [tuple(idx[key == k].T) for k in np.unique(key)]


def _reference(w: np.ndarray, scale: np.ndarray, axis: int | None, op: str) -> np.ndarray:
    q = quantize_affine(w, scale, 0, -127, 127, axis=axis, dtype=np.int64)
    s = np.asarray(scale, np.float32)
    s_full = np.broadcast_to(s.reshape([-1 if a == axis else 1 for a in range(w.ndim)]) if s.ndim else s, w.shape)
    r = (q - w.astype(np.float32) / s_full).astype(np.float32)
    for g in _groups(w, op):
        k = int(np.rint(r[g].sum(dtype=np.float64)))
        if k == 0:
            continue
        d = np.sign(k)
        score = r[g] * d
        movable = (score > 0) & ((q[g] > -127) if d > 0 else (q[g] < 127))
        order = [i for i in sorted(range(len(score)), key=lambda i: (-score[i], i)) if movable[i]]
        for i in order[:abs(k)]:
            q[tuple(a[i] for a in g)] -= d
    return q.astype(np.int8)


CASES = [  # (op, shape, per-channel axis or None)
    ("CONV_2D", (8, 3, 3, 5), 0),
    ("CONV_2D", (6, 1, 1, 40), 0),        # 1 x 1: whole rows
    ("CONV_2D", (4, 5, 5, 3), None),      # per-tensor
    ("DEPTHWISE_CONV_2D", (1, 3, 3, 12), 3),
    ("FULLY_CONNECTED", (10, 300), 0),    # long rows: the thresholded sort
    ("FULLY_CONNECTED", (7, 9), None),
    ("TRANSPOSE_CONV", (3, 2, 2, 4), 0),
]


@pytest.mark.parametrize("op, shape, axis", CASES)
@pytest.mark.parametrize("clip", [1.0, 0.6])  # 0.6: scales that clip the largest weights (as MSE scales may)
def test_balanced_equals_the_loop_reference(op, shape, axis, clip):
    rng = np.random.default_rng(sum(shape))
    w = (rng.standard_normal(shape) * rng.uniform(0.5, 2.0, shape[axis or 0])
         .reshape([-1 if a == (axis or 0) else 1 for a in range(len(shape))])).astype(np.float32)
    w.flat[::7] = w.flat[3]  # repeated values: ties broken by position in both
    if axis is None:
        scale = np.float32(np.abs(w).max() * clip / 127)
    else:
        scale = (np.abs(np.moveaxis(w, axis, 0).reshape(shape[axis], -1)).max(1) * clip / 127).astype(np.float32)
    got = balanced_ints(w, scale, axis, op, -127, 127)
    np.testing.assert_array_equal(got, _reference(w, scale, axis, op))
    near = quantize_affine(w, scale, 0, -127, 127, axis=axis, dtype=np.int64)
    assert np.abs(got - near).max() <= 1 and got.min() >= -127  # one step at most, never past the bounds
    s_full = np.broadcast_to(np.reshape(scale, [-1 if a == axis else 1 for a in range(w.ndim)])
                             if axis is not None else scale, w.shape)
    x = w / s_full
    unclipped = np.abs(x) < 127
    assert np.all((got[unclipped] >= np.floor(x[unclipped])) & (got[unclipped] <= np.ceil(x[unclipped])))
    if clip == 1.0:  # nothing clipped: every group's error sum is within half a step (enough movable weights)
        for g in _groups(w, op):
            assert abs((got[g] - x[g]).sum()) <= 0.5 + 1e-4 or len(g[0]) < 4
    assert not np.array_equal(got, near)  # it did move something


def test_balanced_keeps_nearest_where_a_group_already_sums_to_under_half_a_step():
    w = np.array([[0.4, -0.4, 0.2, -0.1]], np.float32)  # errors -0.4 +0.4 -0.2 +0.1: sum -0.1
    np.testing.assert_array_equal(balanced_ints(w, np.float32(1.0), None, "FULLY_CONNECTED", -127, 127),
                                  [[0, 0, 0, 0]])


def test_balanced_rounding_beats_nearest_without_data_on_digits(digits):
    """Output SQNR on the held-out digits, no calibration data, the same scales (MSE-searched ones, and min/max
    ones): balanced > nearest."""
    models, d = digits
    x = d["x_test"][:200]
    for name, m in models.items():
        ref = eq.Interpreter(m).run([x])[0]
        for mode in ("dynamic_int8", "weight_only_int8"):
            out = {}
            for rounding, weight_range in (("nearest", "mse"), ("balanced", "mse"), ("nearest", "minmax"),
                                           ("balanced", "minmax")):
                q = quantize(m, Recipe.preset(mode, weight_rounding=rounding, weight_range=weight_range))
                y = eq.Interpreter(eq.save(q)).run([x])[0]
                out[rounding, weight_range] = 10 * np.log10(np.sum(ref.astype(np.float64) ** 2)
                                                            / np.sum((ref - y) ** 2.0))
            for weight_range in ("mse", "minmax"):
                assert out["balanced", weight_range] > out["nearest", weight_range] + 1.0, f"{name} {mode}: {out}"


def test_many_weights_at_once_equal_one_at_a_time():
    """balanced_many concatenates groups of equal length across tensors: the same integers as tensor by tensor."""
    from edgequant.quantizer.balanced import balanced_many

    rng = np.random.default_rng(5)
    items = []
    for op, shape, axis in CASES + [("CONV_2D", (5, 3, 3, 7), 0), ("FULLY_CONNECTED", (3, 300), None),
                                    ("DEPTHWISE_CONV_2D", (1, 3, 3, 4), None)]:
        w = rng.standard_normal(shape).astype(np.float32)
        s = np.abs(w).max() / 100 if axis is None else \
            (np.abs(np.moveaxis(w, axis, 0).reshape(shape[axis], -1)).max(1) / 100).astype(np.float32)
        items.append((w, np.asarray(s, np.float32), axis, op))
    together = balanced_many(items, -127, 127)
    for (w, s, axis, op), got in zip(items, together):
        np.testing.assert_array_equal(got, balanced_ints(w, s, axis, op, -127, 127))
        assert got.shape == w.shape and got.dtype == np.int8


def test_quantize_writes_the_same_integers_as_the_per_tensor_path(digits):
    """The weight modes compute every balanced tensor ahead in one batch; the file holds what balanced_ints gives
    each tensor alone with the file's own scales."""
    models, _ = digits
    m = models["digits_resnet"]
    floats = {t.name: t.numpy() for t in m.main.tensors if t.is_constant and t.type == eq.dtypes.FLOAT32}
    ops = {m.main.tensors[op.inputs[1]].name: m.op_name(op) for op in m.main.operators if len(op.inputs) > 1}
    q = eq.load(eq.save(quantize(m, Recipe.weight_only_int8())))
    assert all(_may_balance(m, m.main, op, m.op_name(op), Recipe.weight_only_int8().resolved(False))
               for op in m.main.operators if m.op_name(op) in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"))
    checked = 0
    for t in q.main.tensors:
        if t.type == eq.dtypes.INT8 and t.name in floats and ops.get(t.name) in ("CONV_2D", "DEPTHWISE_CONV_2D",
                                                                                  "FULLY_CONNECTED"):
            qp = t.quantization
            axis = qp.quantized_dimension if len(qp.scale) > 1 else None
            scale = qp.scale if axis is not None else qp.scale[0]
            np.testing.assert_array_equal(t.numpy(), balanced_ints(floats[t.name], scale, axis, ops[t.name],
                                                                   -127, 127))
            checked += 1
    assert checked >= 4  # digits_resnet: its convolutions, depthwise and fully connected weights


def test_gptq_falls_back_to_balanced_rounding_where_it_has_no_statistics():
    """A weight GPTQ cannot round (no statistics for it, or a layout it does not handle, like TRANSPOSE_CONV)
    gets balanced rounding where balancing applies (_may_balance: GPTQ or balanced asked, one-signed inputs)."""
    from edgequant.quantization import QuantParams
    from edgequant.quantizer.rewrite import _weight_ints

    class NoStatistics:
        def get(self, idx):
            return None

    rng = np.random.default_rng(3)
    w = rng.standard_normal((4, 3, 3, 6)).astype(np.float32)
    scale = (np.abs(w).reshape(4, -1).max(1) / 127).astype(np.float32)
    qp = QuantParams(scale, np.zeros(4, np.int64), axis=0, narrow_range=True)
    for op in ("TRANSPOSE_CONV", "CONV_2D"):
        got = _weight_ints(w, qp, op, 0, NoStatistics(), True)
        np.testing.assert_array_equal(got, balanced_ints(w, scale, 0, op, -127, 127))
        near = _weight_ints(w, qp, op, 0, NoStatistics(), False)
        np.testing.assert_array_equal(near, quantize_affine(w, scale, 0, -127, 127, axis=0, dtype=np.int8))
        assert not np.array_equal(got, near)


def test_weights_reading_inputs_of_both_signs_round_to_nearest():
    """mnist_lstm's last FULLY_CONNECTED reads LSTM (tanh) outputs, whose means differ in sign: balancing its rows
    lost 1-3.5 dB, so it rounds to nearest; the same recipe balances weights that read ReLU outputs."""
    path = Path(__file__).resolve().parents[2] / "shared" / "models" / "tflm_mnist_lstm_float.tflite"
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared holds the third-party models)")
    m = eq.load_file(path)
    fc = next(op for op in m.main.operators if m.op_name(op) == "FULLY_CONNECTED")
    assert not _may_balance(m, m.main, fc, "FULLY_CONNECTED", Recipe.weight_only_int8().resolved(False))
    w = m.main.tensors[fc.inputs[1]].numpy()
    q = eq.load(eq.save(quantize(m, Recipe.weight_only_int8())))
    t = next(t for t in q.main.tensors if t.name == m.main.tensors[fc.inputs[1]].name)
    qp = t.quantization
    np.testing.assert_array_equal(t.numpy(), quantize_affine(w, qp.scale, 0, -127, 127, axis=0, dtype=np.int8))


def test_a_group_with_a_nan_weight_is_left_at_nearest_and_the_others_still_balance():
    rng = np.random.default_rng(11)
    w = rng.standard_normal((4, 20)).astype(np.float32)
    scale = (np.abs(w).max(1) / 127).astype(np.float32)
    bad = w.copy()
    bad[1, 3] = np.nan
    got = balanced_ints(bad, scale, 0, "FULLY_CONNECTED", -127, 127)
    want = balanced_ints(w, scale, 0, "FULLY_CONNECTED", -127, 127)
    np.testing.assert_array_equal(got[[0, 2, 3]], want[[0, 2, 3]])
    near = quantize_affine(bad, scale, 0, -127, 127, axis=0, dtype=np.int8)
    np.testing.assert_array_equal(got[1], near[1])


def test_kept_work_array_reused_and_fresh_arrays_agree_with_the_loop(monkeypatch):
    """One tensor's errors go through a work array kept between calls (grown for a bigger tensor, then reused in
    part by smaller ones), or a fresh array above balanced._KEPT values: the integers are the loop's either way."""
    from edgequant.quantizer import balanced

    rng = np.random.default_rng(11)
    cases = [("CONV_2D", (24, 3, 3, 40), 0), ("CONV_2D", (6, 3, 3, 5), 0), ("FULLY_CONNECTED", (9, 70), 0),
             ("CONV_2D", (4, 5, 5, 3), None)]
    for kept in (balanced._KEPT, 0):
        monkeypatch.setattr(balanced, "_KEPT", kept)
        for op, shape, axis in cases:
            w = rng.standard_normal(shape).astype(np.float32)
            if axis is None:
                scale = np.float32(np.abs(w).max() * 0.8 / 127)
            else:
                scale = (np.abs(w.reshape(shape[0], -1)).max(1) * 0.8 / 127).astype(np.float32)
            np.testing.assert_array_equal(balanced_ints(w, scale, axis, op, -127, 127),
                                          _reference(w, scale, axis, op))
