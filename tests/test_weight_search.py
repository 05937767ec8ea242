"""The "mse" weight-scale search (edgequant/quantizer/weights.py) against an exhaustive search written here.

The search evaluates ratios 1.0 to 0.9775 of every channel and widens one ratio at a time where the best is near
the last it looked at; these tests hold its choice against the plain minimum over every ratio of the grid, on the
weights the quantizer really sees (the digits fixtures and, when ../shared is present, the MLPerf Tiny float
models of benchmarks/bench_weight_modes.py): the same scales, so the written files are unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import MODELS as SHARED_MODELS

import edgequant as eq
from edgequant.quantizer import Recipe, quantize
from edgequant.quantizer import weights as W

FIX = Path(__file__).resolve().parent / "data" / "fixtures"
BENCH_MODELS = [FIX / "digits_cnn.tflite", FIX / "digits_resnet.tflite"] + [
    SHARED_MODELS / f"mlperf_tiny_{n}.tflite"
    for n in ("vww_96_float", "ic_resnet8_float", "ic_resnet_large_float", "ad01_fc_autoencoder_fp32")]


def _rows(w: np.ndarray, axis: int | None, channels: int) -> np.ndarray:
    w = np.asarray(w, np.float32)
    return w.reshape(1, -1) if axis is None else np.moveaxis(w, axis, 0).reshape(channels, -1)


def _exhaustive(w: np.ndarray, scale: np.ndarray, axis: int | None) -> np.ndarray:
    """Every grid ratio, one at a time: float32 reciprocal multiply, ties-to-even rounding, clamp to [-127, 127],
    float64 sum of squared differences times scale**2; the first (widest) minimum over ratios below 1.0, kept
    only if strictly below ratio 1.0's error."""
    s0 = np.atleast_1d(np.asarray(scale, np.float32))
    rows = _rows(w, axis, s0.size)
    errs = []
    for r in W._GRID:
        s = np.maximum(s0 * r, np.finfo(np.float32).tiny)
        t = rows * (np.float32(1) / s)[:, None]
        d = (t - np.clip(np.rint(t), -127, 127)).astype(np.float64)
        errs.append(np.sum(d * d, axis=1) * s.astype(np.float64) ** 2)
    errs = np.array(errs)  # (grid, C)
    k = 1 + np.argmin(errs[1:], axis=0)
    k = np.where(errs[k, np.arange(s0.size)] < errs[0], k, 0)
    return np.maximum(s0 * W._GRID[k], np.finfo(np.float32).tiny).reshape(np.shape(scale))


def test_grid_holds_every_ratio_of_the_two_stage_search():
    # the former search: coarse 1.0, 0.95, ..., 0.5, then +-0.0025 * k (k <= 10) around one, clipped to [0.5, 1]
    seen = {}
    for coarse in np.linspace(1.0, 0.5, 11):
        for f in [0.0] + [d for k in range(1, 11) for d in (0.0025 * k, -0.0025 * k)]:
            r = np.float32(np.clip(coarse + f, 0.5, 1.0))
            i = round((1.0 - float(r)) / 0.0025)
            assert seen.setdefault(i, r) == r  # neighbouring coarse ratios reach a point as the same float32
    assert len(seen) == W._GRID.size == 201
    np.testing.assert_array_equal(W._GRID, [seen[i] for i in range(201)])


@pytest.mark.parametrize("path", BENCH_MODELS, ids=lambda p: p.stem)
def test_search_finds_the_exhaustive_minimum_on_the_benchmark_models(path, monkeypatch):
    if not path.exists():
        pytest.skip(f"{path} absent")
    seen = []
    search = W._mse_rows

    def record(rows_list, s0_list, qmin, qmax):  # (C, N) rows of each weight tensor, min/max scales (C,)
        out = search(rows_list, s0_list, qmin, qmax)
        seen.extend((np.array(rows), np.array(s0), 0, got) for rows, s0, got in zip(rows_list, s0_list, out))
        return out

    monkeypatch.setattr(W, "_mse_rows", record)
    quantize(eq.load_file(path), Recipe.preset("weight_only_int8", weight_range="mse"), None)
    assert seen, "the mse recipe searched no weight scales"
    for w, scale, axis, got in seen:
        np.testing.assert_array_equal(got, _exhaustive(w, scale, axis))


