"""Build tiny float UNIDIRECTIONAL_SEQUENCE_LSTM models, quantize them full-integer with TensorFlow's
TFLite quantizer (int8 activations and weights, int16 cell state: the "8x8_16" LSTM, with the
``intermediates`` tensors that carry the gate scales), run them in LiteRT's reference kernels
(OpResolverType.BUILTIN_REF) and tflite-micro, and store model + inputs + outputs.

    .venv/bin/python tools/make_lstm_goldens.py       # writes tests/data/lstm/<case>.npz

Why not ``keras.layers.LSTM`` + ``TFLiteConverter``: with Keras 3 (TF 2.21) the converter no longer
fuses the layer into UNIDIRECTIONAL_SEQUENCE_LSTM (it emits WHILE + variable reads, and the int8
calibration of that graph segfaults). So the float model is written with edgequant's writer (random
weights, seeded) and quantized by the same calibrate-and-quantize step the converter runs.

Each .npz holds ``model`` (the int8 .tflite bytes as uint8), ``x`` (int8 inputs, one batch-1 sample
per row), ``ref`` (LiteRT BUILTIN_REF: one interpreter, one invoke per sample, so the state carries
over between samples), ``ref_fresh`` (each sample after ``reset_all_variables``) and, when
tflite-micro runs the model, ``tflm`` (like ``ref``). Developer tool; tests only read the .npz files.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "lstm"
T_STEPS, FEATURES, SAMPLES = 6, 4, 5


def build_float(units: int, seed: int, layer_norm: bool = False, cifg: bool = False, cell_clip: float = 0.0,
                time_major: bool = False, peephole: bool = False, proj: int = 0, proj_clip: float = 0.0) -> bytes:
    """A float32 LSTM op (batch 1) with random constant weights and variable h/c states."""
    import edgequant
    from edgequant import dtypes
    from edgequant.graph import Buffer, Model, Operator, SubGraph, Tensor, new_node

    rng = np.random.default_rng(seed)
    m = Model(version=3, operator_codes=[], subgraphs=[], buffers=[Buffer()], description="lstm golden")
    sg = SubGraph(tensors=[], operators=[], inputs=[], outputs=[], name="main")
    m.subgraphs.append(sg)

    def tensor(name, shape, data=None, variable=False):
        buf = 0 if data is None else m.add_buffer(np.asarray(data, np.float32))
        if data is None and not variable:
            buf = m.add_buffer(None)
        return sg.add_tensor(Tensor(name=name, type=dtypes.FLOAT32, shape=list(shape), buffer=buf,
                                    is_variable=variable))

    xshape = [T_STEPS, 1, FEATURES] if time_major else [1, T_STEPS, FEATURES]
    ins = [-1] * 24
    ins[0] = tensor("x", xshape)
    gates = "ifco"
    for k, g in enumerate(gates):
        if cifg and g == "i":
            continue
        ins[1 + k] = tensor(f"w_{g}", [units, FEATURES], rng.normal(0, 0.8, (units, FEATURES)))
        ins[5 + k] = tensor(f"r_{g}", [units, proj or units], rng.normal(0, 0.5, (units, proj or units)))
        ins[12 + k] = tensor(f"b_{g}", [units], rng.normal(0, 0.5 if layer_norm else 0.3, units))
        if layer_norm:
            ins[20 + k] = tensor(f"ln_{g}", [units], rng.uniform(0.5, 1.5, units))
        if peephole and g != "c":
            ins[9 + "ifo".index(g)] = tensor(f"p_{g}", [units], rng.normal(0, 0.5, units))
    n_out = proj or units
    if proj:
        ins[16] = tensor("proj_w", [proj, units], rng.normal(0, 0.6, (proj, units)))
        ins[17] = tensor("proj_b", [proj], rng.normal(0, 0.2, proj))
    ins[18] = tensor("h_state", [1, n_out], variable=True)
    ins[19] = tensor("c_state", [1, units], variable=True)
    y = tensor("y", [T_STEPS, 1, n_out] if time_major else [1, T_STEPS, n_out])
    sg.inputs, sg.outputs = [ins[0]], [y]
    opts = new_node("UnidirectionalSequenceLSTMOptions", fused_activation_function=4, cell_clip=cell_clip,
                    proj_clip=proj_clip, time_major=time_major, asymmetric_quantize_inputs=False)
    sg.operators.append(Operator(opcode_index=m.op_code_index("UNIDIRECTIONAL_SEQUENCE_LSTM", 1), inputs=ins,
                                 outputs=[y], builtin_options=opts))
    m.bind()
    return edgequant.save(m)


def quantize(float_blob: bytes, seed: int, xshape) -> bytes:
    """TFLite's calibrate-and-quantize (what TFLiteConverter runs for full-integer int8)."""
    import tensorflow as tf
    from tensorflow.lite.python.optimize import calibrator

    rng = np.random.default_rng(seed)

    def rep():
        for _ in range(16):
            yield [rng.uniform(-1, 1, xshape).astype(np.float32)]

    cal = calibrator.Calibrator(calibrator.add_intermediate_tensors(float_blob))
    return bytes(cal.calibrate_and_quantize(rep, tf.int8, tf.int8, False))


