"""edgequant: see inside, quantize, verify and deploy TFLite models, with numpy and nothing heavier.

>>> import edgequant as eq
>>> m = eq.load_file("model.tflite")
>>> [m.op_name(op) for op in m.main.operators]
>>> q = eq.quantize(m, eq.Recipe.int8(io="float"), calibration_data="calib.npz")
>>> eq.Interpreter(q).run([x])[0]
>>> eq.save_file(q, "model_int8.tflite")

Everything else is reached through submodules on purpose: ``edgequant.quantization`` (the math),
``edgequant.calibration`` (observers), ``edgequant.viz`` (pictures), ``edgequant.analysis``
(sizes, arena plan, MCU lint), ``edgequant.keras`` (the TensorFlow bridge).
"""

from __future__ import annotations

from typing import Any as _Any

from .errors import EdgequantError, ModelFormatError, UnsupportedError
from .graph import Model, load, load_file, save, save_file

__version__ = "0.1.0"

# Imported on first use: the interpreter loads every kernel module, which `inspect` never needs.
# (The pipeline's package is edgequant.quantizer, not .quantize: a subpackage named like the function
# would replace `edgequant.quantize` with itself the moment anything imported it.)
_LAZY = {
    "Interpreter": ("edgequant.interpreter", "Interpreter"),
    "quantize": ("edgequant.quantizer", "quantize"),
    "Recipe": ("edgequant.quantizer.recipe", "Recipe"),
    "calibrate": ("edgequant.quantizer", "calibrate"),
}


def __getattr__(name: str) -> _Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'edgequant' has no attribute '{name}'")


__all__ = [
    "EdgequantError",
    "Interpreter",
    "Model",
    "ModelFormatError",
    "Recipe",
    "UnsupportedError",
    "calibrate",
    "load",
    "load_file",
    "quantize",
    "save",
    "save_file",
]


def __dir__() -> list[str]:
    """The public API (tab completion shows the lazy names too, and not this module's imports)."""
    return sorted(__all__ + ["__version__"])
