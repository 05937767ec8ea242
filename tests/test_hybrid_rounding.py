"""The hybrid kernels' fast float32 rounding equals qmath's TFLite rounding (round half away from zero)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from edgequant import qmath
from edgequant.kernels._hybrid import round_half_away_f32


def _check(v: np.ndarray) -> None:
    want = qmath.round_half_away(v.astype(np.float32))
    got = round_half_away_f32(v.astype(np.float32).copy())
    np.testing.assert_array_equal(got, want)
    assert np.array_equal(np.signbit(got), np.signbit(want))  # -0.4 rounds to -0.0 in both


def test_every_tie_below_2_to_the_16_and_its_neighbours():
    k = np.arange(-(1 << 16), 1 << 16, dtype=np.float32)
    ties = k + np.float32(0.5)
    for v in (ties, np.nextafter(ties, np.float32(np.inf)), np.nextafter(ties, np.float32(-np.inf))):
        _check(v)


def test_large_ties_and_signed_zero():
    k = np.array([2**22 - 1, 2**22 - 2, -(2**22 - 1), 2**23 - 1], np.float32)
    _check(np.concatenate([k + np.float32(0.5), np.array([0.0, -0.0, 0.4, -0.4, 2**24, -(2**24)], np.float32)]))


@settings(max_examples=300, deadline=None)
@given(arrays(np.float32, st.integers(1, 64), elements=st.floats(-1e9, 1e9, width=32)))
def test_random_float32(v):
    _check(v)
