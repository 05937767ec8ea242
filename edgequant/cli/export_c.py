"""edgequant export-c MODEL -o model_data.cc: the model as a C array plus the op-resolver lines."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..graph import read_file, write_atomic

NAME = "export-c"
HELP = "write the model as a 16-byte-aligned C array (.cc + .h) and print its MicroMutableOpResolver lines"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help=".tflite file")
    p.add_argument("-o", "--output", required=True, help="the .cc file to write; the header goes beside it (.h)")
    p.add_argument("--name", default="g_model", help="C array name (default g_model; its length is NAME_len)")


def run(args) -> int:
    from ..analysis.export_c import export_c
    data, model = read_file(args.model)
    out = Path(args.output)
    header = out.with_suffix(".h")
    cc, h, snippet = export_c(data, model, name=args.name, header=header.name)
    write_atomic(header, h.encode())
    write_atomic(out, cc.encode())
    print(f"wrote {out} ({len(data)} bytes as {args.name}[]) and {header}")
    print("register the ops it uses:")
    print(snippet, end="")
    return 0