def test_searching_tensors_together_gives_each_its_own_scales():
    # Small tensors of different channel lengths share one zero-padded search; a big one runs alone.
    rng = np.random.default_rng(1)
    shapes = [((8, 3, 3, 3), 0), ((1, 3, 3, 16), 3), ((24, 40), 0), ((300,), None), ((96, 700), 0)]
    items = []
    for shape, axis in shapes:
        w = (rng.standard_t(4, shape) * 0.05).astype(np.float32)
        items.append((w, W.weight_params(w, axis).scale, axis))
    together = W.mse_scales_many(items, -127, 127)
    for (w, scale, axis), got in zip(items, together):
        np.testing.assert_array_equal(got, W.mse_scales(w, scale, axis, -127, 127))
        assert got.shape == np.shape(scale) and np.all(_error(w, got, axis) <= _error(w, scale, axis))


def test_trials_without_the_clamp_match_the_clamped_ones():
    # _window_errors rounds without the clamp and adds it back for the weights that can reach it; every ratio it
    # serves (>= 0.94), outliers included, must give the clamped errors of _errors up to float32 summation.
    rng = np.random.default_rng(2)
    rows = (rng.standard_normal((40, 900)) * 0.1).astype(np.float32)
    rows[:, ::97] *= 4  # a few clipping candidates per channel, of both signs
    rows[3] = 0  # an all-zero channel
    s0 = np.maximum(np.abs(rows).max(axis=1) / np.float32(127), np.float32(1e-8)).astype(np.float32)
    last = int(np.flatnonzero(W._GRID >= W._SPLIT_RATIO + 0.01)[-1])
    idx = np.broadcast_to(np.arange(last + 1)[:, None], (last + 1, 40))
    fast = W._window_errors(rows, s0, idx, 127)
    slow = W._errors(rows, s0, idx, -127, 127, exact=True)
    np.testing.assert_allclose(fast, slow, rtol=(900 + 2) * 2.0**-24, atol=0)
    assert np.any(fast[last] > fast[1])  # clipping did cost something at the smallest ratios


def test_float32_sums_too_close_to_call_go_to_float64():
    # Channel 0: every weight a multiple of max / 127, so ratio 1.0 has (almost) no error and keeps its scale.
    # Channel 1: all zeros, every ratio errs exactly 0: a tie float32 cannot call, decided in float64 (ratio
    # 1.0 stays). Channel 2: heavy tails, a clear winner below 1.0.
    rng = np.random.default_rng(0)
    w = np.zeros((3, 600), np.float32)
    w[0] = np.resize(np.arange(-127, 128, dtype=np.float32), 600) * np.float32(0.01)
    w[2] = (rng.standard_t(2, 600) * 0.05).astype(np.float32)
    s0 = np.maximum(np.abs(w).max(axis=1) / np.float32(127), np.float32(1e-8)).astype(np.float32)
    got = W.mse_scales(w, s0, 0, -127, 127)
    np.testing.assert_array_equal(got, _exhaustive(w, s0, 0))
    assert got[0] == s0[0] and got[1] == s0[1] and got[2] < s0[2]
    rows = _rows(w, 0, 3)
    *_, unsure = W._search(rows, s0, -127, 127)
    assert 1 in unsure and 2 not in unsure  # channel 1's decision really came from the float64 path


@pytest.mark.parametrize("shape, axis", [((200_000,), None), ((4, 50_000), 0)])
def test_channels_whose_optimum_lies_far_from_min_max_are_reached_by_widening(shape, axis):
    # Many Gaussian weights with scattered 3x outliers: clipping pays, the optimum lies at ratios 0.75 to 0.9,
    # far beyond the first window; the search walks there one ratio at a time.
    rng = np.random.default_rng(0)
    w = (rng.standard_normal(shape) * 0.1).astype(np.float32)
    w.reshape(-1)[::997] *= 3
    s0 = np.abs(w).max(axis=None if axis is None else 1) / np.float32(127)
    s0 = np.asarray(s0, np.float32)
    got = W.mse_scales(w, s0, axis, -127, 127)
    best = _exhaustive(w, s0, axis)
    assert np.all(got / s0 < 0.95)
    assert np.all(_error(w, got, axis) <= 1.01 * _error(w, best, axis))  # a local search: within 1 %
    assert np.all(_error(w, got, axis) < _error(w, s0, axis))  # and clearly better than min/max


def _error(w: np.ndarray, scale: np.ndarray, axis: int | None) -> np.ndarray:
    s = np.atleast_1d(np.asarray(scale, np.float32))
    t = _rows(w, axis, s.size) * (np.float32(1) / s)[:, None]
    d = (t - np.clip(np.rint(t), -127, 127)).astype(np.float64)
    return np.sum(d * d, axis=1) * s.astype(np.float64) ** 2
