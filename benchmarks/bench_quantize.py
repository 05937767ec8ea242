"""Quantize/dequantize throughput on a 256 MiB float32 array, against the naive numpy form and memcpy.

    .venv/bin/python benchmarks/bench_quantize.py [--mib 256] [--repeat 5] [--no-write]

Prints GB/s of float32 data (input for quantize, output for dequantize; best of --repeat runs) and
writes the figures into the "## Quantize throughput (issue #3)" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from edgequant.quantization import choose_qparams, dequantize, quantize

ROOT = Path(__file__).resolve().parents[1]
HEADING = "## Quantize throughput (issue #3)"


def best(fn, repeat: int) -> float:
    fn()  # warm up (page faults, thread pool)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def machine() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = re.search(r"Model name:\s*(.+)", out).group(1).strip()
    except (OSError, subprocess.CalledProcessError, AttributeError):
        model = platform.processor() or "unknown CPU"
    return f"{model}, {os.cpu_count()} cores, numpy {np.__version__}, Python {platform.python_version()}"


def write_section(text: str) -> None:
    path = ROOT / "BENCHMARKS.md"
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    section = f"{HEADING}\n\n{text.strip()}\n"
    pattern = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    new = pattern.sub(lambda _: section + "\n", old) if pattern.search(old) else old.rstrip("\n") + "\n\n" + section
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(new)
    os.replace(tmp, path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = ap.parse_args()
    n = args.mib * (1 << 20) // 4
    gb = n * 4 / 1e9
    x = np.random.default_rng(0).standard_normal(n, dtype=np.float32)
    rows = []

    dst = np.empty_like(x)
    t_copy = best(lambda: np.copyto(dst, x), args.repeat)
    rows.append(("memory copy (np.copyto, float32)", gb / t_copy, None))

    qp = choose_qparams(x)  # asymmetric int8
    s, zp = np.float32(qp.scale), int(qp.zero_point)
    t_naive = best(lambda: np.clip(np.round(x / s) + zp, -128, 127).astype(np.int8), args.repeat)
    rows.append(("naive np.clip(np.round(x/s)+zp).astype(int8)", gb / t_naive, None))
    t_q = best(lambda: quantize(x, qp), args.repeat)
    rows.append(("quantize, per-tensor asymmetric int8", gb / t_q, t_naive / t_q))
    q = quantize(x, qp)
    naive_ok = np.array_equal(q, np.clip(np.round(x / s) + zp, -128, 127).astype(np.int8))
    t_dn = best(lambda: ((q.astype(np.float32) - zp) * s), args.repeat)
    rows.append(("naive (q.astype(float32) - zp) * s", gb / t_dn, None))
    t_d = best(lambda: dequantize(q, qp), args.repeat)
    rows.append(("dequantize, per-tensor", gb / t_d, t_dn / t_d))

    qs = choose_qparams(x, symmetric=True)
    t_qs = best(lambda: quantize(x, qs), args.repeat)
    rows.append(("quantize, per-tensor symmetric int8", gb / t_qs, t_naive / t_qs))

    w = x.reshape(256, -1)  # conv-like weights, channels on axis 0
    qc = choose_qparams(w, symmetric=True, axis=0)
    sc = qc.scale.reshape(-1, 1)
    t_cn = best(lambda: np.clip(np.round(w / sc), -127, 127).astype(np.int8), args.repeat)
    rows.append(("naive per-channel (axis 0, 256 ch)", gb / t_cn, None))
    t_c = best(lambda: quantize(w, qc), args.repeat)
    rows.append(("quantize, per-channel axis 0 (256 ch)", gb / t_c, t_cn / t_c))
    a = x.reshape(-1, 64)  # channels last (NHWC activations / depthwise weights)
    qa = choose_qparams(a, symmetric=True, axis=-1)
    t_a = best(lambda: quantize(a, qa), args.repeat)
    sa = qa.scale
    t_an = best(lambda: np.clip(np.round(a / sa), -127, 127).astype(np.int8), args.repeat)
    rows.append(("naive per-channel (last axis, 64 ch)", gb / t_an, None))
    rows.append(("quantize, per-channel last axis (64 ch)", gb / t_a, t_an / t_a))
    qca = quantize(w, qc)
    t_dc = best(lambda: dequantize(qca, qc), args.repeat)
    rows.append(("dequantize, per-channel axis 0", gb / t_dc, None))

    cmd = f".venv/bin/python benchmarks/bench_quantize.py --mib {args.mib} --repeat {args.repeat}"
    lines = [(f"{args.mib} MiB of float32 ({n} values), best of {args.repeat}; GB/s of float32 data "
             f"(quantize: input read; dequantize: output written, including first-touch page faults)."),
             "", f"Machine: {machine()}", f"Command: `{cmd}`", "",
             "| what | GB/s | speed-up vs naive |", "|---|---:|---:|"]
    for name, rate, ratio in rows:
        lines.append(f"| {name} | {rate:.2f} | {'' if ratio is None else f'{ratio:.1f}x'} |")
    lines += ["", (f"quantize / memory copy: {(gb / t_q) / (gb / t_copy):.2f}. "
              f"Naive result equal to ours on this data: {naive_ok} (np.round is half-to-even, ours is TFLite's "
              "half-away-from-zero with float32 division; they differ only on exact ties).")]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section(text)
        print(f"\nupdated {ROOT / 'BENCHMARKS.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
