"""Build the quantized model: new weight buffers, tensor types and parameters, QUANTIZE / DEQUANTIZE at the
borders between integer and float ops, op versions, hybrid flags.

The input model is never modified (we work on ``model.clone()``). Buffers no live tensor uses any more
are emptied, so the float weights do not travel along in the output file.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .. import dtypes
from ..errors import EdgequantError, UnsupportedError
from ..graph import Buffer, Model, Operator, QuantizationParameters, SubGraph, Tensor, new_node
from ..qmath import quantize_affine
from ..quantization import QuantizationError, QuantParams, choose_qparams
from . import bias, lstm, rules
from .balanced import CHANNEL_AXIS as BALANCED_OPS
from .balanced import balanced_ints, balanced_many, one_signed_input
from .data import rows_per_invocation
from .gptq import Hessians, round_weights
from .recipe import Recipe
from .weights import weight_params, weight_params_many

FLOAT = dtypes.FLOAT32


@dataclass
class Report:
    """What the rewrite did, for people (the CLI summary) and tests."""

    mode: str
    quantized_ops: list[str] = field(default_factory=list)  # "3 CONV_2D"
    float_ops: list[str] = field(default_factory=list)  # "5 GATHER (no int8 rule)"
    quantized_weights: list[str] = field(default_factory=list)
    inserted: dict[str, int] = field(default_factory=dict)  # op name -> count of inserted ops
    recipe: dict = field(default_factory=dict)  # the recipe as run ("auto" choices made), as JSON
    calibration: dict | None = None  # samples, backend, seconds of the float run, if there was one
    corrected_biases: list[str] = field(default_factory=list)  # bias tensors shifted by edgequant.quantizer.bias
    bias_samples: int = 0  # calibration samples the bias correction ran on
    notes: list[str] = field(default_factory=list)  # what a user should know that the lists above do not say
    # the rewritten model's operators that were the input model's main subgraph's, in its order (the others are
    # inserted QUANTIZE/DEQUANTIZE ops): what apply_bias_correction finds them by
    ops: list = field(default_factory=list, repr=False, compare=False)

    def count(self, name: str) -> None:
        self.inserted[name] = self.inserted.get(name, 0) + 1

    def to_dict(self) -> dict:
        d = {"mode": self.mode, "recipe": self.recipe, "quantized_ops": self.quantized_ops,
             "float_ops": self.float_ops, "quantized_weights": self.quantized_weights, "inserted_ops": self.inserted}
        if self.calibration is not None:
            d["calibration"] = self.calibration
        if self.corrected_biases:
            d["corrected_biases"] = self.corrected_biases
            d["bias_samples"] = self.bias_samples
        if self.notes:
            d["notes"] = self.notes
        return d


# -- shared helpers -------------------------------------------------------------------------------

def check_float_model(model: Model) -> None:
    """Refuse models that already hold quantized tensors or QUANTIZE/DEQUANTIZE ops: one line, naming one.

    Quantized means integer with quantization parameters, float16 or int4. An integer tensor without them is
    plain integer data (raw int16 audio samples, uint8 pixels cast to float, shapes): the model's float part
    can still be quantized."""
    for s, sg in enumerate(model.subgraphs or []):
        for o, op in enumerate(sg.operators or []):
            name = model.op_name(op)
            if name in ("QUANTIZE", "DEQUANTIZE"):
                raise UnsupportedError(f"model is already quantized: subgraph {s} op {o} is {name}")
        for t in sg.tensors or []:
            qp = t.quantization
            if t.type in (dtypes.FLOAT16, dtypes.INT4) or (qp is not None and qp.is_quantized and t.type != FLOAT):
                raise UnsupportedError(f"model is already quantized: subgraph {s} tensor {t.index} '{t.name}' "
                                       f"is {t.type_name}" + (" with quantization parameters"
                                                              if t.type not in (dtypes.FLOAT16, dtypes.INT4) else ""))


def check_one_subgraph(model: Model) -> None:
    """Full-integer modes rewrite the main subgraph only: refuse others in one line, before any calibration."""
    n = len(model.subgraphs or [])
    if n != 1:
        raise UnsupportedError(f"full-integer quantization handles models with one subgraph; this one has {n} "
                               f"(control flow or several signatures): use a weight mode (dynamic_int8, "
                               f"weight_only_int8, float16)")


def _qparams_node(qp: QuantParams) -> QuantizationParameters:
    scale = np.atleast_1d(np.asarray(qp.scale, np.float32))
    zp = np.atleast_1d(np.asarray(qp.zero_point, np.int64))
    return QuantizationParameters(scale=scale, zero_point=zp, quantized_dimension=int(qp.axis or 0))


def _new_tensor(sg: SubGraph, like: Tensor, name: str, ttype: int, buffer: int = 0,
                quant: QuantizationParameters | None = None) -> int:
    # has_rank only means something for an empty shape (a scalar vs an unknown rank); leaving it at its default
    # elsewhere saves a field, as LiteRT's own converters do for tensors they add
    t = Tensor(name=name, type=ttype, shape=list(like.shape or []), buffer=buffer, quantization=quant,
               shape_signature=list(like.shape_signature) if like.shape_signature is not None else None,
               has_rank=like.has_rank if not like.shape else False)
    return sg.add_tensor(t)


def _add_op(m: Model, name: str, inputs: list[int], outputs: list[int]) -> Operator:
    """A new operator; its version is set at the end by :func:`set_versions`."""
    return Operator(opcode_index=m.op_code_index(name), inputs=inputs, outputs=outputs)


def check_finite_weights(model: Model) -> None:
    """Refuse, naming the tensor, a weight with NaN or Inf values (before a calibration run would meet it as an
    activation that "became NaN")."""
    for sg in model.subgraphs or []:
        for op in sg.operators or []:
            name = model.op_name(op)
            if name not in rules.WEIGHT_OPS:
                continue
            for slot in _weight_inputs(name):
                idx = (op.inputs or [])[slot] if slot < len(op.inputs or []) else -1
                w = _const_float(sg, idx) if idx >= 0 else None
                if w is not None and not np.isfinite(w).all():
                    raise _nonfinite(sg, idx, name)


def _nonfinite(sg: SubGraph, idx: int, op_name: str) -> EdgequantError:
    t = sg.tensors[idx]
    bad = int(np.count_nonzero(~np.isfinite(t.numpy())))
    return EdgequantError(f"{op_name} weight tensor {idx} '{t.name}' holds {bad} NaN or Inf value"
                          f"{'s' if bad != 1 else ''}: int8 scales cannot cover them; fix the float model")


def _weight_params(w: np.ndarray, axis: int | None, recipe: Recipe) -> QuantParams:
    """Symmetric narrow-range weights: zero point 0, [-127, 127], per channel on ``axis`` or per tensor, over
    the range the recipe's ``weight_range`` picks."""
    return weight_params(w, axis, recipe.weight_range)


