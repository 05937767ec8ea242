"""edgequant's tensor-arena plan against what the real tflite-micro allocates, on every shared model.

    .venv/bin/python benchmarks/bench_arena.py [MODEL ...]      # default: ../shared/models/*.tflite
    .venv/bin/python benchmarks/bench_arena.py --quantized      # edgequant's own full-integer files

``--quantized``: the float models of ../shared/models and the digits fixtures, quantized by edgequant to int8
(int8 and float io) and int16x8 from 40 uniform random calibration samples in each input's usual range
(written to a temporary folder, then measured like the others).

Prints a markdown table: tflite-micro's planned non-persistent arena ("head") and total, edgequant's
plan, lower bound and total estimate, the total's error, and the same estimate with 32-bit structs
(what a Cortex-M build would need; no 32-bit runtime here to measure it against).
"""

from __future__ import annotations

import sys
from pathlib import Path

import edgequant as eq
from edgequant.analysis.arena import measure_tflite_micro, plan_arena

SHARED = Path(__file__).resolve().parents[2] / "shared" / "models"


def main(paths: list[Path]) -> None:
    print("| model | tflite-micro head | edgequant plan | lower bound | tflite-micro total | edgequant total "
          "| total error | 32-bit estimate |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    exact = ran = exact_total = 0
    worst_under = worst_over = 0.0
    for p in paths:
        data = p.read_bytes()
        real = measure_tflite_micro(data)
        if real is None:
            print(f"| {p.name} | cannot run | | | | | | |")
            continue
        model = eq.load(data)
        plan = plan_arena(model, search=False)
        plan32 = plan_arena(model, pointer_bytes=4, search=False)
        ran += 1
        exact += plan.planned_bytes == real["head"]
        exact_total += plan.total_bytes == real["total"]
        err = (plan.total_bytes - real["total"]) / real["total"]
        worst_under, worst_over = min(worst_under, err), max(worst_over, err)
        print(f"| {p.name} | {real['head']:,} | {plan.planned_bytes:,} | {plan.lower_bound:,} | {real['total']:,} "
              f"| {plan.total_bytes:,} | {err:+.2%} | {plan32.total_bytes:,} |")
    print(f"\nplanned non-persistent arena equal to the byte on {exact}/{ran} models tflite-micro runs; "
          f"total equal on {exact_total}/{ran}, error from {worst_under:+.2%} to {worst_over:+.2%}")


# Float models whose full-integer files --quantized measures, and the range of their calibration inputs.
FLOAT_MODELS = {"mlperf_tiny_ic_resnet8_float": (0, 1), "mlperf_tiny_ic_resnet_large_float": (0, 1),
                "mlperf_tiny_vww_96_float": (0, 1), "mlperf_tiny_ad01_fc_autoencoder_fp32": (-40, 0),
                "tflm_hello_world_float": (0, 6.28), "tflm_mnist_lstm_float": (0, 1)}
FIX = Path(__file__).resolve().parents[1] / "tests" / "data" / "fixtures"


def quantized_files(folder: Path) -> list[Path]:
    import numpy as np

    from edgequant.quantizer import Recipe, quantize

    sources = [(SHARED / f"{n}.tflite", r) for n, r in FLOAT_MODELS.items() if (SHARED / f"{n}.tflite").exists()]
    sources += [(FIX / f"{n}.tflite", (0, 1)) for n in ("digits_cnn", "digits_resnet")]
    out = []
    for path, (lo, hi) in sources:
        model = eq.load_file(path)
        shape = list(model.main.tensors[model.main.inputs[0]].shape[1:])
        x = np.random.default_rng(0).uniform(lo, hi, size=[40] + shape).astype(np.float32)
        for recipe in (Recipe.int8(), Recipe.int8(io="float"), Recipe.int16x8()):
            dest = folder / f"{path.stem}.{recipe.mode}.{recipe.io}.tflite"
            dest.write_bytes(eq.save(quantize(model, recipe, x)))
            out.append(dest)
    return out


if __name__ == "__main__":
    if sys.argv[1:] == ["--quantized"]:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            main(quantized_files(Path(tmp)))
    else:
        main([Path(a) for a in sys.argv[1:]] or sorted(SHARED.glob("*.tflite")))
