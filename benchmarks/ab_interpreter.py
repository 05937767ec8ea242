"""Paired A/B of Interpreter.run() throughput: the edgequant package at a git revision against the working tree,
in one process, taking turns, so that load from other jobs hits both alike. Thread CPU time, one BLAS thread.

    .venv/bin/python benchmarks/ab_interpreter.py kws                  # HEAD vs working tree, 12 rounds
    .venv/bin/python benchmarks/ab_interpreter.py kws --rev 2b65ab2 --rounds 16 --per-op

Each round runs 4 x run() on 250 random inputs with each version (alternating which goes first) and prints
the median time per 1000 inputs and the median of the per-round ratios new / old (< 1: the tree is faster).
Both versions must give the same output bits (checked first).
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT.parent / "shared" / "models"
NAMES = {"kws": "mlperf_tiny_kws_dscnn_float32.tflite", "vww": "mlperf_tiny_vww_96_float.tflite",
         "resnet8": "mlperf_tiny_ic_resnet8_float.tflite", "ad": "mlperf_tiny_ad01_fc_autoencoder_fp32.tflite",
         "kws-int8": "mlperf_tiny_kws_dscnn_int8.tflite", "vww-int8": "mlperf_tiny_vww_96_int8.tflite",
         "resnet8-int8": "mlperf_tiny_ic_resnet8_int8.tflite", "ad-int8": "mlperf_tiny_ad01_fc_autoencoder_int8.tflite"}


def old_package(rev: str, where: Path) -> str:
    """Export edgequant/ at rev as package ``edgequant_old`` under where; returns the package name."""
    tar = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "edgequant"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(where)], input=tar, check=True)
    (where / "edgequant").rename(where / "edgequant_old")
    return "edgequant_old"


def timed_steps(it, acc: dict) -> None:
    """Sum thread time per op index into acc (wraps the plan's step runner)."""
    plan = it._plan(0)
    run_step = plan._run_step

    def wrapped(step, values, *rest):
        t = time.thread_time()
        run_step(step, values, *rest)
        acc[step.index] = acc.get(step.index, 0.0) + time.thread_time() - t

    plan._run_step = wrapped


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", choices=sorted(NAMES))
    ap.add_argument("--rev", default="HEAD", help="git revision of the old side (default HEAD)")
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--per-op", action="store_true", help="also print the median time of every op")
    args = ap.parse_args(argv)
    path = MODELS / NAMES[args.model]
    with tempfile.TemporaryDirectory() as tmp:
        name = old_package(args.rev, Path(tmp))
        sys.path.insert(0, tmp)
        sys.path.insert(0, str(ROOT))
        old = importlib.import_module(f"{name}.interpreter").Interpreter(path)
        new = importlib.import_module("edgequant.interpreter").Interpreter(path)
        d = new.get_input_details()[0]
        shape = [250] + [int(s) for s in d["shape"][1:]]
        rng = np.random.default_rng(0)
        x = (rng.standard_normal(shape).astype(d["dtype"]) if np.dtype(d["dtype"]).kind == "f"
             else rng.integers(-128, 128, shape).astype(d["dtype"]))
        for a, b in zip(old.run([x]), new.run([x])):
            if not np.array_equal(a.view(np.uint8), b.view(np.uint8)):
                print("the two versions give different outputs", file=sys.stderr)
                return 1
        ops_old: dict = {}
        ops_new: dict = {}
        if args.per_op:
            timed_steps(old, ops_old)
            timed_steps(new, ops_new)

        def once(it) -> float:
            t = time.thread_time()
            for _ in range(4):
                it.run([x])
            return (time.thread_time() - t) * 1e3  # ms per 1000 inputs

        t_old, t_new, per_op = [], [], []
        for r in range(args.rounds):
            ops_old.clear()
            ops_new.clear()
            if r % 2:
                t_new.append(once(new))
                t_old.append(once(old))
            else:
                t_old.append(once(old))
                t_new.append(once(new))
            per_op.append((dict(ops_old), dict(ops_new)))
        ratio = np.array(t_new) / np.array(t_old)
        print(f"{args.model}: {args.rev} {np.median(t_old):.1f} ms per 1000 inputs, working tree {np.median(t_new):.1f}; "
              f"paired ratio median {np.median(ratio):.3f} (min {ratio.min():.3f}, max {ratio.max():.3f}, "
              f"{args.rounds} rounds)")
        if args.per_op:
            plan = new._plan(0)
            for step in plan.steps:
                a = np.median([o[step.index] for o, _ in per_op]) * 1e3
                b = np.median([n[step.index] for _, n in per_op]) * 1e3
                r = np.median([n[step.index] / o[step.index] for o, n in per_op])
                print(f"  op {step.index:3d} {step.name:22s} {a:8.2f} -> {b:8.2f} ms per 1000 inputs, paired {r:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
