"""Quantizers side by side: TFLiteConverter (from the Keras source), ai-edge-quantizer 0.10, edgequant.

Same float file and calibration samples for every tool, every mode each tool supports. Prints a markdown table:
file size, accuracy on the held-out split (classifiers with labels), output SQNR vs the float model on the held-out
inputs (LiteRT reference kernels, one sample per invoke), and ms = wall time of the quantization call in
milliseconds, 3 significant figures (the fastest of --repeat runs; calibration included; TFLiteConverter's time
includes its conversion from Keras, which is the only way it quantizes; numpy's BLAS runs one thread for every tool).

Models and their data:
* digits_cnn, digits_resnet: tests/data/fixtures (Keras source + float .tflite, trained by tools/train_fixtures.py);
  calibration = x_calib (200 training samples), evaluation = the 360-sample held-out split with labels.
* mnist_cnn: trained here on the MNIST *test* set in ../shared/data (first 8000 images train, last 2000 held out
  with labels; calibration = 200 of the first 8000, seed 0).
* mlperf_tiny_ic_resnet8_float, mlperf_tiny_ic_resnet_large_float (32x32x3), mlperf_tiny_vww_96_float (96x96x3):
  ../shared/models, no Keras source (no TFLiteConverter rows) and no real inputs or labels here: uniform random
  inputs in [0, 1] (seed 0), 200 for calibration + 500 for evaluation. SQNR and top-1 agreement only.
* mlperf_tiny_ad01_fc_autoencoder_fp32: real log-mel features of one normal ToyCar clip,
  ../shared/data/mlperf_tiny_ad_normal_id_01_00000000_hist_librosa.bin = 200 frames x 128 mels, float32, frame-major
  (the 102400 bytes read as (128, 200) jump by ~18 dB between neighbours, as (200, 128) by ~3 dB along both axes).
  The model's 640 inputs are 5 consecutive frames concatenated frame after frame (the DCASE 2020 baseline's
  file_to_vector_array in MLPerf Tiny's anomaly_detection: vector[:, 128*t:128*(t+1)] = frame t of the window),
  so 196 sliding windows: calibration = the 96 windows inside frames 0-99, evaluation = the 96 inside frames
  100-199 (no shared frame). SQNR of the reconstruction only (no labels, not a classifier).
* Left out: mlperf_tiny_kws_dscnn_float32.tflite, which despite its name is already dynamic-range quantized
  (int8 CONV_2D weights, ../shared/MANIFEST.tsv); the other MLPerf Tiny files there are int8 or hybrid too.

Every tool gets the same float file, made readable for each (shared_float_file; its outputs are checked
bit-identical to the original's in LiteRT, and its bytes are the float row's): a SignatureDef where there is none
(ai-edge-quantizer calibrates through LiteRT's signature runner), and each OperatorCode's builtin_code set to its op
where an old converter left it 0 and wrote the op in deprecated_builtin_code only (ad01: ai-edge-quantizer reads
builtin_code alone, saw ten ADDs and quantized nothing, or wrote int8 files LiteRT refuses). A tool whose output
has no narrow tensor (int8, int16, uint8, int4, float16) that the float file lacks quantized nothing: its row says
so and it is not a peer.

edgequant runs twice for the weight modes: with the calibration data (its default then rounds int8 weights with
GPTQ and corrects the biases, edgequant.quantizer.bias) and without ("no data": balanced rounding with min/max scales, edgequant.quantizer.balanced), every weight
quantized in both. "top-1 = float": how often the quantized model's top class is the float model's (classifiers).
"vs better peer" (edgequant rows): with labels, against the more accurate peer in the same mode, +c/-b = the
held-out samples only edgequant / only the peer gets right, and p = McNemar's exact two-sided test of "equally
accurate" (a small p means the accuracy difference is more than chance); then, with or without labels, dSQNR =
edgequant's SQNR minus the best peer's in that mode (peers: the other tools' rows that quantized something).

    .venv/bin/python benchmarks/compare_quantizers.py [--quick] [--repeat 2]
    .venv/bin/python benchmarks/compare_quantizers.py --only-edgequant --set weight_range=mse   # what-if runs

``--set FIELD=VALUE`` (repeatable) overrides a field of every edgequant recipe (integers parsed as such);
``--only-edgequant`` skips the peers and the float rows stay.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import math
import os
import sys
import time
import warnings
from functools import partial
from pathlib import Path

# One BLAS thread for every tool, as in bench_interpreter.py, set before numpy loads: the quantizers' matrices
# are small, and on a shared 2-core machine OpenBLAS's second thread waits for a busy core (edgequant's
# mnist_cnn dynamic_int8 took 0.75 s with two threads and 0.12 s with one under a load average of 2.7).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # after the thread settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FIX = ROOT / "tests" / "data" / "fixtures"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")

import edgequant as eq
from edgequant import dtypes
from edgequant.flatbuffer.nodes import node_class
from edgequant.quantizer import Recipe, quantize

MODES = ("dynamic_int8", "weight_only_int8", "float16", "int8", "int16x8")
# Evaluation samples for the MLPerf models (random inputs): an output SQNR through a softmax varies by about
# +-2 dB between sets of 50 samples, so 500.
MLPERF_EVAL = 500
AD_FEATURES = SHARED / "data" / "mlperf_tiny_ad_normal_id_01_00000000_hist_librosa.bin"
AD_MELS, AD_FRAMES = 128, 5  # one ad01 input = 5 consecutive log-mel frames of 128 bands, frame after frame
# Tensor types a quantizer writes; a float model has none of them unless it was quantized already.
NARROW = (dtypes.INT8, dtypes.INT16, dtypes.UINT8, dtypes.INT4, dtypes.FLOAT16)


def run_litert(blob: bytes, x: np.ndarray) -> np.ndarray:
    """Float outputs of the first output (dequantized if integer), reference kernels, one sample per invoke."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_content=bytes(blob), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    ys = []
    for k in range(len(x)):
        v = x[k:k + 1]
        if i["dtype"] != np.float32:
            s, z = i["quantization"]
            info = np.iinfo(i["dtype"])
            v = np.clip(np.floor(v / s + 0.5) + z, info.min, info.max).astype(i["dtype"])
        it.set_tensor(i["index"], v.astype(i["dtype"]))
        it.invoke()
        y = it.get_tensor(o["index"]).astype(np.float32)
        if o["dtype"] != np.float32:
            s, z = o["quantization"]
            y = (y - z) * s
        ys.append(y)
    return np.concatenate(ys)