def check(blob: bytes) -> None:
    import edgequant
    from edgequant import dtypes

    m = edgequant.load(blob)
    sg = m.subgraphs[0]
    lstm = [op for op in sg.operators if m.op_name(op) == "UNIDIRECTIONAL_SEQUENCE_LSTM"]
    if not lstm:
        raise SystemExit(f"no UNIDIRECTIONAL_SEQUENCE_LSTM in {[m.op_name(op) for op in sg.operators]}")
    if sg.tensors[lstm[0].inputs[0]].type != dtypes.INT8:
        raise SystemExit("the LSTM's input is not int8")


def run_litert(blob: bytes, xs: np.ndarray, fresh: bool) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_content=blob, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    i, o = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
    outs = []
    for x in xs:
        if fresh:
            it.reset_all_variables()
        it.set_tensor(i, x)
        it.invoke()
        outs.append(it.get_tensor(o).copy())
    return np.stack(outs)


def run_tflm(blob: bytes, xs: np.ndarray) -> np.ndarray | None:
    try:
        from tflite_micro.python.tflite_micro import runtime

        it = runtime.Interpreter.from_bytes(blob)
        outs = []
        for x in xs:
            it.set_input(x, 0)
            it.invoke()
            outs.append(it.get_output(0).copy())
        return np.stack(outs)
    except Exception as e:  # noqa: BLE001 - a runtime that cannot run the model is a note, not a failure
        print(f"  tflite-micro: {type(e).__name__}: {e}")
        return None


CASES = {
    "lstm8": {"units": 8, "seed": 1},
    "lstm5_ln": {"units": 5, "seed": 2, "layer_norm": True},
    "lstm6_cifg_clip": {"units": 6, "seed": 3, "cifg": True, "cell_clip": 3.0},
    "lstm6_peephole_ln": {"units": 6, "seed": 5, "peephole": True, "layer_norm": True},
    "lstm6_peephole": {"units": 6, "seed": 6, "peephole": True},
    "lstm8_proj3_ln": {"units": 8, "seed": 7, "proj": 3, "layer_norm": True, "proj_clip": 0.4},
    "lstm8_proj3": {"units": 8, "seed": 8, "proj": 3},
    "lstm4_time_major": {"units": 4, "seed": 4, "time_major": True},
    # plain LSTMs (all tflite-micro runs) for target "tflm": a clipped cell state, a wider layer
    "lstm8_cellclip": {"units": 8, "seed": 9, "cell_clip": 0.5},
    "lstm16_wide": {"units": 16, "seed": 10},
    "lstm6_time_major_cellclip": {"units": 6, "seed": 11, "time_major": True, "cell_clip": 0.8},
}


def main(argv: list[str]) -> int:
    from edgequant.graph import write_atomic

    OUT.mkdir(parents=True, exist_ok=True)
    for name, kw in CASES.items():
        if argv and not any(a in name for a in argv):
            continue
        xshape = [T_STEPS, 1, FEATURES] if kw.get("time_major") else [1, T_STEPS, FEATURES]
        try:
            blob = quantize(build_float(**kw), kw["seed"], xshape)
        except Exception as e:  # noqa: BLE001 - the quantizer refuses some variants; say so and go on
            print(f"{name}: TF's quantizer failed: {type(e).__name__}: {str(e)[:200]}")
            continue
        check(blob)
        rng = np.random.default_rng(100 + kw["seed"])
        xs = rng.integers(-128, 128, [SAMPLES, *xshape], dtype=np.int8)
        arrays = {"model": np.frombuffer(blob, np.uint8), "x": xs, "ref": run_litert(blob, xs, fresh=False),
                  "ref_fresh": run_litert(blob, xs, fresh=True)}
        tflm = run_tflm(blob, xs)
        if tflm is not None:
            arrays["tflm"] = tflm
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        write_atomic(OUT / f"{name}.npz", buf.getvalue())
        print(f"{name}: {len(blob)} B model, tflm={'yes' if tflm is not None else 'no'}, tflm==ref: "
              f"{None if tflm is None else bool(np.array_equal(tflm, arrays['ref']))}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
