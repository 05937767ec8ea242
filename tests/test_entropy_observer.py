"""The entropy (KL) observer on the distributions that broke it: a ReLU's zero spike, and data with few distinct
values. Each case failed before the fix (old thresholds in the comments)."""

from pathlib import Path

import numpy as np

import edgequant as eq
from edgequant.calibration import make_observer
from edgequant.calibration.entropy import kl_threshold_bin
from edgequant.quantization import sqnr_db

FIX = Path(__file__).parent / "data" / "fixtures"


def _range(x: np.ndarray) -> tuple[float, float]:
    o = make_observer("entropy")
    o.update(x)
    return o.range()


def test_a_relu_zero_spike_does_not_pull_the_threshold_down():
    """95% exact zeros (a deep ReLU): the spike made a small window the best; the threshold was 0.25, where the
    nonzero half-normal part has its 95th percentile at 1.97."""
    rng = np.random.default_rng(0)
    x = np.abs(rng.standard_normal(200_000)) * (rng.random(200_000) < 0.05)
    lo, hi = _range(x)
    assert lo == 0.0 and hi > np.percentile(x[x > 0], 95), hi


def test_few_distinct_values_are_not_clipped_to_the_first():
    """Pixels k/16 without zeros: a window holding one non-empty bin has KL 0 whatever it clips (the threshold
    was 1/16)."""
    x = np.repeat(np.arange(1, 17) / 16, 500)
    assert _range(x)[1] >= 15 / 16


def test_single_bin_windows_are_skipped():
    counts = np.zeros(1024)
    counts[[100, 300, 700]] = [50.0, 30.0, 20.0]
    assert kl_threshold_bin(counts, 128) > 300  # the first window holding two non-empty bins, or a later one


def test_only_zeros_give_an_empty_range():
    assert _range(np.zeros(100)) == (0.0, 0.0)


def test_entropy_calibrated_resnet_is_as_good_as_min_max():
    """digits_resnet int8 with --observer entropy: 14.9 dB output SQNR before (minmax 47.9)."""
    d = np.load(FIX / "digits_split.npz")
    m = eq.load_file(FIX / "digits_resnet.tflite")
    ref = eq.Interpreter(m).run(d["x_test"])[0]
    got = {}
    for obs in ("minmax", "entropy"):
        q = eq.quantize(m, eq.Recipe.int8(io="float", observer=obs), d["x_calib"])
        got[obs] = sqnr_db(ref, eq.Interpreter(q).run(d["x_test"])[0])
    assert got["entropy"] > got["minmax"] - 3.0, got
