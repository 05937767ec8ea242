"""Bias correction: the mean error quantized weights put on each layer's output, taken out through its bias.

A weight op computes ``W x + b``. Quantized, it computes ``Wq x' + b``, where ``x'`` is its input in the quantized
model (upstream layers' errors included). Over real inputs the error has a mean, ``W mu - Wq mu'`` (``mu``,
``mu'``: the mean input of the layer in the float and in the quantized model), which does not average away over
samples: it is an offset on every output channel, and later layers pass it on and add their own. Setting

    b' = b + W mu - Wq mu'

makes the layer's mean output the float layer's again, at no cost in size or speed. Done layer after layer in
the graph's order, each layer's ``mu'`` is measured with every earlier bias already corrected, so the offsets do
not pile up (Nagel et al., "Data-Free Quantization Through Weight Equalization and Bias Correction", 2019,
section 4.2, "empirical bias correction"). Balanced rounding (edgequant.quantizer.balanced) removes part of the
same offset without data, GPTQ (edgequant.quantizer.gptq) part of it from the float model's statistics; neither
sees what earlier layers' errors do to a layer's input.

How: the float model runs over the first :data:`SAMPLES` calibration samples and gives each weight op's mean
input rows ``mu`` (for a convolution, the mean im2col patch, padding zeros included). Then the quantized model
itself runs in edgequant's interpreter, one op at a time over those samples, its own kernels and all (hybrid
kernels' input rounding, full-integer clipping), and before each weight op the mean of its actual input gives
``mu'`` and the new bias, which the op is then prepared with. On resnet8 (random inputs) weight-only int8 goes
from 27.1 to about 61 dB this way, against 44.7 dB with ``mu'`` replaced by ``mu`` (a correction for the layer's
own weights only): BENCHMARKS.md. Ops without a bias are left as they are (adding a bias tensor would grow the
file).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import dtypes
from ..errors import EdgequantError
from ..graph import Model, Operator
from ..kernels import OpContext
from ..kernels._common import Window

OPS = ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D")
BIAS_SLOT = 2  # the bias input of every op in OPS
# Calibration samples the correction runs on, the first ones: a convolution's mean comes from every position of
# each, and the time grows in proportion (a fully connected layer's mean is the noisiest: one row per sample).
SAMPLES = 32
# Fewer samples than this and the correction is skipped: a fully connected layer's mean from a handful of rows
# fits those rows (resnet8 weight-only: 33.9 -> 31.5 dB with 1 sample, 33.8 -> 32.7 with 5; session 7's audit).
MIN_SAMPLES = 16


def mean_row(name: str, op: Operator, w_shape: tuple[int, ...], x: np.ndarray) -> tuple[np.ndarray, int]:
    """(sum, count) of the input rows op ``name`` multiplies with its weight (shape ``w_shape``), over the batch
    ``x``: fully connected (K,) over its rows; convolution (KH*KW*C,) over every im2col patch, in the filter's
    (kh, kw, c) order, the zeros of padding included; depthwise (C, KH*KW), input channel c's taps.

    Exact, without the im2col matrix: the batch is summed first, then each tap sums the (H, W, C) positions it
    reads (a strided slice of the padded sum)."""
    x = np.asarray(x)
    if name == "FULLY_CONNECTED":
        rows = x.reshape(-1, w_shape[1])
        return rows.sum(axis=0, dtype=np.float64), rows.shape[0]
    o = op.builtin_options
    kh, kw = w_shape[1], w_shape[2]
    win = Window.make(o.padding, x.shape[1], x.shape[2], kh, kw, o.stride_h, o.stride_w, o.dilation_h_factor,
                      o.dilation_w_factor)
    total = win.padded(x.sum(axis=0, dtype=np.float64)[None], 0.0)[0]  # (Hp, Wp, C)
    taps = np.empty((kh, kw, x.shape[3]))
    for a in range(kh):
        for e in range(kw):
            r0, c0 = a * win.dh, e * win.dw
            taps[a, e] = total[r0:r0 + (win.out_h - 1) * win.sh + 1:win.sh,
                               c0:c0 + (win.out_w - 1) * win.sw + 1:win.sw].sum(axis=(0, 1))
    count = x.shape[0] * win.out_h * win.out_w
    if name == "CONV_2D":
        return taps.reshape(-1), count
    return taps.reshape(kh * kw, -1).T, count


def _linear_mean(name: str, w: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """``W mu`` per output channel, float64, for a mean row from :func:`mean_row`."""
    w = np.asarray(w, np.float64)
    if name == "DEPTHWISE_CONV_2D":  # (1, KH, KW, C*M): output channel k reads input channel k // M
        channels = w.shape[3]
        return np.einsum("tk,kt->k", w.reshape(-1, channels), np.repeat(mu, channels // mu.shape[0], axis=0))
    return w.reshape(w.shape[0], -1) @ mu


def correct(model: Model, q: Model, origin: list[Operator], found: dict, inputs: list[np.ndarray],
            write: Callable[[int, np.ndarray], tuple[int, np.ndarray]]) -> list[int]:
    """Correct the biases of ``q``, the quantized ``model`` (``origin[o]``: the operator of ``q`` that op ``o`` of
    ``model``'s main subgraph became; ``found``: :func:`targets`), on ``inputs`` (float, one array per model input,
    samples first).
    ``write(o, b)`` stores op ``o``'s corrected float bias ``b`` in ``q`` and returns the bias tensor's index and
    the value ``q``'s kernels read (int32 biases: the integers). Returns the op indices corrected."""
    if not found:
        return []
    sg = model.main
    float_means = {}
    for step, chunks, _ in _steps(model, inputs):
        if step.index in found:
            op = sg.operators[step.index]
            mu = _mean(step.name, op, found[step.index][0].shape, [c[op.inputs[0]] for c in chunks])
            if not np.all(np.isfinite(mu)):
                raise EdgequantError(f"calibration data: the float model overflows on it (op {step.index} "
                                     f"{step.name} reads values that are not finite); check the data's range")
            float_means[step.index] = mu
    where = {id(origin[o]): o for o in found}
    qsg = q.main
    done = []
    for step, chunks, reprepare in _steps(q, [qsg.tensors[i].quantize(x) for i, x in zip(qsg.inputs or [], inputs)]):
        op = qsg.operators[step.index]
        o = where.get(id(op))
        if o is None or o not in float_means:
            continue
        w, b, wq = found[o]
        t = qsg.tensors[op.inputs[0]]
        mu = _mean(step.name, op, w.shape, [_real(t, c[op.inputs[0]]) for c in chunks])
        new = b.astype(np.float64) + _linear_mean(step.name, w, float_means[o]) - _linear_mean(step.name, wq, mu)
        if np.all(np.isfinite(new)):
            reprepare(*write(o, new))
            done.append(o)
    return done


