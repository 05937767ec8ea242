"""Reconstruction error: what quantization does to each value."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..quantization import QuantizationError, QuantParams, error_report, fake_quantize
from . import new_figure, save_png


def reconstruction_error(x: np.ndarray, qp: QuantParams, bins: int = 100, max_points: int = 20_000,
                         seed: int = 0) -> dict:
    """Original vs fake-quantized values: a reproducible sample of pairs for a scatter, the histogram
    of ``error = fake_quantized - original``, and :func:`~edgequant.quantization.error_report`.

    Inside the representable range every error lies within half a step; clipped values show up as
    the long tails of the error histogram.
    """
    x = np.asarray(x, np.float32).ravel()
    if x.size == 0:
        raise QuantizationError("nothing to plot: empty array")
    y = fake_quantize(x, qp)
    err = y.astype(np.float64) - x
    idx = np.arange(x.size)
    if x.size > max_points:
        idx = np.sort(np.random.default_rng(seed).choice(x.size, max_points, replace=False))
    counts, edges = np.histogram(err, bins=bins)
    return {"x": x[idx], "y": y[idx], "error_counts": counts, "error_edges": edges, "report": error_report(x, qp)}


def plot_error(x: np.ndarray, qp: QuantParams, path: str | os.PathLike, bins: int = 100, log: bool = True,
               title: str = "", size: tuple[int, int] = (1000, 450)) -> Path:
    """PNG: left, fake-quantized vs original (a staircase on the diagonal); right, error histogram."""
    d = reconstruction_error(x, qp, bins)
    fig, (a1, a2) = new_figure(size, ncols=2)
    a1.plot(d["x"], d["y"], ".", ms=1.5)
    lo, hi = float(d["x"].min()), float(d["x"].max())
    a1.plot([lo, hi], [lo, hi], color="0.5", lw=0.6)
    a1.set_xlabel("original")
    a1.set_ylabel("fake-quantized")
    r = d["report"]
    a1.set_title(f"SQNR {r['sqnr_db']:.1f} dB, {r['levels_used']}/{r['levels']} levels used")
    a2.stairs(d["error_counts"], d["error_edges"], fill=True)
    if log:
        a2.set_yscale("log")
    a2.set_xlabel("error (fake-quantized - original)")
    a2.set_title(title or f"max |error| {r['max_abs_error']:.3g}, clipped {100 * r['fraction_clipped']:.3g}%")
    fig.tight_layout()
    return save_png(fig, path)
