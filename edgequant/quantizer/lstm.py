"""Full-integer (int8, "8x8_16") parameters of UNIDIRECTIONAL_SEQUENCE_LSTM, as TFLite's quantizer writes them.

Facts read from TensorFlow's quantizer (tensorflow/lite/tools/optimize/operator_property.cc, the LSTM entries, and
the MLIR converter's prepare_quantize_helper.h) and checked against what ``Calibrator.calibrate_and_quantize``
writes for float LSTMs:

* gate weights (inputs 1-8) and the projection (16): int8, symmetric, per tensor.
* gate biases (12-15): int32, scale = input scale x that gate's *input* weight scale (the smaller of the two
  candidates, "higher resolution"); with layer norm, that gate's layer-norm coefficient scale x 2^-10 (the bias
  is added inside the layer norm); projection bias (17): projection weight scale x intermediate 4's scale.
* peepholes (9-11) and layer-norm coefficients (20-23): int16, symmetric (scale max|p| / 32767).
* cell state (19): int16, symmetric, scale = PowerOfTwoBound(max|c|) / 32768 (``extend_to_power_of_two``).
* output state (18): int8 with the output's scale and zero point (``restrict_scale {18, 0}``).
* five ``intermediates``: without layer norm 0-3 are unused by LiteRT's kernel (it takes 2^-12 for the gates)
  and stay float32 with no parameters; with layer norm they are int16, symmetric, over the range of each gate
  as the layer norm receives it (W x + R h + P c, before the bias: what TFLite's calibration logs, see
  calibration/builtin_logging_ops/lstm.cc); 4, the hidden state o * tanh(c) before the projection, is int8 "as
  usual". LiteRT's kernel requantizes the hidden state into intermediate 4's scale and zero point even
  without a projection, where the hidden state *is* the output: there it gets the output's parameters.
* the op's version is 2 (the quantizer's ``property.version``; op_version.cc's literal reading gives 1).

The cell state, the hidden state and the gates are not tensors of the float model, so :class:`LstmStats` measures
them: it re-runs each float LSTM step by step, in numpy, on the op's input as the calibration run saw it (the
kernel's own float step functions), carrying the state from sample to sample as the interpreter does.

tflite-micro runs only the plain LSTM (no CIFG, peepholes, projection or layer norm); LiteRT runs them all.
Not handled (the LSTM stays float, and the report says why): layer norm with CIFG or on some gates only,
diagonal recurrent weights, activations other than tanh, a cell state beyond +/-64 (LiteRT's integer LSTM
takes cell scales up to 2^-9), a stored non-zero initial state, and 16x8 (TFLite has no 16x8 LSTM rule).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import dtypes
from ..graph import Model, Operator, QuantizationParameters, SubGraph
from ..kernels import unidirectional_sequence_lstm as K
from ..qmath import quantize_affine, round_half_away
from ..quantization import QuantParams, choose_qparams
from .weights import weight_params

NAME = "UNIDIRECTIONAL_SEQUENCE_LSTM"
GATE_WEIGHTS = (K.W_I, K.W_F, K.W_C, K.W_O, K.R_I, K.R_F, K.R_C, K.R_O)
PEEPHOLES = (K.P_I, K.P_F, K.P_O)
BIASES = (K.B_I, K.B_F, K.B_C, K.B_O)
LAYER_NORM = (K.LN_I, K.LN_F, K.LN_C, K.LN_O)
TANH = 4  # TfLiteFusedActivation
MAX_CELL_BOUND = 64.0  # 2^6: LiteRT's 8x8_16 kernel needs a cell scale of 2^-9 or finer (ApplyTanh<6> at most)
_MIN_CELL_BOUND = 2.0 ** -8  # a cell state that never moves still gets a usable scale


def _weights(sg: SubGraph, op: Operator) -> dict[int, np.ndarray | None]:
    """Input position -> constant float32 array (None where the input is absent); the states are left out."""
    ins = list(op.inputs or []) + [-1] * (24 - len(op.inputs or []))
    out: dict[int, np.ndarray | None] = {}
    for pos in range(1, 24):
        if pos in (K.H_STATE, K.C_STATE):
            continue
        i = ins[pos]
        t = sg.tensors[i] if i >= 0 else None
        out[pos] = None if t is None or not t.is_constant or t.type != dtypes.FLOAT32 else t.numpy()
    return out


@dataclass
class _Track:
    """One LSTM's float state across the calibration run and the extremes seen inside it."""

    w: dict
    act: int
    cell_clip: float
    proj_clip: float
    time_major: bool
    rows: int  # leading dimension of one invocation's input
    h: np.ndarray | None = None
    c: np.ndarray | None = None
    cell_absmax: float = 0.0
    hidden: list[float] = field(default_factory=lambda: [0.0, 0.0])  # lo, hi of o * act(c)
    gate_absmax: list[float] = field(default_factory=lambda: [0.0] * 4)  # layer norm's inputs, gates i, f, c, o
    steps: int = 0

    def __post_init__(self) -> None:
        # the same weights without layer norm and bias: the gate as the layer norm receives it
        self.w_pre = {p: None if p in LAYER_NORM or p in BIASES else v for p, v in self.w.items()}

    def gate(self, k: int, xt, h, c) -> np.ndarray:
        """Gate k (0 i, 1 f, 2 c, 3 o) before its activation, as the kernel's _gate computes it; with layer norm,
        keeps the range of the layer norm's input (what TFLite's calibration logs into intermediate k)."""
        wx, rh, b, ln = GATE_WEIGHTS[k], GATE_WEIGHTS[4 + k], BIASES[k], LAYER_NORM[k]
        peep = {0: K.P_I, 1: K.P_F, 3: K.P_O}.get(k)
        if self.w[ln] is None:
            return K._gate(self.w, xt, h, c, wx, rh, b, peep, ln)
        pre = K._gate(self.w_pre, xt, h, c, wx, rh, b, peep, ln)
        self.gate_absmax[k] = max(self.gate_absmax[k], float(np.abs(pre).max(initial=0.0)))
        g = K._layer_norm(pre, self.w[ln])
        if self.w[b] is not None:
            g = g + self.w[b]
        return g.astype(np.float32)