def _fit_bias(qp: QuantParams, op: Operator, rule: rules.Rule, sg: SubGraph,
              params: dict[int, QuantParams]) -> QuantParams:
    """Widen weight scales where the bias (scale = input scale x weight scale) would not fit its integer type.

    Channels whose weights are all but zero (1e-30 after folding a dead batch-norm channel, say) get a weight
    scale so small that a normal bias overflows int32, or even int64; clipping it would silently change that
    channel's output. Like TFLite's AdjustWeightsForBiasScale, raise those channels' weight scales instead.
    """
    if rule.bias is None or rule.bias >= len(op.inputs or []) or op.inputs[rule.bias] < 0:
        return qp
    b = _const_float(sg, op.inputs[rule.bias])
    in_qp = params.get(op.inputs[_act_slot(rule)])
    if b is None or in_qp is None:
        return qp
    # Half the int32 range, so the accumulator still has room for the products. The same bound serves int64
    # (16x8) biases: a bias near 2**46 would need an effective output multiplier below 2**-31, which
    # QuantizeMultiplier flushes to zero, and the int64 requantization takes |acc| < 2**47 only.
    half = float(1 << 30)
    need = np.abs(b.astype(np.float64)) / (np.float64(in_qp.scale) * half)
    scale = np.asarray(qp.scale, np.float64)
    if scale.ndim == 0:
        need = need.max(initial=0.0)
    wider = np.maximum(scale, need)
    if np.array_equal(wider, scale):
        return qp
    return replace(qp, scale=np.nextafter(wider.astype(np.float32), np.float32(np.inf)))


def _quantize_const(w: np.ndarray, qp: QuantParams) -> np.ndarray:
    return quantize_affine(w, qp.scale, qp.zero_point, qp.qmin, qp.qmax, axis=qp.axis, dtype=qp.storage_dtype)


def _weight_ints(w: np.ndarray, qp: QuantParams, op_name: str, idx: int, hessians: Hessians | None,
                 balance: bool) -> np.ndarray:
    """The integers of weight tensor ``idx``: GPTQ's where the recipe asks for it and it applies; else balanced
    where ``balance`` (from :func:`_may_balance`) and the grid allows; else nearest."""
    q = round_weights(w, qp, hessians.get(idx), op_name) if hessians is not None else None
    if q is not None:
        return q.astype(qp.storage_dtype)
    if balance and _balances(op_name, qp):
        return balanced_ints(w, qp.scale, qp.axis, op_name, qp.qmin, qp.qmax)
    return _quantize_const(w, qp)


def _store_in_place(m: Model, t: Tensor, data: np.ndarray) -> int:
    """Put ``data`` in the buffer ``t`` already owns when no other tensor shares it, else in a new buffer.

    Reusing the float weight's slot keeps the model's buffer order (constants in the order the converter wrote
    them), which is also the order LiteRT's and ai-edge-quantizer's files have; appending instead moved every
    int8 weight to the end and changed where the 16-byte alignment padding falls.
    """
    b = t.buffer
    shared = b == 0 or b >= len(m.buffers or []) or m.buffers[b].offset or any(
        u.buffer == b and u is not t for g in m.subgraphs or [] for u in g.tensors or [])
    if shared:
        return m.add_buffer(data)
    m.buffers[b] = Buffer(data=np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8))
    return b


def _tensor_names(sg: SubGraph, op: Operator) -> list[str]:
    """What a recipe's name pattern is searched in: the op's outputs and its constant inputs (weights, bias),
    the names the summary lists under quantized weights."""
    outs = [sg.tensors[i].name for i in (op.outputs or []) if i >= 0]
    return outs + [sg.tensors[i].name for i in (op.inputs or []) if i >= 0 and sg.tensors[i].is_constant]


def check_overrides(model: Model, recipe: Recipe) -> None:
    """An override that matches no op is almost always a typo or a name from another model: say so rather
    than quantize as if it were not there."""
    ops = [(model.op_name(op), _tensor_names(sg, op)) for sg in model.subgraphs or [] for op in sg.operators or []]
    for o in recipe.overrides:
        if not any(o.matches(name, names) for name, names in ops):
            what = " and ".join(x for x in (f"op type {o.op}" if o.op else "",
                                            f"name pattern '{o.name}'" if o.name is not None else "") if x)
            raise EdgequantError(f"recipe: the {o.action!r} override ({what or 'all ops'}) matches no op of this "
                                 "model (a pattern is searched in op types, ignoring case, and in op output and "
                                 "weight tensor names)")


def _sole_user(sg: SubGraph, t_index: int, consumers: dict[int, list[int]]) -> bool:
    return len(consumers.get(t_index, [])) <= 1 and t_index not in (sg.outputs or [])


