"""Run one model in edgequant's interpreter and in the real runtimes, and say where they agree.

The reference runtimes (LiteRT's reference kernels, tflite-micro) run in a separate process: some
models crash them (the shared blockwise model aborts LiteRT 2.3.0), and a crash must become a line
in the report, not the end of the caller.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import multiprocessing as mp
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import numpy as np

from ..errors import EdgequantError, UnsupportedError
from ..graph import Model

RUNTIMES = ("litert", "tflm")
_NAMES = {"litert": "LiteRT BUILTIN_REF", "tflm": "tflite-micro"}
CANNOT_MODEL = "edgequant cannot model"  # starts the note of a runtime our interpreter cannot match
_EXTRA = {"litert": ("ai_edge_litert", "litert"), "tflm": ("tflite_micro", "micro")}


@dataclass(frozen=True)
class OutputCheck:
    runtime: str  # "LiteRT BUILTIN_REF" | "tflite-micro"
    output: str
    dtype: str
    samples: int
    exact: bool  # bit for bit (integer) / within 1e-5 of the largest value (float)
    max_abs_diff: float
    mismatched: int
    total: int
    error: str = ""  # why no comparison was made: the runtime refused or crashed, or edgequant cannot model it
    note: str = ""  # tflite-micro rows: the first error `edgequant mcu` finds, which often explains a difference

    def to_dict(self) -> dict:
        return asdict(self)


def _run_reference(runtime: str, blob: bytes, inputs: list[np.ndarray], n: int, n_out: int,
                   b0: list[int]) -> list[np.ndarray]:
    """Runs in a child process: every sample (``b0[i]`` rows of input i) through the runtime, one invoke each."""
    import io
    import os
    import sys

    outs: list[list[np.ndarray]] = []
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)  # the runtimes' C++ logging
    sys.stdout = io.StringIO()
    if runtime == "litert":
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        it = Interpreter(model_content=blob, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
        it.allocate_tensors()
        ins, ods = it.get_input_details(), it.get_output_details()
        for k in range(n):
            for d, x, b in zip(ins, inputs, b0):
                it.set_tensor(d["index"], x[k * b:(k + 1) * b].reshape(d["shape"]))
            it.invoke()
            outs.append([it.get_tensor(d["index"]).copy() for d in ods])
    else:
        from tflite_micro.python.tflite_micro import runtime as tm

        it = tm.Interpreter.from_bytes(blob)
        for k in range(n):
            for i, (x, b) in enumerate(zip(inputs, b0)):
                it.set_input(x[k * b:(k + 1) * b], i)
            it.invoke()
            outs.append([it.get_output(j).copy() for j in range(n_out)])
    return [np.concatenate(col) for col in zip(*outs)]


# The interpreter's context "subgraph S op O (NAME; inputs '...'; outputs '...'): why"; a table note needs O, NAME, why
_WHERE = re.compile(r"subgraph \d+ op (\d+) \(([^;]+); inputs .*?; outputs (?:'[^']*'(?:, )?)*\): (.*)", re.DOTALL)


def _short(e: Exception) -> str:
    m = _WHERE.fullmatch(str(e))
    return f"op {m[1]} {m[2]}: {m[3]}" if m else str(e)


_MAX_RANDOM_BYTES = 4 << 30  # random inputs larger than this are a corrupt shape or a typo in -n


def _shape_inputs(model: Model) -> dict[int, list[int]]:
    """Model inputs that are an op's output shape (TRANSPOSE_CONV's output_shape, RESHAPE's new shape): {input
    tensor index: the op's static output shape}. Random values there make the runtimes fail or disagree for
    reasons of their own, not compute anything."""
    sg = model.main
    inputs = set(sg.inputs or [])
    out: dict[int, list[int]] = {}
    for op in sg.operators or []:
        slot = {"TRANSPOSE_CONV": 0, "RESHAPE": 1}.get(model.op_name(op))
        ins = op.inputs or []
        if slot is None or slot >= len(ins) or ins[slot] not in inputs:
            continue
        t, shape = sg.tensors[ins[slot]], list(sg.tensors[op.outputs[0]].shape or [])
        if t.dtype.kind in "iu" and math.prod(t.shape or [1]) == len(shape):
            out[ins[slot]] = shape
    return out


def random_inputs(model: Model, n: int, seed: int = 0) -> list[np.ndarray]:
    """``n`` random samples per input: standard normal for float, the full range for integers; an input that is
    an op's output shape holds that shape."""
    rng = np.random.default_rng(seed)
    xs = []
    shapes = _shape_inputs(model)
    for i in model.main.inputs or []:
        t = model.main.tensors[i]
        if i in shapes:
            xs.append(np.tile(np.asarray(shapes[i], t.dtype).reshape(list(t.shape or [1])), [n] + [1] * (
                len(t.shape or [1]) - 1)))
            continue
        dims = list(t.shape or [1])
        shape = [n * max(dims[0], 1)] + dims[1:]
        size = math.prod(shape) * t.dtype.itemsize
        if size > _MAX_RANDOM_BYTES:
            raise EdgequantError(f"input {i} '{t.name}' has shape {dims}: {n} random samples would take "
                                 f"{size / 2**30:.3g} GiB (a corrupt shape, or give fewer samples)")
        if t.dtype.kind in "iu":
            info = np.iinfo(t.dtype)
            xs.append(rng.integers(max(info.min, -32768), min(info.max, 32767), shape, endpoint=True).astype(t.dtype))
        else:
            xs.append(rng.standard_normal(shape).astype(t.dtype))
    return xs


