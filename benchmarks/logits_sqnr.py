"""digits_resnet's SQNR before and after its SOFTMAX, with and without bias correction (issue #5).

The main table (compare_quantizers.py) measures every model at its output; digits_resnet's output is a SOFTMAX,
whose SQNR a few unsure held-out samples decide. This prints, for the weight modes with the calibration data, the
SQNR of its logits (the FULLY_CONNECTED output) and of its probabilities against the float model, on the 360
held-out samples, in edgequant's interpreter, bias correction off and on.

    .venv/bin/python benchmarks/logits_sqnr.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import edgequant as eq
from edgequant.interpreter import Interpreter
from edgequant.quantization import sqnr_db
from edgequant.quantizer import Recipe, quantize

FIX = ROOT / "tests" / "data" / "fixtures"


def main() -> None:
    d = np.load(FIX / "digits_split.npz")
    model = eq.load_file(FIX / "digits_resnet.tflite")
    fc = next(op for op in model.main.operators if model.op_name(op) == "FULLY_CONNECTED")
    logits_name = model.main.tensors[fc.outputs[0]].name

    def run(m):
        idx = next(i for i, t in enumerate(m.main.tensors) if t.name == logits_name)
        probs, inter = Interpreter(m).run([d["x_test"]], keep_intermediates=True)
        return inter[idx], probs[0]

    ref_logits, ref_probs = run(model)
    print("| mode | bias correction | logits SQNR dB | softmax SQNR dB |\n|---|---|---:|---:|")
    for mode in ("dynamic_int8", "weight_only_int8"):
        for on in (False, True):
            logits, probs = run(quantize(model, Recipe.preset(mode, bias_correction=on), d["x_calib"]))
            print(f"| {mode} | {'on' if on else 'off'} | {sqnr_db(ref_logits, logits):.1f} | "
                  f"{sqnr_db(ref_probs, probs):.1f} |")


if __name__ == "__main__":
    main()
