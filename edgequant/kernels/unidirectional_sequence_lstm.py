"""UNIDIRECTIONAL_SEQUENCE_LSTM: float32 (CIFG, peepholes, projection, layer norm, cell/projection clip)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dtypes
from ..errors import UnsupportedError
from . import Kernel, kernel
from ._lstm_int import IntegerLstmParams, eval_integer, prepare_integer
from ._lstm_int_tflm import TflmLstmParams, eval_integer_tflm, prepare_integer_tflm

# Input positions of the 24-input LSTM (lstm_shared.h).
X = 0
W_I, W_F, W_C, W_O = 1, 2, 3, 4
R_I, R_F, R_C, R_O = 5, 6, 7, 8
P_I, P_F, P_O = 9, 10, 11
B_I, B_F, B_C, B_O = 12, 13, 14, 15
PROJ_W, PROJ_B = 16, 17
H_STATE, C_STATE = 18, 19
LN_I, LN_F, LN_C, LN_O = 20, 21, 22, 23


_LITERT_ROUNDING = "double"  # the LiteRT 2.3.0 goldens in tests/data/lstm match double, not single, rounding


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return (np.float32(1) / (np.float32(1) + np.exp(-v))).astype(np.float32)


def _act(v: np.ndarray, act: int) -> np.ndarray:
    if act == 4:  # TANH
        return np.tanh(v)
    if act == 1:
        return np.maximum(v, 0)
    if act == 3:
        return np.clip(v, 0, 6)
    if act == 2:
        return np.clip(v, -1, 1)
    if act == 6:  # SIGMOID
        return _sigmoid(v)
    if act == 0:
        return v
    raise UnsupportedError(f"LSTM activation {act}")


def _layer_norm(v: np.ndarray, w: np.ndarray) -> np.ndarray:
    mean = v.mean(axis=-1, keepdims=True, dtype=np.float32)
    var = ((v - mean) ** 2).mean(axis=-1, keepdims=True, dtype=np.float32)
    return ((v - mean) / np.sqrt(var + np.float32(1e-8)) * w).astype(np.float32)


def _gate(w: dict, xt, h, cell, wx: int, rh: int, bias: int, peep, ln: int) -> np.ndarray:
    """W x + R h (+ P * cell), then layer norm (without bias) and the bias, as LstmStepFloat orders them."""
    g = xt @ w[wx].T + h @ w[rh].T
    if peep is not None and w[peep] is not None:
        g = g + w[peep] * cell
    if w[ln] is not None:
        g = _layer_norm(g, w[ln])
    if w[bias] is not None:
        g = g + w[bias]
    return g.astype(np.float32)


@dataclass(frozen=True)
class LSTMParams:
    w: dict  # position -> float32 array (or None)
    act: int
    cell_clip: float
    proj_clip: float
    time_major: bool
    state_inputs: tuple = (H_STATE, C_STATE)
    batchable: bool = False  # stateful across invocations


@kernel("UNIDIRECTIONAL_SEQUENCE_LSTM")
class UnidirectionalSequenceLSTM(Kernel):
    """lstm_eval.cc EvalFloat / LstmStepFloat: per time step, gates = bias + W x + R h (+ peephole P * c),
    optional layer norm, sigmoid for input/forget/output gates and the fused activation for the cell
    gate; c = f * c + i * g (CIFG: i = 1 - f), clipped to +/-cell_clip; h = o * act(c), optionally
    projected and clipped. The output and cell states are variable tensors that persist across calls.

    Integer: the "8x8_16" LSTM (int8 input, weights and output state, int16 cell state, gate scales from
    the op's intermediates), bit-exact with LiteRT's EvalInteger8x8_16 (double rounding); see _lstm_int.
    Target "tflm": tflite-micro's own integer LSTM (FullyConnected gates, the int16 sigmoid-table Logistic/Tanh,
    Mul cell updates; plain LSTMs only); see _lstm_int_tflm. Hybrid LSTMs raise UnsupportedError."""

    def prepare(self, ctx, op):
        x = ctx.input(X)
        if x.type == dtypes.INT8:
            if ctx.target == "tflm":  # micro's own integer LSTM (lstm_eval.h): other arithmetic, fewer variants
                return prepare_integer_tflm(ctx, op)
            return prepare_integer(ctx, op, ctx.rounding_for(_LITERT_ROUNDING))
        if x.type != dtypes.FLOAT32 or (ctx.input(W_F) is not None and ctx.input(W_F).type != dtypes.FLOAT32):
            raise UnsupportedError("only float32 UNIDIRECTIONAL_SEQUENCE_LSTM is implemented")
        for pos in (H_STATE, C_STATE):
            t = ctx.input(pos)
            if t is None or not t.is_variable:
                raise UnsupportedError(f"LSTM state (input {pos}) must be a variable tensor")
        w = {}
        for pos in range(1, 24):
            if pos in (H_STATE, C_STATE):
                continue
            v = ctx.const(pos) if ctx.input(pos) is not None else None
            if ctx.input(pos) is not None and v is None:
                raise UnsupportedError(f"LSTM input {pos} must be constant")
            w[pos] = None if v is None else np.asarray(v, np.float32)
        o = op.options
        return LSTMParams(w, o.fused_activation_function, float(o.cell_clip), float(o.proj_clip), bool(o.time_major))

    def eval(self, p, inputs):
        if isinstance(p, IntegerLstmParams):
            return list(eval_integer(p, inputs[X], inputs[H_STATE], inputs[C_STATE]))
        if isinstance(p, TflmLstmParams):
            return list(eval_integer_tflm(p, inputs[X], inputs[H_STATE], inputs[C_STATE]))
        x = inputs[X]
        h = inputs[H_STATE].astype(np.float32)
        c = inputs[C_STATE].astype(np.float32)
        seq = x if p.time_major else np.swapaxes(x, 0, 1)  # (T, B, I)
        w = p.w
        outs = []
        for t in range(seq.shape[0]):
            xt = seq[t]
            cifg = w[W_I] is None
            f = _sigmoid(_gate(w, xt, h, c, W_F, R_F, B_F, P_F, LN_F))
            i = np.float32(1) - f if cifg else _sigmoid(_gate(w, xt, h, c, W_I, R_I, B_I, P_I, LN_I))
            g = _act(_gate(w, xt, h, c, W_C, R_C, B_C, None, LN_C), p.act).astype(np.float32)
            c = (f * c + i * g).astype(np.float32)
            if p.cell_clip > 0:
                c = np.clip(c, -p.cell_clip, p.cell_clip)
            og = _sigmoid(_gate(w, xt, h, c, W_O, R_O, B_O, P_O, LN_O))  # peephole sees the new cell
            h = (og * _act(c, p.act)).astype(np.float32)
            if w[PROJ_W] is not None:
                h = h @ w[PROJ_W].T
                if w[PROJ_B] is not None:
                    h = h + w[PROJ_B]
                if p.proj_clip > 0:
                    h = np.clip(h, -p.proj_clip, p.proj_clip)
                h = h.astype(np.float32)
            outs.append(h)
        y = np.stack(outs)  # (T, B, H)
        if not p.time_major:
            y = np.swapaxes(y, 0, 1)
        return [np.ascontiguousarray(y, np.float32), h.reshape(inputs[H_STATE].shape),
                c.reshape(inputs[C_STATE].shape)]
