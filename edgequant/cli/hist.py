"""edgequant hist MODEL [--tensor NAME|INDEX] [--log] [--bins N] -o out.png"""

from __future__ import annotations

import argparse

from .._words import counted
from ..errors import EdgequantError
from ._data import about

NAME = "hist"
HELP = "histogram of one tensor's values, or of every constant weight in the model, as a PNG"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="path to a .tflite file")
    p.add_argument("--tensor", help="tensor name or index (in --subgraph); default: all constant weights")
    p.add_argument("--subgraph", type=int, default=0, help="subgraph of --tensor (default 0)")
    p.add_argument("--log", action="store_true", help="logarithmic count axis")
    p.add_argument("--bins", type=int, default=None, help="number of bins (default 100, 200 for the model)")
    p.add_argument("--size", default="900x500", help="PNG size in pixels, WIDTHxHEIGHT (default 900x500)")
    p.add_argument("-o", "--output", required=True, help="PNG file to write")


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise EdgequantError(f"--size must look like 800x600, not {text!r}") from None
    if not (50 <= w <= 10000 and 50 <= h <= 10000):
        raise EdgequantError("--size must be between 50x50 and 10000x10000")
    return w, h


def find_tensor(model, spec: str, subgraph: int):
    sgs = model.subgraphs or []
    if not 0 <= subgraph < len(sgs):
        raise EdgequantError(f"subgraph {subgraph} out of range (the model has {counted(len(sgs), 'subgraph')})")
    tensors = sgs[subgraph].tensors or []
    if spec.lstrip("-").isdigit():
        i = int(spec)
        if not 0 <= i < len(tensors):
            raise EdgequantError(f"tensor index {i} out of range (subgraph {subgraph} has "
                                 f"{counted(len(tensors), 'tensor')})")
        return tensors[i]
    for t in tensors:
        if t.name == spec:
            return t
    raise EdgequantError(f"no tensor named {spec!r} in subgraph {subgraph}")


def run(args) -> int:
    from .. import load_file
    from ..graph import check_writable
    from ..quantization import QuantizationError
    from ..viz import hist

    size = parse_size(args.size)
    if args.bins is not None and not 1 <= args.bins <= 100_000:
        raise EdgequantError("--bins must be in 1..100000")
    check_writable(args.output, (args.model,))
    model = load_file(args.model)
    if args.tensor is None:
        with about(args.model):  # e.g. no weights at all: name the file
            path = hist.plot_model_histogram(model, args.output, bins=args.bins or 200, log=args.log, size=size)
        print(f"wrote {path}")
        return 0
    t = find_tensor(model, args.tensor, args.subgraph)
    values = t.dequantize()
    if values is None:
        raise EdgequantError(f"tensor {t.index} '{t.name}' has no stored values (it is computed at run time)")
    if values.dtype.kind not in "fiub":
        raise EdgequantError(f"tensor '{t.name}' of type {t.type_name} has no numeric values")
    try:
        path = hist.plot_histogram(values, args.output, bins=args.bins or 100, log=args.log,
                                   qp=hist.tensor_qparams(t), title=f"{t.name} ({t.type_name}, {list(t.shape)})",
                                   size=size)
    except QuantizationError as e:
        raise EdgequantError(f"tensor '{t.name}': {e}") from None
    print(f"wrote {path}")
    return 0
