"""Pictures of tensors and quantization: matplotlib is imported lazily, only to draw.

Every picture is two functions: a data function returning numbers (tested, usable without
matplotlib) and a ``plot_*`` function writing a PNG of exactly ``size=(width, height)`` pixels,
atomically (rendered in memory, then :func:`edgequant.graph.write_atomic`).

* :mod:`.hist`   -- histogram of one tensor with its quantization grid / clip range; whole-model
  weight distribution (every constant weight dequantized by its real dtype, biases apart).
* :mod:`.ranges` -- per-layer, per-output-channel weight ranges: why per-channel quantization matters.
* :mod:`.error`  -- reconstruction error: original vs fake-quantized values and the error histogram.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from ..errors import require


def pyplot():
    """matplotlib.pyplot on the Agg backend, or MissingExtraError naming ``pip install 'edgequant[plot]'``."""
    mpl = require("matplotlib", "plot")
    mpl.use("Agg", force=True)
    return require("matplotlib.pyplot", "plot")


def new_figure(size: tuple[int, int], dpi: int = 100, **subplots):
    """A figure of ``size`` pixels (width, height) with ``plt.subplots(**subplots)`` axes."""
    w, h = size
    if w < 50 or h < 50:
        from ..quantization import QuantizationError

        raise QuantizationError(f"figure size {w}x{h} is too small (at least 50x50 pixels)")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(w / dpi, h / dpi), dpi=dpi, **subplots)
    return fig, ax


def save_png(fig, path: str | os.PathLike, dpi: int = 100) -> Path:
    """Write ``fig`` as PNG to ``path`` atomically and close it. The pixel size is the figure's.

    The PNG is rendered in memory first, so a failed render leaves no file, and write errors name ``path``."""
    from ..graph import write_atomic

    plt = pyplot()
    path = Path(path)
    try:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)  # no bbox_inches="tight": it would change the size
    finally:
        plt.close(fig)
    write_atomic(path, buf.getvalue())
    return path