def compact(m: Model) -> None:
    """Remove tensors no op or subgraph input/output uses, then buffers no tensor uses; renumber references."""
    for s, sg in enumerate(m.subgraphs or []):
        used = set(sg.inputs or []) | set(sg.outputs or [])
        for op in sg.operators or []:
            for name in ("inputs", "outputs", "intermediates"):
                used.update(i for i in (getattr(op, name) or []) if i >= 0)
        keep = sorted(used)
        new_index = {old: k for k, old in enumerate(keep)}
        sg.tensors = [sg.tensors[i] for i in keep]
        for op in sg.operators or []:
            for name in ("inputs", "outputs", "intermediates"):
                v = getattr(op, name)
                if v is not None:
                    setattr(op, name, [new_index[i] if i >= 0 else i for i in v])
        sg.inputs = [new_index[i] for i in sg.inputs or []]
        sg.outputs = [new_index[i] for i in sg.outputs or []]
        for sd in m.signature_defs or []:
            if sd.subgraph_index == s:
                for tm in (sd.inputs or []) + (sd.outputs or []):
                    tm.tensor_index = new_index[tm.tensor_index]
    for sg in m.subgraphs or []:
        for t in sg.tensors or []:
            # activations point at the empty sentinel rather than each at an empty buffer of its own
            if t.buffer and not t.is_variable and _empty(m.buffers[t.buffer]):
                t.buffer = 0
    live = sorted({t.buffer for sg in m.subgraphs or [] for t in sg.tensors or [] if t.buffer} |
                  {md.buffer for md in m.metadata or []})
    new_buf = {0: 0, **{old: k + 1 for k, old in enumerate(live)}}
    m.buffers = [m.buffers[0] if m.buffers else Buffer()] + [m.buffers[i] for i in live]
    for sg in m.subgraphs or []:
        for t in sg.tensors or []:
            t.buffer = new_buf[t.buffer]
    for md in m.metadata or []:
        md.buffer = new_buf[md.buffer]
    m.bind()


def _empty(buf: Buffer) -> bool:
    return buf.nbytes == 0 and not (buf.offset or 0) > 1


def _drop_dead_buffers(m: Model) -> None:
    """Empty every buffer that no tensor used by an op or a subgraph's inputs/outputs points at
    (metadata buffers stay: they belong to the model, not to a tensor)."""
    live: set[int] = {md.buffer for md in m.metadata or []}
    for sg in m.subgraphs or []:
        used = set(sg.inputs or []) | set(sg.outputs or [])
        for op in sg.operators or []:
            used.update(i for i in (op.inputs or []) if i >= 0)
            used.update(i for i in (op.outputs or []) if i >= 0)
            used.update(i for i in (op.intermediates or []) if i >= 0)
        for i in used:
            live.add(sg.tensors[i].buffer)
    for i, buf in enumerate(m.buffers or []):
        if i and i not in live and buf.data is not None and buf.nbytes:
            m.buffers[i] = Buffer()


def _const_float(sg: SubGraph, idx: int) -> np.ndarray | None:
    if idx < 0:
        return None
    t = sg.tensors[idx]
    if t.type != FLOAT or not t.is_constant or t.is_variable:
        return None
    return t.numpy()


# -- weight modes: float16, weight_only_int8, dynamic_int8 ----------------------------------------------

def rewrite_weights(model: Model, recipe: Recipe, hessians: Hessians | None = None) -> tuple[Model, Report]:
    """float16 / weight_only_int8 / dynamic_int8: weights change, activations stay float. ``hessians``: input
    statistics of the main subgraph's weight ops, for ``weight_rounding="gptq"``."""
    m = model.clone()
    rep = Report(recipe.mode, ops=list(m.main.operators or []) if m.subgraphs else [])
    found = _weight_params_ahead(m, recipe)
    for s, sg in enumerate(m.subgraphs or []):
        consumers, producers = sg.consumers(), sg.producers()
        sole = {i for i, c in consumers.items() if len(c) == 1 and i not in (sg.outputs or [])}
        new_ops: list[Operator] = []
        converted: dict[int, int] = {}  # original constant tensor -> float tensor produced by DEQUANTIZE
        for o, op in enumerate(sg.operators or []):
            name = m.op_name(op)
            actions = recipe.action_for(name, _tensor_names(sg, op))
            if "float" in actions:
                rep.float_ops.append(f"{o} {name} (kept float by the recipe)")
                new_ops.append(op)
                continue
            per_channel = recipe.per_channel and "per_tensor" not in actions
            balance = _may_balance(m, sg, op, name, recipe, producers)
            small = _small_weight(sg, op, name, recipe)
            if small:
                rep.float_ops.append(f"{o} {name} ({small} weights, under min_weight_elements "
                                     f"{recipe.min_weight_elements})")
            grouped = _grouped_conv(sg, op, name)
            if recipe.mode == "dynamic_int8" and not grouped:
                if _hybrid(m, sg, op, name, recipe, per_channel, consumers, rep, hessians if s == 0 else None, found,
                           balance):
                    rep.quantized_ops.append(f"{o} {name}")
                elif not small and _has_weight_matrix(sg, op):
                    rep.float_ops.append(f"{o} {name} (no {recipe.mode} rule for its weights: they stay float)")
                new_ops.append(op)
                continue
            slots = _weight_slots(sg, op, name, recipe)
            if not slots and not small and _has_weight_matrix(sg, op):
                rep.float_ops.append(f"{o} {name} (no {recipe.mode} rule for its weights: they stay float)")
            for slot in slots:
                idx = op.inputs[slot]
                if idx not in converted:
                    converted[idx] = _dequantized_const(m, sg, idx, name, slot, recipe, per_channel, new_ops, rep,
                                                        sole, hessians if s == 0 else None, found, balance)
                op.inputs = list(op.inputs)
                op.inputs[slot] = converted[idx]
            if slots:
                rep.quantized_ops.append(f"{o} {name}" + (" (grouped: no hybrid kernel, its int8 weights are "
                                                          "dequantized at load)" if grouped and recipe.mode ==
                                                         "dynamic_int8" else ""))
            new_ops.append(op)
        sg.operators = new_ops
    _drop_dead_buffers(m)
    compact(m)
    set_versions(m, model)
    return m.bind(), rep


