"""Pictures: the numbers behind them, and PNGs of the requested size (skipped without matplotlib)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from edgequant.quantization import QuantizationError, QuantParams, choose_qparams
from edgequant.viz import error, hist, ranges

SHARED = Path(__file__).resolve().parents[2] / "shared"
MODELS = SHARED / "models"
needs_shared = pytest.mark.skipif(not MODELS.is_dir(), reason="../shared/models is absent (not in a fresh clone)")


def has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


needs_mpl = pytest.mark.skipif(not has_matplotlib(), reason="matplotlib not installed (pip install 'edgequant[plot]')")


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


# ---- data functions ----------------------------------------------------------------------------
def test_tensor_histogram_grid_and_clip():
    x = np.linspace(-1, 1, 1001)
    qp = choose_qparams(x, bits=3, symmetric=True)  # [-3, 3]: 7 levels
    h = hist.tensor_histogram(x, bins=10, qp=qp)
    assert h["counts"].sum() == 1001 and len(h["edges"]) == 11
    np.testing.assert_allclose(h["grid"], np.linspace(-1, 1, 7), atol=1e-6)
    np.testing.assert_allclose(h["clip"], (-1, 1), atol=1e-6)
    h8 = hist.tensor_histogram(x, qp=choose_qparams(x))
    assert h8["grid"] is None and h8["clip"] is not None  # 256 levels: too many lines to draw
    with pytest.raises(QuantizationError):
        hist.tensor_histogram(np.array([]))


def test_channel_ranges_and_error_data():
    w = np.stack([np.linspace(-0.01, 0.01, 50), np.linspace(-5, 5, 50)])
    lo, hi = ranges.channel_ranges(w, 0)
    np.testing.assert_allclose(lo, [-0.01, -5]) and np.testing.assert_allclose(hi, [0.01, 5])
    with pytest.raises(QuantizationError):
        ranges.channel_ranges(w, 2)
    d = error.reconstruction_error(np.random.default_rng(0).standard_normal(50_000), QuantParams(0.05, 0), bins=20)
    assert len(d["x"]) == 20_000 and d["error_counts"].sum() == 50_000
    # values inside [-6.4, 6.35] err by at most half a step
    inside = np.abs(d["x"]) < 6.3
    assert np.all(np.abs(d["y"][inside] - d["x"][inside]) <= 0.025 + 1e-6)


# ---- figures -----------------------------------------------------------------------------------
@needs_mpl
def test_plot_histogram_writes_png_of_requested_size(tmp_path):
    x = np.random.default_rng(0).standard_normal(10_000)
    out = hist.plot_histogram(x, tmp_path / "h.png", bins=50, log=True, qp=choose_qparams(x, bits=4), size=(640, 480))
    assert png_size(out) == (640, 480) and out.stat().st_size > 1000
    assert not list(tmp_path.glob(".*tmp"))  # the temp file was renamed, not left behind


@needs_mpl
def test_plot_error_writes_png(tmp_path):
    x = np.random.default_rng(0).laplace(size=5000)
    out = error.plot_error(x, choose_qparams(x, bits=4), tmp_path / "e.png", size=(900, 400))
    assert png_size(out) == (900, 400)


# ---- models ------------------------------------------------------------------------------------
@needs_shared
def test_model_weight_values_dequantizes_by_real_dtype():
    import edgequant as eq

    m = eq.load_file(MODELS / "mlperf_tiny_ic_resnet8_int8.tflite")
    d = hist.model_weight_values(m)
    assert d["weights"].dtype == np.float32 and d["weights"].size > 70_000
    # int8 per-channel weights dequantized: real weights are small, never reinterpreted bytes
    assert np.abs(d["weights"]).max() < 10 and d["biases"].size > 0
    names = {n for (_, _, n, _, _) in d["tensors"]}
    assert all(t != "int32" for (*_, t, _) in d["tensors"])
    assert names  # every used tensor is listed
    f = eq.load_file(MODELS / "mlperf_tiny_ic_resnet8_float.tflite")
    df = hist.model_weight_values(f)
    # the float twin has the same number of weights, with similar spread
    assert df["weights"].size + df["biases"].size >= d["weights"].size


@needs_shared
def test_layer_channel_ranges_on_real_model():
    import edgequant as eq

    m = eq.load_file(MODELS / "tflm_person_detect_int8.tflite")
    layers = ranges.layer_channel_ranges(m)
    assert len(layers) > 20
    dw = [L for L in layers if L["op_name"] == "DEPTHWISE_CONV_2D"]
    assert dw and all(L["axis"] == 3 for L in dw)
    assert max(L["spread"] for L in layers) > 10  # channels differ by >10x: per-channel matters
    assert all(np.all(L["mins"] <= L["maxs"]) for L in layers)


@needs_shared
@needs_mpl
def test_cli_hist_and_ranges(tmp_path, capsys):
    from edgequant.cli import main

    model = str(MODELS / "mlperf_tiny_kws_dscnn_int8.tflite")
    assert main(["hist", model, "--log", "--size", "700x400", "-o", str(tmp_path / "a.png")]) == 0
    assert png_size(tmp_path / "a.png") == (700, 400)
    assert main(["hist", model, "--tensor", "1", "--bins", "30", "-o", str(tmp_path / "b.png")]) == 0
    assert png_size(tmp_path / "b.png") == (900, 500)
    assert main(["ranges", model, "-o", str(tmp_path / "c.png")]) == 0
    assert png_size(tmp_path / "c.png") == (1200, 500)
    capsys.readouterr()
    assert main(["hist", model, "--tensor", "no_such_tensor", "-o", str(tmp_path / "d.png")]) == 2
    assert "error: no tensor named" in capsys.readouterr().err
    assert main(["hist", model, "--tensor", "99999", "-o", str(tmp_path / "d.png")]) == 2
    assert main(["hist", model, "--size", "big", "-o", str(tmp_path / "d.png")]) == 2
    assert main(["hist", str(tmp_path / "missing.tflite"), "-o", str(tmp_path / "d.png")]) == 2
    assert not (tmp_path / "d.png").exists()


@needs_shared
def test_cli_hist_on_an_activation_tensor_is_a_clean_error(tmp_path, capsys):
    import edgequant as eq
    from edgequant.cli import main

    path = MODELS / "tflm_hello_world_int8.tflite"
    m = eq.load_file(path)
    act = next(i for i, t in enumerate(m.subgraphs[0].tensors) if not t.is_constant)
    assert main(["hist", str(path), "--tensor", str(act), "-o", str(tmp_path / "x.png")]) == 2
    assert "no stored values" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_blockwise_scales_are_not_plotted_as_weights():
    """hist plotted litert_blockwise_quantized's 'scales' tensor as the model's weights ("1 tensors, 2 values")."""
    from edgequant import load_file

    path = MODELS / "litert_blockwise_quantized.tflite"
    if not path.exists():
        pytest.skip(f"{path} is not here (../shared/models)")
    data = hist.model_weight_values(load_file(path))
    assert "scales" not in [name for _, _, name, _, _ in data["tensors"]]
    assert (0, 0, "scales", "blockwise scales of 'quantized_tensor'") in data["skipped"]
