"""edgequant's tensor-arena plan against what the real tflite-micro allocates, on every shared model.

    .venv/bin/python benchmarks/bench_arena.py [MODEL ...]      # default: ../shared/models/*.tflite

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


if __name__ == "__main__":
    args = [Path(a) for a in sys.argv[1:]] or sorted(SHARED.glob("*.tflite"))
    main(args)
