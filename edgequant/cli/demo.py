"""``edgequant demo``: the whole story on a built-in model in under a minute.

What is inside the model, how its weights are distributed, and what four ways of quantizing it
cost in size and accuracy: each quantized with edgequant, each run with edgequant's interpreter.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from .. import quantization as Q
from .._words import counted
from ..errors import EdgequantError, MissingExtraError
from ..graph import Model, load_file, save, write_atomic
from ._table import format_table, human_bytes

NAME = "demo"
HELP = "quantize a model four ways and show size, accuracy and error side by side (built-in default)"

DATA = Path(__file__).resolve().parents[1] / "data"
DEFAULT_MODEL = DATA / "digits_cnn.tflite"
DEFAULT_DATA = DATA / "digits_test.npz"
MODES = ("dynamic_int8", "float16", "int8", "int16x8")


def add_arguments(p) -> None:
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="a float .tflite (default: built-in digits CNN)")
    p.add_argument("--data", type=Path,
                   help=".npz with 'x' (inputs) and optional 'y' (integer labels) (default: the built-in digits test "
                        "split for the built-in model; for another model, random inputs uniform in [0, 1))")
    p.add_argument("--calib", type=int, default=100, metavar="N",
                   help="use the first N samples for calibration, the rest for evaluation (default 100)")
    p.add_argument("-o", "--out", type=Path, default=Path("edgequant-out"), help="folder for pictures, models, summary")


class _Steps:
    def __init__(self, total: int):
        self.total, self.n, self.t0 = total, 0, time.perf_counter()

    def __call__(self, text: str) -> None:
        self.n += 1
        print(f"[{self.n}/{self.total}] {text}", flush=True)


def _load_data(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """(x, y or None) from an .npz with 'x' and optional 'y', or a .npy holding x alone."""
    from ..quantizer.data import read_arrays

    d = read_arrays(path)  # every way the file itself is wrong: one line naming it
    if isinstance(d, np.ndarray):  # a .npy: the samples, no labels
        return d, None
    if "x" not in d:
        raise EdgequantError(f"{path}: no array 'x' in the .npz (has: {', '.join(d)})")
    return d["x"], d.get("y")


def _check_samples(path: Path, x: np.ndarray, y: np.ndarray | None) -> np.ndarray | None:
    """One line for samples the demo cannot use (``x`` as float32: NaN or Inf would poison calibration or every
    SQNR); the labels as int64 (or None)."""
    bad = ~np.isfinite(x.reshape(len(x), -1)).all(axis=1)
    if bad.any():
        n = int(bad.sum())
        raise EdgequantError(f"{path}: sample {int(np.argmax(bad))} of 'x' contains NaN or Inf "
                             f"({counted(n, 'sample')} in all)")
    if y is None:
        return None
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != len(x):
        raise EdgequantError(f"{path}: 'y' has shape {list(y.shape)}; expected one integer label per sample of "
                             f"'x', shape [{len(x)}]")
    if y.dtype.kind in "iu":
        return y.astype(np.int64)
    if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
        return y.astype(np.int64)  # whole numbers stored as floats are still class indices
    raise EdgequantError(f"{path}: 'y' must hold integer class labels (it has dtype {y.dtype}"
                         f"{' and fractional values' if y.dtype.kind == 'f' else ''})")


def _check_out_folder(out: Path) -> None:
    """The -o folder can be made (or is one): checked before any work; it is created only after the inputs pass."""
    if out.exists():
        if not out.is_dir():
            raise EdgequantError(f"-o {out}: exists and is not a folder")
        if not os.access(out, os.W_OK):
            raise EdgequantError(f"-o {out}: folder is not writable")
        return
    parent = out.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise EdgequantError(f"-o {out}: cannot make this folder: {parent} is not a folder")
    if not os.access(parent, os.W_OK):
        raise EdgequantError(f"-o {out}: cannot make this folder: {parent} is not writable")


RANDOM_SAMPLES = 360  # --model without --data: as many random inputs as the built-in split has samples


def _inputs(model: Model, args) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Samples (x, labels or None) that fit ``model``'s one float input, and a phrase saying where they came from.
    Checked here, before anything is written, so a mismatch is one line and no half-made output folder."""
    from ..quantizer.rewrite import check_float_model

    try:
        check_float_model(model)
    except EdgequantError as e:
        raise type(e)(f"{args.model}: {e}; the demo starts from a float model") from None
    sg = model.main
    if len(sg.inputs or []) != 1:
        raise EdgequantError(f"{args.model}: the demo takes single-input models (this one has "
                             f"{len(sg.inputs or [])}); use 'edgequant quantize' with a calibration .npz")
    t = sg.tensors[sg.inputs[0]]
    shape = [int(d) for d in t.shape or []]
    if args.data is None and args.model != DEFAULT_MODEL:
        rng = np.random.default_rng(0)
        x = rng.uniform(0, 1, size=[RANDOM_SAMPLES] + shape[1:]).astype(np.float32)
        return x, None, f"{RANDOM_SAMPLES} random inputs uniform in [0, 1) (no --data: no labels, no accuracy)"
    path = args.data or DEFAULT_DATA
    x, y = _load_data(path)
    if x.ndim == 0 or list(x.shape[1:]) != shape[1:]:
        raise EdgequantError(f"{path}: samples of shape {list(x.shape[1:])} don't fit input '{t.name}' "
                             f"{shape} of {args.model.name}")
    if x.dtype.kind not in "fiu":
        raise EdgequantError(f"{path}: 'x' has dtype {x.dtype}; expected numbers")
    x = x.astype(np.float32, copy=False)
    labels = _check_samples(path, x, y)
    out = sg.tensors[sg.outputs[0]]
    classes = int(out.shape[-1]) if out.shape is not None and len(out.shape) else 0
    if labels is not None and classes and (labels.min() < 0 or labels.max() >= classes):
        bad = int(np.argmax((labels < 0) | (labels >= classes)))
        raise EdgequantError(f"{path}: label {int(labels[bad])} of sample {bad} is not a class of "
                             f"{args.model.name}, whose output '{out.name}' has {classes} (0 to {classes - 1})")
    return x, labels, f"`{path}`"


