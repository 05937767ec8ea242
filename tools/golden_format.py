"""The vocabulary of golden cases (``T``, ``Case``), the model they build and the arrays they store.

A golden case is one single-op .tflite model written with edgequant's writer, run in LiteRT's reference
kernels (``OpResolverType.BUILTIN_REF``) and, on request, in tflite-micro. ``make`` returns the arrays of its
``tests/data/goldens/<name>.npz`` and ``write_case`` stores them; ``tools/make_goldens.py`` is the script that
runs every case of the ``tools/golden_cases_*.py`` modules (its docstring says how to add one).

A tensor, ``T``, is one of:

- a constant: ``data`` holds its contents (stored in the model), e.g. ``T([4, 3], I8, (0.02, 0), data=w)``;
- a fed input with given values: ``feed`` holds them (stored in the .npz), e.g. ``T(feed=x, q=(0.1, 3))``;
- a fed input drawn at make time: only a shape, e.g. ``T([2, 33], range=(-6, 6))``: uniform values in ``range``
  (default -4..4 for floats, the whole range for integers) from the case's own generator ``rng_for(name +
  "/inputs")``, so adding or editing a case leaves every other case's values alone;
- an output: a shape, or none to take the one LiteRT computes (the model is then built twice);
- a variable (``variable=True``, an empty buffer) or ``None`` (an omitted optional input, index -1).

``type`` is a TensorType (``F32``, ``I8``, ... below); left out, it is the dtype of ``data`` or ``feed`` (float32
for float64 values, numpy's default), else float32. ``q`` is ``(scale, zero_point)`` per tensor or ``(scales,
zero_points, axis)`` per channel; one zero point serves every channel.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import edgequant
from edgequant import dtypes
from edgequant.graph import Buffer, Model, Operator, QuantizationParameters, SubGraph, Tensor, write_atomic

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "goldens"

F32, F16, I8, U8, I16, I32, I64, BOOL = (dtypes.FLOAT32, dtypes.FLOAT16, dtypes.INT8, dtypes.UINT8, dtypes.INT16,
                                         dtypes.INT32, dtypes.INT64, dtypes.BOOL)


@dataclass
class T:
    """One tensor of a golden model (see the module docstring for the kinds)."""

    shape: list | None = None  # None: the shape of data/feed (inputs) or the one LiteRT computes (outputs)
    type: int | None = None  # TensorType; None: the dtype of data/feed (float64: float32), else float32
    q: tuple | None = None  # (scale, zero_point) or (scales, zero_points, axis)
    data: Any = None  # a constant's contents (values stored for a sparse constant: see sparsity)
    feed: Any = None  # a fed input's values; None: drawn at make time
    range: tuple | None = None  # (lo, hi) of a drawn input's values, both included for integers
    name: str = ""  # default in<k>, out<k>, inter<k>
    variable: bool = False
    sparsity: Any = None  # SparsityParameters of a sparse constant; shape is then the dense shape

    @property
    def fed(self) -> bool:
        return self.data is None and not self.variable


@dataclass
class Case:
    """One golden case: a model of the single op ``op`` and how to make and check its outputs."""

    name: str  # the .npz file name: unique
    op: str  # BuiltinOperator name
    inputs: list  # of T or None
    outputs: list
    options: Any = None  # builtin_options node (edgequant.graph.new_node)
    options2: Any = None  # builtin_options_2 node
    version: int = 1
    custom: str | None = None  # custom_code of the operator code
    intermediates: list = field(default_factory=list)
    batch: bool | None = None  # run() may stack the case along axis 0; None: every fed input has a leading 1
    ref: str = "litert"  # runtime of out0..: "tflm" where LiteRT's reference kernel is known to be wrong
    tflm: bool = False  # also store tflite-micro's outputs as tflm_out0.. (tflite-micro must run the model)
    expect: Any = None  # out0 must equal this (a case that encodes a known answer)


def tensor_type(t: T) -> int:
    if t.type is not None:
        return t.type
    values = t.data if t.data is not None else t.feed
    if values is None or np.asarray(values).dtype == np.float64:  # numpy's default float: meant as float32
        return F32
    return dtypes.from_numpy(np.asarray(values).dtype)


def _shape(t: T) -> list:
    if t.shape is not None:
        return list(t.shape)
    values = t.data if t.data is not None else t.feed
    return list(np.shape(values)) if values is not None else []


def _qparams(q: tuple | None) -> QuantizationParameters | None:
    if q is None:
        return None
    scale, zp, *axis = q
    sc = np.atleast_1d(np.asarray(scale, np.float32))
    zps = np.array(np.broadcast_to(np.asarray(zp, np.int64), sc.shape))
    return QuantizationParameters(scale=sc, zero_point=zps, quantized_dimension=axis[0] if axis else 0)


def build(case: Case, out_shapes: list | None = None) -> bytes:
    """The .tflite bytes of ``case``; ``out_shapes`` overrides the outputs' shapes (None: each T's own, or [])."""
    m = Model(version=3, operator_codes=[], subgraphs=[], buffers=[Buffer()], description="edgequant golden")
    sg = SubGraph(tensors=[], operators=[], inputs=[], outputs=[], name="main")
    m.subgraphs.append(sg)

    def add(t: T | None, name: str, shape: list | None = None) -> int:
        if t is None:
            return -1
        buf = 0
        if t.data is not None:
            arr = np.asarray(t.data, dtypes.to_numpy(tensor_type(t)))
            if t.sparsity is None and t.shape is not None:
                arr = arr.reshape(t.shape)
            buf = m.add_buffer(np.ascontiguousarray(arr))
        elif t.variable:
            buf = m.add_buffer(None)
        return sg.add_tensor(Tensor(name=t.name or name, type=tensor_type(t), shape=shape or _shape(t), buffer=buf,
                                    quantization=_qparams(t.q), is_variable=t.variable, sparsity=t.sparsity))

    ins = [add(t, f"in{i}") for i, t in enumerate(case.inputs)]
    outs = [add(t, f"out{i}", list(out_shapes[i]) if out_shapes is not None else None)
            for i, t in enumerate(case.outputs)]
    inter = [add(t, f"inter{i}") for i, t in enumerate(case.intermediates)]
    sg.inputs = [i for i, t in zip(ins, case.inputs) if t is not None and t.fed]
    sg.outputs = outs
    code = m.op_code_index(case.op, case.version, custom_code=case.custom)
    op = Operator(opcode_index=code, inputs=ins, outputs=outs, builtin_options=case.options,
                  intermediates=inter or None)
    if case.options2 is not None:
        op.builtin_options_2 = case.options2
    sg.operators.append(op)
    return edgequant.save(m.bind())


def rng_for(name: str) -> np.random.Generator:
    """A generator seeded by a name: the same values for the same name, whatever else changes."""
    return np.random.default_rng(zlib.crc32(name.encode()))


def out_size(n: int, k: int, stride: int, dil: int, pad: int) -> int:
    """Output length of a window op (conv, pool) along one axis: padding 0 is SAME, 1 is VALID."""
    return (n + stride - 1) // stride if pad == 0 else (n - (k - 1) * dil - 1 + stride) // stride


def random_input(t: T, rng: np.random.Generator) -> np.ndarray:
    dt = dtypes.to_numpy(tensor_type(t))
    if dt.kind == "f":
        lo, hi = t.range or (-4.0, 4.0)
        return rng.uniform(lo, hi, t.shape).astype(dt)
    info = np.iinfo(dt)
    lo, hi = t.range or (info.min, info.max)
    return rng.integers(lo, hi + 1, t.shape).astype(dt)


def feeds_of(case: Case) -> list[np.ndarray]:
    """The values of the fed inputs, in order: given ones as they are, the others drawn (see the docstring)."""
    rng = rng_for(case.name + "/inputs")
    return [np.asarray(t.feed, dtypes.to_numpy(tensor_type(t))) if t.feed is not None else random_input(t, rng)
            for t in case.inputs if t is not None and t.fed]


def run_litert(model: bytes, feeds: list) -> list[np.ndarray]:
    """Outputs of LiteRT's reference kernels (BUILTIN_REF), one invoke."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_content=model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    for d, x in zip(it.get_input_details(), feeds):
        if list(d["shape"]) != list(np.shape(x)):
            it.resize_tensor_input(d["index"], list(np.shape(x)))
    it.allocate_tensors()
    for d, x in zip(it.get_input_details(), feeds):
        it.set_tensor(d["index"], x)
    it.invoke()
    return [it.get_tensor(d["index"]) for d in it.get_output_details()]


