"""edgequant ranges MODEL -o out.png"""

from __future__ import annotations

import argparse

from ._data import about

NAME = "ranges"
HELP = "per-layer, per-output-channel weight ranges as a PNG (why per-channel quantization matters)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="path to a .tflite file")
    p.add_argument("--subgraph", type=int, default=0, help="subgraph to draw (default 0)")
    p.add_argument("--size", default="1200x500", help="PNG size in pixels, WIDTHxHEIGHT (default 1200x500)")
    p.add_argument("-o", "--output", required=True, help="PNG file to write")


def run(args) -> int:
    from .. import load_file
    from ..graph import check_writable
    from ..viz import ranges
    from .hist import parse_size

    size = parse_size(args.size)
    check_writable(args.output, (args.model,))
    model = load_file(args.model)
    with about(args.model):  # e.g. no per-channel weights: name the file
        path = ranges.plot_ranges(model, args.output, subgraph=args.subgraph, size=size)
    layers = ranges.layer_channel_ranges(model, args.subgraph)
    worst = max(layers, key=lambda L: L["spread"])
    dead = sum(L["dead"] for L in layers)
    dead_in = sum(L["dead"] > 0 for L in layers)
    note = (f"; {dead} dead channel{'s' if dead != 1 else ''} (range below {ranges.DEAD_BELOW:g} of their layer's "
            f"widest) in {dead_in} layer{'s' if dead_in != 1 else ''}, left out of the ratio") if dead else ""
    print(f"wrote {path}: {len(layers)} layers; widest/narrowest channel range {worst['spread']:.1f}x "
          f"in op {worst['op']} ({worst['op_name']}){note}")
    return 0
