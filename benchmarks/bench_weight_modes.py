"""Data-free weight-mode quantization, wall time: edgequant against ai-edge-quantizer (issue #5).

    .venv/bin/python benchmarks/bench_weight_modes.py [--repeat 5] [--only-edgequant] [--profile MODEL]
        [--stages MODEL] [--set F=V]

Per model and mode, the fastest of --repeat runs (after one warm-up run; the two tools take turns) of the calls
benchmarks/compare_quantizers.py times without calibration data:

* edgequant: ``eq.save(quantize(eq.load(blob), Recipe.preset(mode), None))``
* ai-edge-quantizer: ``Quantizer(blob, recipe.dynamic_wi8_afp32()).quantize()`` (``weight_only_wi8_afp32`` for
  weight_only_int8)

both from the same bytes in one process, numpy's BLAS on one thread (set before numpy loads). Prints ms and
ratio = edgequant / ai-edge-quantizer (at most 1 is the target). The MLPerf Tiny models in ../shared/models
(EDGEQUANT_SHARED names another shared folder) are skipped with a message when absent. ``--profile MODEL`` prints
edgequant's cProfile for that model's modes instead; ``--stages MODEL`` the median ms of its stages over --repeat
runs (load, quantize, save, and inside quantize the weight-scale search, balanced rounding with the quantize_affine
it calls, and the model's clone; time.perf_counter around each). The edgequant timed is the one in this checkout
(the script puts its repository first on sys.path), so a copy of the script in an older checkout times that one.

Both tools get compare_quantizers.py's shared float file (shared_float_file): every OperatorCode's builtin_code set
to its op and a SignatureDef: ad01's TF 2.3 converter wrote FULLY_CONNECTED in deprecated_builtin_code only, and
ai-edge-quantizer, which reads builtin_code alone, would see ten ADDs and time a round trip that quantizes nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from functools import partial
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # after the thread settings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compare_quantizers import recipe_settings, shared_float_file

import edgequant as eq
from edgequant.quantizer import Recipe, quantize

MODES = ("dynamic_int8", "weight_only_int8")
FIX = ROOT / "tests" / "data" / "fixtures"
SHARED = Path(os.environ.get("EDGEQUANT_SHARED", ROOT.parent / "shared")) / "models"
MODELS = [FIX / "digits_cnn.tflite", FIX / "digits_resnet.tflite"] + [
    SHARED / f"mlperf_tiny_{n}.tflite"
    for n in ("vww_96_float", "ic_resnet8_float", "ic_resnet_large_float", "ad01_fc_autoencoder_fp32")]


def edgequant(blob: bytes, mode: str, settings: dict | None = None) -> bytes:
    return eq.save(quantize(eq.load(blob), Recipe.preset(mode, **(settings or {})), None))


def ai_edge(blob: bytes, mode: str) -> bytes:
    from ai_edge_quantizer import quantizer, recipe

    r = recipe.dynamic_wi8_afp32() if mode == "dynamic_int8" else recipe.weight_only_wi8_afp32()
    return bytes(quantizer.Quantizer(blob, r).quantize(enable_progress_report=False).quantized_model)


def best_ms(fns: list, repeat: int) -> list[float]:
    """The fastest of ``repeat`` runs of each function, in ms, after one warm-up run each. The functions take
    turns, so load from other processes on a shared machine falls on both sides alike."""
    for fn in fns:
        fn()  # warm-up: imports, caches
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for k, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t0)
    return [b * 1e3 for b in best]


def stages(blob: bytes, mode: str, settings: dict, repeat: int) -> str:
    """Median ms of each stage of :func:`edgequant` over ``repeat`` runs (after one warm-up run): load, quantize,
    save, and the quantizer's functions below, wrapped with time.perf_counter where the module has them."""
    from edgequant.graph import Model
    from edgequant.quantizer import balanced, rewrite

    spent: dict[str, float] = {}
    wrapped = [(rewrite, "weight_params_many", "scale search"), (rewrite, "balanced_many", "balanced rounding"),
               (rewrite, "balanced_ints", "balanced rounding"),
               (balanced, "quantize_affine", "its quantize_affine"), (Model, "clone", "clone")]
    saved = [(owner, name, getattr(owner, name), key) for owner, name, key in wrapped if hasattr(owner, name)]

    def timed(fn, key):
        def run(*a, **k):
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[key] = spent.get(key, 0.0) + time.perf_counter() - t0
        return run

    for owner, name, fn, key in saved:
        setattr(owner, name, timed(fn, key))
    runs: list[dict[str, float]] = []
    try:
        for i in range(repeat + 1):
            spent.clear()
            t0 = time.perf_counter()
            m = eq.load(blob)
            t1 = time.perf_counter()
            q = quantize(m, Recipe.preset(mode, **(settings or {})), None)
            t2 = time.perf_counter()
            eq.save(q)
            t3 = time.perf_counter()
            if i:
                runs.append({"load": t1 - t0, "quantize": t2 - t1, "save": t3 - t2, "total": t3 - t0, **spent})
    finally:
        for owner, name, fn, _ in saved:
            setattr(owner, name, fn)
    keys = ["total", "load", "quantize", *dict.fromkeys(k for _, _, _, k in saved), "save"]
    return ", ".join(f"{k} {np.median([r.get(k, 0.0) for r in runs]) * 1e3:.2f}" for k in keys)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only-edgequant", action="store_true")
    ap.add_argument("--profile", metavar="MODEL", help="cProfile edgequant on the model whose file name contains this")
    ap.add_argument("--stages", metavar="MODEL", help="median ms of edgequant's stages on the model whose file name "
                    "contains this")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="override a field of edgequant's recipe, e.g. --set weight_range=minmax")
    args = ap.parse_args()
    settings = recipe_settings(args.set)
    warnings.filterwarnings("ignore")
    if args.profile:
        import cProfile
        import pstats

        path = next(p for p in MODELS if args.profile in p.name)
        blob = shared_float_file(path.read_bytes())
        prof = cProfile.Profile()
        for mode in MODES:
            edgequant(blob, mode, settings)
            prof.enable()
            for _ in range(args.repeat):
                edgequant(blob, mode, settings)
            prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(30)
        return 0
    if args.stages:
        path = next(p for p in MODELS if args.stages in p.name)
        blob = shared_float_file(path.read_bytes())
        for mode in MODES:
            print(mode, stages(blob, mode, settings, args.repeat))
        return 0
    print(f"numpy {np.__version__}, {os.cpu_count()} cores, OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}, "
          f"best of {args.repeat}")
    print("| model | mode | edgequant ms | ai-edge-quantizer ms | ratio |")
    print("|---|---|---:|---:|---:|")
    for path in MODELS:
        if not path.exists():
            print(f"skipped {path.name}: not in {path.parent}", file=sys.stderr)
            continue
        blob = shared_float_file(path.read_bytes())
        for mode in MODES:
            if args.only_edgequant:
                (ours,) = best_ms([partial(edgequant, blob, mode, settings)], args.repeat)
                print(f"| {path.stem} | {mode} | {ours:.1f} | - | - |", flush=True)
                continue
            ours, theirs = best_ms([partial(edgequant, blob, mode, settings), partial(ai_edge, blob, mode)],
                                   args.repeat)
            print(f"| {path.stem} | {mode} | {ours:.1f} | {theirs:.1f} | {ours / theirs:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
