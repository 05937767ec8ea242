"""GPTQ's own objective on data it did not see: each weight op's output error on the held-out inputs.

    .venv/bin/python benchmarks/gptq_layer_error.py [--models resnet] [--gptq ROWS_PER_SAMPLE=4] [--seed 1]
                                                  [--set weight_rounding=nearest]

Per model (bench_full_integer's models, calibration and held-out samples) the int8 preset is quantized and, for
each weight op, 10 log10(tr(W Ht W^T) / tr(E Ht E^T)) is printed, E = W - s q the weight error and Ht the mean
x x^T of the op's float inputs over every row of the held-out samples (cached in /tmp). The model's output SQNR
on uniform random inputs (the MLPerf rows of compare_quantizers) is mostly one constant offset of the softmax
(bench_full_integer.md) and moves by several dB with any change of the rows H comes from; this does not.
``--gptq NAME=VALUE`` sets a constant of edgequant.quantizer.gptq, ``--seed`` the row sampler's seed.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import warnings
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # after the thread settings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_full_integer import edgequant, models
from compare_quantizers import recipe_settings, shared_float_file

import edgequant as eq
from edgequant.quantizer import gptq, rewrite
from edgequant.quantizer.calibrate import calibrate


def held_out_products(name: str, blob: bytes, x: np.ndarray) -> dict[int, np.ndarray]:
    path = Path("/tmp") / f"gptq_layer_error_{name}_{len(x)}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    m = eq.load(blob)
    saved = gptq.ROWS_PER_SAMPLE, gptq.MAX_ROWS_PER_SAMPLE
    gptq.ROWS_PER_SAMPLE = gptq.MAX_ROWS_PER_SAMPLE = 1 << 30  # every row
    try:
        hs = gptq.Hessians(m)
        sg = m.main
        calibrate(m, [{sg.tensors[sg.inputs[0]].name: x[i:i + 25]} for i in range(0, len(x), 25)], None,
                  visit=hs.update)
    finally:
        gptq.ROWS_PER_SAMPLE, gptq.MAX_ROWS_PER_SAMPLE = saved
    out = {k: hs.get(k) for k in hs._sums}
    path.write_bytes(pickle.dumps(out))
    return out


def layer_db(op: str, w: np.ndarray, scale: np.ndarray, q: np.ndarray, h: np.ndarray) -> float:
    if op == "DEPTHWISE_CONV_2D":  # one H per input channel, filter (1, KH, KW, C * M)
        ch = w.shape[3]
        rows, qr = w.reshape(-1, ch).T, q.reshape(-1, ch).T
        hh = np.repeat(h, ch // h.shape[0], axis=0)
        e = rows - qr * np.broadcast_to(scale.reshape(-1), (ch,))[:, None]
        return float(10 * np.log10(np.einsum("ri,rij,rj->", rows, hh, rows) / np.einsum("ri,rij,rj->", e, hh, e)))
    rows, qr = w.reshape(w.shape[0], -1), q.reshape(w.shape[0], -1)
    e = rows - qr * np.broadcast_to(scale.reshape(-1), (rows.shape[0],))[:, None]
    return float(10 * np.log10(np.einsum("ri,ij,rj->", rows, h, rows) / np.einsum("ri,ij,rj->", e, h, e)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="*", default=[])
    ap.add_argument("--gptq", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    for k, v in recipe_settings(args.gptq).items():
        setattr(gptq, k, v)
    init = gptq.Hessians.__init__

    def seeded(self, model):
        init(self, model)
        self._rng = np.random.default_rng(args.seed)

    gptq.Hessians.__init__ = seeded
    got: dict[int, tuple] = {}
    weight_ints = rewrite._weight_ints

    def record(w, qp, op_name, idx, hessians):
        q = weight_ints(w, qp, op_name, idx, hessians)
        got[idx] = (op_name, w.astype(np.float64), np.asarray(qp.scale, np.float64), q.astype(np.float64))
        return q

    rewrite._weight_ints = record
    print("| model | mean dB | min dB | per weight op |")
    print("|---|---:|---:|---|")
    for name, original, calib, x_te in models(args.models):
        blob = shared_float_file(original)
        ht = held_out_products(name, blob, x_te)
        got.clear()
        edgequant(blob, "int8", calib, recipe_settings(args.set))
        dbs = [layer_db(op, w, s, q, ht[i]) for i, (op, w, s, q) in sorted(got.items()) if i in ht]
        print(f"| {name} | {np.mean(dbs):.2f} | {np.min(dbs):.1f} | {' '.join(f'{d:.1f}' for d in dbs)} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
