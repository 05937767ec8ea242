"""edgequant mcu MODEL: tensor arena, flash and tflite-micro compatibility for microcontrollers."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import EdgequantError

NAME = "mcu"
HELP = "microcontroller report: tensor-arena plan, flash breakdown, tflite-micro compatibility lint"
EXIT_CANNOT_RUN = 1


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = ("exit status: 0 when tflite-micro can run the model (warnings aside); 1 when the lint finds an error "
                "that stops it; 2 on bad input")
    p.add_argument("model", help=".tflite file")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--plot", metavar="PNG", help="write the memory timeline picture")
    p.add_argument("--strip", metavar="OUT", help="write a copy without names and non-essential metadata")
    p.add_argument("--keep-signatures", action="store_true", help="with --strip: keep signature defs")
    p.add_argument("--pointer-bytes", type=int, choices=(4, 8), default=8,
                   help="struct sizes for the persistent estimate: 8 = 64-bit host (as the Python "
                        "tflite-micro), 4 = 32-bit MCU (rougher)")
    p.add_argument("--buffers", action="store_true", help="list every planned buffer")
    p.add_argument("--measure", action="store_true",
                   help="also run the model in the real tflite-micro (the micro extra) and show what it allocates")


def _kib(n: int) -> str:
    return f"{n:,} B ({n / 1024:.1f} KiB)"


def run(args) -> int:
    from .._words import counted
    from ..analysis.arena import plan_arena
    from ..analysis.flash import flash_report, strip
    from ..analysis.lint import ERROR, can_run, describe_group, group, lint
    from ..graph import check_writable, read_file, save, write_atomic

    for out_path in (args.plot, args.strip):  # a typo in an output path costs no planning
        if out_path:
            check_writable(out_path, (args.model,))
    if args.plot and args.strip and Path(args.plot).resolve() == Path(args.strip).resolve():
        raise EdgequantError(f"--plot and --strip both name {args.plot}: the picture would replace the stripped model")
    path = Path(args.model)
    data, model = read_file(path)
    plan = plan_arena(model, pointer_bytes=args.pointer_bytes)
    flash = flash_report(model, len(data))
    findings = lint(model)
    ok = can_run(findings)
    measured = None
    if args.measure:
        from ..analysis.arena import measure_tflite_micro

        measured = measure_tflite_micro(data) or {"error": "tflite-micro could not allocate or run the model"}
    stripped = None
    if args.strip:
        out = save(strip(model, keep_signatures=args.keep_signatures))
        write_atomic(args.strip, out)
        stripped = {"path": args.strip, "bytes": len(out), "saved": len(data) - len(out)}
    if args.plot:
        from ..viz.timeline import plot_timeline

        plot_timeline(plan, args.plot, title=f"{path.name}: tensor arena")

    if args.json:
        print(json.dumps({"model": str(path), "can_run": ok, "arena": plan.to_dict() if args.buffers else
                          {k: v for k, v in plan.to_dict().items() if k != "buffers"},
                          "flash": flash.to_dict(), "lint": [f.to_dict() for f in findings],
                          "stripped": stripped, "tflite_micro_measured": measured}, indent=2))
        return 0 if ok else EXIT_CANNOT_RUN

    print(f"{path.name}: {len(data):,} bytes, {counted(len(plan.op_names), 'op')}")
    print("\nTensor arena (tflite-micro, reference kernels)")
    rows = [("planned non-persistent (greedy plan)", plan.planned_bytes),
            ("lower bound (peak of live tensors)", plan.lower_bound),
            (f"persistent estimate ({args.pointer_bytes * 8}-bit structs)", plan.persistent_bytes),
            ("total arena_size estimate", plan.total_bytes)]
    for label, v in rows:
        print(f"  {label:44s} {_kib(v):>24s}")
    if measured is not None:
        if "error" in measured:
            print(f"  measured: {measured['error']}")
        else:
            host = " (64-bit host)" if args.pointer_bytes != 8 else ""  # the estimate above is for 32-bit structs
            print(f"  {'measured by tflite-micro' + host + ': non-persistent':44s} {_kib(measured['head']):>24s}")
            print(f"  {'measured by tflite-micro' + host + ': total':44s} {_kib(measured['total']):>24s}")
    print(f"  peak at scope {plan.peak_scope} "
          f"({'start' if plan.peak_scope == 0 else plan.op_names[plan.peak_scope - 1] if plan.peak_scope <= len(plan.op_names) else 'end'})")
    if plan.better_order is not None:
        print(f"  better operator order saves {plan.planned_bytes - plan.better_order_bytes:,} B: "
              f"{plan.better_order}")
    elif plan.order_search:
        print(f"  operator order: {plan.order_search}")
    if plan.guessed:
        print(f"  persistent data guessed (not replayed from tflite-micro's kernels) for: {', '.join(plan.guessed)}"
              + ("" if args.measure else "; --measure gives the real figure"))
    print("  persistent estimate by category:")
    for k, v in plan.persistent.items():
        if v:
            print(f"    {k:30s} {v:>10,} B")
    if args.buffers:
        print(f"\n  {'kind':8s} {'index':>5s} {'bytes':>10s} {'offset':>10s} {'first':>5s} {'last':>5s}  name")
        for b in plan.buffers:
            print(f"  {b.kind:8s} {b.index:>5d} {b.nbytes:>10,} {b.offset:>10,} {b.first:>5d} {b.last:>5d}  {b.name}")

    print("\nFlash")
    for k, v in flash.categories.items():
        print(f"  {k:24s} {v:>12,} B  {100 * v / max(flash.file_size, 1):5.1f}%")
    print(f"  {'total (file size)':24s} {flash.file_size:>12,} B")
    big = sorted(flash.layers, key=lambda r: -(r["weights"] + r["biases"]))[:5]
    if big:
        print("  largest layers: " + ", ".join(f"op {r['op_index']} {r['op']} {r['weights'] + r['biases']:,} B"
                                            for r in big))
    if stripped:
        print(f"  stripped copy: {stripped['path']} {stripped['bytes']:,} B (saves {stripped['saved']:,} B)")

    print("\ntflite-micro compatibility")
    if not findings:
        print("  no findings")
    for g in group(findings):  # one line per kind of finding: person_detect's 28 biases are one warning
        f = g[0]
        print(f"  {f.severity.upper():7s} {f.rule}: {describe_group(g)}: {f.message}")
        print(f"          fix: {f.fix}")
    n_err = sum(f.severity == ERROR for f in findings)
    errors = f"{n_err} error{'s' if n_err != 1 else ''}"
    print("\ntflite-micro can run this model" if ok else
          f"\nnot usable on tflite-micro as written ({errors}: it refuses the model, or computes something else than "
          f"LiteRT)")
    return 0 if ok else EXIT_CANNOT_RUN
