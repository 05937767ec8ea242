"""The alternative layouts the convolution kernels read (tests/test_kernels.py runs the kernels on goldens;
these pin the layouts themselves against the plain padded input)."""

from __future__ import annotations

import numpy as np
import pytest

from edgequant.errors import ModelFormatError
from edgequant.kernels import _common
from edgequant.kernels._common import SAME, VALID, Window

WINDOWS = [(10, 4, 2, 2, 1, 1, SAME), (3, 1, 1, 1, 1, 1, VALID), (5, 2, 1, 2, 2, 1, SAME), (4, 3, 3, 1, 1, 2, VALID),
           (3, 3, 2, 2, 1, 1, SAME), (3, 3, 2, 2, 1, 1, VALID), (2, 2, 2, 2, 1, 1, SAME), (5, 5, 2, 2, 1, 1, SAME),
           (1, 1, 2, 2, 1, 1, VALID), (3, 3, 1, 2, 1, 1, SAME)]


@pytest.mark.parametrize("kh,kw,sh,sw,dh,dw,pad", WINDOWS)
@pytest.mark.parametrize("h,w", [(13, 11), (12, 12), (7, 8)])
def test_transposed_patches_are_the_same_patches(kh, kw, sh, sw, dh, dw, pad, h, w):
    win = Window.make(pad, h, w, kh, kw, sh, sw, dh, dw)
    x = np.random.default_rng(1).standard_normal((3, h, w, 2)).astype(np.float32)
    xp = win.padded(x, 0)
    xt = win.padded(x, 0, transposed=True)
    np.testing.assert_array_equal(xt, xp.transpose(0, 2, 1, 3))
    np.testing.assert_array_equal(win.im2col_transposed(xt).transpose(0, 1, 2, 4, 3, 5), win.im2col(xp))


@pytest.mark.parametrize("kh,kw,sh,sw,dh,dw,pad", WINDOWS)
@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.float64])
def test_patch_matrix_copies_the_im2col_rows(kh, kw, sh, sw, dh, dw, pad, dtype):
    """patch_matrix copies contiguous runs as void elements where it can: same rows as the strided views,
    for both layouts, with and without dilation, 1 and 3 channels, and a slice of samples (as conv blocks)."""
    for c in (1, 3):
        win = Window.make(pad, 13, 11, kh, kw, sh, sw, dh, dw)
        x = (np.random.default_rng(5).standard_normal((4, 13, 11, c)) * 50).astype(dtype)
        m = 4 * win.out_h * win.out_w
        xp = win.padded(x, 0)
        xt = win.padded(x, 0, transposed=True)
        for k in (slice(None), slice(1, 3)):
            mk = m // 4 * len(range(4)[k])
            for void_from in (0, 1 << 30):  # void copies, strided copies
                got = win.patch_matrix(xp[k], void_from=void_from)
                assert got.flags.c_contiguous and got.dtype == dtype
                np.testing.assert_array_equal(got, win.im2col(xp[k]).reshape(mk, -1))
                np.testing.assert_array_equal(win.patch_matrix(xt[k], transposed=True, void_from=void_from),
                                              win.im2col_transposed(xt[k]).reshape(mk, -1))


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


def _nonempty(kh, kw, sh, dh, dw, pad, h, w) -> bool:
    try:
        Window.make(pad, h, w, kh, kw, sh, 1, dh, dw)
    except ModelFormatError:
        return False
    return True


ROW_CASES = [(*win, h, w) for win in ROW_WINDOWS for h, w in [(25, 5), (7, 8), (3, 2), (1, 1), (12, 11)]
             if _nonempty(*win, h, w)]  # VALID windows larger than the input have no output to compare


@pytest.mark.parametrize("kh,kw,sh,dh,dw,pad,h,w", ROW_CASES)
def test_row_taps_sum_like_the_padded_taps_to_the_bit(kh, kw, sh, dh, dw, pad, h, w):
    """The depthwise path without padding along W: same float sums as accumulate_taps over the padded input,
    on values whose sums depend on the order, so a wrong, missing or extra tap shows."""
    win = Window.make(pad, h, w, kh, kw, sh, 1, dh, dw)
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


@pytest.mark.parametrize("shape", [(65, 25, 5, 64), (3, 7, 7, 1280), (2, 1, 1, 8), (1, 5, 5, 64), (4, 3, 2, 256),
                                   (3, 2, 2, 257), (5, 6, 6, 1)])
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


@pytest.mark.parametrize("column", [0, -1, 2])
@pytest.mark.parametrize("value", [np.inf, np.nan])
def test_float_depthwise_with_inf_or_nan_at_a_row_edge_matches_litert(column, value):
    """row_taps gives off-row taps weight zero, and 0 * inf is NaN: with a non-finite value where a neighbouring
    row's taps read, the kernel must take the padded path, whose outputs LiteRT's reference kernel shares."""
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    from pathlib import Path

    from edgequant import Interpreter

    golden = Path(__file__).resolve().parent / "data" / "goldens" / "dw_f32_same_m1_relu.npz"
    with np.load(golden, allow_pickle=False) as z:
        model, x = z["model"].tobytes(), z["in0"].copy()
    x[0, x.shape[1] // 2, column, 0] = value
    ref = litert.Interpreter(model_content=model, experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF)
    ref.allocate_tensors()
    i, o = ref.get_input_details()[0], ref.get_output_details()[0]
    want = []
    for k in range(len(x)):
        ref.set_tensor(i["index"], x[k:k + 1])
        ref.invoke()
        want.append(ref.get_tensor(o["index"]).copy())
    want = np.concatenate(want)
    got = Interpreter(model).run([x])[0]
    # LiteRT's fused RELU clamps to [0, FLT_MAX], so an inf leaves it as FLT_MAX; ours keeps inf (no clamp pass
    # for the upper bound). Everything else, NaNs included, must be where LiteRT has it.
    big = np.finfo(np.float32).max
    got = np.where(np.isinf(got), np.sign(got) * big, got).astype(np.float32)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)  # NaNs compare equal here
    win = Window.make(SAME, x.shape[1], x.shape[2], 3, 3, 1, 1)
    assert win.row_edges_finite(x) == (column == 2)  # a middle column is never read across rows


@pytest.mark.parametrize("bulk", [True, False])
@pytest.mark.parametrize("kh,kw,sh,dh,dw,pad,h,w", [c for c in ROW_CASES if c[7] > 1][:40])
def test_row_edges_finite_sees_exactly_the_columns_other_rows_read(kh, kw, sh, dh, dw, pad, h, w, bulk, monkeypatch):
    """Brute force: an inf in column j of any row (first, middle, last, of any sample) must be reported
    exactly when j is one of the last pad_left or first right-padding columns. ``bulk``: the seams summed
    by BLAS (what large batches take), else by numpy's reduction."""
    monkeypatch.setattr(_common, "_BULK_MIN", 0 if bulk else 1 << 30)
    win = Window.make(pad, h, w, kh, kw, sh, 1, dh, dw)
    cols = [ow + j * dw - win.pad_left for ow in range(win.out_w) for j in range(kw)]  # input column per tap
    read_across = {c + w for c in cols if c < 0} | {c - w for c in cols if c >= w}  # a neighbouring row's
    base = np.ones((2, h, w, 3), np.float32)
    assert win.row_edges_finite(base)
    for n_, r in ((0, 0), (0, h - 1), (1, 0), (1, h // 2), (1, h - 1)):
        for j in range(w):
            x = base.copy()
            x[n_, r, j, 1] = np.nan if j % 2 else -np.inf
            assert win.row_edges_finite(x) == (j not in read_across), (n_, r, j)
