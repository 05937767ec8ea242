"""edgequant export-c MODEL -o model_data.cc: the model as a C array plus the op-resolver lines."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..errors import EdgequantError
from ..graph import check_writable, read_file, write_atomic

NAME = "export-c"
HELP = "write the model as a 16-byte-aligned C array (.cc + .h) and print its MicroMutableOpResolver lines"

HEADER_SUFFIXES = (".h", ".hh", ".hpp", ".hxx")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help=".tflite file")
    p.add_argument("-o", "--output", required=True,
                   help="the .cc file to write; the header goes beside it with the suffix .h (model_data.cc -> "
                        "model_data.h)")
    p.add_argument("--name", default="g_model", help="C array name (default g_model; its length is NAME_len)")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def output_paths(output: str | os.PathLike, model: str | os.PathLike) -> tuple[Path, Path]:
    """(.cc path, .h path) for ``-o output``, or one line saying why not: ``-o`` names the source file, so a
    header suffix is refused (the .cc would include itself and the header would be lost), and neither file may
    be the input model. Both must be writable before either is written."""
    out = Path(output)
    if out.suffix.lower() in HEADER_SUFFIXES:
        raise EdgequantError(f"-o {out}: give the .cc file to write (e.g. {out.with_suffix('.cc')}); "
                             f"the header goes beside it as {out.with_suffix('.h')}")
    header = out.with_suffix(".h")
    for p in (out, header):
        if _same_file(p, Path(model)):
            raise EdgequantError(f"-o {out}: writing {p} would replace the input model {model}; "
                                 f"choose another name (e.g. model_data.cc)")
    check_writable(out)
    check_writable(header)
    return out, header


def run(args) -> int:
    from ..analysis.export_c import export_c

    out, header = output_paths(args.output, args.model)
    data, model = read_file(args.model)
    cc, h, snippet = export_c(data, model, name=args.name, header=header.name)
    old_header = header.read_bytes() if header.is_file() else None
    write_atomic(header, h.encode())
    try:
        write_atomic(out, cc.encode())
    except BaseException:
        # the pair or nothing: a header without its source (or next to a stale one) misleads the build
        if old_header is None:
            header.unlink(missing_ok=True)
        else:
            write_atomic(header, old_header)
        raise
    print(f"wrote {out} ({len(data):,} bytes as {args.name}[]) and {header}")
    print("register the ops it uses:")
    print(snippet, end="")
    return 0
