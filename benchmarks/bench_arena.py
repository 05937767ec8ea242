"""edgequant's tensor-arena plan against what the real tflite-micro allocates, on every shared model.

    .venv/bin/python benchmarks/bench_arena.py [MODEL ...]      # default: ../shared/models/*.tflite

Prints a markdown table: tflite-micro's planned non-persistent arena ("head") and total, edgequant's
plan, lower bound and total estimate, and the total's error.
"""

from __future__ import annotations

import sys
from pathlib import Path

import edgequant as eq
from edgequant.analysis.arena import measure_tflite_micro, plan_arena

SHARED = Path(__file__).resolve().parents[2] / "shared" / "models"


def main(paths: list[Path]) -> None:
    print("| model | tflite-micro head | edgequant plan | lower bound | tflite-micro total | edgequant total "
          "| total error |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    exact = ran = 0
    for p in paths:
        data = p.read_bytes()
        real = measure_tflite_micro(data)
        if real is None:
            print(f"| {p.name} | cannot run | | | | | |")
            continue
        plan = plan_arena(eq.load(data), search=False)
        ran += 1
        exact += plan.planned_bytes == real["head"]
        err = (plan.total_bytes - real["total"]) / real["total"]
        print(f"| {p.name} | {real['head']:,} | {plan.planned_bytes:,} | {plan.lower_bound:,} | {real['total']:,} "
              f"| {plan.total_bytes:,} | {err:+.1%} |")
    print(f"\nplanned non-persistent arena equal to the byte on {exact}/{ran} models tflite-micro runs")


if __name__ == "__main__":
    args = [Path(a) for a in sys.argv[1:]] or sorted(SHARED.glob("*.tflite"))
    main(args)
