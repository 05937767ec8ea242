"""Will tflite-micro run this model, and run it right? Findings with the op, the tensor and a fix.

Rules (each learnt from tflite-micro's sources or checked against its Python interpreter):

* ``unsupported-op``: a builtin tflite-micro has no kernel for (its MicroMutableOpResolver ``Add*`` list).
* ``custom-op``: custom ops need a registration; ``ethos-u`` needs an Ethos-U NPU build, Signal*
  ops the signal library; anything else is unknown to tflite-micro.
* ``hybrid-op``: float activations with int8 weights (dynamic-range quantization). tflite-micro
  kernels reject the mix in Prepare.
* ``float16-weights``: float16 constants; tflite-micro has no float16 DEQUANTIZE.
* ``per-channel-dequantize``: DEQUANTIZE of a per-channel tensor. tflite-micro's DEQUANTIZE reads
  only the first scale and zero point, so every other channel comes out wrong, silently (checked:
  a weight-only int8 model built with edgequant gives LiteRT's results for channel 0 only).
* ``per-channel-unsupported``: per-channel constants into ops whose tflite-micro kernels take one
  scale only (e.g. BATCH_MATMUL, which fails in Prepare).
* ``blockwise-quantization``: BlockwiseQuantization details; tflite-micro rejects them.
* ``int16-kernel``: int16 activations into an op that has no int16 kernel in tflite-micro. SHAPE reads
  only its input's dimensions (any type; its kernel checks just the int32 output), so only its output counts.
* ``int8-kernel``: int8 activations into an op whose tflite-micro kernel takes float32 only (NEG, EXP, SQRT,
  SIN, ... see FLOAT_ONLY).
* ``nonstandard-quantized-dimension``: a quantized_dimension outside the tensor's rank (the
  person-detect biases say 3 on rank-1 tensors); tflite-micro ignores it, LiteRT rejects the model.
* ``dynamic-shape``: -1 in shape_signature; tflite-micro plans the static shape only.
* ``float-model``: float32 activations into or out of compute ops run on tflite-micro's float reference
  kernels: slow and 4x the arena on an MCU. QUANTIZE/DEQUANTIZE at the edges of an integer model (``--io
  float``) and SHAPE are not compute, so such a model is not a float model.

``group(findings)`` merges findings that say the same thing (severity, rule, message, fix) about several ops,
for a report of one line per kind.

>>> findings = lint(edgequant.load_file("model.tflite")); [f.rule for f in findings]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .. import dtypes
from .._words import counted
from ..graph import Model

ERROR, WARNING, INFO = "error", "warning", "info"

# Builtins tflite-micro registers (tensorflow/lite/micro/micro_mutable_op_resolver.h, Add* methods).
TFLM_BUILTINS = frozenset(["ABS", "ADD", "ADD_N", "ARG_MAX", "ARG_MIN", "ASSIGN_VARIABLE", "AVERAGE_POOL_2D", "BATCH_MATMUL", "BATCH_TO_SPACE_ND", "BROADCAST_ARGS", "BROADCAST_TO", "CALL_ONCE", "CAST", "CEIL", "CONCATENATION", "CONV_2D", "COS", "CUMSUM", "DEPTH_TO_SPACE", "DEPTHWISE_CONV_2D", "DEQUANTIZE", "DIV", "ELU", "EMBEDDING_LOOKUP", "EQUAL", "EXP", "EXPAND_DIMS", "FILL", "FLOOR", "FLOOR_DIV", "FLOOR_MOD", "FULLY_CONNECTED", "GATHER", "GATHER_ND", "GREATER", "GREATER_EQUAL", "HARD_SWISH", "IF", "L2_NORMALIZATION", "L2_POOL_2D", "LEAKY_RELU", "LESS", "LESS_EQUAL", "LOG", "LOG_SOFTMAX", "LOGICAL_AND", "LOGICAL_NOT", "LOGICAL_OR", "LOGISTIC", "MAX_POOL_2D", "MAXIMUM", "MEAN", "MINIMUM", "MIRROR_PAD", "MUL", "NEG", "NOT_EQUAL", "PACK", "PAD", "PADV2", "PRELU", "QUANTIZE", "READ_VARIABLE", "REDUCE_MAX", "REDUCE_MIN", "RELU", "RELU6", "RESHAPE", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "REVERSE_V2", "ROUND", "RSQRT", "SELECT_V2", "SHAPE", "SIN", "SLICE", "SOFTMAX", "SPACE_TO_BATCH_ND", "SPACE_TO_DEPTH", "SPLIT", "SPLIT_V", "SQRT", "SQUARE", "SQUARED_DIFFERENCE", "SQUEEZE", "STRIDED_SLICE", "SUB", "SUM", "SVDF", "TANH", "TRANSPOSE", "TRANSPOSE_CONV", "UNIDIRECTIONAL_SEQUENCE_LSTM", "UNPACK", "VAR_HANDLE", "WHILE", "ZEROS_LIKE"])
# Custom ops tflite-micro ships (or documents) a registration for.
TFLM_CUSTOM = {"TFLite_Detection_PostProcess": "AddDetectionPostprocess()",
               "CIRCULAR_BUFFER": "AddCircularBuffer()",
               # the signal library's ops (audio front ends), registered under these names by the resolver's
               # own methods (micro_mutable_op_resolver.h)
               **{f"Signal{op}": f"Add{op}()" for op in (
                   "Delay", "Energy", "FftAutoScale", "FilterBank", "FilterBankLog", "FilterBankSquareRoot",
                   "FilterBankSpectralSubtraction", "Framer", "Irfft", "OverlapAdd", "PCAN", "Rfft", "Stacker",
                   "Window")}}
# Ops whose tflite-micro kernels accept int16 activations (16x8 or int16 reference paths). Checked with single-op
# models in tests/test_lint.py: GATHER, HARD_SWISH and REDUCE_MAX take int8 but not int16; REVERSE_V2, RSQRT,
# BROADCAST_TO and RESIZE_NEAREST_NEIGHBOR take int16. NEG is float only (kernels/neg.cc).
INT16_OK = frozenset(["ADD", "SUB", "MUL", "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "SOFTMAX", "LOGISTIC", "TANH", "QUANTIZE", "CAST", "ABS", "DEQUANTIZE", "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "CONCATENATION", "MAX_POOL_2D", "AVERAGE_POOL_2D", "MEAN", "SUM", "PAD", "PADV2", "TRANSPOSE", "STRIDED_SLICE", "SLICE", "PACK", "UNPACK", "SPLIT", "SPLIT_V", "BATCH_MATMUL", "LEAKY_RELU", "MAXIMUM", "MINIMUM", "RELU", "RELU6", "SQUARED_DIFFERENCE", "UNIDIRECTIONAL_SEQUENCE_LSTM", "SVDF", "REVERSE_V2", "RSQRT", "BROADCAST_TO", "RESIZE_NEAREST_NEIGHBOR"])
WEIGHT_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "BATCH_MATMUL",
                        "SVDF", "UNIDIRECTIONAL_SEQUENCE_LSTM", "EMBEDDING_LOOKUP"})
# Ops that read only their inputs' dimensions, never the values: the input's type is irrelevant to tflite-micro.
# tflite-micro kernels that refuse int8 activations (float32 only); measured with single-op models in
# tests/test_lint.py, each against the same model in float32, which runs. FLOOR_DIV passes Prepare in int8 and
# fails at its first invoke (its Eval switch has float32 only), so its test invokes.
FLOAT_ONLY = frozenset({"NEG", "EXP", "ROUND", "CEIL", "FLOOR", "SQRT", "SIN", "COS", "LOG", "SQUARE", "FLOOR_MOD",
                        "L2_POOL_2D", "FLOOR_DIV"})
SHAPE_ONLY = frozenset({"SHAPE"})
# Ops that convert at a model's edges; float on one side is the point of them, not float compute.
CONVERSIONS = frozenset({"QUANTIZE", "DEQUANTIZE"})
PER_TENSOR_ONLY = frozenset({"BATCH_MATMUL", "ADD", "SUB", "MUL", "CONCATENATION"})
FIX_INT8 = "quantize the whole model to integers: edgequant quantize --mode int8"


@dataclass(frozen=True)
class Finding:
    severity: str  # error: tflite-micro cannot run it (or runs it wrong); warning; info
    rule: str
    message: str
    fix: str
    op_index: int | None = None
    op: str | None = None
    tensor: str | None = None
    subgraph: int = 0

    def where(self) -> str:
        parts = []
        if self.op_index is not None:
            parts.append(f"op {self.op_index} {self.op}" if self.subgraph == 0
                         else f"subgraph {self.subgraph} op {self.op_index} {self.op}")
        if self.tensor is not None:
            parts.append(f"tensor '{self.tensor}'")
        return ", ".join(parts) or "model"

    def to_dict(self) -> dict:
        return asdict(self)


def _is_quantized_int(t) -> bool:
    return t.type in (dtypes.INT8, dtypes.UINT8, dtypes.INT16, dtypes.INT4)


def _scales(t) -> int:
    qp = t.quantization
    return len(qp.scale) if qp is not None and qp.scale is not None else 0


def lint(model: Model) -> list[Finding]:
    """Every finding for tflite-micro, errors first within each op, in op order."""
    out: list[Finding] = []
    seen_custom: set[str] = set()
    float_ops: list[str] = []  # "op O NAME" of compute ops with float32 activations
    for s, sub in enumerate(model.subgraphs or []):
        tensors = sub.tensors or []
        for o, op in enumerate(sub.operators or []):
            name = model.op_name(op)
            code = model.opcode(op)

            def add(sev, rule, msg, fix, tensor=None, o=o, name=name, s=s):
                out.append(Finding(sev, rule, msg, fix, o, name, tensor, s))

            if name.startswith("CUSTOM:"):
                custom = code.custom_code or ""
                if custom in TFLM_CUSTOM:
                    add(INFO, "custom-op", f"custom op {custom} ships with tflite-micro",
                        f"register it: resolver.{TFLM_CUSTOM[custom]}")
                elif custom == "ethos-u":
                    add(ERROR, "custom-op", "ethos-u op runs only on an Arm Ethos-U NPU build of tflite-micro",
                        "deploy on an Ethos-U target, or use the model before Vela compilation")
                elif custom.startswith("Signal"):
                    if custom not in seen_custom:
                        add(WARNING, "custom-op", f"custom op {custom} comes from tflite-micro's signal library",
                            "build with tensorflow/lite/micro/signal and register its ops")
                else:
                    add(ERROR, "custom-op", f"custom op {custom} has no tflite-micro kernel",
                        "write and register a kernel (resolver.AddCustom), or replace the op")
                seen_custom.add(custom)
                continue
            if name not in TFLM_BUILTINS:
                add(ERROR, "unsupported-op", f"{name} has no tflite-micro kernel",
                    "replace the op when converting, or implement a kernel for it")
            ins = [tensors[i] if 0 <= i < len(tensors) else None for i in op.inputs or []]
            outs = [tensors[i] for i in op.outputs or [] if 0 <= i < len(tensors)]
            acts = outs if name in SHAPE_ONLY else [t for t in ins if t is not None and not t.is_constant] + outs
            if name not in CONVERSIONS and name not in SHAPE_ONLY and any(t.type == dtypes.FLOAT32 for t in acts):
                float_ops.append(f"op {o} {name}" if s == 0 else f"subgraph {s} op {o} {name}")
            # hybrid: float activations with integer weights (not DEQUANTIZE, which exists to do that)
            if name in WEIGHT_OPS and ins and ins[0] is not None and ins[0].type == dtypes.FLOAT32:
                for t in ins[1:]:
                    if t is not None and t.is_constant and t.type in (dtypes.INT8, dtypes.UINT8, dtypes.INT4):
                        add(ERROR, "hybrid-op", f"float input with {t.type_name} weights (dynamic-range "
                            "quantization); tflite-micro has no hybrid kernels", FIX_INT8, t.name)
                        break
            for t in ins:
                if t is None:
                    continue
                if t.is_constant and t.type == dtypes.FLOAT16:
                    add(ERROR, "float16-weights", "float16 constant; tflite-micro has no float16 kernels",
                        f"store float32 weights, or {FIX_INT8}", t.name)
                qp = t.quantization
                if qp is not None and qp.details is not None:
                    add(ERROR, "blockwise-quantization", f"{qp.describe()} quantization is not supported",
                        "use per-channel int8 weights: edgequant quantize --mode int8", t.name)
                n = _scales(t)
                if name == "DEQUANTIZE" and n > 1:
                    add(ERROR, "per-channel-dequantize", "per-channel DEQUANTIZE: tflite-micro uses the first "
                        "scale and zero point for every channel, so the other channels come out wrong",
                        f"one scale per weight tensor (edgequant quantize --per-tensor), or {FIX_INT8}", t.name)
                elif name in PER_TENSOR_ONLY and n > 1:
                    add(ERROR, "per-channel-unsupported", f"{name} takes per-tensor quantization only "
                        f"({n} scales)", "quantize this input per-tensor", t.name)
            for t in acts:
                if t.type == dtypes.INT16 and name not in INT16_OK:
                    add(ERROR, "int16-kernel", "no int16 kernel for this op in tflite-micro",
                        "quantize activations to int8 (edgequant quantize --mode int8)", t.name)
                    break
                if t.type in (dtypes.INT8, dtypes.UINT8) and name in FLOAT_ONLY:
                    add(ERROR, "int8-kernel", "tflite-micro's kernel for this op takes float32 only",
                        f"keep it float (edgequant quantize --keep-float {name.lower()}) or replace the op", t.name)
                    break
        for i, t in enumerate(tensors):
            qp = t.quantization
            n = _scales(t)
            shape = list(t.shape or [])
            if n > 1 and not 0 <= qp.quantized_dimension < max(len(shape), 1):
                op_i, op_name = _first_user(model, sub, i)
                out.append(Finding(WARNING, "nonstandard-quantized-dimension",
                                   f"quantized_dimension {qp.quantized_dimension} on a rank-{len(shape)} tensor; "
                                   "tflite-micro ignores it but LiteRT rejects the model",
                                   "set quantized_dimension to 0", op_i, op_name, t.name, s))
            sig = list(t.shape_signature or [])
            if any(d == -1 for d in sig[1:]) or any(d < 0 for d in shape):
                op_i, op_name = _first_user(model, sub, i)
                sev = ERROR if any(d < 0 for d in shape) else WARNING
                out.append(Finding(sev, "dynamic-shape", f"dynamic shape signature {sig}; tflite-micro plans "
                                   f"the static shape {shape} only", "convert with fixed input shapes",
                                   op_i, op_name, t.name, s))
    if float_ops:
        shown = ", ".join(float_ops[:4]) + (f", ... ({len(float_ops) - 4} more)" if len(float_ops) > 4 else "")
        out.append(Finding(INFO, "float-model", f"float32 activations in {len(float_ops)} compute op"
                           f"{'s' if len(float_ops) > 1 else ''} ({shown}): tflite-micro runs its float reference "
                           "kernels (slow, 4x the arena of int8)", FIX_INT8))
    return out


def group(findings: list[Finding]) -> list[list[Finding]]:
    """Findings that say the same thing (severity, rule, message, fix) about several ops or tensors, as one list
    each, in the order of their first finding.

    >>> [len(g) for g in group(lint(edgequant.load_file("person_detect.tflite")))]  # 28 biases, one warning
    [28]
    """
    groups: dict[tuple, list[Finding]] = {}
    for f in findings:
        groups.setdefault((f.severity, f.rule, f.message, f.fix), []).append(f)
    return list(groups.values())


def describe_group(g: list[Finding], limit: int = 6) -> str:
    """Where a group of findings applies: ``f.where()`` for one, else the count and the ops (the first ``limit``)."""
    if len(g) == 1:
        return g[0].where()
    at = sorted({(f.subgraph, f.op_index, f.op) for f in g if f.op_index is not None})
    ops = [f"op {o} {name}" if s == 0 else f"subgraph {s} op {o} {name}" for s, o, name in at]
    if not ops:
        return counted(len(g), "place")
    more = f", ... ({len(ops) - limit} more)" if len(ops) > limit else ""
    tensors = f", {counted(len(g), 'tensor')}" if len(g) > len(ops) else ""
    return f"{counted(len(ops), 'op')}{tensors} ({', '.join(ops[:limit])}{more})"


def _first_user(model: Model, sub, tensor: int) -> tuple[int | None, str | None]:
    for o, op in enumerate(sub.operators or []):
        if tensor in (op.inputs or []) or tensor in (op.outputs or []):
            return o, model.op_name(op)
    return None, None


def error_groups(model: Model) -> list[list[Finding]]:
    """The model's errors, grouped (see :func:`group`): why tflite-micro refuses it, or computes something else."""
    return [g for g in group(lint(model)) if g[0].severity == ERROR]


def can_run(findings: list[Finding]) -> bool:
    return not any(f.severity == ERROR for f in findings)