def run_tflm(model: bytes, feeds: list, n_out: int, arena_size: int | None = None) -> list[np.ndarray]:
    """Outputs of tflite-micro, one invoke; raises when it cannot run the model."""
    from tflite_micro.python.tflite_micro import runtime

    it = runtime.Interpreter.from_bytes(model, arena_size=arena_size)
    for k, x in enumerate(feeds):
        it.set_input(x, k)
    it.invoke()
    return [np.asarray(it.get_output(k)) for k in range(n_out)]


def make(case: Case) -> dict[str, np.ndarray]:
    """The arrays of ``case``'s .npz: ``model``, ``op``, ``batch``, ``target``, ``in0..``, ``out0..`` and, with
    ``tflm``, ``tflm_out0..``. Raises when a runtime fails or disagrees with what the case states."""
    feeds = feeds_of(case)
    shapes = None
    if any(t.shape is None for t in case.outputs):
        shapes = [list(y.shape) for y in run_litert(build(case), feeds)]
    model = build(case, shapes)
    outs = run_litert(model, feeds)
    if shapes is not None:
        assert [list(y.shape) for y in outs] == shapes, (case.name, "LiteRT output shapes changed", shapes)
    if case.expect is not None:
        assert np.array_equal(outs[0], case.expect), (case.name, "the reference disagrees with the known answer")
    if case.ref == "tflm":
        shapes = [list(y.shape) for y in outs]
        outs = run_tflm(model, feeds, len(outs))
        assert [list(y.shape) for y in outs] == shapes, (case.name, "tflite-micro output shapes differ")
    batch = case.batch
    if batch is None:
        batch = bool(feeds) and all(x.ndim and x.shape[0] == 1 for x in feeds)
    arrays = {"model": np.frombuffer(model, np.uint8), "op": np.array(case.op), "batch": np.array(int(batch)),
              "target": np.array(case.ref)}
    arrays.update({f"in{i}": x for i, x in enumerate(feeds)})
    arrays.update({f"out{i}": y for i, y in enumerate(outs)})
    if case.tflm and case.ref != "tflm":
        arrays.update({f"tflm_out{i}": y for i, y in enumerate(run_tflm(model, feeds, len(outs)))})
    return arrays


def _same(key: str, old: np.ndarray, new: np.ndarray) -> bool:
    if old.dtype == new.dtype and np.array_equal(old, new):
        return True
    # a model stored by an earlier writer is the same model when today's writer lays it out as ours
    return key == "model" and edgequant.save(edgequant.load(old.tobytes())) == new.tobytes()


def _unchanged(path: Path, arrays: dict[str, np.ndarray]) -> bool:
    if not path.exists():
        return False
    with np.load(path, allow_pickle=False) as old:
        return set(old.files) == set(arrays) and all(_same(k, old[k], np.asarray(arrays[k])) for k in old.files)


def write_case(name: str, arrays: dict[str, np.ndarray], out: Path = OUT) -> bool:
    """Write one case file atomically; False (and nothing written) when the stored arrays are the same (the
    model compared as today's writer lays it out, so a change of layout alone rewrites no file)."""
    assert {"model", "op", "batch", "target", "out0"} <= set(arrays), (name, sorted(arrays))
    assert str(arrays["target"]) in ("litert", "tflm"), (name, arrays["target"])
    path = out / f"{name}.npz"
    if _unchanged(path, arrays):
        return False
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    write_atomic(path, buf.getvalue())
    return True