def sqnr(ref: np.ndarray, y: np.ndarray) -> float:
    noise = np.sum((ref.astype(np.float64) - y) ** 2)
    return float("inf") if noise == 0 else float(10 * np.log10(np.sum(ref.astype(np.float64) ** 2) / noise))


def recipe_settings(pairs: list[str]) -> dict:
    """``--set FIELD=VALUE`` options as Recipe keyword arguments (integers, true and false parsed as such)."""
    settings = {}
    for kv in pairs:
        k, _, v = kv.partition("=")
        flags = {"true": True, "false": False}
        settings[k] = int(v) if v.lstrip("-").isdigit() else flags.get(v.lower(), v)
    return settings


def ms(seconds: float) -> str:
    """Milliseconds to 3 significant figures: 5.3, 84.7, 312, 1230."""
    v = float(f"{seconds * 1e3:.3g}")
    return f"{v:.0f}" if v >= 100 else f"{v:g}"


def shared_float_file(blob: bytes) -> bytes:
    """The float file every tool gets, written so that each peer can read it (the computation is unchanged):

    * a serving_default SignatureDef naming the main subgraph's inputs and outputs, if it has none:
      ai-edge-quantizer calibrates through LiteRT's signature runner;
    * every OperatorCode's builtin_code set to its op: old converters (ad01's TF 2.3) left it 0 (ADD) and wrote
      the op in deprecated_builtin_code only; LiteRT reads the larger of the two, ai-edge-quantizer builtin_code
      alone, so it saw ad01's FULLY_CONNECTEDs as ADDs and quantized nothing (weight modes) or wrote files LiteRT
      refuses (int8, int16x8)."""
    m = eq.load(blob)
    changed = False
    for oc in m.operator_codes:
        if oc.builtin_code != oc.code:
            oc.builtin_code, changed = oc.code, True
    if not m.signature_defs:
        sg, tmap = m.main, node_class("TensorMap")
        m.signature_defs = [node_class("SignatureDef")(
            inputs=[tmap(name=sg.tensors[i].name, tensor_index=i) for i in sg.inputs],
            outputs=[tmap(name=sg.tensors[i].name, tensor_index=i) for i in sg.outputs],
            signature_key="serving_default", subgraph_index=0)]
        changed = True
    return eq.save(m) if changed else blob


