"""Histograms: one tensor with its quantization grid, or every constant weight of a model."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .. import dtypes
from ..errors import EdgequantError
from ..quantization import QuantizationError, QuantParams
from . import new_figure, save_png

# Draw every grid line only when there are few enough levels to see them.
MAX_GRID_LINES = 64
WEIGHT_TYPES = (dtypes.FLOAT32, dtypes.FLOAT16, dtypes.INT8, dtypes.UINT8, dtypes.INT16, dtypes.INT4,
                dtypes.UINT4, dtypes.INT2, dtypes.FLOAT64)


def tensor_histogram(values: np.ndarray, bins: int = 100, qp: QuantParams | None = None) -> dict:
    """Counts and edges of ``values``, plus the quantization grid and clip range of ``qp`` (per-tensor).

    >>> h = tensor_histogram(np.array([0.0, 0.5, 1.0]), bins=2)
    >>> h["counts"].tolist(), h["edges"].tolist()
    ([1, 2], [0.0, 0.5, 1.0])
    """
    v = np.asarray(values, np.float64).ravel()
    if v.size == 0:
        raise QuantizationError("nothing to plot: the tensor is empty")
    v = v[np.isfinite(v)]
    if v.size == 0:
        raise QuantizationError("nothing to plot: no finite values")
    if bins < 1:
        raise QuantizationError("bins must be >= 1")
    counts, edges = np.histogram(v, bins=bins)
    out = {"counts": counts, "edges": edges, "min": float(v.min()), "max": float(v.max()), "n": int(v.size),
           "grid": None, "clip": None}
    if qp is not None and qp.dtype == "int" and not qp.per_channel:
        s = float(qp.scale)
        if qp.midpoint is not None:
            lo, hi = qp.qmin * s + float(qp.midpoint), qp.qmax * s + float(qp.midpoint)
        else:
            zp = int(qp.zero_point)
            lo, hi = (qp.qmin - zp) * s, (qp.qmax - zp) * s
        out["clip"] = (lo, hi)
        if qp.levels <= MAX_GRID_LINES:
            out["grid"] = np.linspace(lo, hi, qp.levels)
    return out


def plot_histogram(values: np.ndarray, path: str | os.PathLike, bins: int = 100, log: bool = False,
                   qp: QuantParams | None = None, title: str = "", size: tuple[int, int] = (800, 500)) -> Path:
    """PNG histogram of ``values`` (log y with ``log``), quantization grid / clip range overlaid."""
    h = tensor_histogram(values, bins, qp)
    fig, ax = new_figure(size)
    ax.stairs(h["counts"], h["edges"], fill=True, alpha=0.8, label=f"{h['n']} values")
    if h["grid"] is not None:
        for g in h["grid"]:
            ax.axvline(g, color="0.6", lw=0.5, zorder=0)
    if h["clip"] is not None:
        for c in h["clip"]:
            ax.axvline(c, color="tab:red", lw=1.2, ls="--")
        ax.plot([], [], color="tab:red", ls="--", label=f"representable range [{h['clip'][0]:.4g}, {h['clip'][1]:.4g}]")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("value")
    ax.set_ylabel("count")
    ax.set_title(title or "value histogram")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return save_png(fig, path)


def tensor_qparams(t) -> QuantParams | None:
    """The per-tensor QuantParams of a model tensor, or None (float, per-channel or unquantized)."""
    q = t.quantization
    if q is None or q.scale is None or len(q.scale) != 1 or t.type not in (dtypes.INT8, dtypes.UINT8, dtypes.INT16,
                                                                            dtypes.INT4):
        return None
    bits = dtypes.BITS[t.type]
    zp = int(q.zero_point[0]) if q.zero_point is not None and len(q.zero_point) else 0
    try:
        return QuantParams(np.float32(q.scale[0]), np.int64(zp), bits=bits, signed=t.type != dtypes.UINT8)
    except QuantizationError:
        return None


def model_weight_values(model) -> dict:
    """Every constant weight tensor's values as float32, dequantized by its real dtype.

    int8/int16/int4 weights go through ``Tensor.dequantize`` (per-channel scales where they have
    them); float16 is widened; int32 tensors with a scale (biases) are returned apart; other int32/
    int64 constants (shapes, indices) and integer tensors without a scale are skipped and counted.

    Returns ``{"weights": float32 array, "biases": float32 array, "tensors": [(subgraph, index,
    name, type name, size)], "skipped": [(subgraph, index, name, reason)]}``.
    """
    weights, biases, used, skipped = [], [], [], []
    for si, sg in enumerate(model.subgraphs or []):
        params = _blockwise_params(sg)
        for ti, t in enumerate(sg.tensors or []):
            if not t.is_constant:
                continue
            if ti in params:  # a blockwise tensor's scales or zero points: quantization parameters, not weights
                skipped.append((si, ti, t.name, params[ti]))
                continue
            q = t.quantization
            has_scale = q is not None and q.scale is not None and len(q.scale) > 0
            if t.type == dtypes.INT32 and has_scale:
                try:
                    biases.append(np.asarray(t.dequantize(), np.float32).ravel())
                except EdgequantError as e:
                    skipped.append((si, ti, t.name, str(e)))
                continue
            if t.type not in WEIGHT_TYPES:
                skipped.append((si, ti, t.name, f"{dtypes.name(t.type)} constant"))
                continue
            if t.type not in (dtypes.FLOAT32, dtypes.FLOAT16, dtypes.FLOAT64) and not has_scale:
                skipped.append((si, ti, t.name, "integer tensor without a scale"))
                continue
            try:
                v = t.dequantize()
            except EdgequantError as e:  # e.g. blockwise quantization with no per-tensor scale
                skipped.append((si, ti, t.name, str(e)))
                continue
            v = np.asarray(v, np.float32).ravel()
            weights.append(v)
            used.append((si, ti, t.name, dtypes.name(t.type), int(v.size)))
    cat = (lambda parts: np.concatenate(parts) if parts else np.zeros(0, np.float32))
    return {"weights": cat(weights), "biases": cat(biases), "tensors": used, "skipped": skipped}


def _blockwise_params(sg) -> dict[int, str]:
    """{tensor index: what it is} for the scale and zero-point tensors that blockwise-quantized tensors name."""
    out = {}
    for t in sg.tensors or []:
        q = t.quantization
        d = q.details if q is not None else None
        if d is not None and d.table_name() == "BlockwiseQuantization":
            out[d.scales] = f"blockwise scales of '{t.name}'"
            if d.zero_points is not None and d.zero_points >= 0:
                out.setdefault(d.zero_points, f"blockwise zero points of '{t.name}'")
    return out


def plot_model_histogram(model, path: str | os.PathLike, bins: int = 200, log: bool = True,
                         title: str = "", size: tuple[int, int] = (900, 500)) -> Path:
    """PNG of the whole model's weight distribution (and its biases in a second panel if any)."""
    data = model_weight_values(model)
    w, b = data["weights"], data["biases"]
    if w.size == 0:
        raise EdgequantError("the model has no constant weight tensors to plot")
    panels = 2 if b.size else 1
    fig, axes = new_figure(size, ncols=panels, squeeze=False)
    ax = axes[0][0]
    counts, edges = np.histogram(w[np.isfinite(w)], bins=bins)
    ax.stairs(counts, edges, fill=True)
    ax.set_title(title or f"weights: {len(data['tensors'])} tensors, {w.size} values")
    ax.set_xlabel("value (dequantized)")
    ax.set_ylabel("count")
    if log:
        ax.set_yscale("log")
    if b.size:
        bx = axes[0][1]
        bc, be = np.histogram(b[np.isfinite(b)], bins=min(bins, 100))
        bx.stairs(bc, be, fill=True, color="tab:orange")
        bx.set_title(f"biases: {b.size} values")
        bx.set_xlabel("value (dequantized)")
        if log:
            bx.set_yscale("log")
    fig.tight_layout()
    return save_png(fig, path)
