"""``edgequant inspect MODEL``: what is inside a .tflite, as tables for people or JSON for machines."""

from __future__ import annotations

import json
import re
import sys

from .. import dtypes
from .._words import counted
from ..analysis.sizes import size_breakdown
from ..errors import EdgequantError
from ..flatbuffer.nodes import Node, to_json, visible_fields
from ..flatbuffer.schema import ENUMS
from ..graph import Model, Tensor, load_file
from ._table import format_table, human_bytes

NAME = "inspect"
HELP = "show ops, tensors, quantization parameters, signatures and sizes of a .tflite model"

_SHORT = {"fused_activation_function": "act", "dilation_w_factor": "dil_w", "dilation_h_factor": "dil_h",
          "depth_multiplier": "mult", "asymmetric_quantize_inputs": "asym_inputs"}


def add_arguments(p) -> None:
    p.add_argument("model", help="path to a .tflite file")
    p.add_argument("--json", action="store_true", help="print the whole model as JSON (weights as byte counts)")
    p.add_argument("--ops", metavar="REGEX", help="show only operators whose name matches (e.g. 'CONV')")
    p.add_argument("--tensors", metavar="REGEX", help="show only tensors whose name matches")
    p.add_argument("--subgraph", type=int, metavar="N", help="show only subgraph N")
    p.add_argument("--no-tensors", action="store_true", help="leave out the tensor table")
    p.add_argument("--wide", action="store_true", help="do not shorten long tensor names")