def narrow_tensors(blob: bytes) -> int:
    return sum(int(t.type) in NARROW for _, t in eq.load(blob).tensors())


# -- the three quantizers -----------------------------------------------------------------------------------

def tf_converter(keras_model, mode: str, calib: np.ndarray) -> bytes | None:
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(keras_model)
    if mode == "weight_only_int8":
        return None  # no weight-only mode in TFLiteConverter
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        conv.target_spec.supported_types = [tf.float16]
    if mode in ("int8", "int16x8"):
        def rep():
            for k in range(len(calib)):
                yield [calib[k:k + 1]]
        conv.representative_dataset = rep
        ops = (tf.lite.OpsSet.TFLITE_BUILTINS_INT8 if mode == "int8" else
               tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8)
        conv.target_spec.supported_ops = [ops]
        # integer model inputs/outputs, as ai-edge-quantizer's static recipes write them
        conv.inference_input_type = conv.inference_output_type = tf.int8 if mode == "int8" else tf.int16
    with contextlib.redirect_stdout(io.StringIO()):  # "Saved artifact at ..." would land in the table
        return conv.convert()


def ai_edge(blob: bytes, mode: str, calib: np.ndarray, input_name: str, sig: str | None) -> bytes | None:
    from ai_edge_quantizer import quantizer, recipe

    recipes = {"dynamic_int8": recipe.dynamic_wi8_afp32, "weight_only_int8": recipe.weight_only_wi8_afp32,
               "int8": recipe.static_wi8_ai8, "int16x8": recipe.static_wi8_ai16}
    if mode not in recipes:
        return None  # no float16 recipe
    q = quantizer.Quantizer(blob, recipes[mode]())
    result = None
    if q.need_calibration:
        data = {sig or "serving_default": [{input_name: calib[k:k + 1]} for k in range(len(calib))]}
        result = q.calibrate(data)
    return bytes(q.quantize(result, enable_progress_report=False).quantized_model)


def edgequant(blob: bytes, mode: str, calib: np.ndarray | None, settings: dict | None = None) -> bytes | None:
    """The preset with the calibration data (GPTQ rounding; bias correction in the weight modes), or without (``calib=None``: the
    weight modes' data-free path, balanced rounding with min/max scales); every weight is quantized in both."""
    r = Recipe.preset(mode, **(settings or {}))  # full-integer presets: int8 / int16 model inputs and outputs
    if calib is None and (r.full_integer or mode == "float16"):
        return None  # no data-free variant to show
    return eq.save(quantize(eq.load(blob), r, calib))


def mcnemar(ours_right: np.ndarray, peer_right: np.ndarray) -> str:
    """+c/-b and McNemar's exact two-sided p: only c + b discordant samples carry information; under "equally
    accurate" each is ours with probability 1/2."""
    c = int(np.sum(ours_right & ~peer_right))
    b = int(np.sum(peer_right & ~ours_right))
    n = b + c
    p = min(1.0, 2 * sum(math.comb(n, k) for k in range(min(b, c) + 1)) / 2 ** n) if n else 1.0
    return f"+{c}/-{b} p={p:.2g}"


# -- models ---------------------------------------------------------------------------------------------------