def crosscheck(model: Model, inputs: list[np.ndarray], runtimes=RUNTIMES, *, blob: bytes | None = None,
               status: Callable[[str], None] | None = None) -> list[OutputCheck]:
    """Compare edgequant's outputs with each runtime's, output by output, on the same samples.

    ``blob``: the model's file bytes, when the runtimes should read exactly those (default: ``save(model)``,
    which reflects any edit made to ``model`` since it was loaded). ``status``: called with what runs next
    ("edgequant for tflite-micro, 200 samples"), for a progress line.

    Each runtime runs in a child process started with "spawn" (a runtime that crashes cannot take the caller
    down), so a script that calls this must keep its top-level code under ``if __name__ == "__main__":``, or the
    child re-runs it.
    """
    import importlib.util
    import warnings

    from ..interpreter import Interpreter

    if blob is None:
        from ..graph import save

        blob = save(model)
    sg = model.main
    b0 = [max(int((sg.tensors[i].shape or [1])[0]), 1) for i in sg.inputs or []]
    n = len(inputs[0]) // b0[0] if inputs else 1
    names = [sg.tensors[i].name or f"tensor {i}" for i in sg.outputs or []]
    checks: list[OutputCheck] = []
    for rt in runtimes:
        label = _NAMES[rt]
        module, extra = _EXTRA[rt]
        if importlib.util.find_spec(module) is None:
            checks.append(OutputCheck(label, "", "", 0, False, 0.0, 0, 0,
                                      f"not installed: pip install 'edgequant[{extra}]'"))
            continue
        if status is not None:
            status(f"edgequant's interpreter as {label}, {n} sample{'s' if n != 1 else ''}")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ours = Interpreter(model, target=rt).run(inputs)
        except UnsupportedError as e:  # our limit, not the runtime's: say so in its row, run the others
            checks.append(OutputCheck(label, "", "", n, False, 0.0, 0, 0, f"{CANNOT_MODEL} {label} here: {_short(e)}"))
            continue
        if status is not None:
            status(f"{label}, {n} sample{'s' if n != 1 else ''}")
        try:
            with cf.ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
                theirs = pool.submit(_run_reference, rt, blob, inputs, n, len(names), b0).result(timeout=600)
        except cf.process.BrokenProcessPool:
            checks.append(OutputCheck(label, "", "", n, False, 0.0, 0, 0, f"{label} crashed on this model"))
            continue
        except Exception as e:  # noqa: BLE001 - the runtime refused the model: its first line says why
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
            checks.append(OutputCheck(label, "", "", n, False, 0.0, 0, 0, f"{label} cannot run it: {first}"))
            continue
        for name, got, want in zip(names, ours, theirs):
            got = np.asarray(got).reshape(want.shape) if got.size == want.size else np.asarray(got)
            if got.shape != want.shape:
                checks.append(OutputCheck(label, name, str(want.dtype), n, False, float("inf"), want.size, want.size,
                                          f"shape {list(got.shape)} vs {list(want.shape)}"))
                continue
            diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
            if want.dtype.kind in "iub":
                bad = int(np.count_nonzero(diff))
                exact = bad == 0
            else:
                tol = 1e-5 * max(float(np.abs(want).max(initial=0.0)), 1e-30)
                bad = int(np.count_nonzero(diff > tol))
                exact = bad == 0
            checks.append(OutputCheck(label, name, str(want.dtype), n, exact, float(diff.max(initial=0.0)), bad,
                                      int(want.size)))
    note = _lint_note(model) if "tflm" in runtimes else ""
    if note:
        checks = [replace(c, note=note) if c.runtime == _NAMES["tflm"] else c for c in checks]
    note = _litert_note(model) if "litert" in runtimes else ""
    if note:
        checks = [replace(c, note=note) if c.runtime == _NAMES["litert"] and not c.exact and not c.note else c
                  for c in checks]
    return checks


def _litert_note(model: Model) -> str:
    """A known LiteRT 2.3.0 reference-kernel bug the model runs into (``""`` when none), for its row when the
    outputs differ: the row should not read as edgequant being wrong."""
    for o, op in enumerate(model.main.operators or []):
        if model.op_name(op) != "BATCH_MATMUL" or len(op.inputs or []) < 2:
            continue
        rhs = model.main.tensors[op.inputs[1]]
        q = rhs.quantization
        if rhs.dtype == np.int8 and q is not None and q.scale is not None and len(q.scale) > 1:
            return (f"LiteRT 2.3.0 bug at op {o} BATCH_MATMUL: with a per-channel int8 rhs its reference kernel "
                    f"reads one legacy per-tensor scale (0 here); edgequant applies one per column")
    return ""


def _lint_note(model: Model) -> str:
    """The first kind of error `edgequant mcu` reports for the model (``""`` when none): why tflite-micro refuses it,
    or computes something else (a per-channel DEQUANTIZE uses only the first scale, silently)."""
    from ..errors import EdgequantError
    from .lint import describe_group, error_groups

    try:
        errors = error_groups(model)
    except EdgequantError:  # a model the lint cannot read still gets its comparison
        return ""
    if not errors:
        return ""
    g = errors[0]
    more = f" (+{len(errors) - 1} more: edgequant mcu)" if len(errors) > 1 else ""
    return f"mcu lint: {g[0].rule} at {describe_group(g)}: {g[0].message}{more}"
