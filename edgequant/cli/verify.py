"""``edgequant verify MODEL``: does edgequant compute what LiteRT and tflite-micro compute, bit for bit?"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from .._words import counted
from ..errors import EdgequantError
from ..graph import load_file
from ._data import about, read_input_arrays
from ._table import format_table

NAME = "verify"
HELP = "run a model in edgequant's interpreter, LiteRT's reference kernels and tflite-micro, and compare outputs"


EPILOG = ("exit status: 0 when every comparison made agrees (a runtime that refuses the model, is not installed, or "
          "that edgequant cannot model is a note in its row, not a failure); 1 when some output differs; 2 when no "
          "comparison could be made at all, or on bad input")


def add_arguments(p) -> None:
    p.epilog = EPILOG
    p.add_argument("model", type=Path, help="a .tflite file")
    p.add_argument("--data", type=Path, help=".npy/.npz inputs ('x', or one array per input name): for an integer "
                   "input, data of its dtype is used as is and float data is quantized with its scale and zero point; "
                   "a float input takes float data; default: random samples")
    p.add_argument("-n", "--samples", type=int, default=20, help="samples to run (default 20)")
    p.add_argument("--runtime", choices=("litert", "tflm"), action="append",
                   help="compare with only this runtime (repeatable; default: both)")
    p.add_argument("--json", action="store_true", help="print the checks as JSON")


def _inputs(path: Path, model, n: int) -> list[np.ndarray]:
    """The first ``n`` samples of ``--data`` in each input's dtype (a sample is one run: the rows of the model's
    batch axis): an integer input takes data of its own dtype as it is, or float data quantized with its scale and
    zero point; a float input takes float data."""
    out = []
    for a, i in zip(read_input_arrays(path, model), model.main.inputs or []):
        t = model.main.tensors[i]
        rows = max(int((t.shape or [1])[0]), 1)
        if len(a) % rows:
            raise EdgequantError(f"{path}: input '{t.name}' has {len(a)} rows, not a multiple of the model's fixed "
                                 f"batch of {rows}")
        a = a[:n * rows]
        if not len(a):
            raise EdgequantError(f"{path}: input '{t.name}' holds no samples")
        if a.dtype == t.dtype and t.dtype.kind in "iu":
            out.append(a)
        elif a.dtype.kind == "f":
            if not np.all(np.isfinite(a)):
                raise EdgequantError(f"{path}: input '{t.name}' holds NaN or Inf")
            out.append(a.astype(t.dtype) if t.dtype.kind == "f" else _quantized(a, t, path))
        else:
            accepted = "float" if t.dtype.kind == "f" else f"{t.dtype} (used as is) or float (quantized)"
            raise EdgequantError(f"{path}: input '{t.name}' is {t.dtype}; the data is {a.dtype}, give {accepted}")
    return out


def _quantized(a: np.ndarray, t, path: Path) -> np.ndarray:
    qp = t.quantization
    if qp is None or qp.scale is None or not len(qp.scale):
        raise EdgequantError(f"{path}: input '{t.name}' is {t.dtype} without a scale to quantize float data with; "
                             f"give {t.dtype} data")
    return t.quantize(a)


class _StatusLine:
    """What verify is running, on one line of a terminal redrawn in place (a big model's run takes tens of
    seconds); nothing when stderr is a file or a pipe, where a log wants the table alone."""

    def __init__(self, stream):
        self.stream, self.tty, self.start = stream, stream.isatty(), time.perf_counter()

    def __call__(self, what: str) -> None:
        if self.tty:
            self.stream.write(f"\r\033[Krunning {what} ({time.perf_counter() - self.start:.0f} s so far)")
            self.stream.flush()

    def clear(self) -> None:
        if self.tty:
            self.stream.write("\r\033[K")
            self.stream.flush()


def run(args) -> int:
    from ..analysis.crosscheck import crosscheck, random_inputs

    model = load_file(args.model)
    if args.samples < 1:
        raise EdgequantError("--samples must be at least 1")
    inputs = _inputs(args.data, model, args.samples) if args.data else random_inputs(model, args.samples)
    line = _StatusLine(sys.stderr)
    try:
        with about(args.model):  # edgequant's own interpreter cannot run the model: say which file
            checks = crosscheck(model, inputs, tuple(args.runtime or ("litert", "tflm")), blob=args.model.read_bytes(),
                                status=line)
    finally:
        line.clear()
    if args.json:
        json.dump([c.to_dict() for c in checks], sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        src = args.data or "random inputs"
        n = max((c.samples for c in checks), default=0) or args.samples
        print(f"{args.model.name}: edgequant's interpreter vs the reference runtimes, {counted(n, 'sample')} ({src})")
        rows = [(c.runtime, c.output[-40:], c.dtype, "yes" if c.exact else ("-" if c.error else "NO"),
                 f"{c.max_abs_diff:.4g}" if not c.error else "", f"{c.mismatched}/{c.total}" if not c.error else "",
                 "; ".join(filter(None, (c.error if len(c.error) <= 200 else c.error[:197] + "...",
                                         c.note.split(" at ")[0] + " (below)" if c.note else ""))))
                for c in checks]
        print(format_table(("runtime", "output", "dtype", "agrees", "max |diff|", "mismatched", "note"), rows))
        notes = {c.runtime: c.note for c in checks if c.note}
        if "tflite-micro" in notes:  # "agrees" compares edgequant with each runtime; this says tflite-micro is not LiteRT
            print(f"\nwarning: on tflite-micro this model does not compute what LiteRT computes, or does not run: "
                  f"{notes.pop('tflite-micro')}")
        for runtime, note in notes.items():
            print(f"\nnote: {runtime} differs from edgequant here through a known fault of its own: {note}")
    ran = [c for c in checks if not c.error]
    if not ran:
        raise EdgequantError("no comparison could be made: no reference runtime ran this model, or edgequant "
                             "cannot model it (see the notes above)")
    return 0 if all(c.exact for c in ran) else 1