def _weight_params_ahead(m: Model, recipe: Recipe
                         ) -> dict[tuple[int, int, int | None], tuple[QuantParams, np.ndarray | None]]:
    """The int8 weight parameters the weight-mode rewrite will ask for, keyed by (id of the subgraph, tensor index,
    axis), computed in one :func:`weight_params_many` call, with their balanced integers (one
    :func:`balanced_many` call) when the recipe rounds that way: the same choices as its loop makes (it asks
    again for anything missing here)."""
    if recipe.mode not in ("weight_only_int8", "dynamic_int8"):
        return {}
    want: dict[tuple[int, int, int | None], tuple[np.ndarray, str, bool]] = {}
    for sg in m.subgraphs or []:
        producers = sg.producers()
        for op in sg.operators or []:
            name = m.op_name(op)
            balance = _may_balance(m, sg, op, name, recipe, producers)
            actions = recipe.action_for(name, _tensor_names(sg, op))
            if "float" in actions:
                continue
            per_channel = recipe.per_channel and "per_tensor" not in actions
            if recipe.mode == "dynamic_int8":
                if name in rules.HYBRID and len(op.inputs or []) >= 2:
                    w = _const_float(sg, op.inputs[1])
                    if w is not None and w.size >= recipe.min_weight_elements:
                        want[(id(sg), op.inputs[1], rules.RULES[name].weights[1] if per_channel else None)] = (
                            w, name, balance)
                continue
            rule = rules.RULES.get(name)
            for slot in _weight_slots(sg, op, name, recipe):
                w = _const_float(sg, op.inputs[slot])
                axis = rule.weights.get(slot) if (rule is not None and per_channel and w.ndim > 1) else None
                want.setdefault((id(sg), op.inputs[slot], axis), (w, name, balance))
    try:
        qps = weight_params_many([(w, key[2]) for key, (w, _, _) in want.items()], recipe.weight_range)
    except QuantizationError:
        for (sg_id, idx, _), (w, name, _) in want.items():
            if not np.isfinite(w).all():
                raise _nonfinite(next(g for g in m.subgraphs if id(g) == sg_id), idx, name) from None
        raise
    found = {key: (qp, None) for key, qp in zip(want, qps)}
    if recipe.weight_rounding == "balanced":
        keys = [k for k, (qp, _) in found.items() if want[k][2] and _balances(want[k][1], qp)]
        ints = balanced_many([(want[k][0], found[k][0].scale, found[k][0].axis, want[k][1]) for k in keys],
                             -127, 127)
        found.update({k: (found[k][0], q) for k, q in zip(keys, ints)})
    return found


def _may_balance(m: Model, sg: SubGraph, op: Operator, name: str, recipe: Recipe,
                 producers: dict[int, int] | None = None) -> bool:
    """Whether the op's weights round balanced: asked for ("balanced", or "gptq" where GPTQ cannot round them:
    transposed and grouped convolutions, weights without statistics), an op whose layout balanced rounding knows,
    and inputs of one sign (edgequant.quantizer.balanced)."""
    return (recipe.weight_rounding in ("balanced", "gptq") and name in BALANCED_OPS
            and one_signed_input(m, sg, op, _act_slot(rules.RULES[name]), producers))


def _balances(op_name: str, qp: QuantParams) -> bool:
    """Whether balanced rounding applies: an op whose weight layout it knows, on a symmetric int8 grid."""
    return (op_name in BALANCED_OPS and qp.storage_dtype == np.int8 and not np.any(qp.zero_point)
            and (qp.qmin, qp.qmax) == (-127, 127))


def _weight_slots(sg: SubGraph, op: Operator, name: str, recipe: Recipe) -> list[int]:
    """Input positions of ``op`` whose constant float values the mode compresses."""
    out = []
    for slot, idx in enumerate(op.inputs or []):
        w = _const_float(sg, idx)
        if w is None:
            continue
        if recipe.mode == "float16" or (name in rules.WEIGHT_OPS and slot in _weight_inputs(name)
                                        and w.size >= recipe.min_weight_elements):
            out.append(slot)
    return out


def _small_weight(sg: SubGraph, op: Operator, name: str, recipe: Recipe) -> int:
    """The size of the op's float weight when the int8 weight modes leave it float for being small, else 0."""
    if recipe.mode == "float16" or name not in (rules.HYBRID if recipe.mode == "dynamic_int8" else rules.WEIGHT_OPS):
        return 0
    ins = op.inputs or []
    sizes = [w.size for k in _weight_inputs(name) if k < len(ins) and (w := _const_float(sg, ins[k])) is not None]
    return sum(sizes) if sizes and max(sizes) < recipe.min_weight_elements else 0


def _grouped_conv(sg: SubGraph, op: Operator, name: str) -> bool:
    """A CONV_2D whose filter has fewer input channels than its input: a grouped convolution. LiteRT's hybrid
    kernel needs per-channel scales there and edgequant's interpreter has no hybrid grouped kernel, so
    dynamic_int8 stores its weights as weight_only_int8 does."""
    if name != "CONV_2D" or len(op.inputs or []) < 2 or min(op.inputs[:2]) < 0:
        return False
    x, w = sg.tensors[op.inputs[0]].shape, sg.tensors[op.inputs[1]].shape
    return bool(len(x) == 4 and len(w) == 4 and x[3] > 0 and x[3] != w[3])


def _has_weight_matrix(sg: SubGraph, op: Operator) -> bool:
    """Whether the op reads a constant float tensor of two or more dimensions (weights, not a bias or a shape)."""
    return any((w := _const_float(sg, i)) is not None and w.ndim >= 2 for i in op.inputs or [])


def _weight_inputs(name: str) -> tuple[int, ...]:
    return rules.WEIGHT_INPUTS.get(name, (1,))


def _dequantized_const(m: Model, sg: SubGraph, idx: int, op_name: str, slot: int, recipe: Recipe,
                       per_channel: bool, new_ops: list[Operator], rep: Report, sole: set[int],
                       hessians: Hessians | None, found: dict | None = None, balance: bool = False) -> int:
    """Store constant ``idx`` compressed (float16 or int8) and emit a DEQUANTIZE back to float32."""
    t = sg.tensors[idx]
    w = t.numpy()
    if recipe.mode == "float16":
        src = _const_tensor_raw(m, sg, idx, w.astype(np.float16), dtypes.FLOAT16, None, "_fp16", sole)
    else:
        rule = rules.RULES.get(op_name)
        axis = rule.weights.get(slot) if (rule is not None and per_channel and w.ndim > 1) else None
        qp, q = (found or {}).get((id(sg), idx, axis)) or (_weight_params(w, axis, recipe), None)
        if q is None:
            q = _weight_ints(w, qp, op_name, idx, hessians, balance)
        src = _const_tensor_raw(m, sg, idx, q, dtypes.INT8, _qparams_node(qp), "_int8", sole)
    rep.quantized_weights.append(t.name)
    dst = _new_tensor(sg, t, t.name + "_dequant", FLOAT)
    new_ops.append(_add_op(m, "DEQUANTIZE", [src], [dst]))
    rep.count("DEQUANTIZE")
    return dst


