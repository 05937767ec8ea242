"""tflite-micro's integer UNIDIRECTIONAL_SEQUENCE_LSTM: int8 activations and weights, int32 biases, int16 cell
state and gates (EvalLstm<int8_t, int8_t, int16_t, int32_t>).

Matches tflite-micro's ``unidirectional_sequence_lstm.cc`` (Prepare: LstmTensors::ValidateTensorStatus,
CreateLstmCellStateInfo, PrepareGateParametersInteger in ``lstm_eval_common.cc``) and ``lstm_eval.h`` /
``lstm_eval.cc`` (LstmStep -> CalculateLstmGate / UpdateLstmCell / UpdateLstmHidden). Names follow the C++.

Unlike LiteRT's EvalInteger8x8_16 (``_lstm_int``), micro builds each gate from two ordinary int8 -> int16
FullyConnected ops (the gate bias in the input one, output scale 2^-12), adds them with int16 saturation and
squashes them with the int16 reference_integer_ops::Logistic / Tanh, i.e. by interpolating TFLite's sigmoid
table (``_lut``), not with gemmlowp. The cell and hidden updates are int16 MulElementwise ops whose multipliers
come from the tensors' scales (not from the intermediates, which micro ignores). Only the plain LSTM: micro
refuses CIFG, peepholes, projection and layer norm. MultiplyByQuantizedMultiplier rounds twice, as everywhere
in tflite-micro.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dtypes, qmath
from ..errors import UnsupportedError
from ._common import quantize_multiplier, scale_zp
from ._lstm_int import sequence_outputs
from ._lut import checked_log2, int16_input_data, interpolate_int16, sigmoid_table_uint16

INT16_MIN, INT16_MAX = -32768, 32767
ROUNDING = "double"
# PrepareGateParametersInteger's gate scales: Q3.12 into the activations, Q0.15 out of them. Older tflite-micro
# wrote 2^-15 as the literal 0.00003051757 (a float 2^-22 below it), which turns the exact ties of f * c / 2^15
# (e.g. a cell clipped at 0.5) one step the other way; the installed runtime matches the exact powers of two.
NONLINEAR_INPUT_SCALE = np.float32(2.0 ** -12)
NONLINEAR_OUTPUT_SCALE = np.float32(2.0 ** -15)
ACT_SIGMOID, ACT_TANH = 6, 4  # TfLiteFusedActivation values micro's CalculateLstmGate accepts


@dataclass(frozen=True)
class FcParams:
    """FullyConnectedParamsQuantized of one int8 -> int16 gate FullyConnected (output zero point 0)."""

    weights: np.ndarray  # (n_cell, n_in) int64
    bias: np.ndarray  # (n_cell,) int64, zeros where the FC has no bias
    input_offset: int  # -input zero point
    weights_offset: int  # -filter zero point
    output_multiplier: int
    output_shift: int

    def run(self, v: np.ndarray) -> np.ndarray:
        """reference_integer_ops::FullyConnected: (B, n_in) int8 values -> (B, n_cell) int16 values (int64)."""
        acc = qmath.wrap_int32((v + self.input_offset) @ (self.weights + self.weights_offset).T + self.bias)
        acc = qmath.multiply_by_quantized_multiplier(acc, self.output_multiplier, self.output_shift,
                                                     rounding=ROUNDING)
        return np.clip(acc, INT16_MIN, INT16_MAX)


@dataclass(frozen=True)
class MulParams:
    """ArithmeticParams of CreateInterGateMulParams (symmetric inputs)."""

    output_multiplier: int
    output_shift: int
    output_offset: int
    quantized_activation_min: int
    quantized_activation_max: int

    def run(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """reference_integer_ops::MulElementwise on int16 values."""
        prod = qmath.multiply_by_quantized_multiplier(a * b, self.output_multiplier, self.output_shift,
                                                      rounding=ROUNDING)
        return np.clip(prod + self.output_offset, self.quantized_activation_min, self.quantized_activation_max)


@dataclass(frozen=True)
class Gate:
    input_fc: FcParams
    recurrent_fc: FcParams


@dataclass(frozen=True)
class TflmLstmParams:
    input: Gate
    forget: Gate
    cell: Gate
    output: Gate
    cell_gate_nonlinear_type: int  # the op's fused activation: ACT_TANH or ACT_SIGMOID
    cell_state_scale_power: int
    quantized_cell_clip: int  # 0: no clipping
    forget_cell_mul: MulParams
    input_mul: MulParams
    output_mul: MulParams
    time_major: bool
    state_inputs: tuple = (18, 19)
    batchable: bool = False  # stateful across invocations


def _sigmoid(g: np.ndarray, table: np.ndarray) -> np.ndarray:
    """lstm_internal::Sigmoid: reference_integer_ops::Logistic(0, 0, ...) on Q3.12 (power-of-two path)."""
    return interpolate_int16("logistic", int16_input_data(g, 0, 0), table).astype(np.int64)


def _tanh(cell_state_scale_power: int, g: np.ndarray, table: np.ndarray) -> np.ndarray:
    """lstm_internal::Tanh: reference_integer_ops::Tanh with left shift 15 + power - 3, or, when that is
    negative, multiplier 3 and the opposite shift."""
    left_shift = (15 + cell_state_scale_power) - 3
    multiplier = 0
    if left_shift < 0:
        left_shift, multiplier = -left_shift, 3
    return interpolate_int16("tanh", int16_input_data(g, multiplier, left_shift), table).astype(np.int64)


def prepare_integer_tflm(ctx, op) -> TflmLstmParams:
    """tflite-micro's UnidirectionalSequenceLstmPrepare for int8 activations; UnsupportedError for what micro
    refuses (or what we have not ported)."""

    def t(i):
        return ctx.input(i) if i < ctx.n_inputs else None

    if ctx.n_inputs != 24:
        raise UnsupportedError(f"tflite-micro's LSTM needs 24 inputs, this one has {ctx.n_inputs}")
    x, h_state, c_state, y = t(0), t(18), t(19), ctx.output(0)
    if h_state is None or c_state is None or not h_state.is_variable or not c_state.is_variable:
        raise UnsupportedError("LSTM states (inputs 18, 19) must be variable tensors")
    if h_state.type != x.type or y.type != x.type:
        raise UnsupportedError("tflite-micro's LSTM needs the output state and the output typed like the input")
    if c_state.type != dtypes.INT16:
        raise UnsupportedError("tflite-micro's int8 LSTM needs an int16 cell state")
    variants = {"CIFG (no input gate)": t(1) is None or t(5) is None,
                "peepholes": any(t(i) is not None for i in (9, 10, 11)),
                "projection": any(t(i) is not None for i in (16, 17)),
                "layer norm": any(t(i) is not None for i in (20, 21, 22, 23))}
    refused = [k for k, v in variants.items() if v]
    if refused:
        raise UnsupportedError(f"tflite-micro's LSTM supports only the plain LSTM, not {', '.join(refused)}")
    for i in range(1, 9):
        if t(i).type != dtypes.INT8:
            raise UnsupportedError(f"tflite-micro's int8 LSTM needs int8 weights (input {i})")
    for i in range(12, 16):
        if t(i) is None or t(i).type != dtypes.INT32:
            raise UnsupportedError(f"tflite-micro's int8 LSTM needs int32 gate biases (input {i})")
    o = op.options
    act = int(o.fused_activation_function)
    if act not in (ACT_TANH, ACT_SIGMOID):
        raise UnsupportedError(f"tflite-micro's LSTM cell gate takes tanh or sigmoid, not activation {act}")
    if float(o.cell_clip) < 0:
        raise UnsupportedError(f"negative cell_clip {o.cell_clip}")

    in_s, in_zp = scale_zp(x, " (LSTM input)")
    h_s, h_zp = scale_zp(h_state, " (LSTM output state)")
    c_s, _ = scale_zp(c_state, " (LSTM cell state)")

    def const(i: int) -> np.ndarray:
        v = ctx.const(i)
        if v is None:
            raise UnsupportedError(f"LSTM input {i} must be constant")
        return np.asarray(v).astype(np.int64)

    def fc(v_s: float, v_zp: int, w_i: int, b_i: int | None) -> FcParams:
        """CalculateOpDataFullyConnected into an int16 output of scale 2^-12, zero point 0, no activation."""
        w = t(w_i)
        qp = w.quantization
        if qp is None or qp.scale is None or len(qp.scale) != 1:
            raise UnsupportedError(f"tflite-micro's LSTM needs per-tensor weight scales (input {w_i})")
        w_s, w_zp = scale_zp(w)
        real = np.float64(v_s) * np.float64(w_s) / np.float64(NONLINEAR_INPUT_SCALE)  # GetQuantizedConvolutionMultipler
        m, s = quantize_multiplier(real, ROUNDING)
        weights = const(w_i)
        bias = const(b_i) if b_i is not None else np.zeros(weights.shape[0], np.int64)
        return FcParams(weights, bias, -v_zp, -w_zp, int(m), int(s))

    def gate(k: int) -> Gate:  # k: 0 input, 1 forget, 2 cell, 3 output (lstm_shared.h order)
        return Gate(fc(in_s, in_zp, 1 + k, 12 + k), fc(h_s, h_zp, 5 + k, None))

    def mul(s1, s2, s_out, out_zp: int, out_type: int) -> MulParams:
        real = np.float64(s1) * np.float64(s2) / np.float64(s_out)
        m, s = quantize_multiplier(real, ROUNDING)
        lo, hi = (-128, 127) if out_type == dtypes.INT8 else (INT16_MIN, INT16_MAX)
        return MulParams(int(m), int(s), out_zp, lo, hi)

    _, power = checked_log2(c_s)  # CreateLstmCellStateInfo keeps the rounded log2 without checking it
    clip = float(np.float32(o.cell_clip))
    q_clip = int(np.trunc(min(max(clip / float(np.float32(c_s)), -32768.0), 32767.0))) if clip > 0 else 0
    no = NONLINEAR_OUTPUT_SCALE
    return TflmLstmParams(
        input=gate(0), forget=gate(1), cell=gate(2), output=gate(3), cell_gate_nonlinear_type=act,
        cell_state_scale_power=power, quantized_cell_clip=q_clip,
        forget_cell_mul=mul(no, c_s, c_s, 0, dtypes.INT16), input_mul=mul(no, no, c_s, 0, dtypes.INT16),
        output_mul=mul(no, no, h_s, h_zp, h_state.type), time_major=bool(o.time_major))


def _gate(g: Gate, x: np.ndarray, h: np.ndarray, act: int, table: np.ndarray) -> np.ndarray:
    """CalculateLstmGate: activate(FC(input) + FC(recurrent)) with int16 saturation in between."""
    pre = np.clip(g.input_fc.run(x) + g.recurrent_fc.run(h), INT16_MIN, INT16_MAX)  # AddElementWise
    if act == ACT_SIGMOID:
        return _sigmoid(pre, table)
    return _tanh(-12, pre, table)  # power -12: Q3.12 into Tanh without a shift


def eval_integer_tflm(p: TflmLstmParams, x: np.ndarray, h0: np.ndarray, c0: np.ndarray):
    """EvalLstm: x (B, T, I) or (T, B, I) int8; returns (y, h, c) with the states' shapes.

    Batch-major input is run one batch row at a time in micro; rows never mix, so all rows go together here."""
    table = sigmoid_table_uint16()
    seq = (x if p.time_major else np.swapaxes(x, 0, 1)).astype(np.int64)  # (T, B, I)
    nb = seq.shape[1]
    h = h0.reshape(nb, -1).astype(np.int64)  # (B, n_output) int8 values
    c = c0.reshape(nb, -1).astype(np.int64)  # (B, n_cell) int16 values
    outs = []
    for xt in seq:
        f_g = _gate(p.forget, xt, h, ACT_SIGMOID, table)
        i_g = _gate(p.input, xt, h, ACT_SIGMOID, table)
        g_g = _gate(p.cell, xt, h, p.cell_gate_nonlinear_type, table)
        # UpdateLstmCell
        c = np.clip(p.forget_cell_mul.run(f_g, c) + p.input_mul.run(i_g, g_g), INT16_MIN, INT16_MAX)
        if p.quantized_cell_clip > 0:
            c = np.clip(c, -p.quantized_cell_clip, p.quantized_cell_clip)
        o_g = _gate(p.output, xt, h, ACT_SIGMOID, table)  # still the previous hidden state
        # UpdateLstmHidden
        h = p.output_mul.run(_tanh(p.cell_state_scale_power, c, table), o_g)
        outs.append(h)
    return sequence_outputs(outs, h, c, h0, c0, p.time_major)