class LstmStats:
    """The ranges inside each float LSTM of ``model``'s main subgraph that the int8 LSTM needs: max |cell state|
    and the hidden state's range. Fed like :class:`~edgequant.quantizer.gptq.Hessians`: ``update`` with every
    calibration batch's {tensor index: float values}; keyed by the LSTM's output tensor index."""

    def __init__(self, model: Model):
        sg = model.main
        self.tracks: dict[int, tuple[Operator, _Track]] = {}
        for op in sg.operators or []:
            if model.op_name(op) != NAME or not op.inputs or not op.outputs or op.inputs[0] < 0:
                continue
            x = sg.tensors[op.inputs[0]]
            w = _weights(sg, op)
            o = op.builtin_options
            if x.type != dtypes.FLOAT32 or w[K.W_F] is None or w[K.R_F] is None or w[K.R_F].ndim != 2 or o is None:
                continue
            self.tracks[op.outputs[0]] = (op, _Track(w, int(o.fused_activation_function), float(o.cell_clip),
                                                     float(o.proj_clip), bool(o.time_major),
                                                     max(int((x.shape or [1])[0]), 1)))

    def __bool__(self) -> bool:
        return bool(self.tracks)

    def update(self, values: dict[int, np.ndarray]) -> None:
        for op, tr in self.tracks.values():
            x = values.get(op.inputs[0])
            if x is None or x.dtype != np.float32 or x.shape[0] % tr.rows:
                continue
            for call in x.reshape(-1, tr.rows, *x.shape[1:]):
                _run(tr, call)

    def get(self, output_index: int) -> _Track | None:
        entry = self.tracks.get(output_index)
        return None if entry is None or not entry[1].steps else entry[1]