def _hybrid(m: Model, sg: SubGraph, op: Operator, name: str, recipe: Recipe, per_channel: bool,
            consumers: dict[int, list[int]], rep: Report, hessians: Hessians | None, found: dict | None = None,
            balance: bool = False) -> bool:
    """Dynamic range: int8 weights read by the op's hybrid kernel; inputs quantized on the fly."""
    if name not in rules.HYBRID or len(op.inputs or []) < 2:
        return False
    idx = op.inputs[1]
    w = _const_float(sg, idx)
    if w is None or w.size < recipe.min_weight_elements:
        return False
    axis = rules.RULES[name].weights[1] if per_channel else None
    qp, q = (found or {}).get((id(sg), idx, axis)) or (_weight_params(w, axis, recipe), None)
    if q is None:
        q = _weight_ints(w, qp, name, idx, hessians, balance)
    if name == "DEPTHWISE_CONV_2D" and qp.axis is None:
        # LiteRT's hybrid depthwise kernel reads a scale per output channel, past the end of a one-scale array
        # (and its Prepare checks the count against the filter's dimension 0, which is 1): write the one
        # scale for every channel.
        channels = w.shape[3]
        qp = replace(qp, scale=np.full(channels, qp.scale, np.float32), zero_point=np.zeros(channels, np.int64),
                     axis=3)
    t = sg.tensors[idx]
    if _sole_user(sg, idx, consumers):
        t.type, t.buffer, t.quantization = dtypes.INT8, _store_in_place(m, t, q), _qparams_node(qp)
    else:
        new = _new_tensor(sg, t, t.name + "_int8", dtypes.INT8, m.add_buffer(q), _qparams_node(qp))
        op.inputs = list(op.inputs)
        op.inputs[1] = new
    rep.quantized_weights.append(t.name)
    if name == "FULLY_CONNECTED":
        if op.builtin_options is None:
            op.builtin_options = new_node("FullyConnectedOptions")
        op.builtin_options.asymmetric_quantize_inputs = True
    return True


# -- full integer: int8 and int16x8 -------------------------------------------------------------------

