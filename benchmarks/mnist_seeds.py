"""Is a 1-4 sample accuracy gap on mnist_cnn a property of the quantizer or of one trained model?

compare_quantizers.py trains mnist_cnn once (Keras seed 0) and scores every quantized copy on 2000 held-out
digits, where one sample is 0.05 points. This script trains the same network with several seeds (same 8000/2000
split of the MNIST test set, same 200 calibration samples), quantizes each model with TFLiteConverter,
ai-edge-quantizer and edgequant in every mode all of them support, and pools the held-out results over the
seeds: accuracy, top-1 agreement with each float model, mean output SQNR, and McNemar's exact test of edgequant
against the more accurate peer on the pooled discordant samples (n seeds x 2000 evaluations).

    .venv/bin/python benchmarks/mnist_seeds.py [--seeds 5]

"edgequant" is the preset given the calibration data; "edgequant, no data" the weight modes without it, as in
compare_quantizers.py. Needs the bench extra (TensorFlow, ai-edge-quantizer, LiteRT) and ../shared/data.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compare_quantizers as cq  # sets the BLAS threads before numpy loads
import numpy as np

import edgequant as eq

MODES = ("dynamic_int8", "weight_only_int8", "int8", "int16x8")  # float16: SQNR 74 dB, accuracy = float's


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5, help="train with Keras seeds 0 .. N-1")
    args = ap.parse_args()
    if not (cq.SHARED / "data").is_dir():
        print(f"mnist_seeds: needs the MNIST test set in {cq.SHARED / 'data'}", file=sys.stderr)
        return 2
    # (mode, tool) -> per-seed arrays: right[i] = sample i classified correctly; agree[i] = same top-1 as float
    right: dict[tuple[str, str], list[np.ndarray]] = {}
    agree: dict[tuple[str, str], list[np.ndarray]] = {}
    sqnrs: dict[tuple[str, str], list[float]] = {}
    float_right = []
    for seed in range(args.seeds):
        _, keras_model, original, calib, x_te, y_te, _ = cq.mnist_model(seed)
        blob = cq.shared_float_file(original)
        m = eq.load(blob)
        input_name = next(tm.name for sd in m.signature_defs for tm in sd.inputs)
        sig = m.signature_defs[0].signature_key
        ref = cq.run_litert(blob, x_te)
        float_right.append(ref.argmax(1) == y_te)
        for mode in MODES:
            tools = {"TFLiteConverter": partial(cq.tf_converter, keras_model, mode, calib),
                     "ai-edge-quantizer": partial(cq.ai_edge, blob, mode, calib, input_name, sig),
                     "edgequant": partial(cq.edgequant, blob, mode, calib),
                     "edgequant, no data": partial(cq.edgequant, blob, mode, None)}
            for tool, fn in tools.items():
                out = fn()
                if out is None:
                    continue
                y = cq.run_litert(out, x_te)
                right.setdefault((mode, tool), []).append(y.argmax(1) == y_te)
                agree.setdefault((mode, tool), []).append(y.argmax(1) == ref.argmax(1))
                sqnrs.setdefault((mode, tool), []).append(cq.sqnr(ref, y))
        print(f"seed {seed}: float accuracy {float_right[-1].mean():.4f}", file=sys.stderr)

    n = args.seeds * len(float_right[0])
    print(f"mnist_cnn, Keras seeds 0-{args.seeds - 1}, {n} held-out evaluations per row; float accuracy "
          f"{np.mean(np.concatenate(float_right)):.4f}\n")
    print("| mode | tool | accuracy | top-1 = float | mean SQNR dB | SQNR per seed | vs better peer |")
    print("|---|---|---:|---:|---:|---|---:|")
    for mode in MODES:
        tools = [t for (md, t) in right if md == mode]
        pooled = {t: np.concatenate(right[(mode, t)]) for t in tools}
        peers = [t for t in tools if not t.startswith("edgequant")]
        best = max(peers, key=lambda t: pooled[t].mean())
        for t in tools:
            vs = cq.mcnemar(pooled[t], pooled[best]) if t.startswith("edgequant") else "-"
            per_seed = " ".join(f"{v:.1f}" for v in sqnrs[(mode, t)])
            print(f"| {mode} | {t} | {pooled[t].mean():.4f} | {np.concatenate(agree[(mode, t)]).mean():.4f} | "
                  f"{np.mean(sqnrs[(mode, t)]):.1f} | {per_seed} | {vs} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