def _run(tr: _Track, x: np.ndarray) -> None:
    """One invocation of the float LSTM (LstmStepFloat, as the kernel runs it), keeping its extremes."""
    w = tr.w
    seq = x if tr.time_major else np.swapaxes(x, 0, 1)  # (T, B, I)
    n_cell, n_out = w[K.W_F].shape[0], w[K.R_F].shape[1]
    if tr.h is None or tr.h.shape[0] != seq.shape[1]:
        tr.h = np.zeros((seq.shape[1], n_out), np.float32)
        tr.c = np.zeros((seq.shape[1], n_cell), np.float32)
    h, c = tr.h, tr.c
    for xt in seq:
        f = K._sigmoid(tr.gate(1, xt, h, c))
        i = np.float32(1) - f if w[K.W_I] is None else K._sigmoid(tr.gate(0, xt, h, c))
        g = K._act(tr.gate(2, xt, h, c), tr.act).astype(np.float32)
        c = (f * c + i * g).astype(np.float32)
        if tr.cell_clip > 0:
            c = np.clip(c, -tr.cell_clip, tr.cell_clip)
        o = K._sigmoid(tr.gate(3, xt, h, c))
        hidden = (o * K._act(c, tr.act)).astype(np.float32)  # (B, n_cell)
        h = hidden
        if w[K.PROJ_W] is not None:
            h = hidden @ w[K.PROJ_W].T
            if w[K.PROJ_B] is not None:
                h = h + w[K.PROJ_B]
            if tr.proj_clip > 0:
                h = np.clip(h, -tr.proj_clip, tr.proj_clip)
            h = h.astype(np.float32)
        tr.cell_absmax = max(tr.cell_absmax, float(np.abs(c).max(initial=0.0)))
        tr.hidden = [min(tr.hidden[0], float(hidden.min())), max(tr.hidden[1], float(hidden.max()))]
        tr.steps += 1
    tr.h, tr.c = h, c


def refusal(sg: SubGraph, op: Operator, ranges: dict, stats: LstmStats | None) -> str | None:
    """Why this LSTM cannot be written int8 (the report's reason), or None."""
    ins = list(op.inputs or [])
    if len(ins) not in (20, 24):
        return f"{len(ins)} inputs; the int8 LSTM needs 20 or 24"
    w = _weights(sg, op)
    layer_norm = [p < len(ins) and ins[p] >= 0 for p in LAYER_NORM]
    if any(layer_norm) and (ins[K.W_I] < 0 or not all(layer_norm)):
        return "layer norm without an input gate (CIFG) or on some gates only: LiteRT reads four gate scales"
    for p in GATE_WEIGHTS + PEEPHOLES + BIASES + (K.PROJ_W, K.PROJ_B) + (LAYER_NORM if any(layer_norm) else ()):
        if ins[p] >= 0 and w[p] is None:
            return f"input {p} is not a constant float tensor"
    if w[K.W_F] is None or w[K.R_F] is None or w[K.R_F].ndim != 2:
        return "diagonal recurrent weights"
    o = op.builtin_options
    if o is None or int(o.fused_activation_function) != TANH:
        return "the cell activation is not tanh"
    for p in (K.H_STATE, K.C_STATE):
        if ins[p] < 0 or not sg.tensors[ins[p]].is_variable:
            return f"state input {p} is not a variable tensor"
        v = sg.tensors[ins[p]].numpy()
        if v is not None and np.any(v != 0):
            return f"state input {p} starts from stored values other than zeros"
    for i in (ins[0], op.outputs[0]):
        if i not in ranges:
            return f"tensor '{sg.tensors[i].name}' never calibrated"
    tr = stats.get(op.outputs[0]) if stats is not None else None
    if tr is None:
        return "its cell state range needs a calibration run in this quantize call (ranges= alone lacks it)"
    if tr.cell_absmax > MAX_CELL_BOUND:
        return (f"cell state reaches {tr.cell_absmax:.3g}, beyond the +/-{MAX_CELL_BOUND:g} of LiteRT's int8 LSTM "
                "(a cell_clip would bound it)")
    return None


@dataclass
class LstmPlan:
    """What the int8 LSTM's tensors become: constants by input position (integers, tensor type, parameters),
    the two variable states (type, parameters) and the five intermediates (type, parameters or None)."""

    consts: dict[int, tuple[np.ndarray, int, QuantizationParameters]]
    states: dict[int, tuple[int, QuantizationParameters]]
    intermediates: list[tuple[int, QuantizationParameters | None]]


