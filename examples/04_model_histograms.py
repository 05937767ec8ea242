"""Lesson 4: log-scale weight histograms of several models side by side.

The lesson compared Inception v3, a text classifier and PoseNet; the MLPerf Tiny and tflite-micro
models stand in for them here. Every weight is dequantized by its real dtype (int8 per-channel with
its own scales), so float and int8 models share one axis without any filtering.

    python examples/04_model_histograms.py [-o models_hist.png] [MODEL ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import edgequant as eq
from edgequant.errors import EdgequantError
from edgequant.viz import new_figure, save_png
from edgequant.viz.hist import model_weight_values

SHARED = Path(__file__).resolve().parents[2] / "shared" / "models"
DEFAULT_MODELS = ["mlperf_tiny_kws_dscnn_int8.tflite", "mlperf_tiny_vww_96_float.tflite",
                  "mlperf_tiny_ic_resnet8_float.tflite", "mlperf_tiny_ad01_fc_autoencoder_fp32.tflite",
                  "tflm_micro_speech_int8.tflite", "tflm_person_detect_int8.tflite"]


def histograms(paths: list[Path], bins: int = 101) -> list[dict]:
    """Per model: its weight values' histogram on its own symmetric range, and summary numbers.

    Each model gets its own range: their scales differ by 100x (micro_speech's weights stay within
    +-0.1), and the shape of the distribution — a sharp peak at 0 with long tails — is the lesson.
    """
    rows = []
    for p in paths:
        v = model_weight_values(eq.load_file(p))["weights"]
        lim = float(np.abs(v).max())
        edges = np.linspace(-lim, lim, bins + 1)
        rows.append({"name": p.stem, "count": int(v.size), "counts": np.histogram(v, bins=edges)[0],
                     "edges": edges, "std": float(v.std()), "max_abs": lim})
    return rows


def plot(rows: list[dict], path: Path, size=(1200, 700)) -> Path:
    cols = 3
    fig, axes = new_figure(size, nrows=(len(rows) + cols - 1) // cols, ncols=cols, squeeze=False)
    for ax, r in zip(axes.ravel(), rows):
        ax.stairs(np.maximum(r["counts"], 0.8), r["edges"], fill=True, baseline=0.8)
        ax.set_yscale("log")
        ax.set_title(f"{r['name']}\n{r['count']:,} weights, std {r['std']:.3f}", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(rows):]:
        ax.axis("off")
    fig.tight_layout()
    return save_png(fig, path)


def main(paths: list[Path], out: Path) -> list[dict]:
    rows = histograms(paths)
    for r in rows:
        print(f"{r['name']:45s} {r['count']:>9,} weights  std {r['std']:.4f}  max|w| {r['max_abs']:.3f}")
    print(f"wrote {plot(rows, out)}")
    return rows


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", type=Path)
    ap.add_argument("-o", "--out", type=Path, default=Path("models_hist.png"))
    a = ap.parse_args()
    if not a.models and not SHARED.is_dir():
        sys.exit(f"error: no models given and {SHARED} (the default set) is not there: pass .tflite paths")
    try:
        main(a.models or [SHARED / m for m in DEFAULT_MODELS], a.out)
    except EdgequantError as e:
        sys.exit(f"error: {e}")