def _outputs(model: Model, x: np.ndarray) -> np.ndarray:
    from ..interpreter import Interpreter

    return np.asarray(Interpreter(model).run([x])[0], np.float32)


def run(args) -> int:
    from ..cli.inspect import render
    from ..quantizer import quantize_with_report
    from ..quantizer.recipe import Recipe

    steps = _Steps(4 + len(MODES))
    _check_out_folder(args.out)
    model = load_file(args.model)
    x, y, source = _inputs(model, args)
    if not 0 < args.calib < len(x):
        raise EdgequantError(f"--calib {args.calib}: need between 1 and {len(x) - 1} of the {counted(len(x), 'sample')}")
    calib, x_eval = x[: args.calib], x[args.calib:]
    y_eval = y[args.calib:] if y is not None else None
    out = args.out
    out.mkdir(parents=True, exist_ok=True)

    steps(f"inside {args.model.name}")
    print("\n".join("    " + line for line in render(model, str(args.model), show_tensors=False).splitlines()))

    steps("weight distribution")
    pictures = []
    try:
        from ..viz.hist import plot_model_histogram
        from ..viz.ranges import plot_ranges

        pictures.append(("Whole-model weight distribution (log scale)",
                         plot_model_histogram(model, out / "weights_hist.png", log=True)))
        pictures.append(("Per-output-channel weight ranges: why per-channel scales matter",
                         plot_ranges(model, out / "channel_ranges.png")))
        for _, p in pictures:
            print(f"    wrote {p}")
    except MissingExtraError as e:
        print(f"    (no pictures: {e})")

    steps(f"float model on {counted(len(x_eval), 'held-out sample')} (calibration: the first {len(calib)}); "
          f"data: {source}")
    t = time.perf_counter()
    ref = _outputs(model, x_eval)
    seconds = time.perf_counter() - t  # what the seconds column times: see _seconds_note
    float_size = args.model.stat().st_size  # the file as the user has it (re-saving alone shrinks it a little)
    rows = [_row("float32", float_size, float_size, ref, ref, y_eval, None, seconds)]
    sizes, sqnrs = [float_size], [None]

    for mode in MODES:
        steps(f"quantize: {mode}")
        t = time.perf_counter()
        recipe = Recipe.preset(mode, **({"io": "float"} if mode in ("int8", "int16x8") else {}))
        qm, report = quantize_with_report(model, recipe, calib)  # the data also picks each weight's rounding
        seconds = time.perf_counter() - t
        kept = f"; kept float: {', '.join(report.float_ops)}" if report.float_ops else ""
        gptq = "; int8 weights rounded by GPTQ" if report.recipe["weight_rounding"] == "gptq" else ""
        print(f"    {counted(len(report.quantized_ops), 'op')} quantized, "
              f"{counted(len(report.quantized_weights), 'weight tensor')}{gptq}{kept}")
        data = save(qm)
        write_atomic(out / f"{args.model.stem}_{mode}.tflite", data)
        t = time.perf_counter()
        got = _outputs(qm, x_eval)
        seconds += time.perf_counter() - t
        if mode == "int8" and pictures:
            from ..analysis.layer_error import compare_layers, plot_layer_error

            layers = compare_layers(model, qm, [x_eval])
            pictures.append(("Per-layer SQNR of the int8 model against the float one",
                             plot_layer_error(layers, out / "int8_layer_sqnr.png", title="int8: per-layer SQNR")))
            worst = min(layers, key=lambda r: r.sqnr_db)
            print(f"    per layer: lowest SQNR {worst.sqnr_db:.1f} dB at op {worst.op_index} {worst.op}; "
                  f"wrote {pictures[-1][1]}")
        sizes.append(len(data))
        sqnrs.append(Q.sqnr_db(ref, got))
        rows.append(_row(mode, len(data), float_size, got, ref, y_eval, rows[0], seconds))

    steps("summary")
    headers = ("mode", "size", "vs float", "accuracy", "change", "SQNR dB", "seconds")
    table = format_table(headers, [r[:-1] for r in rows])
    print(table)
    print(_seconds_note(len(calib), len(x_eval)))
    summary = _markdown(args, source, headers, rows, pictures, len(calib), len(x_eval))
    write_atomic(out / "summary.md", summary.encode())
    records = [{"mode": r[0], "bytes": size, "accuracy": r[-1], "sqnr_db": sq}
               for r, size, sq in zip(rows, sizes, sqnrs)]
    write_atomic(out / "summary.json", (json.dumps(records, indent=1) + "\n").encode())
    made = "the pictures and the four quantized models" if pictures else "the four quantized models (no pictures)"
    print(f"\nwrote {out}/summary.md (and .json), {made} in {out}/")
    return 0


