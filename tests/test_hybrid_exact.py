"""Hybrid (int8 weights, float activations) convolutions stay bit-identical to LiteRT's reference kernels
layer by layer, not only within the float tolerance of tests/test_models.py: every intermediate of the
MLPerf Tiny KWS hybrid model through batched run(), against BUILTIN_REF with all tensors preserved.
Plus the row-wise tie rounding the fast path relies on."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgequant import qmath
from edgequant.interpreter import Interpreter
from edgequant.kernels._hybrid import round_half_away_f32

KWS = Path(__file__).resolve().parents[2] / "shared" / "models" / "mlperf_tiny_kws_dscnn_float32.tflite"


def _check_rows(v: np.ndarray) -> None:
    want = qmath.round_half_away(v)
    got = round_half_away_f32(v.copy())
    np.testing.assert_array_equal(got, want)
    assert np.array_equal(np.signbit(got), np.signbit(want))


def test_ties_in_some_rows_of_a_matrix():
    rng = np.random.default_rng(0)
    v = (rng.standard_normal((9, 300)) * 40).astype(np.float32)
    v[1, 7] = 2.5  # rint goes down to 2: must become 3
    v[1, 8] = 3.5  # rint goes up to 4: already away from zero
    v[4, 0] = -2.5  # rint goes up to -2: must become -3
    v[4, 299] = -0.5  # rint gives -0.0: must become -1
    v[6, 100] = 0.5  # rint gives 0: must become 1
    v[6, 101] = -126.5
    v[8] = np.float32(0.5) + np.arange(-150, 150, dtype=np.float32)  # a row of nothing but ties
    _check_rows(v)
    _check_rows(v[:, :1])  # one column
    _check_rows(v[0])  # one row, 1-D


def test_nonnegative_rows_only_fix_positive_ties():
    v = np.float32(0.5) + np.arange(0, 300, dtype=np.float32).reshape(3, 100)  # every value a tie
    v[1, ::3] = np.float32(0)
    v[2] = np.nextafter(v[2], np.float32(0))  # just below the ties
    want = qmath.round_half_away(v)
    np.testing.assert_array_equal(round_half_away_f32(v.copy(), nonnegative=True), want)


def test_nonnegative_rounding_on_every_tie_below_2_to_the_16_and_its_neighbours():
    ties = np.float32(0.5) + np.arange(0, 1 << 16, dtype=np.float32)
    below = np.nextafter(ties, np.float32(0))
    above = np.nextafter(ties, np.float32(np.inf))
    # 0.5 - 2**-25 is the one value where floor(v + 0.5) would be wrong (the sum rounds up to 1.0)
    odd = np.array([0.0, 0.5 - 2.0**-25, 2.0**-149, 2.0**22 - 0.5, 2.0**22 + 0.5, 2.0**23 - 1, 2.0**24 + 2,
                    3.4e38], np.float32)
    for v in (ties, below, above, odd, ties.reshape(256, 256)):
        np.testing.assert_array_equal(round_half_away_f32(v.copy(), nonnegative=True), qmath.round_half_away(v))


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_nonnegative_rounding_on_random_bit_patterns(seed):
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 0x7F800000, 4096, dtype=np.uint32)  # every finite float32 >= 0
    small = (rng.random(4096) * 300).astype(np.float32)  # the hybrid range, 0..127 and a bit beyond
    for v in (bits.view(np.float32), small, np.floor(small) + np.float32(0.5)):
        np.testing.assert_array_equal(round_half_away_f32(v.copy(), nonnegative=True), qmath.round_half_away(v))


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 12), st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_random_matrices_with_planted_ties(rows, cols, seed):
    rng = np.random.default_rng(seed)
    v = (rng.standard_normal((rows, cols)) * rng.choice([0.5, 3.0, 130.0])).astype(np.float32)
    ties = rng.random((rows, cols)) < 0.05
    v[ties] = np.floor(v[ties]) + np.float32(0.5)
    _check_rows(v)


def test_kws_hybrid_layers_match_litert_reference_bit_for_bit():
    if not KWS.is_file():
        pytest.skip(f"{KWS} not available")
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    model = KWS.read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = litert.Interpreter(model_content=model, experimental_preserve_all_tensors=True,
                                 experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF)
    ref.allocate_tensors()
    ours = Interpreter(model)
    plan = ours._plan(0)
    hybrid = [s for s in plan.steps if getattr(s.params, "kind", "") == "hybrid"]
    assert len(hybrid) == 5  # the manifest: every CONV_2D of this model has int8 weights
    # the first reads the model input; the others read RELU outputs and take the nonnegative fast path
    assert [s.params.input_nonnegative for s in hybrid] == [False, True, True, True, True]
    d = ref.get_input_details()[0]
    xs = np.random.default_rng(7).standard_normal([150] + list(d["shape"][1:])).astype(np.float32)
    xs[3] = 0  # all-zero sample: scaling factor 1, quantized zeros
    xs[5] *= np.float32(1e-6)
    # range exactly 127: the first conv quantizes with 127 / range == 1, so every other value is a tie k + 0.5
    xs[9] = np.random.default_rng(8).integers(-127, 127, xs[9].shape) + np.float32(0.5)
    xs[9].flat[0] = 127
    _, inter = ours.run([xs], keep_intermediates=True)  # 150 samples: several chunks
    for k in range(len(xs)):
        ref.set_tensor(d["index"], xs[k:k + 1])
        ref.invoke()
        for s in hybrid:
            i = s.outputs[0]
            np.testing.assert_array_equal(inter[i][k:k + 1], ref.get_tensor(i), err_msg=f"op {s.index}, sample {k}")
