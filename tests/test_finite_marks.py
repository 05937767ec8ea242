"""Hybrid CONV_2D marks outputs it proved finite (from its per-sample scaling factors), and the float depthwise
reading them skips its row-edge inf/NaN check. The proof must fail whenever an input could make an output
non-finite, and a mark must not survive a copy, a view or the array itself."""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import pytest

from edgequant.interpreter import Interpreter
from edgequant.kernels import _common
from edgequant.kernels._common import known_finite, mark_finite

KWS = Path(__file__).resolve().parents[2] / "shared" / "models" / "mlperf_tiny_kws_dscnn_float32.tflite"


def _kws():
    if not KWS.is_file():
        pytest.skip(f"{KWS} not available")
    it = Interpreter(KWS)
    steps = it._plan(0).steps
    return it, [s for s in steps if s.name == "CONV_2D"], [s for s in steps if s.name == "DEPTHWISE_CONV_2D"]


def _inputs(n: int) -> np.ndarray:
    return np.random.default_rng(3).standard_normal((n, 49, 10, 1)).astype(np.float32)


def test_marks_follow_the_array_not_its_copies():
    a = np.ones((2, 3), np.float32)
    assert not known_finite(a)
    mark_finite(a)
    assert known_finite(a)
    assert not known_finite(a.copy()) and not known_finite(a[:1]) and not known_finite(a.reshape(3, 2))
    key = id(a)
    del a
    gc.collect()
    assert key not in _common._FINITE  # the record goes with the array


def test_hybrid_conv_outputs_are_marked_only_when_proved_finite():
    it, convs, _ = _kws()
    xs = _inputs(6)
    _, inter = it.run([xs], keep_intermediates=True)
    assert all(known_finite(inter[s.outputs[0]]) for s in convs)
    conv0 = convs[0]
    for bad in (np.inf, -np.inf, np.nan, np.float32(1e-38)):  # the last: range too small for a finite 127/range
        ys = xs.copy()
        if bad == np.float32(1e-38):
            ys[2] = bad
        else:
            ys[2, 7, 3, 0] = bad
        with np.errstate(all="ignore"):
            out = conv0.kernel.eval(conv0.params, [ys])[0]
        assert not known_finite(out), bad
    # a scaling factor past the limit derived from the weights and bias is not proved either
    from edgequant.kernels.conv_2d import _proved_finite

    p = conv0.params
    assert _proved_finite(p, np.array([1.0, p.finite_limit / 2], np.float32))
    assert not _proved_finite(p, np.array([1.0, p.finite_limit * 2], np.float32))
    assert not _proved_finite(p, np.array([], np.float32))


def test_depthwise_gives_the_same_bits_with_and_without_the_mark():
    it, _, depthwise = _kws()
    xs = _inputs(40)  # one chunk: the intermediates are the kernels' own arrays
    _, inter = it.run([xs], keep_intermediates=True)
    for s in depthwise:
        x = inter[s.inputs[0]]
        assert known_finite(x)
        marked = s.kernel.eval(s.params, [x])[0]
        plain = s.kernel.eval(s.params, [x.copy()])[0]  # unmarked: takes the row-edge check
        np.testing.assert_array_equal(marked.view(np.uint32), plain.view(np.uint32))
        np.testing.assert_array_equal(marked.view(np.uint32), inter[s.outputs[0]].view(np.uint32))
