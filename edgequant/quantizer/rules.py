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

from .. import dtypes
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
    """

    act_inputs: tuple[int, ...] | None = (0,)
    weights: dict[int, int] = field(default_factory=dict)
    bias: int | None = None
    same_scale: bool = False
    fixed: dict[str, tuple[float, int]] = field(default_factory=dict)
    int16: bool = True
    per_channel: bool = True  # per-channel weights are allowed


_SOFTMAX_FIXED = {"int8": (1 / 256, -128), "int16": (1 / 32768, 0)}

RULES: dict[str, Rule] = {
    "CONV_2D": Rule(weights={1: 0}, bias=2),
    "DEPTHWISE_CONV_2D": Rule(weights={1: 3}, bias=2),
    "FULLY_CONNECTED": Rule(weights={1: 0}, bias=2),
    "TRANSPOSE_CONV": Rule(act_inputs=(2,), weights={1: 0}, bias=3),
    "ADD": Rule(act_inputs=(0, 1)),
    "SUB": Rule(act_inputs=(0, 1)),
    "MUL": Rule(act_inputs=(0, 1)),
    "AVERAGE_POOL_2D": Rule(same_scale=True),
    "MAX_POOL_2D": Rule(same_scale=True),
    "CONCATENATION": Rule(act_inputs=None, same_scale=True),
    "RESHAPE": Rule(same_scale=True),
    "SQUEEZE": Rule(same_scale=True),
    "EXPAND_DIMS": Rule(same_scale=True),
    "TRANSPOSE": Rule(same_scale=True),
    "PAD": Rule(same_scale=True),
    "SLICE": Rule(same_scale=True),
    "STRIDED_SLICE": Rule(same_scale=True),
    "MEAN": Rule(),
    "SOFTMAX": Rule(fixed=_SOFTMAX_FIXED),
    "LOGISTIC": Rule(fixed=_SOFTMAX_FIXED),
    "TANH": Rule(fixed={"int8": (1 / 128, 0), "int16": (1 / 32768, 0)}),
    "RELU": Rule(int16=False),
    "RELU6": Rule(int16=False),
    "HARD_SWISH": Rule(int16=False),
    "LEAKY_RELU": Rule(),
    # reads only the shape of its input, so any input type works; its int32 output is not touched
    "SHAPE": Rule(),
    # The 8x8_16 LSTM: its weights, biases, states and intermediates follow operator_property.cc's LSTM entries,
    # which no field of Rule can say; lstm.py holds them. No weights here: weight-only modes keep the LSTM's
    # matrices per tensor. TFLite has no 16x8 LSTM (quantizable_int16 = false).
    "UNIDIRECTIONAL_SEQUENCE_LSTM": Rule(int16=False, per_channel=False),
}

# Ops TFLiteConverter's dynamic-range mode gives hybrid kernels: input index of the weight -> axis.
HYBRID = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
# Ops whose constant float weights weight-only / float16 modes compress.
WEIGHT_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "BATCH_MATMUL", "EMBEDDING_LOOKUP",
              "UNIDIRECTIONAL_SEQUENCE_LSTM")
# Which inputs weight_only_int8 stores as int8 (with a DEQUANTIZE at load); input 1 where not listed. The LSTM's
# are its eight gate matrices and the projection (lstm.cc's input numbering); they stay per-tensor (no RULE).
WEIGHT_INPUTS = {"EMBEDDING_LOOKUP": (0,), "UNIDIRECTIONAL_SEQUENCE_LSTM": (1, 2, 3, 4, 5, 6, 7, 8, 16)}

assert all(BuiltinOperator.value(n) >= 0 for n in RULES)  # names must exist in the schema


def rule_for(op_name: str, act: str) -> Rule | None:
    """The rule for ``op_name`` with activation type ``act`` ("int8" or "int16"), or None: stays float."""
    r = RULES.get(op_name)
    if r is None or (act == "int16" and not r.int16):
        return None
    return r


# -- operator versions ------------------------------------------------------------------------------------------
# Transcribed from LiteRT's GetBuiltinOperatorVersion (tensorflow/lite/tools/versioning/op_version.cc) for the ops
# and type combinations the quantizer writes. The runtime takes the highest version any op of a code needs.
# Deviation (DEPTHWISE_CONV_2D 16x8): op_version.cc's int16 test compares the *filter* with int16, which a 16x8
# model (int8 filter) never meets, so the literal reading falls through to version 1; we write 5, the version its
# comment and LiteRT's runtime_version table assign to the int16 kernel.

_I8, _I16, _F32, _U8, _F16 = dtypes.INT8, dtypes.INT16, dtypes.FLOAT32, dtypes.UINT8, dtypes.FLOAT16
_HYBRID_TYPES = (_F32, _I8, _F32)


def _types(sg, op) -> tuple[list[int | None], list[int | None]]:
    def ty(i: int) -> int | None:
        return None if i < 0 else sg.tensors[i].type
    return [ty(i) for i in op.inputs or []], [ty(i) for i in op.outputs or []]


def _scales(sg, i: int):
    qp = sg.tensors[i].quantization if i >= 0 else None
    return None if qp is None or qp.scale is None else qp.scale


def _per_channel(sg, i: int, axis: int | None = None) -> bool:
    """Like GetOpSignature: one scale per channel of ``axis`` (or more than one scale when axis is None)."""
    s = _scales(sg, i)
    if s is None or len(s) == 0:
        return False
    if axis is None:
        return len(s) > 1
    shape = sg.tensors[i].shape or []
    return axis < len(shape) and len(s) == shape[axis]


def op_version(name: str, sg, op) -> int | None:
    """The version op_version.cc gives ``op`` (a builtin named ``name`` in subgraph ``sg``), or None when this
    table does not cover the op (the caller keeps the version it had)."""
    ins, outs = _types(sg, op)
    i0 = ins[0] if ins else None
    i1 = ins[1] if len(ins) > 1 else None
    o0 = outs[0] if outs else None
    opt = op.builtin_options
    if name == "CONV_2D":
        if (i0, i1, o0) == (_I16, _I8, _I16) and opt is not None and opt.quantized_bias_type:
            return 8
        if (i0, i1, o0) == (_I8, _I8, _I8):
            return 3
        if (i0, i1, o0) == _HYBRID_TYPES:
            return 5 if _per_channel(sg, op.inputs[1], 0) else 2
        return 1
    if name == "DEPTHWISE_CONV_2D":
        if (i0, i1, o0) == (_I16, _I8, _I16):
            return 5  # see the note above
        if (i0, i1, o0) == _HYBRID_TYPES:
            return 6 if _per_channel(sg, op.inputs[1], 3) else 4
        if (i0, i1, o0) == (_I8, _I8, _I8):
            return 3
        dilated = opt is not None and (opt.dilation_w_factor != 1 or opt.dilation_h_factor != 1)
        return 2 if dilated else 1
    if name == "FULLY_CONNECTED":
        if (i0, i1, o0) == _HYBRID_TYPES and _per_channel(sg, op.inputs[1]):
            return 12
        if (i0, i1, o0) == (_I16, _I8, _I16) and opt is not None and opt.quantized_bias_type:
            return 11
        if len(ins) == 2:
            return 6
        if opt is not None and opt.keep_num_dims:
            return 5
        if (i0, i1, o0) == (_I8, _I8, _I8):
            return 4
        if (i0, i1, o0) == _HYBRID_TYPES:
            return 9 if opt is not None and opt.asymmetric_quantize_inputs else 3
        return 1
    if name == "TRANSPOSE_CONV":  # inputs: output shape, filter, activation, bias
        if opt is not None and opt.fused_activation_function:
            return 4
        if len(ins) == 4 and ins[3] is not None:
            return 3
        return 2 if i1 == _I8 else 1
    if name in ("ADD", "SUB"):
        if i0 == _I16 and o0 == _I16 and opt is not None and not opt.pot_scale_int16:
            return 3 if name == "ADD" else 5
        if name == "SUB" and i1 is not None and len(sg.tensors[op.inputs[0]].shape or []) > 4 \
                and sg.tensors[op.inputs[0]].shape != sg.tensors[op.inputs[1]].shape:
            return 3
        return 2 if i0 == _I8 else 1
    if name == "MUL":
        if i0 == _I16:
            return 4
        s = [_scales(sg, i) for i in (op.inputs[0], op.inputs[1], op.outputs[0])]
        if all(v is not None and len(v) and v[0] != 0 for v in s) and \
                float(s[0][0]) * float(s[1][0]) / float(s[2][0]) >= 1.0:
            return 3
        return 2 if i0 == _I8 else 1
    if name in ("AVERAGE_POOL_2D", "MAX_POOL_2D", "LOGISTIC", "TANH"):
        return 3 if (i0, o0) == (_I16, _I16) else 2 if i0 == _I8 else 1
    if name in ("SOFTMAX", "MEAN", "RELU6", "CONCATENATION"):
        return 3 if i0 == _I16 else 2 if i0 == _I8 else 1
    if name == "RELU":
        return 3 if i0 == _I16 else 2 if i0 in (_I8, _U8) else 1
    if name == "LEAKY_RELU":
        return 2 if i0 == _I16 else 1
    rank = len(sg.tensors[op.inputs[0]].shape or []) if ins else 0
    if name == "TRANSPOSE":
        return 6 if rank > 5 else 5 if i0 == _I16 else 4 if rank > 4 else 2 if i0 == _I8 else 1
    if name == "PAD":
        return 4 if rank > 4 else 3 if i0 == _I16 else 2 if i0 == _I8 else 1
    if name == "SLICE":
        return 5 if rank > 4 else 4 if i0 == _I16 else 2 if i0 == _I8 else 1
    if name == "STRIDED_SLICE":
        if opt is not None and (opt.ellipsis_mask or opt.new_axis_mask):
            return 6
        return 4 if rank > 4 else 2 if i0 == _I8 else 1
    if name == "QUANTIZE":
        if _per_channel(sg, op.outputs[0]):
            return 3
        return 2 if o0 == _I16 else 1
    if name == "DEQUANTIZE":
        if i0 in (_I16, _F16):
            return 3
        if i0 == _I8:
            return 5 if _per_channel(sg, op.inputs[0]) else 2
        return 1
    if name in ("RESHAPE", "SQUEEZE", "EXPAND_DIMS", "SHAPE", "HARD_SWISH"):
        return 1
    if name == "UNIDIRECTIONAL_SEQUENCE_LSTM" and i0 == _I8:
        # Deviation: op_version.cc's literal reading gives 1 for the int8 LSTM; TFLite's quantizer writes its
        # operator property's version 2 (so does TFLiteConverter), and we write what it writes.
        return 2
    return None