def _row(mode, size, float_size, got, ref, y, float_row, seconds):
    acc = float(np.mean(np.argmax(got, axis=-1) == y)) if y is not None else None
    sqnr = Q.sqnr_db(ref, got) if float_row is not None else float("inf")
    change = "" if float_row is None or y is None else f"{(acc - float_row[-1]) * 100:+.2f} pt"
    return (mode, human_bytes(size), f"{size / float_size:.2f}x", "-" if y is None else f"{acc:.4f}", change,
            "-" if float_row is None else f"{sqnr:.1f}", f"{seconds:.2f}", acc)


def _seconds_note(n_calib: int, n_eval: int) -> str:
    return (f"seconds: quantize (calibration on {counted(n_calib, 'sample')} included) + run the "
            f"{counted(n_eval, 'evaluation sample')}; float32: run only (file writes and pictures not counted)")


def _markdown(args, source, headers, rows, pictures, n_calib, n_eval) -> str:
    lines = [f"# edgequant demo: {args.model.name}", "",
             (f"Data: {source} — calibration on the first {counted(n_calib, 'sample')}, evaluation on the "
              f"other {n_eval}."),
             ("Every model runs in edgequant's numpy interpreter. SQNR compares each model's outputs with the "
              "float model's on the evaluation samples."), "",
             "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in r[:-1]) + " |" for r in rows]
    lines += ["", _seconds_note(n_calib, n_eval)]
    for title, path in pictures:
        lines += ["", f"## {title}", "", f"![{title}]({Path(path).name})"]
    return "\n".join(lines) + "\n"