def _node(scale, zero_point) -> QuantizationParameters:
    return QuantizationParameters(scale=np.atleast_1d(np.asarray(scale, np.float32)),
                                  zero_point=np.atleast_1d(np.asarray(zero_point, np.int64)), quantized_dimension=0)


def cell_scale(cell_absmax: float) -> float:
    """TFLite's PowerOfTwoBound(max |c|) / 32768: the int16 cell state's power-of-two scale."""
    bound = 2.0 ** np.ceil(np.log2(max(cell_absmax, _MIN_CELL_BOUND)))
    return float(bound / 32768.0)


def plan(sg: SubGraph, op: Operator, x_qp: QuantParams, out_qp: QuantParams, stats: LstmStats,
         weight_range: str = "minmax") -> LstmPlan:
    """The int8 parameters of ``op`` (which :func:`refusal` accepted), given its input's and output's."""
    w = _weights(sg, op)
    tr = stats.get(op.outputs[0])
    assert tr is not None
    consts: dict[int, tuple[np.ndarray, int, QuantizationParameters]] = {}
    w_scale: dict[int, np.float32] = {}
    for p in GATE_WEIGHTS + (K.PROJ_W,):
        if w[p] is None:
            continue
        qp = weight_params(w[p], None, weight_range)  # symmetric, [-127, 127], per tensor
        q = quantize_affine(w[p], qp.scale, qp.zero_point, qp.qmin, qp.qmax).astype(np.int8)
        consts[p] = (q, dtypes.INT8, _node(qp.scale, 0))
        w_scale[p] = np.float32(qp.scale)
    for p in PEEPHOLES + LAYER_NORM:
        if w[p] is not None:
            qp = choose_qparams(w[p], bits=16, symmetric=True)  # scale max|p| / 32767
            q = quantize_affine(w[p], qp.scale, 0, qp.qmin, qp.qmax).astype(np.int16)
            consts[p] = (q, dtypes.INT16, _node(qp.scale, 0))
    if w[K.PROJ_W] is None:
        hidden_qp = out_qp  # the hidden state is the output: the kernel writes it with intermediate 4's params
    else:
        hidden_qp = choose_qparams(None, bits=8, range=(min(tr.hidden[0], 0.0), max(tr.hidden[1], 0.0)))
    layer_norm = w[K.LN_F] is not None
    for k, p in enumerate(BIASES):
        if w[p] is None:
            continue
        if layer_norm:  # the bias is added inside the layer norm, in its coefficient's scale times 2^-10
            consts[p] = _bias(w[p], consts[LAYER_NORM[k]][2].scale[0] * np.float32(2.0 ** -10))
        else:
            consts[p] = _bias(w[p], np.float32(x_qp.scale) * w_scale[GATE_WEIGHTS[k]])
    if w[K.PROJ_B] is not None:
        consts[K.PROJ_B] = _bias(w[K.PROJ_B], w_scale[K.PROJ_W] * np.float32(hidden_qp.scale))
    states = {K.H_STATE: (dtypes.INT8, _node(out_qp.scale, out_qp.zero_point)),
              K.C_STATE: (dtypes.INT16, _node(cell_scale(tr.cell_absmax), 0))}
    inter: list[tuple[int, QuantizationParameters | None]] = [(dtypes.FLOAT32, None)] * 4
    if layer_norm:  # each gate as the layer norm receives it (W x + R h + P c, no bias): int16, symmetric
        inter = [(dtypes.INT16, _node(choose_qparams(None, bits=16, symmetric=True, range=(-a, a)).scale, 0))
                 for a in tr.gate_absmax]
    inter.append((dtypes.INT8, _node(hidden_qp.scale, hidden_qp.zero_point)))
    return LstmPlan(consts, states, inter)


def _bias(b: np.ndarray, scale: np.float32) -> tuple[np.ndarray, int, QuantizationParameters]:
    """int32 bias, zero point 0, rounded half away from zero (the quantizer's SymmetricPerLayerBiasQuantize)."""
    scale = np.float32(scale)
    limit = (1 << 31) - 1
    q = np.clip(round_half_away(b.astype(np.float64) / np.float64(scale)), -limit, limit).astype(np.int32)
    return q, dtypes.INT32, _node(scale, 0)
