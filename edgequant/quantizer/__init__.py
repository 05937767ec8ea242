"""Quantize a float .tflite model: dynamic-range, weight-only int8, float16, full int8, 16x8.

>>> import edgequant as eq
>>> from edgequant.quantizer import quantize, Recipe
>>> m = eq.load_file("model.tflite")
>>> q = quantize(m, Recipe.int8(io="float"), calibration_data="calib.npz")
>>> eq.save_file(q, "model_int8.tflite")

The pipeline: recipe -> calibrate (float model in our interpreter) -> choose parameters -> rewrite.
``quantize`` returns a new Model and never modifies its argument; ``quantize_with_report`` also returns
a Report saying what was quantized and what stayed float.
"""

from __future__ import annotations

from typing import Any

from ..errors import EdgequantError
from ..graph import Model
from .calibrate import ProgressBar, Ranges, calibrate
from .data import load_calibration
from .recipe import MODES, Recipe
from .rewrite import Report, check_float_model, check_one_subgraph, rewrite_full_integer, rewrite_weights


def quantize(model: Model, recipe: Recipe | str, calibration_data: Any = None, *,
             progress=None, ranges: Ranges | None = None) -> Model:
    """A quantized copy of ``model`` following ``recipe`` (a Recipe or a mode name).

    ``calibration_data`` (full-integer modes only): anything :func:`load_calibration` takes (arrays,
    dicts, iterables, a .npy/.npz path). ``ranges``: reuse ranges from an earlier :func:`calibrate`.
    """
    return quantize_with_report(model, recipe, calibration_data, progress=progress, ranges=ranges)[0]


def quantize_with_report(model: Model, recipe: Recipe | str, calibration_data: Any = None, *,
                         progress=None, ranges: Ranges | None = None) -> tuple[Model, Report]:
    """Like :func:`quantize`, and also the :class:`Report` of what was done."""
    if isinstance(recipe, str):
        recipe = Recipe.preset(recipe)
    check_float_model(model)
    if not recipe.full_integer:
        q, rep = rewrite_weights(model, recipe)
    else:
        check_one_subgraph(model)
        if ranges is None:
            if calibration_data is None:
                raise EdgequantError(f"mode {recipe.mode} needs calibration data")
            batches = load_calibration(calibration_data, model)
            from .data import rebatch

            ranges = calibrate(model, rebatch(batches, recipe.batch_size), recipe.observer, progress=progress)
        q, rep = rewrite_full_integer(model, recipe, ranges.ranges)
    return q, rep


__all__ = ["MODES", "ProgressBar", "Ranges", "Recipe", "Report", "calibrate", "load_calibration", "quantize", "quantize_with_report"]
