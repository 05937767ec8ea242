"""What to quantize and how: a small JSON-able dataclass with presets.

>>> from edgequant.quantizer import Recipe
>>> r = Recipe.int8(io="float", observer="percentile").keep_float(r"^logits").per_tensor(op="FULLY_CONNECTED")
>>> Recipe.from_json(r.to_json()) == r
True
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ..errors import EdgequantError
from .gptq import ROUNDINGS
from .weights import WEIGHT_RANGES

MODES = ("dynamic_int8", "weight_only_int8", "float16", "int8", "int16x8")
IO_TYPES = ("int8", "uint8", "float", "int16")


@dataclass(frozen=True)
class Override:
    """Applies to ops whose type is ``op`` (e.g. "CONV_2D") and/or that the regex ``name`` finds (``re.search``) in
    their type (case-insensitive: "softmax" finds SOFTMAX) or in the name of an output or constant input (weight,
    bias) tensor. One that matches no op is an error.

    ``action``: "float" keeps the op float (DEQUANTIZE/QUANTIZE around it); "per_tensor" quantizes its
    weights with one scale instead of one per channel.
    """

    action: str
    op: str | None = None
    name: str | None = None

    def matches(self, op_name: str, tensor_names: list[str]) -> bool:
        if self.op is not None and self.op.upper() != op_name:
            return False
        if self.name is None:
            return True
        return bool(re.search(self.name, op_name, re.IGNORECASE)) or any(re.search(self.name, n) for n in tensor_names)


def _check_override(o: Override) -> None:
    if o.action not in ("float", "per_tensor"):
        raise EdgequantError(f"recipe: unknown override action '{o.action}' (float, per_tensor)")
    if o.op is not None:
        from ..flatbuffer.schema import BuiltinOperator

        if not isinstance(o.op, str) or o.op.upper() not in BuiltinOperator.names:
            close = difflib.get_close_matches(str(o.op).upper(), BuiltinOperator.names, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise EdgequantError(f"recipe: override op '{o.op}' is not a TFLite builtin op type{hint}")
    if o.name is not None:
        if not isinstance(o.name, str):
            raise EdgequantError(f"recipe: override name must be a regex string, got {o.name!r}")
        try:
            re.compile(o.name)
        except re.error as e:
            raise EdgequantError(f"recipe: bad name pattern '{o.name}': {e}") from None
    elif o.op is None and o.action == "float":
        raise EdgequantError("recipe: a 'float' override needs an op type or a name pattern (it would keep every op "
                             "float)")


_FIELD_TYPES = {"mode": str, "per_channel": bool, "observer": str, "io": str, "min_weight_elements": int,
                "weight_range": str, "weight_rounding": str, "batch_size": int, "bias_correction": bool}
_KIND_NAMES = {str: "a string", bool: "true or false", int: "an integer"}


@dataclass(frozen=True)
class Recipe:
    """A quantization recipe. Build one with a preset, refine it with the chainable helpers.

    mode: one of MODES. per_channel: per-channel weights where TFLite's spec allows it (CONV_2D axis 0,
    DEPTHWISE_CONV_2D axis 3, FULLY_CONNECTED axis 0). observer: a calibration observer name
    (edgequant.calibration). io: the type of the model's inputs/outputs for full-integer modes.
    min_weight_elements: weights smaller than this stay float in dynamic_int8 / weight_only_int8; None
    (default) means 0: every weight of a weight op is quantized, as ai-edge-quantizer does (TFLiteConverter
    keeps weights under 1024 values float in its dynamic-range mode; ``min_weight_elements=1024`` does the same).
    weight_range: how int8 weight scales are chosen, "minmax" (max|w| / 127), "mse" (the clipping ratio with the
    smallest weight error, see edgequant.quantizer.weights) or "auto" (default: "mse" with nearest rounding,
    "minmax" with balanced rounding and GPTQ, which make up for rounding error themselves and lost up to 9 dB
    with clipped scales; see BENCHMARKS.md). weight_rounding: which int8 value each weight gets within
    that range, "nearest", "balanced" (nearest, then a few weights moved one step so that the rounding errors of
    each group of weights reading inputs with one mean sum to about zero, where the inputs have one sign; see
    edgequant.quantizer.balanced), "gptq" (error-compensating rounding from the
    calibration inputs, see edgequant.quantizer.gptq; needs calibration data, in every mode) or "auto" (default:
    gptq when calibration data is given, else balanced).
    bias_correction: with calibration data, each weight op's bias is shifted by the mean output error of its
    quantized weights on the first calibration samples, upstream layers' errors included
    (edgequant.quantizer.bias). None (default): on in dynamic_int8 and weight_only_int8; off in int8 and int16x8,
    where it costs one more run of the quantized model (resnet_large: +0.3 s, more than ai-edge-quantizer's whole
    time) and gains little at int8 (+0.1 to +2 dB; much more at 16x8: resnet8 +34 dB, see BENCHMARKS.md).
    batch_size: calibration batch. :meth:`resolved` turns the two defaults into what a run used.
    """

    mode: str = "int8"
    per_channel: bool = True
    observer: str = "minmax"
    io: str | None = None  # None: "float" for the weight modes, "int8" for int8, "int16" for int16x8
    min_weight_elements: int | None = None
    weight_range: str = "auto"
    weight_rounding: str = "auto"
    batch_size: int = 32
    bias_correction: bool | None = None  # None: on in the weight modes, off in the full-integer ones
    overrides: tuple[Override, ...] = field(default_factory=tuple)

    def __post_init__(self):
        for field_name, kind in _FIELD_TYPES.items():
            v = getattr(self, field_name)
            if v is None and field_name in ("min_weight_elements", "io", "bias_correction"):
                continue
            if not isinstance(v, kind) or (kind is int and isinstance(v, bool)):
                raise EdgequantError(f"recipe: {field_name} must be {_KIND_NAMES[kind]}, got {v!r}")
        if self.mode not in MODES:
            raise EdgequantError(f"recipe: unknown mode '{self.mode}' (choose from {', '.join(MODES)})")
        if self.io is None:  # frozen: resolve the default once, here
            object.__setattr__(self, "io", {"int8": "int8", "int16x8": "int16"}.get(self.mode, "float"))
        from ..calibration import OBSERVERS

        if self.observer not in OBSERVERS:
            raise EdgequantError(f"recipe: unknown observer '{self.observer}' (choose from "
                                 f"{', '.join(sorted(OBSERVERS))})")
        if self.io not in IO_TYPES:
            raise EdgequantError(f"recipe: unknown io type '{self.io}' (choose from {', '.join(IO_TYPES)})")
        if self.mode == "int16x8" and self.io not in ("int16", "float"):
            raise EdgequantError(f"recipe: mode int16x8 takes io 'int16' or 'float', not '{self.io}'")
        if self.mode == "int8" and self.io == "int16":
            raise EdgequantError("recipe: mode int8 takes io 'int8', 'uint8' or 'float', not 'int16'")
        if self.weight_range not in ("auto",) + WEIGHT_RANGES:
            raise EdgequantError(f"recipe: unknown weight_range '{self.weight_range}' "
                                 f"(choose from auto, {', '.join(WEIGHT_RANGES)})")
        if self.weight_rounding not in ROUNDINGS:
            raise EdgequantError(f"recipe: unknown weight_rounding '{self.weight_rounding}' "
                                 f"(choose from {', '.join(ROUNDINGS)})")
        if self.min_weight_elements is not None and self.min_weight_elements < 0:
            raise EdgequantError(f"recipe: min_weight_elements must be >= 0, got {self.min_weight_elements}")
        if self.batch_size < 1:
            raise EdgequantError(f"recipe: batch_size must be >= 1, got {self.batch_size}")
        if isinstance(self.overrides, list):
            object.__setattr__(self, "overrides", tuple(self.overrides))  # frozen: normalise once, here
        if not isinstance(self.overrides, tuple) or not all(isinstance(o, Override) for o in self.overrides):
            raise EdgequantError("recipe: overrides must be a list of objects like {\"action\": \"float\", "
                                 "\"name\": \"softmax\"}")
        for o in self.overrides:
            _check_override(o)

    # -- presets ---------------------------------------------------------------------------------
    @classmethod
    def dynamic_int8(cls, **kw: Any) -> Recipe:
        """int8 weights, float activations, hybrid kernels (TFLiteConverter's dynamic-range mode)."""
        return cls(mode="dynamic_int8", io="float", **kw)

    @classmethod
    def weight_only_int8(cls, **kw: Any) -> Recipe:
        """int8 weights, DEQUANTIZE at load, float kernels. Every constant weight of a weight op is compressed:
        DEQUANTIZE runs once at load, so small weights cost nothing at run time (unlike hybrid kernels)."""
        return cls(mode="weight_only_int8", io="float", **kw)

    @classmethod
    def float16(cls, **kw: Any) -> Recipe:
        """float16 constants, DEQUANTIZE at load."""
        return cls(mode="float16", io="float", **kw)

    @classmethod
    def int8(cls, io: str = "int8", **kw: Any) -> Recipe:
        """Full-integer int8 with calibration; model inputs/outputs int8, uint8 or float."""
        return cls(mode="int8", io=io, **kw)

    @classmethod
    def int16x8(cls, io: str = "int16", **kw: Any) -> Recipe:
        """int16 activations (symmetric), int8 weights, int64 biases."""
        return cls(mode="int16x8", io=io, **kw)

    @classmethod
    def preset(cls, mode: str, **kw: Any) -> Recipe:
        if mode not in MODES:
            raise EdgequantError(f"unknown mode '{mode}' (choose from {', '.join(MODES)})")
        return getattr(cls, mode)(**kw)

    # -- refinements -----------------------------------------------------------------------------
    def keep_float(self, name: str | None = None, *, op: str | None = None) -> Recipe:
        """Keep ops float whose output or weight tensor name matches the regex ``name`` and/or whose type is ``op``."""
        return replace(self, overrides=self.overrides + (Override("float", op=op, name=name),))

    def per_tensor(self, name: str | None = None, *, op: str | None = None) -> Recipe:
        """Per-tensor weights for the matching ops (all ops when neither is given)."""
        return replace(self, overrides=self.overrides + (Override("per_tensor", op=op, name=name),))

    def action_for(self, op_name: str, tensor_names: list[str]) -> set[str]:
        return {o.action for o in self.overrides if o.matches(op_name, tensor_names)}

    def resolved(self, has_data: bool) -> Recipe:
        """This recipe with its "auto" choices made, for a run with (or without) calibration data."""
        rounding = self.weight_rounding
        if rounding == "auto":
            rounding = "nearest" if self.mode == "float16" else "gptq" if has_data else "balanced"
        minimum = 0 if self.min_weight_elements is None else self.min_weight_elements
        weight_range = self.weight_range
        if weight_range == "auto":
            weight_range = "mse" if rounding == "nearest" else "minmax"
        correct = self.bias_correction
        if correct is None:
            correct = self.mode in ("dynamic_int8", "weight_only_int8")
        return replace(self, weight_rounding=rounding, min_weight_elements=minimum, weight_range=weight_range,
                       bias_correction=correct)

    @property
    def full_integer(self) -> bool:
        return self.mode in ("int8", "int16x8")

    # -- JSON ------------------------------------------------------------------------------------
    def to_json(self) -> str:
        d = asdict(self)
        d["overrides"] = [{k: v for k, v in o.items() if v is not None} for o in d["overrides"]]
        return json.dumps(d, indent=2)

    @classmethod
    def from_json(cls, text: str) -> Recipe:
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise EdgequantError(f"recipe: not valid JSON ({e})") from None
        if not isinstance(d, dict):
            raise EdgequantError("recipe: JSON must be an object")
        known = {"mode", "per_channel", "observer", "io", "min_weight_elements", "weight_range", "weight_rounding", "batch_size",
                 "bias_correction", "overrides"}
        unknown = set(d) - known
        if unknown:
            raise EdgequantError(f"recipe: unknown field(s) {', '.join(sorted(unknown))}")
        raw = d.pop("overrides", [])
        if not isinstance(raw, list) or not all(isinstance(o, dict) for o in raw):
            raise EdgequantError("recipe: overrides must be a list of objects like {\"action\": \"float\", "
                                 "\"name\": \"softmax\"}")
        try:
            overrides = tuple(Override(**o) for o in raw)
        except TypeError as e:
            raise EdgequantError(f"recipe: an override takes action, op and name ({e})") from None
        return cls(overrides=overrides, **d)
