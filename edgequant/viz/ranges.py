"""Per-layer, per-output-channel weight ranges: the picture that explains per-channel quantization."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import EdgequantError
from ..quantization import QuantizationError
from . import new_figure, save_png

# Output-channel axis of the weight (input 1) of ops that have one (TFLite's quantization spec).
OUTPUT_CHANNEL_AXIS = {"CONV_2D": 0, "FULLY_CONNECTED": 0, "DEPTHWISE_CONV_2D": 3, "TRANSPOSE_CONV": 0,
                       "CONV_3D": 4, "CONV_3D_TRANSPOSE": 3, "EMBEDDING_LOOKUP": 0, "BATCH_MATMUL": -1}
# A channel whose range is below this fraction of its layer's widest is dead (its weights ~1e-30 or all equal): a
# count, not the denominator of a 1e30x spread.
DEAD_BELOW = 1e-6


def channel_ranges(w: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of ``w`` for every index along ``axis``.

    >>> channel_ranges(np.array([[1.0, -2.0], [3.0, 4.0]]), 0)
    (array([-2.,  3.]), array([1., 4.]))
    """
    w = np.asarray(w)
    if w.ndim == 0 or w.size == 0:
        raise QuantizationError("need a non-empty array with at least one axis")
    if not -w.ndim <= axis < w.ndim:
        raise QuantizationError(f"axis {axis} out of range for a {w.ndim}-d array")
    rows = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)
    return rows.min(axis=1), rows.max(axis=1)


def layer_channel_ranges(model, subgraph: int = 0) -> list[dict]:
    """For every op whose input 1 is a constant weight of rank >= 2: its per-output-channel ranges.

    Each entry: ``op`` (index), ``op_name``, ``tensor`` (name), ``axis``, ``mins``, ``maxs`` (float32,
    dequantized), ``dead`` = how many channels are dead (range below ``DEAD_BELOW`` of the layer's widest: vww's
    ~1e-30 weights), ``spread`` = largest channel range / smallest range of a live channel (how much a single
    per-tensor scale would waste on the narrow channels; 1.0 when fewer than two channels are live).
    """
    sgs = model.subgraphs or []
    if not 0 <= subgraph < len(sgs):
        raise EdgequantError(f"subgraph {subgraph} out of range (model has {len(sgs)})")
    sg = sgs[subgraph]
    out = []
    for k, op in enumerate(sg.operators or []):
        inputs = list(op.inputs if op.inputs is not None else [])
        if len(inputs) < 2 or inputs[1] < 0:
            continue
        t = sg.tensors[inputs[1]]
        if not t.is_constant or len(t.shape or []) < 2:
            continue
        name = model.op_name(op)
        q = t.quantization
        if q is not None and q.scale is not None and len(q.scale) > 1:
            axis = int(q.quantized_dimension)
        elif name in OUTPUT_CHANNEL_AXIS:
            axis = OUTPUT_CHANNEL_AXIS[name]
        else:
            continue
        try:
            w = t.dequantize()
        except EdgequantError:
            continue
        if w is None or w.dtype.kind != "f":
            continue
        mins, maxs = channel_ranges(w, axis)
        width = maxs.astype(np.float64) - mins
        top = float(width.max())
        live = width[(width > 0) & (width >= DEAD_BELOW * top)]
        spread = top / float(live.min()) if live.size else 1.0
        out.append({"op": k, "op_name": name, "tensor": t.name, "axis": axis % w.ndim,
                    "mins": mins.astype(np.float32), "maxs": maxs.astype(np.float32), "spread": spread,
                    "dead": int(width.size - live.size)})
    return out


def plot_ranges(model, path: str | os.PathLike, subgraph: int = 0, title: str = "",
                size: tuple[int, int] = (1200, 500)) -> Path:
    """PNG: one vertical bar per output channel (its min..max), layers side by side, with each layer's
    per-tensor range drawn as a dashed box. Narrow channels beside wide ones lose their precision to
    a single per-tensor scale."""
    layers = layer_channel_ranges(model, subgraph)
    if not layers:
        raise EdgequantError("no layer with constant per-output-channel weights to plot")
    fig, ax = new_figure(size)
    ticks, labels = [], []
    for i, L in enumerate(layers):  # one equal-width slot per layer, its channels spread inside
        n = len(L["mins"])
        xs = i + 0.1 + 0.8 * (np.arange(n) / max(n - 1, 1))
        color = f"C{i % 10}"
        ax.vlines(xs, L["mins"], L["maxs"], color=color, lw=max(0.3, min(2.0, 40 / max(n, 1))))
        lo, hi = float(L["mins"].min()), float(L["maxs"].max())
        ax.plot([i + 0.05, i + 0.95, i + 0.95, i + 0.05, i + 0.05], [lo, lo, hi, hi, lo], color=color, ls="--", lw=0.8)
        ticks.append(i + 0.5)
        labels.append(f"{L['op']}:{L['op_name']}")
    ax.axhline(0, color="0.5", lw=0.5)
    ax.set_xticks(ticks)
    ax.set_xticklabels(labels, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("weight value (dequantized)")
    ax.set_title(title or "per-output-channel weight ranges (dashed: per-tensor range)")
    fig.tight_layout()
    return save_png(fig, path)
