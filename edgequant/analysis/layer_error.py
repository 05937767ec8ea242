"""Per-layer error: where along the graph a quantized model drifts from its float original.

Both models run in edgequant's interpreter on the same inputs with every intermediate kept. Tensors
are matched by name (the quantizer keeps activation names), the quantized ones are dequantized with
their own scale and zero point, and each pair gets SQNR, max absolute error and cosine similarity.
The layer where SQNR falls is the layer to keep in float or to calibrate differently.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .. import quantization as Q
from ..errors import EdgequantError
from ..graph import Model, Tensor


@dataclass(frozen=True)
class LayerError:
    op_index: int  # in the quantized model
    op: str
    tensor: str
    dtype: str
    sqnr_db: float
    max_abs_error: float
    cosine: float
    float_range: tuple[float, float]

    def to_dict(self) -> dict:
        return asdict(self)


def _as_float(t: Tensor, values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "f":
        return values.astype(np.float32)
    qp = t.quantization
    if qp is None or qp.scale is None or len(qp.scale) == 0:
        return values.astype(np.float32)
    zp = qp.zero_point[0] if qp.zero_point is not None and len(qp.zero_point) else 0
    return ((values.astype(np.int64) - int(zp)) * np.float32(qp.scale[0])).astype(np.float32)


def compare_layers(float_model: Model, quant_model: Model, inputs: list[np.ndarray]) -> list[LayerError]:
    """Error of every op output of ``quant_model`` that has a same-named float tensor in ``float_model``, and of
    each model output against the float model's output in the same position whatever its name (another tool's
    quantized file may rename it: Identity vs Identity_int8).

    ``inputs``: float inputs for the float model, one array per model input, batch along axis 0.
    Inputs of the quantized model are quantized from them with its own input parameters.
    """
    from ..interpreter import Interpreter

    fsg, qsg = float_model.main, quant_model.main
    f_out, f_all = Interpreter(float_model).run(inputs, keep_intermediates=True)
    q_inputs = []
    for idx, x in zip(qsg.inputs or [], inputs):
        t = qsg.tensors[idx]
        if t.dtype.kind == "f":
            q_inputs.append(np.asarray(x, t.dtype))
            continue
        qp = t.quantization
        params = Q.QuantParams(scale=np.float32(qp.scale[0]), zero_point=np.int64(qp.zero_point[0]),
                               bits=t.dtype.itemsize * 8, signed=t.dtype.kind == "i")
        q_inputs.append(Q.quantize(np.asarray(x, np.float32), params))
    _, q_all = Interpreter(quant_model).run(q_inputs, keep_intermediates=True)
    by_name = {t.name: t.index for t in fsg.tensors or [] if t.name}
    same_place = dict(zip(qsg.outputs or [], fsg.outputs or []))
    for i, v in zip(fsg.outputs or [], f_out):
        f_all.setdefault(i, v)
    rows = []
    producers = qsg.producers()
    for o, op in enumerate(qsg.operators or []):
        name = quant_model.op_name(op)
        if name == "DEQUANTIZE" and op.inputs and op.inputs[0] in producers:
            # the float name now sits after a DEQUANTIZE: credit the integer op that computed it
            name = f"{quant_model.op_name(qsg.operators[producers[op.inputs[0]]])}+DEQUANTIZE"
        for out in op.outputs or []:
            t = qsg.tensors[out]
            fi = by_name.get(t.name, same_place.get(out))
            if fi is None or fi not in f_all or out not in q_all:
                continue
            ref = np.asarray(f_all[fi], np.float32)
            got = _as_float(t, np.asarray(q_all[out]))
            if ref.shape != got.shape or ref.dtype.kind != "f" or fsg.tensors[fi].dtype.kind != "f":
                continue
            rows.append(LayerError(o, name, t.name, t.type_name, Q.sqnr_db(ref, got), Q.max_abs_error(ref, got),
                                   Q.cosine_similarity(ref, got), (float(ref.min()), float(ref.max()))))
    if not rows:
        raise EdgequantError("no op output of the quantized model has a same-named float tensor to compare with")
    return rows


def plot_layer_error(rows: list[LayerError], path, title: str = "per-layer SQNR", size=(900, 420)):
    """PNG: SQNR per op output in execution order (higher is better)."""
    from ..viz import new_figure, save_png

    fig, ax = new_figure(size)
    xs = np.arange(len(rows))
    vals = [min(r.sqnr_db, 99.0) for r in rows]
    ax.bar(xs, vals, color=["tab:red" if v < 20 else "tab:blue" for v in vals])
    ax.set_xticks(xs)
    ax.set_xticklabels([f"{r.op_index} {r.op}" for r in rows], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("SQNR vs float (dB)")
    ax.set_title(title)
    ax.axhline(20, color="0.5", ls="--", lw=0.8)
    fig.tight_layout()
    return save_png(fig, path)
