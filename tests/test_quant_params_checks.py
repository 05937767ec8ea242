"""QuantParams' validation (array methods now, not np.all/np.any) and the integer ranges, edge by edge."""

from __future__ import annotations

import numpy as np
import pytest

from edgequant.quantization import QuantizationError, QuantParams, choose_qparams


@pytest.mark.parametrize("scale", [np.inf, -np.inf, np.nan, 0.0, -0.5, [0.1, np.nan], [0.1, 0.0], [np.inf, 1.0]])
def test_bad_scales_are_refused(scale):
    axis = 0 if np.ndim(scale) else None
    zp = np.zeros(np.shape(scale), np.int64)
    with pytest.raises(QuantizationError, match="finite and > 0"):
        QuantParams(np.asarray(scale, np.float32), zp, axis)


@pytest.mark.parametrize("zp, bits, signed, narrow, ok", [
    ([-128, 127], 8, True, False, True), ([-128, 0], 8, True, True, False), ([-127, 127], 8, True, True, True),
    ([0, 255], 8, False, False, True), ([0, 256], 8, False, False, False), ([-1, 3], 8, False, False, False),
    ([-8, 7], 4, True, False, True), ([-8, 8], 4, True, False, False), ([0, 65535], 16, False, True, True)])
def test_zero_points_must_lie_in_the_integer_range(zp, bits, signed, narrow, ok):
    make = lambda: QuantParams(np.full(2, 0.1, np.float32), np.array(zp), 0, bits, signed, narrow)
    if ok:
        qp = make()
        lo = 0 if not signed else -(2 ** (bits - 1)) + narrow
        hi = 2 ** bits - 1 if not signed else 2 ** (bits - 1) - 1
        assert (qp.qmin, qp.qmax) == (lo, hi)
    else:
        with pytest.raises(QuantizationError, match="zero point outside"):
            make()


def test_empty_per_channel_params_are_accepted_and_choose_qparams_ranges():
    qp = QuantParams(np.zeros(0, np.float32), np.zeros(0, np.int64), 0)
    assert qp.scale.size == 0
    assert (choose_qparams(np.ones(4, np.float32), bits=8, symmetric=True).qmin,
            choose_qparams(np.ones(4, np.float32), bits=8, signed=False).qmax) == (-127, 255)