def run(args) -> int:
    pattern("--ops", args.ops)  # a bad pattern is reported before the model is read
    pattern("--tensors", args.tensors)
    model = load_file(args.model)
    n = len(model.subgraphs or [])
    if args.subgraph is not None and not 0 <= args.subgraph < n:
        raise EdgequantError(f"--subgraph {args.subgraph}: out of range (the model has {counted(n, 'subgraph')}: "
                             f"{'0' if n == 1 else f'0..{n - 1}'})")
    if args.json:
        json.dump(model_json(model, ops=args.ops, tensors=args.tensors, subgraph=args.subgraph), sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    print(render(model, args.model, ops=args.ops, tensors=args.tensors, subgraph=args.subgraph,
                 show_tensors=not args.no_tensors, name_width=0 if args.wide else 60))
    return 0


def pattern(flag: str, text: str | None) -> re.Pattern | None:
    """``text`` compiled case-insensitively (None stays None), or one line naming the flag and what is wrong."""
    if not text:
        return None
    try:
        return re.compile(text, re.IGNORECASE)
    except re.error as e:
        raise EdgequantError(f"{flag} {text!r}: not a regular expression ({e})") from None


def options_text(opts: Node | None) -> str:
    """Non-default builtin options as ``key=value``, enums by name."""
    if opts is None:
        return ""
    parts = []
    for f in visible_fields(opts._table):
        v = getattr(opts, f.name)
        if f.kind in ("scalar", "enum"):
            if v == f.default:
                continue
            v = ENUMS[f.ref].name_of(v) if f.kind == "enum" else (f"{v:.4g}" if isinstance(v, float) else v)
        elif v is None:
            continue
        elif f.kind == "vector":
            v = list(v)
        parts.append(f"{_SHORT.get(f.name, f.name)}={v}")
    return " ".join(parts)


def shorten(name: str, width: int) -> str:
    """Keep both ends of a long name (converters join many op names with ';')."""
    if not width or len(name) <= width:
        return name
    keep = (width - 3) // 2
    return name[:keep] + "..." + name[-(width - 3 - keep):]


def tensor_text(t: Tensor) -> str:
    q = t.quantization.describe() if t.quantization is not None else ""
    name = f"'{t.name}'" if t.name else "(no name)"  # stripped models (edgequant mcu --strip) drop names
    return f"{name} {t.type_name}{list(t.shape or [])}" + (f" {q}" if q else "")


def render(model: Model, path: str = "", *, ops: str | None = None, tensors: str | None = None,
           subgraph: int | None = None, show_tensors: bool = True, name_width: int = 60) -> str:
    out = []
    sizes = size_breakdown(model)
    out.append(f"model: {path}  ({human_bytes(sizes.file)}, schema version {model.version})")
    if model.description:
        out.append(f"description: {model.description}")
    sigs = ", ".join(f"{s.signature_key} (subgraph {s.subgraph_index})" for s in model.signature_defs or [])
    out.append(f"subgraphs: {len(model.subgraphs)}   signatures: {sigs or 'none'}")
    meta = ", ".join(f"{m.name} ({model.buffers[m.buffer].nbytes} B)" for m in model.metadata or []
                     if m.buffer < len(model.buffers or []))
    if meta:
        out.append(f"metadata: {meta}")
    op_re, t_re = pattern("--ops", ops), pattern("--tensors", tensors)
    for s, sg in enumerate(model.subgraphs):
        if subgraph is not None and s != subgraph:
            continue
        out.append("")
        out.append(f"== subgraph {s}{' ' + repr(sg.name) if sg.name else ''}: "
                   f"{counted(len(sg.operators or []), 'op')}, {counted(len(sg.tensors or []), 'tensor')}")
        for label, idx in (("inputs", sg.inputs or []), ("outputs", sg.outputs or [])):
            for i in idx:
                out.append(f"  {label[:-1]:6s} #{i} {tensor_text(sg.tensors[i])}")
        rows = []
        for i, op in enumerate(sg.operators or []):
            name = model.op_name(op)
            if op_re and not op_re.search(name):
                continue
            code = model.opcode(op)
            ins = ",".join("-" if t < 0 else str(t) for t in op.inputs or [])
            outs = ",".join(str(t) for t in op.outputs or [])
            extra = options_text(op.options)
            if op.custom_options is not None:
                extra = (extra + f" custom_options={len(op.custom_options)}B").strip()
            rows.append((i, name, code.version, f"{ins} -> {outs}", extra))
        out.append("")
        out.append(format_table(("#", "op", "ver", "inputs -> outputs", "options"), rows) if rows or not op_re
                   else f"  no op type matches --ops {ops!r}")
        if show_tensors:
            rows = []
            for t in sg.tensors or []:
                if t_re and not t_re.search(t.name or ""):
                    continue
                q = t.quantization.describe() if t.quantization is not None else ""
                kind = "const" if t.is_constant else ("var" if t.is_variable else "")
                rows.append((t.index, shorten(t.name or "", name_width), t.type_name, list(t.shape or []), t.data_bytes or t.nbytes, kind, q))
            out.append("")
            out.append(format_table(("#", "name", "dtype", "shape", "bytes", "kind", "quantization"), rows)
                       if rows or not t_re else f"  no tensor name matches --tensors {tensors!r}")
    out.append("")
    out.append(f"size: {sizes.file:,} bytes = weights {sizes.weights:,} + graph {sizes.graph:,} "
               f"(of which names {sizes.names:,}) + metadata {sizes.metadata:,}"
               + (f" + unreferenced buffers {sizes.unreferenced:,}" if sizes.unreferenced else ""))
    return "\n".join(out)


def model_json(model: Model, *, ops: str | None = None, tensors: str | None = None,
               subgraph: int | None = None) -> dict:
    """The whole model as JSON-ready dicts (weights as byte counts) plus derived, readable fields. ``subgraph``:
    keep only that subgraph's entry in "subgraphs" (each keeps its "index")."""
    doc = to_json(model, max_bytes=0)
    doc["sizes"] = size_breakdown(model).to_dict()
    for oc, joc in zip(model.operator_codes or [], doc.get("operator_codes") or []):
        # the op this code means: old converters left builtin_code 0 (ADD) and wrote deprecated_builtin_code,
        # and TFLite reads the larger of the two; the raw fields stay as stored
        joc["op"] = oc.name
    op_re, t_re = pattern("--ops", ops), pattern("--tensors", tensors)
    for s, sg in enumerate(model.subgraphs):
        jsg = doc["subgraphs"][s]
        for i, (op, jop) in enumerate(zip(sg.operators or [], jsg.get("operators") or [])):
            jop["index"], jop["op"] = i, model.op_name(op)
            jop["version"] = model.opcode(op).version
        for t, jt in zip(sg.tensors or [], jsg.get("tensors") or []):
            jt["index"], jt["dtype"], jt["bytes"] = t.index, dtypes.name(t.type), t.data_bytes
        if op_re:
            jsg["operators"] = [o for o in jsg.get("operators") or [] if op_re.search(o["op"])]
        if t_re:
            jsg["tensors"] = [t for t in jsg.get("tensors") or [] if t_re.search(t.get("name") or "")]
        jsg["index"] = s
    if subgraph is not None:
        doc["subgraphs"] = [doc["subgraphs"][subgraph]]
    return doc
