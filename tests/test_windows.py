"""The alternative layouts the convolution kernels read (tests/test_kernels.py runs the kernels on goldens;
these pin the layouts themselves against the plain padded input)."""

from __future__ import annotations

import numpy as np
import pytest

from edgequant.errors import ModelFormatError
from edgequant.kernels._common import SAME, VALID, Window

WINDOWS = [(10, 4, 2, 2, 1, 1, SAME), (3, 1, 1, 1, 1, 1, VALID), (5, 2, 1, 2, 2, 1, SAME), (4, 3, 3, 1, 1, 2, VALID),
           (3, 3, 2, 2, 1, 1, SAME), (3, 3, 2, 2, 1, 1, VALID), (2, 2, 2, 2, 1, 1, SAME), (5, 5, 2, 2, 1, 1, SAME),
           (1, 1, 2, 2, 1, 1, VALID), (3, 3, 1, 2, 1, 1, SAME)]


@pytest.mark.parametrize("kh,kw,sh,sw,dh,dw,pad", WINDOWS)
@pytest.mark.parametrize("h,w", [(13, 11), (12, 12), (7, 8)])
def test_transposed_patches_are_the_same_patches(kh, kw, sh, sw, dh, dw, pad, h, w):
    win = Window.make(pad, h, w, kh, kw, sh, sw, dh, dw)
    xp = win.padded(np.random.default_rng(1).standard_normal((3, h, w, 2)).astype(np.float32), 0)
    np.testing.assert_array_equal(win.im2col_transposed(xp).transpose(0, 1, 2, 4, 3, 5), win.im2col(xp))


@pytest.mark.parametrize("kh,kw,sh,sw,dh,dw,pad", WINDOWS)
@pytest.mark.parametrize("h,w", [(13, 11), (12, 12), (7, 8)])
def test_tap_input_is_the_padded_input_or_its_column_phases(kh, kw, sh, sw, dh, dw, pad, h, w):
    win = Window.make(pad, h, w, kh, kw, sh, sw, dh, dw)
    x = np.random.default_rng(2).integers(-128, 128, (2, h, w, 3)).astype(np.int8)
    xp = win.padded(x, 5)
    got = win.tap_input(x, 5, np.int32)
    if sw == 2 and dw == 1:
        assert isinstance(got, tuple) and all(a.dtype == np.int32 for a in got)
        for q in range(2):
            np.testing.assert_array_equal(got[q], xp[:, :, q::2, :])
    else:
        np.testing.assert_array_equal(got, xp)


@pytest.mark.parametrize("kh,kw,sh,sw,dh,dw,pad", WINDOWS)
def test_depthwise_taps_from_phases_equal_the_tap_by_tap_sum(kh, kw, sh, sw, dh, dw, pad):
    win = Window.make(pad, 12, 11, kh, kw, sh, sw, dh, dw)
    rng = np.random.default_rng(3)
    x = rng.integers(-128, 128, (2, 12, 11, 4)).astype(np.int32)
    wk = rng.integers(-127, 128, (kh, kw, 4)).astype(np.int32)
    want = sum(tap.astype(np.int64) * wk[i, j] for i, j, tap in win.taps(win.padded(x, 0)))
    np.testing.assert_array_equal(win.accumulate_taps(win.tap_input(x, 0), wk), want)


ROW_WINDOWS = [(3, 3, 1, 1, 1, SAME), (3, 3, 1, 1, 1, VALID), (3, 3, 2, 1, 1, SAME), (5, 5, 1, 1, 1, SAME),
               (3, 3, 1, 2, 2, SAME), (1, 3, 1, 1, 1, SAME), (3, 1, 1, 1, 1, SAME), (4, 2, 1, 1, 1, SAME),
               (2, 4, 3, 1, 2, SAME), (4, 3, 1, 1, 2, VALID), (7, 7, 1, 1, 1, SAME)]


@pytest.mark.parametrize("kh,kw,sh,dh,dw,pad", ROW_WINDOWS)
@pytest.mark.parametrize("h,w", [(25, 5), (7, 8), (3, 2), (1, 1), (12, 11)])
def test_row_taps_sum_like_the_padded_taps_to_the_bit(kh, kw, sh, dh, dw, pad, h, w):
    """The depthwise path without padding along W: same float sums as accumulate_taps over the padded input,
    on values whose sums depend on the order, so a wrong, missing or extra tap shows."""
    try:
        win = Window.make(pad, h, w, kh, kw, sh, 1, dh, dw)
    except ModelFormatError:
        pytest.skip("empty output")
    rng = np.random.default_rng(4)
    x = (rng.normal(size=(3, h, w, 5)) * np.exp(3 * rng.normal(size=(3, h, w, 5)))).astype(np.float32)
    wk = rng.normal(size=(kh, kw, 5)).astype(np.float32)
    # output rows per inner loop: one, every divisor of OH that row_group allows, the default choice
    groups = {1, win.row_group(5)} | {win.row_group(5, budget) for budget in range(kh * kw * 5, 2000, 97)}
    assert all(win.out_h % g == 0 for g in groups)
    for planted in (False, True):
        if planted:  # the taps outside a row read the neighbouring rows' edges: those must carry weight zero
            x[:, :, [0, -1]] = np.float32(1e30)
        want = win.accumulate_taps(win.tap_input(x, 0), wk)
        for g in sorted(groups):
            np.testing.assert_array_equal(win.row_taps(x, win.masked_tiled_taps(wk, g)), want, err_msg=f"G={g}")


@pytest.mark.parametrize("shape", [(65, 25, 5, 64), (3, 7, 7, 1280), (2, 1, 1, 8)])
def test_global_average_pool_sums_like_the_tap_loop_to_the_bit(shape):
    """AVERAGE_POOL_2D's one-reduction path for a global window keeps the reference's float summation order."""
    from edgequant.kernels.average_pool_2d import AveragePool2D

    rng = np.random.default_rng(0)
    x = (rng.normal(size=shape) * np.exp(3 * rng.normal(size=shape))).astype(np.float32)  # order-sensitive sums
    win = Window.make(VALID, shape[1], shape[2], shape[1], shape[2], 1, 1)
    want = None
    for _, _, tap in win.taps(win.padded(x, 0)):
        want = tap.copy() if want is None else np.add(want, tap, out=want)
    got = AveragePool2D._sum(win, x)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)