def _steps(model: Model, inputs: list[np.ndarray]):
    """Run ``model``'s main subgraph in edgequant's interpreter one op at a time, every sample through an op before
    the next op: yields ``(step, chunks, reprepare)`` before each step runs, ``chunks`` being the values (tensor
    index -> array) of all samples at once where the plan allows it, else of one sample each, every sample from
    the initial variable state (an LSTM's calibration samples are independent sequences here, in the float and
    the quantized model alike). ``reprepare(index, value)`` gives the step's op a new constant input first."""
    from ..interpreter import Interpreter

    it = Interpreter(model)
    plan = it._plan(0)
    sg = plan.sg
    rows = [max(int((sg.tensors[i].shape or [1])[0]), 1) for i in sg.inputs or []]
    n = inputs[0].shape[0] // rows[0]
    pieces = [(0, n)] if (plan.batchable and not plan.variables) or n == 1 else [(k, k + 1) for k in range(n)]
    chunks = [{**it._initial_values(plan), **{i: a[lo * r:hi * r] for i, a, r in zip(sg.inputs or [], inputs, rows)}}
              for lo, hi in pieces]
    for step, dead in zip(plan.steps, plan.dead_after):
        op = sg.operators[step.index]

        def reprepare(index: int, value: np.ndarray, step=step, op=op) -> None:
            step.inputs = list(op.inputs)  # a bias shared with another op may have become a tensor of its own
            consts = {**plan.constants, index: value}
            step.params = step.kernel.prepare(OpContext(model, sg, op, step.index, step.name, it.target, consts), op)
            for c in chunks:
                c[index] = value

        yield step, chunks, reprepare
        for c in chunks:
            plan._run_step(step, c)
            for i in dead:
                c.pop(i, None)


def targets(model: Model, q: Model, origin: list[Operator]) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """op index -> (float weight, float bias, the weight ``q`` computes with, dequantized) for every op in OPS with
    a float constant bias whose weight ``q`` holds as integers."""
    sg = model.main
    out = {}
    for o, op in enumerate(sg.operators or []):
        ins = op.inputs or []
        if model.op_name(op) not in OPS or len(ins) <= BIAS_SLOT or ins[BIAS_SLOT] < 0:
            continue
        w, b = sg.tensors[ins[1]].numpy(), sg.tensors[ins[BIAS_SLOT]].numpy()
        x = sg.tensors[ins[0]]
        if w is None or (model.op_name(op) == "CONV_2D" and (w.ndim != 4 or not x.shape or x.shape[-1] != w.shape[3])):
            continue  # a grouped convolution: each filter reads a slice of the channels, not the whole patch
        wq = _integer_weight(q, origin[o])
        if w is not None and b is not None and b.dtype == np.float32 and wq is not None and wq.size == w.size:
            out[o] = (w, b, wq.reshape(w.shape))
    return out


def _mean(name: str, op: Operator, w_shape: tuple[int, ...], parts: list[np.ndarray]) -> np.ndarray:
    sums = [mean_row(name, op, w_shape, x) for x in parts]
    return sum(s for s, _ in sums) / max(sum(k for _, k in sums), 1)


def _integer_weight(q: Model, op: Operator) -> np.ndarray | None:
    """The dequantized int8 weight ``op`` computes with in ``q`` (hybrid and full-integer ops hold it; weight-only
    ones read it through a DEQUANTIZE), or None when the weight stayed float."""
    sg = q.main
    if len(op.inputs or []) < 2 or op.inputs[1] < 0:
        return None
    t = sg.tensors[op.inputs[1]]
    if t.type == dtypes.FLOAT32:
        src = next((p for p in sg.operators or [] if op.inputs[1] in (p.outputs or [])), None)
        if src is None or q.op_name(src) != "DEQUANTIZE":
            return None
        t = sg.tensors[src.inputs[0]]
    return t.dequantize() if t.type == dtypes.INT8 and t.is_constant else None


def _real(t, v: np.ndarray) -> np.ndarray:
    """Real values of an activation: float as it is, integers through the tensor's scale and zero point."""
    if v.dtype.kind == "f":
        return v
    qp = t.quantization
    return (v.astype(np.float64) - float(qp.zero_point[0])) * float(qp.scale[0])

