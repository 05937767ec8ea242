"""edgequant: see inside, quantize, verify and deploy TFLite models, with numpy and nothing heavier.

>>> import edgequant as eq
>>> m = eq.load_file("model.tflite")
>>> [m.op_name(op) for op in m.main.operators]
"""

from .errors import EdgequantError, ModelFormatError, UnsupportedError
from .graph import Model, load, load_file, save, save_file

__version__ = "0.1.0"

__all__ = [
    "EdgequantError", "ModelFormatError", "UnsupportedError",
    "Model", "load", "load_file", "save", "save_file",
]
