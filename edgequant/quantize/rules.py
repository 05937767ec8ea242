"""Per-op quantization rules, transcribed from TFLite's int8 quantization spec.

Facts taken from TFLite's quantizer (tensorflow/lite/tools/optimize/operator_property.cc) and the
converter's op versioning, not guessed:

* weights of CONV_2D / TRANSPOSE_CONV (axis 0) and DEPTHWISE_CONV_2D (axis 3) are symmetric int8,
  per-channel allowed; FULLY_CONNECTED weights are symmetric int8 (per-channel on axis 0 is accepted
  by LiteRT and tflite-micro, per-tensor is the legacy default). Symmetric means zero point 0 and the
  narrow range [-127, 127].
* biases are int32 (int64 in 16x8) with scale = input scale x weight scale and zero point 0.
* SOFTMAX and LOGISTIC outputs are fixed at scale 1/256, zero point -128 (int16: 1/32768, 0);
  TANH at 1/128, 0 (int16: 1/32768, 0); LOG_SOFTMAX at 16/256, 127; L2_NORMALIZATION at 1/128, 0.
* CONCATENATION, pooling, RESHAPE, SQUEEZE, PAD, TRANSPOSE, SLICE, STRIDED_SLICE, SPLIT, MAXIMUM,
  MINIMUM, ... keep their input's scale and zero point on the output (restrict_same_input_output_scale).
* 16x8: activations symmetric int16 (zero point 0); ops marked quantizable_int16=false stay float.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..flatbuffer.schema import BuiltinOperator


@dataclass(frozen=True)
class Rule:
    """How one builtin op is quantized.

    act_inputs: indices of real-valued inputs quantized as activations (None: every input).
    weights: input index -> per-channel axis of a constant weight (symmetric int8).
    bias: input index of the bias (int32 / int64, scale = s_in * s_w), or None.
    same_scale: the output shares the scale and zero point of the inputs (all of act_inputs).
    fixed: output (scale, zero point) by activation type, e.g. {"int8": (1/256, -128)}.
    int16: the op has a 16x8 kernel.
    versions: operator version to write for "int8", "int16" (and "hybrid" for dynamic range).
    """

    act_inputs: tuple[int, ...] | None = (0,)
    weights: dict[int, int] = field(default_factory=dict)
    bias: int | None = None
    same_scale: bool = False
    fixed: dict[str, tuple[float, int]] = field(default_factory=dict)
    int16: bool = True
    versions: dict[str, int] = field(default_factory=lambda: {"int8": 2, "int16": 3})
    per_channel: bool = True  # per-channel weights are allowed


_SOFTMAX_FIXED = {"int8": (1 / 256, -128), "int16": (1 / 32768, 0)}

RULES: dict[str, Rule] = {
    "CONV_2D": Rule(weights={1: 0}, bias=2, versions={"int8": 3, "int16": 4, "hybrid": 5}),
    "DEPTHWISE_CONV_2D": Rule(weights={1: 3}, bias=2, versions={"int8": 3, "int16": 5, "hybrid": 6}),
    "FULLY_CONNECTED": Rule(weights={1: 0}, bias=2, versions={"int8": 4, "int16": 7, "hybrid": 9,
                                                               "int8_per_channel": 12, "hybrid_per_channel": 12}),
    "TRANSPOSE_CONV": Rule(act_inputs=(2,), weights={1: 0}, bias=3, versions={"int8": 3, "int16": 3}),
    "ADD": Rule(act_inputs=(0, 1), versions={"int8": 2, "int16": 3}),
    "SUB": Rule(act_inputs=(0, 1), versions={"int8": 2, "int16": 3}),
    "MUL": Rule(act_inputs=(0, 1), versions={"int8": 2, "int16": 4}),
    "AVERAGE_POOL_2D": Rule(same_scale=True),
    "MAX_POOL_2D": Rule(same_scale=True),
    "CONCATENATION": Rule(act_inputs=None, same_scale=True),
    "RESHAPE": Rule(same_scale=True, versions={"int8": 1, "int16": 1}),
    "SQUEEZE": Rule(same_scale=True, versions={"int8": 1, "int16": 1}),
    "EXPAND_DIMS": Rule(same_scale=True, versions={"int8": 1, "int16": 1}),
    "TRANSPOSE": Rule(same_scale=True),
    "PAD": Rule(same_scale=True, versions={"int8": 2, "int16": 4}),
    "SLICE": Rule(same_scale=True),
    "STRIDED_SLICE": Rule(same_scale=True),
    "MEAN": Rule(versions={"int8": 2, "int16": 3}),
    "SOFTMAX": Rule(fixed=_SOFTMAX_FIXED),
    "LOGISTIC": Rule(fixed=_SOFTMAX_FIXED),
    "TANH": Rule(fixed={"int8": (1 / 128, 0), "int16": (1 / 32768, 0)}),
    "RELU": Rule(int16=False),
    "RELU6": Rule(int16=False),
    "HARD_SWISH": Rule(int16=False, versions={"int8": 1}),
    "LEAKY_RELU": Rule(),
    # reads only the shape of its input, so any input type works; its int32 output is not touched
    "SHAPE": Rule(versions={"int8": 1, "int16": 1}),
}

# Ops TFLiteConverter's dynamic-range mode gives hybrid kernels: input index of the weight -> axis.
HYBRID = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
# Ops whose constant float weights weight-only / float16 modes compress.
WEIGHT_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "BATCH_MATMUL", "EMBEDDING_LOOKUP")

assert all(BuiltinOperator.value(n) >= 0 for n in RULES)  # names must exist in the schema


def rule_for(op_name: str, act: str) -> Rule | None:
    """The rule for ``op_name`` with activation type ``act`` ("int8" or "int16"), or None: stays float."""
    r = RULES.get(op_name)
    if r is None or (act == "int16" and not r.int16):
        return None
    return r