class _Groups:
    """Union-find over tensor indices: tensors that must share one scale and zero point."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, a: int) -> int:
        self.parent.setdefault(a, a)
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def rewrite_full_integer(model: Model, recipe: Recipe, ranges: dict[int, tuple[float, float]],
                         hessians: Hessians | None = None,
                         lstm_stats: lstm.LstmStats | None = None) -> tuple[Model, Report]:
    """int8 / int16x8 with calibrated ranges {tensor index: (lo, hi)} of the main subgraph's float tensors
    (and, for ``weight_rounding="gptq"``, the input statistics of its weight ops; for int8 LSTMs, the cell and
    hidden state ranges of :class:`~edgequant.quantizer.lstm.LstmStats`)."""
    check_one_subgraph(model)
    m = model.clone()
    sg = m.main
    origin = list(sg.operators or [])
    producers = sg.producers()  # of the graph as it comes: the rewrite below retargets inputs
    balanced = {o for o, op in enumerate(sg.operators or [])
                if (name := m.op_name(op)) in BALANCED_OPS and _may_balance(m, sg, op, name, recipe, producers)}
    act = "int16" if recipe.mode == "int16x8" else "int8"
    act_type = dtypes.INT16 if act == "int16" else dtypes.INT8
    bits = 16 if act == "int16" else 8
    rep = Report(recipe.mode, ops=origin)
    tensors = sg.tensors
    ops = list(sg.operators or [])

    def is_float_act(i: int) -> bool:
        return i >= 0 and tensors[i].type == FLOAT and _const_float(sg, i) is None

    # 1. which ops run integer
    quantized: dict[int, rules.Rule] = {}
    for o, op in enumerate(ops):
        name = m.op_name(op)
        rule = rules.rule_for(name, act)
        actions = recipe.action_for(name, _tensor_names(sg, op))
        floats_in = [i for i in op.inputs or [] if i >= 0 and tensors[i].type == FLOAT]
        floats_out = [i for i in op.outputs or [] if i >= 0 and tensors[i].type == FLOAT]
        if not floats_in and not floats_out:
            continue  # integer bookkeeping (shapes, indices): unaffected
        if "float" in actions:
            rep.float_ops.append(f"{o} {name} (kept float by the recipe)")
            continue
        if rule is None:
            rep.float_ops.append(f"{o} {name} (no {act} rule)")
            continue
        if name == lstm.NAME:  # its states and weights are not the generic rule's: see lstm.py
            why = lstm.refusal(sg, op, ranges, lstm_stats)
            if why:
                rep.float_ops.append(f"{o} {name} ({why})")
                continue
            quantized[o] = rule
            rep.quantized_ops.append(f"{o} {name}")
            continue
        missing = [i for i in floats_in + floats_out if is_float_act(i) and i not in ranges]
        if missing:
            rep.float_ops.append(f"{o} {name} (tensor '{tensors[missing[0]].name}' never calibrated)")
            continue
        bad_weight = [s for s in rule.weights if s < len(op.inputs) and _const_float(sg, op.inputs[s]) is None]
        if bad_weight:
            rep.float_ops.append(f"{o} {name} (weights are not constant)")
            continue
        quantized[o] = rule
        rep.quantized_ops.append(f"{o} {name}")

    # 2. scale groups and fixed parameters
    groups = _Groups()
    fixed: dict[int, tuple[float, int]] = {}
    for o, rule in quantized.items():
        op = ops[o]
        acts = _act_inputs(op, rule, sg)
        outs = [i for i in op.outputs or [] if is_float_act(i)]
        if rule.same_scale:
            for i in acts + outs:
                groups.union(acts[0] if acts else outs[0], i)
        if rule.fixed:
            for i in outs:
                fixed[i] = rule.fixed[act]
    params: dict[int, QuantParams] = {}
    members: dict[int, list[int]] = {}
    for i in ranges:
        members.setdefault(groups.find(i), []).append(i)
    for idxs in members.values():
        fx = [fixed[i] for i in idxs if i in fixed]
        if fx:
            scale, zp = fx[0]
            qp = QuantParams(np.float32(scale), np.int64(zp), None, bits, True, False)
        else:
            lo = min(ranges[i][0] for i in idxs)
            hi = max(ranges[i][1] for i in idxs)
            qp = choose_qparams(None, bits=bits, symmetric=(act == "int16"), range=(lo, hi))
        for i in idxs:
            params[i] = qp

    # 3. rebuild the op list, converting tensors between domains where producer and consumer differ
    conv = _Domains(m, sg, params, act_type, recipe, rep)
    producer_q: dict[int, bool] = {}
    for o, op in enumerate(ops):
        for i in op.outputs or []:
            if i >= 0:
                producer_q[i] = o in quantized
    conv.setup_inputs([i for i in sg.inputs or []], any_quantized=bool(quantized))
    for o, op in enumerate(ops):
        rule = quantized.get(o)
        name = m.op_name(op)
        if rule is None:
            op.inputs = [conv.get(i, "float") if i in conv.home else i for i in op.inputs or []]
            for i in op.outputs or []:
                if is_float_act(i):
                    conv.set_home(i, "float")
            conv.emit(op)
            continue
        outs = [i for i in op.outputs or [] if is_float_act(i)]
        if name == lstm.NAME:
            assert lstm_stats is not None
            _quantize_lstm(m, sg, op, params, conv, recipe, rep, lstm_stats)
        else:
            _quantize_op(m, sg, op, o, name, rule, act, params, conv, recipe, rep, hessians, o in balanced)
        for i in outs:
            conv.set_home(i, "q")
        conv.emit(op)
    conv.finish_outputs()
    sg.operators = conv.ops
    _drop_dead_buffers(m)
    compact(m)
    set_versions(m, model)
    return m.bind(), rep


def _act_inputs(op: Operator, rule: rules.Rule, sg: SubGraph) -> list[int]:
    slots = range(len(op.inputs or [])) if rule.act_inputs is None else rule.act_inputs
    out = []
    for s in slots:
        if s < len(op.inputs) and op.inputs[s] >= 0 and sg.tensors[op.inputs[s]].type == FLOAT \
                and _const_float(sg, op.inputs[s]) is None:
            out.append(op.inputs[s])
    return out


def _quantize_op(m: Model, sg: SubGraph, op: Operator, o: int, name: str, rule: rules.Rule, act: str,
                 params: dict[int, QuantParams], conv: _Domains, recipe: Recipe, rep: Report,
                 hessians: Hessians | None, balance: bool = False) -> None:
    tensors = sg.tensors
    actions = recipe.action_for(name, _tensor_names(sg, op))
    per_channel = recipe.per_channel and rule.per_channel and "per_tensor" not in actions
    inputs = list(op.inputs or [])
    w_scale = None
    for slot, idx in enumerate(inputs):
        if idx < 0 or slot == rule.bias:
            continue
        if idx in conv.home:  # an activation whose domain is already decided (graph input, earlier output)
            inputs[slot] = conv.get(idx, "q")
            continue
        if tensors[idx].type != FLOAT:
            continue
        w = _const_float(sg, idx)
        if slot in rule.weights:
            axis = rule.weights[slot] if per_channel else None
            qp = _fit_bias(_weight_params(w, axis, recipe), op, rule, sg, params)
            q = _weight_ints(w, qp, name, idx, hessians, balance)
            inputs[slot] = _const_tensor(m, sg, idx, q, dtypes.INT8, qp, "_int8", conv.sole)
            w_scale = qp.scale
            rep.quantized_weights.append(tensors[idx].name)
        elif w is not None:  # a constant used as an activation (ADD's other operand, ...)
            if idx in params:
                qp = params[idx]
            elif act == "int16":
                qp = choose_qparams(w, bits=16, symmetric=True)
            else:
                qp = choose_qparams(w, bits=8)
            params[idx] = qp
            inputs[slot] = _const_tensor(m, sg, idx, _quantize_const(w, qp), conv.act_type, qp, "_q", conv.sole)
        else:
            inputs[slot] = conv.get(idx, "q")
    if rule.bias is not None and rule.bias < len(inputs) and inputs[rule.bias] >= 0:
        idx = inputs[rule.bias]
        b = _const_float(sg, idx)
        if b is not None and w_scale is not None:
            in_idx = op.inputs[_act_slot(rule)]
            s_in = params[in_idx].scale
            scale = (np.float32(s_in) * np.asarray(w_scale, np.float32)).astype(np.float32)
            scale = np.broadcast_to(scale, b.shape[:1]).astype(np.float32) if scale.ndim else scale
            quant = QuantizationParameters(scale=np.atleast_1d(scale).astype(np.float32),
                                           zero_point=np.zeros(np.atleast_1d(scale).size, np.int64),
                                           quantized_dimension=0)
            ttype = dtypes.INT64 if act == "int16" else dtypes.INT32
            inputs[rule.bias] = _const_tensor_raw(m, sg, idx, _bias_ints(b, scale, ttype), ttype, quant, "_bias",
                                                  conv.sole)
    for idx in op.outputs or []:
        if idx >= 0 and tensors[idx].type == FLOAT:
            t = tensors[idx]
            t.type = conv.act_type
            t.quantization = _qparams_node(params[idx])
    op.inputs = inputs
    if act == "int16":
        _int16_options(m, op, name)


def _quantize_lstm(m: Model, sg: SubGraph, op: Operator, params: dict[int, QuantParams], conv: _Domains,
                   recipe: Recipe, rep: Report, stats: lstm.LstmStats) -> None:
    """The 8x8_16 LSTM of lstm.plan: int8 input and output, int8/int16/int32 constants, an int8 output state and
    an int16 cell state (variables, quantized in place), and the five intermediates the kernel reads."""
    tensors = sg.tensors
    inputs = list(op.inputs or [])
    x, y = inputs[0], op.outputs[0]
    p = lstm.plan(sg, op, params[x], params[y], stats, recipe.weight_range)
    inputs[0] = conv.get(x, "q")
    for pos, (data, ttype, quant) in p.consts.items():
        rep.quantized_weights.append(tensors[inputs[pos]].name)
        suffix = {dtypes.INT8: "_int8", dtypes.INT16: "_int16"}.get(ttype, "_bias")
        inputs[pos] = _const_tensor_raw(m, sg, inputs[pos], data, ttype, quant, suffix, conv.sole)
    for pos, (ttype, quant) in p.states.items():
        t = tensors[inputs[pos]]
        # a stored initial state is zeros (lstm.refusal): the runtimes start integer states at their zero point
        t.type, t.quantization, t.buffer = ttype, quant, 0
    base = tensors[y].name
    op.intermediates = [sg.add_tensor(Tensor(name=f"{base}_intermediate_{k}", type=ttype, shape=[0], buffer=0,
                                             quantization=quant))
                        for k, (ttype, quant) in enumerate(p.intermediates)]
    tensors[y].type, tensors[y].quantization = dtypes.INT8, _qparams_node(params[y])
    op.inputs = inputs


def _int16_options(m: Model, op: Operator, name: str) -> None:
    """16x8 options TFLiteConverter also writes: the int64 bias type on conv/FC/transpose-conv, and the
    general-scale int16 ADD/SUB kernel (the power-of-two one needs power-of-two scales)."""
    kind = {"CONV_2D": "Conv2DOptions", "FULLY_CONNECTED": "FullyConnectedOptions",
            "TRANSPOSE_CONV": "TransposeConvOptions", "ADD": "AddOptions", "SUB": "SubOptions"}.get(name)
    if kind is None:
        return
    if op.builtin_options is None:
        op.builtin_options = new_node(kind)
    if name in ("ADD", "SUB"):
        op.builtin_options.pot_scale_int16 = False
    elif rules.RULES[name].bias is not None and len(op.inputs or []) > rules.RULES[name].bias \
            and op.inputs[rules.RULES[name].bias] >= 0:
        op.builtin_options.quantized_bias_type = dtypes.INT64


def set_versions(m: Model, original: Model) -> None:
    """Give every operator code the version LiteRT's versioning rules require of the ops using it (never below
    the version the float model had), and drop operator codes no op uses any more."""
    before = {(oc.code, oc.custom_code): oc.version or 1 for oc in original.operator_codes or []}
    need: dict[int, int] = {}
    for sg in m.subgraphs or []:
        for op in sg.operators or []:
            oc = m.operator_codes[op.opcode_index]
            v = max(rules.op_version(m.op_name(op), sg, op) or 1, before.get((oc.code, oc.custom_code), 1))
            need[op.opcode_index] = max(need.get(op.opcode_index, 1), v)
    used = sorted(need)
    renumber = {old: k for k, old in enumerate(used)}
    codes = [m.operator_codes[old] for old in used]
    for old, oc in zip(used, codes):
        oc.version = need[old]
    m.operator_codes = codes
    for sg in m.subgraphs or []:
        for op in sg.operators or []:
            op.opcode_index = renumber[op.opcode_index]


def _act_slot(rule: rules.Rule) -> int:
    return rule.act_inputs[0] if rule.act_inputs else 0


def apply_bias_correction(model: Model, q: Model, rep: Report, inputs: list[np.ndarray]) -> None:
    """Correct the biases of ``q`` (what ``rewrite_*`` made of ``model``, with its ``rep``) for the mean output
    error of its quantized weights on ``inputs`` (edgequant.quantizer.bias), and list them in the report. A float
    bias takes the new values; an int32/int64 one the new values over its own scales, rounded half away from zero
    and saturated. A bias another op also reads gets a copy of its own."""
    sg = q.main
    samples = len(inputs[0]) // rows_per_invocation(model) if inputs else 0
    found = bias.targets(model, q, rep.ops)
    if not found:
        return  # no weight op with a bias was quantized
    if samples < bias.MIN_SAMPLES:
        rep.notes.append(f"bias correction skipped: {samples} calibration sample{'s' if samples != 1 else ''} "
                         f"(it needs {bias.MIN_SAMPLES} to measure a layer's mean output)")
        return
    rep.bias_samples = samples
    readers: dict[int, int] = {}
    for op in sg.operators or []:
        for i in op.inputs or []:
            readers[i] = readers.get(i, 0) + 1

    def write(o: int, b: np.ndarray) -> tuple[int, np.ndarray]:
        op = rep.ops[o]
        idx = op.inputs[bias.BIAS_SLOT]
        t = sg.tensors[idx]
        # int32 (int8 models) or int64 (16x8) biases over their own scales
        data = b.astype(np.float32) if t.type == FLOAT else _bias_ints(b, t.quantization.scale, t.type)
        if np.array_equal(data, t.numpy()):
            return idx, data  # nothing moved (a layer whose weights quantize exactly)
        if readers.get(idx, 0) > 1:
            op.inputs = list(op.inputs)
            op.inputs[bias.BIAS_SLOT] = _new_tensor(sg, t, t.name + "_corrected", t.type, q.add_buffer(data),
                                                    t.quantization)
            readers[idx] -= 1
        else:
            t.buffer = _store_in_place(q, t, data)
        rep.corrected_biases.append(t.name)
        return op.inputs[bias.BIAS_SLOT], data

    try:
        bias.correct(model, q, rep.ops, found, inputs, write)
    except UnsupportedError as e:  # an op edgequant's interpreter has no kernel for: the biases stay as they are
        rep.notes.append(f"bias correction skipped: edgequant's interpreter cannot run this model ({e})")


def _bias_ints(b: np.ndarray, scale: np.ndarray, ttype: int) -> np.ndarray:
    """A float bias over its scales (input scale x weight scale), rounded half away from zero and saturated, as
    int32 (int8 models) or int64 (16x8)."""
    # 2**63 - 1 is not a float64: clamp int64 biases at the largest float64 below 2**63
    limit = (1 << 31) - 1 if ttype == dtypes.INT32 else (1 << 63) - 1024
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.clip(_round_away(b.astype(np.float64) / np.asarray(scale, np.float64)), -limit, limit)
    return q.astype(np.int32 if ttype == dtypes.INT32 else np.int64)


def _round_away(v: np.ndarray) -> np.ndarray:
    return np.trunc(v + np.copysign(np.nextafter(0.5, 0.0), v))


def _const_tensor(m: Model, sg: SubGraph, idx: int, q: np.ndarray, ttype: int, qp: QuantParams, suffix: str,
                  sole: set[int]) -> int:
    return _const_tensor_raw(m, sg, idx, q, ttype, _qparams_node(qp), suffix, sole)


def _const_tensor_raw(m: Model, sg: SubGraph, idx: int, data: np.ndarray, ttype: int,
                      quant: QuantizationParameters, suffix: str, sole: set[int]) -> int:
    """The quantized form of constant ``idx``: the tensor itself when this op is its only reader (it keeps its
    name and place), else a new tensor beside it (the float original still feeds float ops)."""
    t = sg.tensors[idx]
    if idx in sole:
        sole.discard(idx)
        t.type, t.buffer, t.quantization = ttype, _store_in_place(m, t, data), quant
        return idx
    return _new_tensor(sg, t, t.name + suffix, ttype, m.add_buffer(data), quant)


class _Domains:
    """Where each activation lives (float, quantized, or the uint8 io type) and the conversions between."""

    def __init__(self, m: Model, sg: SubGraph, params: dict[int, QuantParams], act_type: int, recipe: Recipe,
                 rep: Report):
        self.m, self.sg, self.params, self.act_type, self.recipe, self.rep = m, sg, params, act_type, recipe, rep
        self.home: dict[int, str] = {}
        self.alt: dict[tuple[int, str], int] = {}
        self.any_quantized = False
        self.ops: list[Operator] = []
        consumers = sg.consumers()
        # constants read by exactly one op: quantized in place
        self.sole = {i for i, c in consumers.items() if len(c) == 1 and i not in (sg.outputs or [])}

    def emit(self, op: Operator) -> None:
        self.ops.append(op)

    def set_home(self, i: int, domain: str) -> None:
        self.home[i] = domain

    def setup_inputs(self, inputs: list[int], any_quantized: bool) -> None:
        """Model inputs in the recipe's io type; all stay float (as the outputs will) when no op is quantized."""
        io = self.recipe.io
        self.any_quantized = any_quantized
        for i in inputs:
            t = self.sg.tensors[i]
            if t.type != FLOAT or i not in self.params or io == "float" or not any_quantized:
                self.home[i] = "float"
                continue
            qp = self.params[i]
            t.quantization = _qparams_node(qp)
            if io == "uint8":
                t.type = dtypes.UINT8
                t.quantization = QuantizationParameters(scale=np.atleast_1d(qp.scale).astype(np.float32),
                                                        zero_point=np.atleast_1d(qp.zero_point) + 128)
                self.home[i] = "io"
            else:
                t.type = self.act_type
                self.home[i] = "q"

    def get(self, i: int, want: str) -> int:
        """Index of tensor ``i`` in domain ``want`` ("float" or "q"), emitting a conversion op once."""
        home = self.home.get(i, "float")
        if home == want:
            return i
        key = (i, want)
        if key in self.alt:
            return self.alt[key]
        t = self.sg.tensors[i]
        if want == "q":
            if i not in self.params:
                raise EdgequantError(f"tensor {i} '{t.name}' has no calibrated range")
            new = _new_tensor(self.sg, t, f"{t.name}_{dtypes.name(self.act_type)}", self.act_type,
                              quant=_qparams_node(self.params[i]))
            self.ops.append(_add_op(self.m, "QUANTIZE", [i], [new]))
            self.rep.count("QUANTIZE")
        else:
            new = _new_tensor(self.sg, t, f"{t.name}_float", FLOAT)  # DEQUANTIZE reads uint8, int8 and int16
            self.ops.append(_add_op(self.m, "DEQUANTIZE", [i], [new]))
            self.rep.count("DEQUANTIZE")
        self.alt[key] = new
        return new

    def finish_outputs(self) -> None:
        """Model outputs in the recipe's io type; the tensor the caller sees keeps its name. When no op is
        quantized, they stay float like the inputs: the model computes as the float model does."""
        io = self.recipe.io
        if not self.any_quantized:
            return
        outs = list(self.sg.outputs or [])
        for k, i in enumerate(outs):
            t = self.sg.tensors[i]
            home = self.home.get(i, "float")
            if t.type not in (FLOAT, self.act_type) or i not in self.params and home == "float":
                continue
            want = "float" if io == "float" else "q"
            if home == want and io != "uint8":
                continue
            if io == "uint8" and home == "float":
                i = self.get(i, "q")
                t = self.sg.tensors[i]
                home = "q"
            if io == "uint8":
                qp = self.params[outs[k]]
                new = _new_tensor(self.sg, t, t.name, dtypes.UINT8, quant=QuantizationParameters(
                    scale=np.atleast_1d(qp.scale).astype(np.float32), zero_point=np.atleast_1d(qp.zero_point) + 128))
                self.ops.append(_add_op(self.m, "QUANTIZE", [i], [new]))
                self.rep.count("QUANTIZE")
            else:
                new = self.get(i, want)
            # swap names so the model's output keeps its original name
            self.sg.tensors[new].name, self.sg.tensors[outs[k]].name = (
                self.sg.tensors[outs[k]].name, self.sg.tensors[outs[k]].name + "_internal")
            self._retarget_output(outs[k], new)
            outs[k] = new
        self.sg.outputs = outs

    def _retarget_output(self, old: int, new: int) -> None:
        for sd in self.m.signature_defs or []:
            if sd.subgraph_index != 0:
                continue
            for tm in sd.outputs or []:
                if tm.tensor_index == old:
                    tm.tensor_index = new
