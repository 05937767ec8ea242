"""Op kernels: one file per builtin op, found through one registry.

The protocol (everything a new kernel needs)
---------------------------------------------
Add ``edgequant/kernels/<op_name_lowercase>.py`` holding one class::

    from . import Kernel, kernel

    @kernel("MAX_POOL_2D")              # the schema's BuiltinOperator name
    class MaxPool2D(Kernel):
        def prepare(self, ctx, op):     # once per op: validate, derive constants
            x = ctx.input(0)            # graph.Tensor (or None for an absent optional input)
            ...                         # raise UnsupportedError / ModelFormatError with a short message
            return Params(...)          # any object; a frozen dataclass is the house style
        def eval(self, p, inputs):      # many times: blind compute on numpy arrays
            return [y]                  # one array per op output, in order

* ``ctx`` (an :class:`OpContext`) gives the op's tensors (``ctx.input(i)``, ``ctx.output(i)``,
  ``ctx.n_inputs``), constant values (``ctx.const(i)``: the stored array, or the value of an op the
  interpreter folded at prepare time because all its inputs were constant, e.g. float16 weights
  behind DEQUANTIZE; None for activations), the model and
  the op's options (``op.options``). Everything data-independent happens in ``prepare``: option
  parsing, shape checks, effective-scale -> (multiplier, shift) derivation, weight re-layout.
* ``eval`` receives every input as a numpy array (constants too, read-only; ``None`` for -1)
  with a *leading batch dimension that may be larger than the model's*: ``run()`` stacks many
  samples along axis 0 when every prepared op says it can (``params.batchable``, default True).
  A kernel whose math mixes samples (e.g. a reduction over axis 0) sets ``batchable = False`` on
  its params; the interpreter then loops over samples for that model.
* Integer paths are bit-exact with TFLite's reference kernels: use ``edgequant.qmath`` for
  rounding and requantization through the ``_common`` helpers that take a rounding variant from
  ``ctx.rounding_for(litert="single"|"double")`` (see there; every kernel passes "double" today), and
  branch on ``ctx.target`` where the runtimes compute differently (a golden case with both runtimes'
  outputs shows each such place), keep TFLite's names (``input_offset`` = -input zero point,
  ``output_offset`` = +output zero point, ``output_multiplier``/``output_shift``,
  ``output_activation_min/max``) and name the C++ reference function in the class docstring.
* Errors: raise short messages; the interpreter adds "subgraph s, op i (NAME), tensors ..." once.
* Stateful ops (variable tensors) list the input positions they overwrite in
  ``params.state_inputs``; ``eval`` then returns the new values of those after the outputs.

The registry maps op names to kernel instances; the CLI, tests and docs read :data:`REGISTRY`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import UnsupportedError

REGISTRY: dict[str, Kernel] = {}


class Kernel:
    """Base class of every kernel (see the module docstring for the protocol)."""

    op_name: str = ""

    def prepare(self, ctx: OpContext, op: Any) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def eval(self, params: Any, inputs: list[np.ndarray | None]) -> list[np.ndarray]:  # pragma: no cover
        raise NotImplementedError


def kernel(op_name: str) -> Callable[[type], type]:
    """Class decorator registering a kernel under its BuiltinOperator name."""

    def register(cls: type) -> type:
        if op_name in REGISTRY:  # pragma: no cover - programming error
            raise AssertionError(f"two kernels registered for {op_name}")
        cls.op_name = op_name
        REGISTRY[op_name] = cls()
        return cls

    return register


class OpContext:
    """What ``prepare`` sees of the graph around one operator."""

    def __init__(self, model: Any, subgraph: Any, op: Any, op_index: int, op_name: str, target: str = "litert",
                 folded: dict | None = None):
        self.model = model
        self.folded = folded or {}  # tensor index -> value of outputs of ops folded at prepare time
        self.target = target  # "litert" (ai-edge-litert BUILTIN_REF) or "tflm" (tflite-micro)
        self.subgraph = subgraph
        self.op = op
        self.op_index = op_index
        self.op_name = op_name

    def rounding_for(self, litert: str) -> str:
        """The MultiplyByQuantizedMultiplier variant this kernel must use for the target runtime.

        tflite-micro compiles gemmlowp double rounding everywhere. For LiteRT the kernel passes the variant
        its golden cases pin down; in ai-edge-litert 2.3.0 every reference kernel with goldens here that
        requantizes with a fixed-point multiplier rounds twice, so every caller passes "double" and this
        returns "double" for both targets ("single", TFLITE_SINGLE_ROUNDING, stays for a build that needs it).

        Not every runtime difference is a rounding variant: LiteRT's FULLY_CONNECTED uses no fixed-point
        multiplier at all (``round(double(acc) * scale)``, see kernels/fully_connected.py), and RELU, PRELU and
        LEAKY_RELU derive their multipliers from float quotients in LiteRT and double ones in tflite-micro.
        Such kernels branch on :attr:`target` themselves."""
        return "double" if self.target == "tflm" else litert

    @property
    def n_inputs(self) -> int:
        return len(self.op.inputs or [])

    @property
    def n_outputs(self) -> int:
        return len(self.op.outputs or [])

    def input(self, i: int) -> Any:
        """The i-th input Tensor, or None when absent (index -1 or past the end)."""
        ins = self.op.inputs or []
        if i >= len(ins) or ins[i] < 0:
            return None
        return self.subgraph.tensor(ins[i])

    def output(self, i: int) -> Any:
        return self.subgraph.tensor(self.op.outputs[i])

    def const(self, i: int) -> np.ndarray | None:
        """Values of the i-th input if it is constant (stored, or computed from constants at prepare), else None."""
        t = self.input(i)
        if t is None or t.is_variable:
            return None
        idx = self.op.inputs[i]
        if idx in self.folded:
            return self.folded[idx]
        return t.numpy()

    def require_const(self, i: int, what: str) -> np.ndarray:
        v = self.const(i)
        if v is None:
            raise UnsupportedError(f"{what} (input {i}) must be a constant tensor")
        return v


def get(op_name: str) -> Kernel | None:
    load_all()
    return REGISTRY.get(op_name)


_LOADED = False


def load_all() -> dict[str, Kernel]:
    """Import every kernel module once (registration happens at import) and return the registry."""
    global _LOADED
    if not _LOADED:
        for info in pkgutil.iter_modules(__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"{__name__}.{info.name}")
        _LOADED = True
    return REGISTRY
