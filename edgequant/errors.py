"""The one exception tree. Every error edgequant raises on purpose derives from EdgequantError."""

from __future__ import annotations


class EdgequantError(Exception):
    """Base of every error we raise on purpose."""


class ModelFormatError(EdgequantError):
    """The bytes are not a valid .tflite model (names what is wrong and where)."""


class UnsupportedError(EdgequantError):
    """A valid model, but no kernel or quantization rule for this op or type."""


class MissingExtraError(EdgequantError):
    """An optional dependency is not installed; the message gives the exact pip command."""

    def __init__(self, module: str, extra: str):
        super().__init__(f"{module} is not installed; run: pip install 'edgequant[{extra}]'")
        self.module = module
        self.extra = extra


def require(module: str, extra: str):
    """Import an optional dependency or raise MissingExtraError naming the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise MissingExtraError(module.split(".")[0], extra) from e
