"""``edgequant quantize IN.tflite -o OUT.tflite --mode int8 --calib data.npz``: quantize a float model."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from .._words import counted
from ..errors import EdgequantError
from ._data import about, at_least

NAME = "quantize"
HELP = "quantize a float .tflite model (dynamic-range, weight-only int8, float16, full int8, 16x8)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..calibration import OBSERVERS
    from ..quantizer.gptq import ROUNDINGS
    from ..quantizer.recipe import MODES
    from ..quantizer.weights import WEIGHT_RANGES

    p.add_argument("model", help="float .tflite model")
    p.add_argument("-o", "--output", required=True, help="where to write the quantized model")
    p.add_argument("--mode", choices=MODES, help="quantization mode (default: int8, or the recipe's)")
    p.add_argument("--calib", help=".npy/.npz calibration data (keys = input names, or one array)")
    p.add_argument("--calib-key", help="array to use from a .npz holding several")
    p.add_argument("--held-out", type=at_least(0), default=None, metavar="N",
                   help="the last N samples of --calib are held back from calibration to measure the output SQNR "
                        "(default: 20%%, at most 100; 0: no measurement)")
    p.add_argument("--per-tensor", action="store_true", help="one scale per weight tensor instead of per channel")
    p.add_argument("--observer", choices=sorted(OBSERVERS), help="calibration observer (default minmax)")
    p.add_argument("--weight-range", choices=("auto",) + WEIGHT_RANGES,
                   help="int8 weight scales: minmax (max|w|/127) or mse (the clipping ratio with the least weight "
                        "error); auto (default) = mse with --rounding nearest, else minmax")
    p.add_argument("--rounding", choices=ROUNDINGS,
                   help="int8 weight rounding: nearest; balanced (nearest, then a few weights moved one step so "
                        "that the errors of each group of weights reading one input channel, or of a fully "
                        "connected row, sum to about zero: no offset from inputs with a mean; only where the "
                        "inputs have one sign, e.g. after a ReLU); gptq (compensates each rounding error from the "
                        "calibration inputs, needs --calib); auto (default) = gptq with --calib, else balanced")
    p.add_argument("--bias-correction", action=argparse.BooleanOptionalAction, default=None,
                   help="with --calib, shift each layer's bias by the mean output error of its quantized weights on "
                        "the first calibration samples, earlier layers' errors included (default: on in the weight "
                        "modes; off in int8 and int16x8, where it costs one more run of the quantized model)")
    p.add_argument("--min-weight-elements", type=int, metavar="N",
                   help="weight modes: weights with fewer values stay float (default 0: all are quantized; "
                        "TFLiteConverter's dynamic-range mode keeps weights under 1024 values float)")
    p.add_argument("--keep-float", action="append", default=[], metavar="REGEX",
                   help="keep ops float whose type (e.g. softmax, ignoring case) or output or weight tensor name "
                        "matches REGEX (repeatable)")
    p.add_argument("--io", choices=("int8", "uint8", "float", "int16"), help="input/output type of full-integer models")
    p.add_argument("--recipe", help="recipe JSON file (command-line options override its fields)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


# Options that change nothing in a mode, so a user is told rather than left to believe they did.
_NOT_FOR = {
    "float16": ("per_tensor", "observer", "weight_range", "rounding", "min_weight_elements", "bias_correction"),
    "dynamic_int8": ("observer",),
    "weight_only_int8": ("observer",),
    "int8": ("min_weight_elements",),  # full integer: every weight op computes in integers
    "int16x8": ("min_weight_elements",),
}


def _ignored_options(args, mode: str) -> list[str]:
    flags = [f"--{k.replace('_', '-')}" for k in _NOT_FOR.get(mode, ()) if getattr(args, k) not in (None, False)]
    if args.held_out is not None and not args.calib:
        flags.append("--held-out (it splits --calib, which is not given)")
    if args.bias_correction and not args.calib and mode != "float16":
        flags.append("--bias-correction (it measures on --calib, which is not given)")
    return flags


def _recipe(args):
    from dataclasses import replace

    from ..quantizer.recipe import Recipe

    if args.recipe:
        try:
            text = Path(args.recipe).read_text()
        except OSError as e:
            raise EdgequantError(f"{args.recipe}: {e.strerror}") from None
        try:
            r = Recipe.from_json(text)
        except EdgequantError as e:
            raise EdgequantError(f"{args.recipe}: {e}") from None
        if args.mode:
            r = replace(r, mode=args.mode)
    else:
        r = Recipe.preset(args.mode or "int8")
    changes = {}
    if args.io:
        changes["io"] = args.io
    elif r.mode == "int16x8" and r.io == "int8":
        changes["io"] = "int16"
    if args.observer:
        changes["observer"] = args.observer
    if args.per_tensor:
        changes["per_channel"] = False
    if args.weight_range:
        changes["weight_range"] = args.weight_range
    if args.rounding:
        changes["weight_rounding"] = args.rounding
    if args.min_weight_elements is not None:
        changes["min_weight_elements"] = args.min_weight_elements
    if args.bias_correction is not None:
        changes["bias_correction"] = args.bias_correction
    r = replace(r, **changes) if changes else r
    for pattern in args.keep_float:
        r = r.keep_float(pattern)
    return r


def run(args) -> int:
    from .. import quantization
    from ..graph import check_writable, load_file, save, write_atomic
    from ..quantizer import ProgressBar, quantize_with_report
    from ..quantizer.data import count, load_calibration, rows_per_invocation, split
    from ..quantizer.rewrite import check_float_model, check_one_subgraph

    check_writable(args.output, (args.model,))  # a typo in -o costs milliseconds, not a calibration run
    recipe = _recipe(args)
    model = load_file(args.model)
    size_in = Path(args.model).stat().st_size
    ignored = _ignored_options(args, recipe.mode)
    if ignored:
        print(f"note: not used by mode {recipe.mode}: {', '.join(ignored)}", file=sys.stderr)
    if recipe.mode == "float16" and args.calib:
        print("note: mode float16 needs no calibration; --calib only measures the SQNR on its held-out samples",
              file=sys.stderr)
    calib, held, bar = None, [], None
    with about(args.model):
        check_float_model(model)  # before the data: a quantized model is the likelier mistake
        if recipe.full_integer:
            check_one_subgraph(model)  # the model's problem first: calibration data would not help
    if recipe.full_integer and not args.calib:
        raise EdgequantError(f"mode {recipe.mode} needs calibration data: pass --calib data.npz")
    if recipe.weight_rounding == "gptq" and not args.calib:
        raise EdgequantError("--rounding gptq needs calibration data: pass --calib data.npz")
    if args.calib:
        batches = load_calibration(args.calib, model, key=args.calib_key)
        n = count(batches)
        k = args.held_out if args.held_out is not None else min(100, n // 5)
        if k >= n:
            raise EdgequantError(f"--held-out {k}: {args.calib} has {counted(n, 'sample')}; hold out fewer "
                                 f"so that some are left to calibrate on")
        calib, held = split(batches, k, rows_per_invocation(model)) if k else (batches, [])
        bar = ProgressBar()
    q, rep = quantize_with_report(model, recipe, calib, progress=bar)
    data = save(q)
    summary = {"input": str(args.model), "output": str(args.output), "size_before": size_in,
               "size_after": len(data), **rep.to_dict()}
    if args.calib:
        summary["held_out"] = count(held) if held else 0
    if held:
        summary["sqnr_db"] = _sqnr(model, data, held, quantization)
    write_atomic(args.output, data)  # only now, after every check and measurement: Ctrl-C leaves no file
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _print(summary)
    sys.stdout.flush()  # the notes (stderr) come after the summary they are about
    for note in rep.notes:
        hint = f"; --held-out 0 would calibrate on all {count(batches)}" if held and "calibration sample" in note else ""
        print(f"note: {note}{hint}", file=sys.stderr)
    if not rep.quantized_ops:
        print(f"note: no op was quantized; {args.output} computes exactly as {args.model} does", file=sys.stderr)
    _tflm_note(q, args.output)
    return 0


def _tflm_note(q, output) -> None:
    """One line when tflite-micro cannot run the written model, or would compute something else than LiteRT (a
    per-channel DEQUANTIZE reads only channel 0's scale there): the first kind of error `edgequant mcu` finds."""
    from ..analysis.lint import error_groups

    errors = error_groups(q)
    if errors:
        f = errors[0][0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        print(f"note: for tflite-micro, {output} is not usable as written: {f.rule}{more}; fix: {f.fix}; "
              f"details: edgequant mcu {output}", file=sys.stderr)


def _sqnr(model, qbytes: bytes, held: list[dict], quantization) -> dict | str:
    """Output SQNR (dB) of the quantized model vs the float model on held-out samples, per output.

    Both models run in edgequant's interpreter; LiteRT's reference kernels (quietly: no XNNPACK delegate)
    stand in for a model our interpreter has no kernel for, and the measurement is skipped without LiteRT."""
    from ..errors import UnsupportedError
    from ..graph import load, save

    x = {k: np.concatenate([b[k] for b in held]) for k in held[0]}
    ref = out = None
    try:
        ref = _run_ours(model, x)
        out = _run_ours(load(qbytes), x)
    except UnsupportedError:
        try:
            from ai_edge_litert.interpreter import Interpreter, OpResolverType
        except ImportError:
            return "not measured (an op lacks an edgequant kernel, and LiteRT is absent: pip install 'edgequant[litert]')"
        ref = ref if ref is not None else _run_litert(Interpreter, OpResolverType, save(model), x)
        out = _run_litert(Interpreter, OpResolverType, qbytes, x)
    return {name: round(float(quantization.sqnr_db(ref[name], out[name])), 2) for name in ref}


def _to_input(v: np.ndarray, dtype, scale: float, zero_point: int) -> np.ndarray:
    """Float samples in a quantized input's type, rounding halves away from zero like TFLite's Quantize."""
    from ..qmath import quantize_affine

    if dtype == np.float32:
        return v.astype(np.float32)
    info = np.iinfo(dtype)
    return quantize_affine(v, np.float32(scale), zero_point, info.min, info.max).astype(dtype)


def _run_ours(model, x: dict) -> dict:
    from ..interpreter import Interpreter

    it = Interpreter(model)
    arrays = {}
    for d, arr in zip(it.get_input_details(), x.values()):
        s, z = d["quantization"]
        arrays[d["name"]] = _to_input(arr, d["dtype"], s, z)
    ys = it.run(list(arrays.values()))
    outs = {}
    for o, y in zip(it.get_output_details(), ys):
        if o["dtype"] != np.float32:
            s, z = o["quantization"]
            y = (y.astype(np.float32) - z) * np.float32(s)
        outs[o["name"]] = y
    return outs


def _run_litert(Interpreter, OpResolverType, blob: bytes, x: dict) -> dict:
    it = Interpreter(model_content=blob, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    details = it.get_input_details()
    n = next(iter(x.values())).shape[0]
    outs: dict[str, list] = {}
    for j in range(n):
        it.allocate_tensors()
        for d, arr in zip(details, x.values()):
            s, z = d["quantization"]
            it.set_tensor(d["index"], _to_input(arr[j:j + 1], d["dtype"], s, z))
        it.invoke()
        for o in it.get_output_details():
            y = it.get_tensor(o["index"])
            if o["dtype"] != np.float32:
                s, z = o["quantization"]
                y = (y.astype(np.float32) - z) * s
            outs.setdefault(o["name"], []).append(y)
    return {k: np.concatenate(v) for k, v in outs.items()}


def _held_text(s: dict) -> str:
    k = s.get("held_out")
    if k is None:
        return ""
    return f"; {k} held out to measure the SQNR" if k else "; none held out, so no SQNR measured"


def _print(s: dict) -> None:
    out = sys.stdout
    ratio = s["size_after"] / max(s["size_before"], 1)
    out.write(f"{s['input']} -> {s['output']}  mode {s['mode']}\n")
    out.write(f"size: {s['size_before']:,} -> {s['size_after']:,} bytes ({ratio:.1%})\n")
    if "calibration" in s:
        c = s["calibration"]
        out.write(f"calibration: {counted(c['samples'], 'sample')}, {c['seconds']:.2f} s "
                  f"({c['backend']})" + _held_text(s) + "\n")
    elif s.get("held_out"):
        out.write(f"SQNR samples: {s['held_out']} held out of --calib\n")
    r = s["recipe"]
    if r.get("mode") != "float16":
        rounding = {"gptq": "GPTQ (error-compensating, from the calibration inputs)",
                    "balanced": "balanced (zero-sum errors per group, where inputs have one sign)"
                    }.get(r["weight_rounding"], "nearest")
        small = f"; weights under {r['min_weight_elements']} values stay float" \
            if r["min_weight_elements"] and r["mode"] in ("dynamic_int8", "weight_only_int8") else ""
        out.write(f"weights: int8 {r['weight_range']} scales, {rounding} rounding{small}\n")
        if s.get("corrected_biases"):
            out.write(f"biases: {counted(len(s['corrected_biases']), 'bias', 'biases')} shifted, each by its "
                      f"layer's mean output error on {counted(s['bias_samples'], 'calibration sample')} "
                      f"(--no-bias-correction keeps them)\n")
    out.write(f"quantized ops ({len(s['quantized_ops'])}, numbered as in the input model): "
              f"{', '.join(s['quantized_ops']) or '-'}\n")
    out.write(f"float ops ({len(s['float_ops'])}): {', '.join(s['float_ops']) or '-'}\n")
    if s["inserted_ops"]:
        out.write("inserted: " + ", ".join(f"{v} {k}" for k, v in s["inserted_ops"].items()) + "\n")
    if "sqnr_db" in s:
        v = s["sqnr_db"]
        text = v if isinstance(v, str) else ", ".join(f"{k}: {d} dB" for k, d in v.items())
        out.write(f"output SQNR vs float (held-out samples): {text}\n")
