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

import json
import os
import warnings
from typing import Any

from ..errors import EdgequantError
from ..graph import Model, load, load_file
from . import bias
from .calibrate import ProgressBar, Ranges, calibrate
from .data import load_calibration, rebatch, rows_per_invocation
from .gptq import Hessians
from .lstm import LstmStats
from .recipe import MODES, Recipe
from .rewrite import (
    Report,
    apply_bias_correction,
    check_finite_weights,
    check_float_model,
    check_one_subgraph,
    check_overrides,
    rewrite_full_integer,
    rewrite_weights,
)


def quantize(model: Model, recipe: Recipe | str, calibration_data: Any = None, *,
             progress=None, ranges: Ranges | None = None) -> Model:
    """A quantized copy of ``model`` (a Model, a .tflite path or its bytes) following ``recipe`` (a Recipe, a
    mode name or a Recipe's JSON dict).

    ``calibration_data`` (full-integer modes; in the weight modes it makes ``weight_rounding="auto"`` round with
    GPTQ, and corrects the biases: ``Recipe.bias_correction``): anything
    :func:`edgequant.quantizer.load_calibration` takes (an array, a dict of arrays, an iterable of either, a
    .npy/.npz path). ``ranges``: reuse ranges from an earlier :func:`edgequant.calibrate`.
    """
    q, rep = quantize_with_report(model, recipe, calibration_data, progress=progress, ranges=ranges)
    for note in rep.notes:  # e.g. bias correction skipped: what the report would have said
        warnings.warn(f"quantize({rep.mode}): {note}", stacklevel=2)
    if not rep.quantized_ops:  # the report would say why; without it, say it here
        why = "; ".join(rep.float_ops[:3]) + ("; ..." if len(rep.float_ops) > 3 else "")
        warnings.warn(f"quantize({rep.mode}): no op was quantized, the model is unchanged in kind"
                      + (f" ({why})" if why else ""), stacklevel=2)
    return q


def quantize_with_report(model: Model, recipe: Recipe | str, calibration_data: Any = None, *,
                         progress=None, ranges: Ranges | None = None) -> tuple[Model, Report]:
    """Like :func:`quantize`, and also the :class:`Report` of what was done. ``model`` may also be a path or the
    .tflite bytes; ``recipe`` a mode name, a Recipe or its JSON dict."""
    if isinstance(model, (str, os.PathLike)):
        model = load_file(model)
    elif isinstance(model, (bytes, bytearray, memoryview)):
        model = load(model)
    elif not isinstance(model, Model):
        raise EdgequantError(f"quantize() takes a Model, a .tflite path or its bytes, got {type(model).__name__}")
    if isinstance(recipe, str):
        recipe = Recipe.preset(recipe)
    elif isinstance(recipe, dict):
        recipe = Recipe.from_json(json.dumps(recipe))
    elif not isinstance(recipe, Recipe):
        raise EdgequantError(f"recipe must be a mode name, a Recipe or its JSON dict, got {type(recipe).__name__}")
    check_float_model(model)
    check_overrides(model, recipe)
    if recipe.full_integer:
        check_one_subgraph(model)
        check_finite_weights(model)
    recipe = recipe.resolved(calibration_data is not None)
    gptq = recipe.weight_rounding == "gptq" and recipe.mode != "float16"
    hessians = Hessians(model) if gptq else None
    # int8 LSTMs need their cell and hidden state ranges, which are not tensors: measured in the same float run
    lstm_stats = LstmStats(model) if recipe.mode == "int8" and ranges is None else None
    visits = [v.update for v in (hessians, lstm_stats) if v is not None]
    run = None
    float_run = (recipe.full_integer and ranges is None) or gptq
    if float_run and calibration_data is None:
        why = f"mode {recipe.mode}" if recipe.full_integer else 'weight_rounding "gptq"'
        raise EdgequantError(f"{why} needs calibration data")
    # bias correction runs the quantized model over the first calibration samples (edgequant.quantizer.bias)
    correct = recipe.bias_correction and calibration_data is not None and recipe.mode != "float16"
    batches = None
    if float_run or correct:  # loaded once: an iterable of samples may not be read twice
        batches = rebatch(load_calibration(calibration_data, model), recipe.batch_size, rows_per_invocation(model))
    if float_run:
        observe = recipe.full_integer and ranges is None  # else the run only feeds GPTQ
        run = calibrate(model, batches, recipe.observer if observe else None, progress=progress,
                        visit=(lambda values: [v(values) for v in visits]) if visits else None)
        ranges = ranges or run
    if recipe.full_integer:
        q, rep = rewrite_full_integer(model, recipe, ranges.ranges, hessians, lstm_stats)
    else:
        q, rep = rewrite_weights(model, recipe, hessians)
    if correct:
        unit = rows_per_invocation(model)
        first = rebatch(batches, bias.SAMPLES * unit, unit)[0]  # the first SAMPLES samples
        names = [model.main.tensors[i].name for i in model.main.inputs or []]
        apply_bias_correction(model, q, rep, [first[n] for n in names])
    rep.recipe = json.loads(recipe.to_json())
    if run is not None:
        rep.calibration = {"samples": run.samples, "backend": run.backend, "seconds": round(run.seconds, 3)}
    return q, rep


__all__ = ["MODES", "ProgressBar", "Ranges", "Recipe", "Report", "calibrate", "load_calibration", "quantize", "quantize_with_report"]
