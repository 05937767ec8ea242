"""Interpreter throughput on the MLPerf Tiny models: edgequant (batch 1 and batched) vs LiteRT (default
XNNPACK resolver and BUILTIN_REF reference kernels) vs tflite-micro. Inputs/second and ratios.

    .venv/bin/python benchmarks/bench_interpreter.py                 # 1000 inputs per runtime, table to stdout
    .venv/bin/python benchmarks/bench_interpreter.py --n 200 --budget 20 --markdown

Per-sample runtimes (LiteRT, tflite-micro, edgequant at batch 1) stop early when ``--budget`` seconds
are spent; the table says how many inputs were actually timed. Batched edgequant runs all ``--n``
inputs in chunks of ``--batch``. Single-threaded comparisons by default: LiteRT uses num_threads=1 and
numpy's BLAS one thread; ``--threads 2`` gives both two (set before numpy loads, so it is read from argv).
On a machine shared with other jobs, ``--repeat 3`` measures every cell in three interleaved rounds and
keeps each cell's best.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path


def _threads_from_argv(argv: list[str]) -> int:
    for k, a in enumerate(argv):
        if a == "--threads" and k + 1 < len(argv):
            return int(argv[k + 1])
        if a.startswith("--threads="):
            return int(a.split("=", 1)[1])
    return 1


# BLAS threads must be fixed before numpy loads: as many as LiteRT's num_threads below (1 by default,
# single-threaded runtimes side by side; threads also fight other jobs on small machines).
THREADS = _threads_from_argv(sys.argv[1:])
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(THREADS)

import numpy as np

MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"
CASES = [
    ("kws", "mlperf_tiny_kws_dscnn_float32.tflite", "mlperf_tiny_kws_dscnn_int8.tflite"),
    ("vww", "mlperf_tiny_vww_96_float.tflite", "mlperf_tiny_vww_96_int8.tflite"),
    ("resnet8", "mlperf_tiny_ic_resnet8_float.tflite", "mlperf_tiny_ic_resnet8_int8.tflite"),
    ("ad", "mlperf_tiny_ad01_fc_autoencoder_fp32.tflite", "mlperf_tiny_ad01_fc_autoencoder_int8.tflite"),
]


def inputs_for(model: bytes, n: int) -> np.ndarray:
    from edgequant.interpreter import Interpreter

    d = Interpreter(model).get_input_details()[0]
    shape = [n] + [int(s) for s in d["shape"][1:]]
    rng = np.random.default_rng(0)
    if np.dtype(d["dtype"]).kind == "f":
        return rng.standard_normal(shape).astype(d["dtype"])
    return rng.integers(-128, 128, shape).astype(d["dtype"])


def per_sample(fn, xs: np.ndarray, budget: float) -> tuple[float, int]:
    """Run fn on single samples until all are done or the budget is spent: (inputs/s, count)."""
    fn(xs[:1])  # warm-up
    t0 = time.perf_counter()
    k = 0
    while k < len(xs):
        fn(xs[k:k + 1])
        k += 1
        if time.perf_counter() - t0 > budget:
            break
    return k / (time.perf_counter() - t0), k


def litert_fn(model: bytes, ref: bool):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kw = {"experimental_op_resolver_type": OpResolverType.BUILTIN_REF} if ref else {}
    it = Interpreter(model_content=model, num_threads=THREADS, **kw)
    it.allocate_tensors()
    i = it.get_input_details()[0]["index"]
    o = it.get_output_details()[0]["index"]

    def run(x):
        it.set_tensor(i, x)
        it.invoke()
        return it.get_tensor(o)

    return run


def tflm_fn(model: bytes):
    from tflite_micro.python.tflite_micro import runtime

    it = runtime.Interpreter.from_bytes(model)

    def run(x):
        it.set_input(x, 0)
        it.invoke()
        return it.get_output(0)

    return run


def bench_one(name: str, path: Path, n: int, batch: int, budget: float, kind: str, repeat: int = 1) -> dict:
    """One row of the table. With ``repeat`` > 1 every runtime is measured in each of ``repeat`` rounds
    (the runtimes take turns, so a burst of load from other jobs hits them alike) and each cell keeps
    its best round."""
    from edgequant.interpreter import Interpreter

    model = path.read_bytes()
    xs = inputs_for(model, n)
    row: dict = {"model": f"{name} {kind}", "file": path.name}
    it = Interpreter(model, target="litert")
    it.run(xs[:batch])  # warm-up / prepare

    def batched() -> tuple[float, int]:
        t0 = time.perf_counter()
        for k in range(0, n, batch):
            it.run(xs[k:k + batch])
        return n / (time.perf_counter() - t0), n

    cells = {"eq_batched": batched, "eq_b1": lambda: per_sample(lambda x: it.run(x), xs, budget),
             "litert": lambda: per_sample(litert_fn(model, ref=False), xs, budget),
             "litert_ref": lambda: per_sample(litert_fn(model, ref=True), xs, budget)}
    if kind == "int8":
        cells["tflm"] = lambda: per_sample(tflm_fn(model), xs, budget)
    for _ in range(repeat):
        for key, measure in cells.items():
            got = measure()
            if key not in row or got[0] > row[key][0]:
                row[key] = got
    return row


def fmt(v) -> str:
    if v is None:
        return "-"
    rate, count = v
    return f"{rate:,.0f} ({count})"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="inputs per runtime (default 1000)")
    ap.add_argument("--batch", type=int, default=250, help="edgequant batched chunk size (default 250)")
    ap.add_argument("--budget", type=float, default=30.0, help="seconds per per-sample runtime (default 30)")
    ap.add_argument("--markdown", action="store_true", help="print a markdown table")
    ap.add_argument("--only", default="", help="comma-separated subset of: kws,vww,resnet8,ad")
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads and LiteRT num_threads (default 1)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="measure every cell in this many rounds and keep the best (default 1)")
    args = ap.parse_args(argv)
    if not MODELS.is_dir():
        print(f"{MODELS} not found", file=sys.stderr)
        return 2
    only = set(filter(None, args.only.split(",")))
    rows = []
    for name, f_float, f_int8 in CASES:
        if only and name not in only:
            continue
        for kind, fname in (("float", f_float), ("int8", f_int8)):
            r = bench_one(name, MODELS / fname, args.n, args.batch, args.budget, kind, max(args.repeat, 1))
            rows.append(r)
            print(f"{r['model']:>14}: eq batched {fmt(r['eq_batched'])}, eq b1 {fmt(r['eq_b1'])}, "
                  f"litert {fmt(r['litert'])}, litert ref {fmt(r['litert_ref'])}, tflm {fmt(r.get('tflm'))}",
                  file=sys.stderr, flush=True)
    cpu = platform.processor() or platform.machine()
    print(f"\nMachine: {platform.platform()}, {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"numpy {np.__version__}")
    extra = (f" --threads {args.threads}" if args.threads != 1 else "") + \
        (f" --repeat {args.repeat}" if args.repeat > 1 else "") + (f" --only {args.only}" if args.only else "")
    print(f"Command: .venv/bin/python benchmarks/bench_interpreter.py --n {args.n} --batch {args.batch} "
          f"--budget {args.budget}{extra}{' --markdown' if args.markdown else ''}\n")
    head = ["model", "edgequant batched", "edgequant batch 1", "LiteRT default", "LiteRT BUILTIN_REF", "tflite-micro",
            "batched / REF", "batched / default"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        eb = r["eq_batched"][0]
        print("| " + " | ".join([r["model"], fmt(r["eq_batched"]), fmt(r["eq_b1"]), fmt(r["litert"]),
                                 fmt(r["litert_ref"]), fmt(r.get("tflm")), f"{eb / r['litert_ref'][0]:.2f}x",
                                 f"{eb / r['litert'][0]:.2f}x"]) + " |")
    best = f", best of {args.repeat} rounds" if args.repeat > 1 else ""
    print(f"\nCells: inputs/second (inputs actually timed{best}). Ratios: edgequant batched throughput divided by "
          "the peer's.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
