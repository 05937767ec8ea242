"""Full-integer quantization with calibration data, wall time: edgequant against ai-edge-quantizer (issue #5).

    .venv/bin/python benchmarks/bench_full_integer.py [--repeat 5] [--only-edgequant] [--sqnr] [--models resnet_large]
    .venv/bin/python benchmarks/bench_full_integer.py --profile resnet_large [--modes int8]

Per model and mode (int8, int16x8), the fastest of --repeat runs (after one warm-up run; the two tools take turns)
of the calls benchmarks/compare_quantizers.py times, with the same 200 calibration samples:

* edgequant: ``eq.save(quantize(eq.load(blob), Recipe.preset(mode), calib))`` (GPTQ weight rounding: the default
  with data)
* ai-edge-quantizer: ``Quantizer(blob, recipe.static_wi8_ai8() / static_wi8_ai16())``, ``calibrate`` on the samples
  one by one through the serving signature, then ``quantize`` (compare_quantizers.ai_edge)

both from compare_quantizers' shared float file, in one process, numpy's BLAS on one thread (set before numpy loads).
Prints ms and ratio = edgequant / ai-edge-quantizer (at most 0.9 is the target on resnet_large). Calibration data as
in compare_quantizers: digits fixtures' x_calib; the MLPerf Tiny models (../shared/models, skipped when absent) get
200 uniform [0, 1] samples (seed 0), the next 500 being the held-out set.

``--sqnr`` also prints edgequant's output SQNR on the held-out inputs (compare_quantizers.sqnr, LiteRT reference
kernels), the number a speed change must not lower. ``--profile MODEL`` prints edgequant's cProfile instead.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from functools import partial
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # after the thread settings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_weight_modes import best_ms
from compare_quantizers import FIX, MLPERF_EVAL, SHARED, ai_edge, recipe_settings, run_litert, shared_float_file, sqnr

import edgequant as eq
from edgequant.quantizer import Recipe, quantize

MODES = ("int8", "int16x8")
MLPERF = ("ic_resnet8_float", "ic_resnet_large_float", "vww_96_float")


def models(only: list[str]):
    """(name, float bytes, calibration samples, held-out samples) as compare_quantizers builds them."""
    d = np.load(FIX / "digits_split.npz")
    found = [(n, (FIX / f"{n}.tflite").read_bytes(), d["x_calib"], d["x_test"]) for n in ("digits_cnn", "digits_resnet")]
    for f in MLPERF:
        path = SHARED / "models" / f"mlperf_tiny_{f}.tflite"
        if not path.exists():
            print(f"skipped {path.name}: not in {path.parent}", file=sys.stderr)
            continue
        blob = path.read_bytes()
        t = eq.load(blob).main
        shape = list(t.tensors[t.inputs[0]].shape)[1:]
        x = np.random.default_rng(0).uniform(0, 1, size=[200 + MLPERF_EVAL] + shape).astype(np.float32)
        found.append((path.stem, blob, x[:200], x[200:]))
    return [m for m in found if not only or any(o in m[0] for o in only)]


def edgequant(blob: bytes, mode: str, calib: np.ndarray, settings: dict | None = None) -> bytes:
    return eq.save(quantize(eq.load(blob), Recipe.preset(mode, **(settings or {})), calib))


def input_signature(blob: bytes) -> tuple[str, str | None]:
    m = eq.load(blob)
    name = next((tm.name for sd in m.signature_defs or [] for tm in sd.inputs or []), "image")
    return name, next((sd.signature_key for sd in m.signature_defs or []), None)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only-edgequant", action="store_true")
    ap.add_argument("--sqnr", action="store_true", help="also edgequant's held-out output SQNR (dB)")
    ap.add_argument("--models", nargs="*", default=[], help="only models whose name contains one of these")
    ap.add_argument("--modes", nargs="*", default=list(MODES), choices=MODES)
    ap.add_argument("--profile", metavar="MODEL", help="cProfile edgequant on the model whose name contains this")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="override a field of edgequant's recipe, e.g. --set weight_rounding=nearest")
    args = ap.parse_args()
    settings = recipe_settings(args.set)
    warnings.filterwarnings("ignore")
    if args.profile:
        import cProfile
        import pstats

        name, blob, calib, _ = models([args.profile])[0]
        blob = shared_float_file(blob)
        prof = cProfile.Profile()
        for mode in args.modes:
            edgequant(blob, mode, calib, settings)
            prof.enable()
            for _ in range(args.repeat):
                edgequant(blob, mode, calib, settings)
            prof.disable()
        st = pstats.Stats(prof)
        st.sort_stats("tottime").print_stats(25)
        st.sort_stats("cumulative").print_stats(40)
        return 0
    print(f"numpy {np.__version__}, {os.cpu_count()} cores, OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}, "
          f"best of {args.repeat}, load average {os.getloadavg()[0]:.2f}")
    print("| model | mode | edgequant ms | ai-edge-quantizer ms | ratio |" + (" SQNR dB |" if args.sqnr else ""))
    print("|---|---|---:|---:|---:|" + ("---:|" if args.sqnr else ""))
    for name, original, calib, x_te in models(args.models):
        blob = shared_float_file(original)
        ref = run_litert(blob, x_te) if args.sqnr else None
        input_name, sig = input_signature(blob)
        for mode in args.modes:
            ours_fn = partial(edgequant, blob, mode, calib, settings)
            if args.only_edgequant:
                (ours,) = best_ms([ours_fn], args.repeat)
                theirs = 0.0
            else:
                ours, theirs = best_ms([ours_fn, partial(ai_edge, blob, mode, calib, input_name, sig)], args.repeat)
            db = f" {sqnr(ref, run_litert(ours_fn(), x_te)):.2f} |" if ref is not None else ""
            vs = "- | - |" if args.only_edgequant else f"{theirs:.1f} | {ours / theirs:.2f} |"
            print(f"| {name} | {mode} | {ours:.1f} | {vs}{db}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
