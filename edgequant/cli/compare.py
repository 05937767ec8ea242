"""``edgequant compare FLOAT QUANT``: accuracy and per-layer error of a quantized model vs its float original."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from ..errors import EdgequantError
from ..graph import Model, check_writable, load_file
from ._data import at_least, read_input_arrays
from ._table import format_table

NAME = "compare"
HELP = "per-layer error (SQNR, max error, cosine) of a quantized model against its float original"


def add_arguments(p) -> None:
    p.add_argument("float_model", type=Path, help="the float .tflite")
    p.add_argument("quant_model", type=Path, help="the quantized .tflite made from it")
    p.add_argument("--data", type=Path, help=".npy or .npz of float inputs ('x', or one array per input name); "
                   "default: random inputs, uniform over the quantized model's integer input range where it has one "
                   "(the range it was calibrated for), else standard normal")
    p.add_argument("-n", "--samples", type=at_least(1), default=100, help="samples to use (default 100)")
    p.add_argument("--skip", type=at_least(0), default=0, metavar="K",
                   help="with --data: start after the first K samples (e.g. those the model was calibrated on)")
    p.add_argument("--plot", type=Path, metavar="PNG", help="write a per-layer SQNR chart")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")


def random_float_inputs(model: Model, n: int, quantized: Model | None = None) -> tuple[list[np.ndarray], str]:
    """``n`` random samples per float input of ``model``, and what they are. Where ``quantized`` takes that input
    as integers, uniform over the float range its scale and zero point represent: the range it was calibrated
    for, so the comparison measures quantization error rather than clipping of inputs it never expected."""
    rng = np.random.default_rng(0)
    sg = model.main
    q_inputs = list(quantized.main.inputs or []) if quantized is not None else []
    arrays, kinds = [], set()
    for k, i in enumerate(sg.inputs or []):
        t = sg.tensors[i]
        shape = [n] + list(t.shape or [1])[1:]
        qt = _integer_view(quantized, q_inputs[k]) if k < len(q_inputs) else None
        qp = qt.quantization if qt is not None else None
        if qp is not None and qp.scale is not None and len(qp.scale) == 1:
            info = np.iinfo(qt.dtype)
            zp = int(qp.zero_point[0]) if qp.zero_point is not None and len(qp.zero_point) else 0
            s = float(qp.scale[0])
            lo, hi = s * (info.min - zp), s * (info.max - zp)
            arrays.append(rng.uniform(lo, hi, shape).astype(np.float32))
            kinds.add(f"uniform over the range the quantized model's input represents, [{lo:.3g}, {hi:.3g}]")
        else:
            arrays.append(rng.standard_normal(shape).astype(np.float32))
            kinds.add("standard normal")
    return arrays, "random inputs, " + "; ".join(sorted(kinds))


def _integer_view(model: Model, i: int):
    """The integer tensor input ``i`` of ``model`` becomes: the input itself, or, for a float input of a
    full-integer model (``--io float``), the output of the QUANTIZE op that reads it. None if neither."""
    sg = model.main
    t = sg.tensors[i]
    if t.dtype.kind in "iu":
        return t
    for op in sg.operators or []:
        if model.op_name(op) == "QUANTIZE" and list(op.inputs or [])[:1] == [i]:
            out = sg.tensors[op.outputs[0]]
            return out if out.dtype.kind in "iu" else None
    return None


def load_inputs(path: Path, model: Model, n: int, skip: int = 0) -> list[np.ndarray]:
    """One float32 array per model input from a .npy/.npz file: ``n`` samples each, after the first ``skip``."""
    sg = model.main
    tensors = [sg.tensors[i] for i in sg.inputs or []]
    out = []
    for a, t in zip(read_input_arrays(path, model), tensors):
        if not 0 <= skip < len(a):
            raise EdgequantError(f"{path}: --skip {skip} leaves none of its {len(a)} samples")
        part = a[skip:skip + n]
        if part.dtype.kind != "f":  # pixels as uint8 could mean 0..255 or 0..1: the user's to say
            raise EdgequantError(f"{path}: input '{t.name}' has dtype {part.dtype}; the float model takes float "
                                 f"samples (convert them as the model was trained)")
        if not np.all(np.isfinite(part)):
            raise EdgequantError(f"{path}: input '{t.name}' holds NaN or Inf")
        out.append(np.asarray(part, np.float32))
    return out


def _check_same_inputs(fm: Model, qm: Model, f_path: Path, q_path: Path) -> None:
    """One line when the two files cannot be a float model and its quantized copy: their inputs differ in number
    or in shape (the batch axis aside)."""
    def shapes(m: Model) -> list[list[int]]:
        return [list(m.main.tensors[i].shape or [])[1:] for i in m.main.inputs or []]

    from ..quantizer.rewrite import check_float_model

    try:
        check_float_model(fm)
    except EdgequantError as e:
        raise EdgequantError(f"{f_path}: not the float model ({e}); give the float model first, then its quantized "
                             f"copy") from None
    if shapes(fm) != shapes(qm):
        raise EdgequantError(f"{q_path.name} is not a quantized copy of {f_path.name}: their inputs differ "
                             f"(samples of shape {shapes(qm)} vs {shapes(fm)})")


def run(args) -> int:
    from ..analysis.layer_error import compare_layers, plot_layer_error

    if args.plot:
        check_writable(args.plot, (args.float_model, args.quant_model))  # before the work: a typo in the path costs no comparison
        from ..errors import require

        require("matplotlib", "plot")  # likewise a missing extra
    if args.skip and args.data is None:
        raise EdgequantError("--skip K skips samples of --data; without --data the samples are random")
    fm, qm = load_file(args.float_model), load_file(args.quant_model)
    _check_same_inputs(fm, qm, args.float_model, args.quant_model)
    if args.data is None:
        inputs, src = random_float_inputs(fm, args.samples, qm)
    else:
        inputs = load_inputs(args.data, fm, args.samples, args.skip)
        src = f"{args.data}, samples {args.skip} to {args.skip + len(inputs[0]) - 1}" if args.skip else str(args.data)
    rows = compare_layers(fm, qm, inputs)
    if len(fm.subgraphs or []) > 1:
        print(f"note: {args.float_model.name} has {len(fm.subgraphs)} subgraphs; compared: the main one (subgraph 0) "
              f"only", file=sys.stderr)
    if args.json:
        json.dump([r.to_dict() for r in rows], sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print(f"{args.quant_model.name} vs {args.float_model.name} on {len(inputs[0])} samples ({src})")
        print(format_table(("op", "name", "tensor", "dtype", "SQNR dB", "max |err|", "cosine", "float range"),
                           [(r.op_index, r.op, r.tensor[-40:], r.dtype, f"{r.sqnr_db:.1f}", f"{r.max_abs_error:.4g}",
                             f"{r.cosine:.5f}", f"[{r.float_range[0]:.3g}, {r.float_range[1]:.3g}]") for r in rows]))
        worst = min(rows, key=lambda r: r.sqnr_db)
        print(f"lowest SQNR: op {worst.op_index} {worst.op} ({worst.sqnr_db:.1f} dB)")
    if args.plot:
        print(f"wrote {plot_layer_error(rows, args.plot)}", file=sys.stderr if args.json else sys.stdout)
    return 0