def digits_models():
    import keras

    d = np.load(FIX / "digits_split.npz")
    for name in ("digits_cnn", "digits_resnet"):
        yield name, keras.models.load_model(FIX / f"{name}.keras"), (FIX / f"{name}.tflite").read_bytes(), \
            d["x_calib"], d["x_test"], d["y_test"], True


def mnist_model(seed: int = 0):
    """mnist_cnn trained with Keras seed ``seed`` (the table uses 0; benchmarks/mnist_seeds.py several)."""
    import tensorflow as tf
    from tensorflow import keras

    def idx(path):
        with gzip.open(path) as f:
            raw = f.read()
        ndim = raw[3]
        dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
        return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)

    x = idx(SHARED / "data" / "t10k-images-idx3-ubyte.gz").astype(np.float32)[..., None] / 255.0
    y = idx(SHARED / "data" / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
    x_tr, y_tr, x_te, y_te = x[:8000], y[:8000], x[8000:], y[8000:]
    keras.utils.set_random_seed(seed)
    L = keras.layers
    inp = keras.Input((28, 28, 1), name="image")
    h = L.Conv2D(16, 3, activation="relu")(inp)
    h = L.MaxPooling2D(2)(h)
    h = L.Conv2D(32, 3, activation="relu")(h)
    h = L.MaxPooling2D(2)(h)
    h = L.Flatten()(h)
    h = L.Dense(64, activation="relu")(h)
    out = L.Dense(10)(h)
    m = keras.Model(inp, out, name="mnist_cnn")
    m.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    m.fit(x_tr, y_tr, batch_size=64, epochs=3, verbose=0)
    with contextlib.redirect_stdout(io.StringIO()):
        blob = tf.lite.TFLiteConverter.from_keras_model(m).convert()
    rng = np.random.default_rng(0)
    return "mnist_cnn", m, blob, x_tr[rng.choice(8000, 200, replace=False)], x_te, y_te, True


def mlperf_models():
    for f in ("mlperf_tiny_ic_resnet8_float", "mlperf_tiny_ic_resnet_large_float", "mlperf_tiny_vww_96_float"):
        blob = (SHARED / "models" / f"{f}.tflite").read_bytes()
        t = eq.load(blob).main
        shape = list(t.tensors[t.inputs[0]].shape)[1:]
        rng = np.random.default_rng(0)
        x = rng.uniform(0, 1, size=[200 + MLPERF_EVAL] + shape).astype(np.float32)
        yield f, None, blob, x[:200], x[200:], None, True
    calib, x_te = ad_windows()
    yield ("mlperf_tiny_ad01_fc_autoencoder_fp32", None,
           (SHARED / "models" / "mlperf_tiny_ad01_fc_autoencoder_fp32.tflite").read_bytes(), calib, x_te, None, False)


def ad_windows() -> tuple[np.ndarray, np.ndarray]:
    """ad01's inputs from the real features: sliding windows of 5 frames (frame-major, 640 values), those inside
    the first half of the frames for calibration and those inside the second half for evaluation."""
    frames = np.fromfile(AD_FEATURES, "<f4").reshape(-1, AD_MELS)  # (200, 128)
    half = len(frames) // 2

    def windows(f: np.ndarray) -> np.ndarray:
        return np.stack([f[i:i + AD_FRAMES].reshape(-1) for i in range(len(f) - AD_FRAMES + 1)])

    return windows(frames[:half]), windows(frames[half:])


# -- main -----------------------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="digits fixtures only")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="override a field of every edgequant recipe, e.g. --set weight_range=minmax")
    ap.add_argument("--only-edgequant", action="store_true", help="skip the peers (quick what-if runs)")
    ap.add_argument("--repeat", type=int, default=2,
                    help="quantize this many times per tool and mode; ms = the fastest (warm imports)")
    args = ap.parse_args()
    settings = recipe_settings(args.set)
    models = list(digits_models())
    if not args.quick:
        models.append(mnist_model())
        models += list(mlperf_models())
    rows = []
    for name, keras_model, original, calib, x_te, y_te, classifier in models:
        blob = shared_float_file(original)  # the one float file every tool gets
        ref = run_litert(blob, x_te)
        if blob is not original and not np.array_equal(ref[:20], run_litert(original, x_te[:20])):
            raise RuntimeError(f"{name}: preparing the shared float file changed the model's outputs")
        if not classifier and ref.shape == x_te.shape:  # an autoencoder: is the data what it was trained on?
            noise = np.random.default_rng(0).uniform(0, 1, x_te.shape).astype(np.float32)
            print(f"{name}: float reconstruction MSE {np.mean((ref - x_te) ** 2):.3g} on the evaluation inputs, "
                  f"{np.mean((run_litert(blob, noise) - noise) ** 2):.3g} on uniform [0, 1] inputs", file=sys.stderr)
        m = eq.load(blob)
        input_name = next((tm.name for sd in m.signature_defs or [] for tm in sd.inputs or []), "image")
        sig = next((sd.signature_key for sd in m.signature_defs or []), None)
        n_narrow = narrow_tensors(blob)
        acc_f = f"{np.mean(ref.argmax(1) == y_te):.4f}" if y_te is not None else "-"
        rows.append([name, "float", "-", len(blob), acc_f, "-", "-", "-", "-"])
        for mode in MODES:
            tools = [("edgequant", partial(edgequant, blob, mode, calib, settings)),
                     ("edgequant, no data", partial(edgequant, blob, mode, None, settings)),
                     ("ai-edge-quantizer", partial(ai_edge, blob, mode, calib, input_name, sig))]
            if args.only_edgequant:
                tools = tools[:2]
            elif keras_model is not None:
                tools.insert(0, ("TFLiteConverter", partial(tf_converter, keras_model, mode, calib)))
            right: dict[str, np.ndarray] = {}  # tool -> which held-out samples it classifies correctly
            sqnrs: dict[str, float] = {}
            peers = []  # the other tools' results that quantized something
            mode_rows = []
            for tool, fn in tools:
                dt, stage = float("inf"), ""
                try:
                    for _ in range(max(args.repeat, 1)):
                        t0 = time.perf_counter()
                        out = fn()
                        dt = min(dt, time.perf_counter() - t0)
                    stage = "LiteRT refuses its output: "
                    y = None if out is None else run_litert(out, x_te)
                except Exception as e:  # noqa: BLE001 - a peer failing on a model is a result, not a crash
                    rows.append([name, mode, tool, "error", stage + str(e).splitlines()[0][:140], "-", "-", "-", "-"])
                    continue
                if out is None:
                    continue
                label = tool
                if narrow_tensors(out) <= n_narrow:  # same size, SQNR inf: not a quantization result to beat
                    label = f"{tool} (nothing quantized)"
                elif not tool.startswith("edgequant"):
                    peers.append(tool)
                acc = "-"
                if y_te is not None:
                    right[tool] = y.argmax(1) == y_te
                    acc = f"{np.mean(right[tool]):.4f}"
                agree = f"{np.mean(y.argmax(1) == ref.argmax(1)):.4f}" if classifier else "-"
                sqnrs[tool] = sqnr(ref, y)
                mode_rows.append([name, mode, label, len(out), acc, agree, f"{sqnrs[tool]:.1f}", ms(dt), "-", tool])
                rows.append(mode_rows[-1])
                print(" | ".join(map(str, rows[-1][:9])), file=sys.stderr)
            for r in mode_rows:
                tool = r.pop()
                if not tool.startswith("edgequant") or not peers:
                    continue
                vs = []
                if right:
                    best = max(peers, key=lambda t: right[t].mean())
                    vs.append(mcnemar(right[tool], right[best]))
                vs.append(f"dSQNR {sqnrs[tool] - max(sqnrs[t] for t in peers):+.1f}")
                r[8] = ", ".join(vs)
    print("| model | mode | tool | bytes | accuracy | top-1 = float | SQNR dB | ms | vs better peer |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print("| " + " | ".join(map(str, r)) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
