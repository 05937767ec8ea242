"""A numpy interpreter for TFLite models, bit-exact with LiteRT's reference kernels on integer paths.

>>> import numpy as np, edgequant as eq
>>> it = eq.Interpreter("model.tflite")
>>> y = it.run([np.zeros((32, 49, 10, 1), np.int8)])[0]        # 32 samples, whatever the model's batch
>>> ys, inter = it.run([x], keep_intermediates=True)            # inter: {tensor index: array}

The LiteRT-style calls (``get_input_details``, ``set_tensor``, ``invoke``, ``get_tensor``,
``resize_tensor_input``, ``tensor``, ``get_signature_runner``) work too (Interpreter's docstring says how
shapes differ from LiteRT). Every operator is prepared once (shapes, dtypes, multipliers checked and
derived; ops whose inputs are all constant, such as float16 weights behind DEQUANTIZE, are computed then
and become constants); ``invoke``/``run`` then only call each kernel's ``eval``.

Bit-exactness: ``Interpreter(m)`` matches ai-edge-litert's reference kernels (``BUILTIN_REF``);
``Interpreter(m, target="tflm")`` matches tflite-micro. The two differ in places (LiteRT 2.3.0 rounds
FULLY_CONNECTED's requantization once and CONV_2D's twice; tflite-micro rounds twice everywhere and
implements int8 LOGISTIC/TANH in fixed point rather than with LiteRT's float-built table), so pick
the runtime you deploy on. Float outputs agree within float32 rounding of a different summation order.

Non-standard models: a rank-1 per-channel tensor whose quantized_dimension is out of range (tflite-micro's
person_detect biases) runs with a warning naming the tensor (LiteRT refuses it, tflite-micro accepts
it); custom ops need ``register_custom(name, fn)``, otherwise an UnsupportedError names the op.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import dtypes
from ._words import counted
from .errors import EdgequantError, UnsupportedError
from .graph import Model, Tensor, channel_axis, load, load_file
from .kernels import Kernel, OpContext, load_all

CustomFn = Callable[[list, Any], Sequence[np.ndarray]]

_MALLOC_TRIM: Any = None  # what run() calls after its chunks once it tuned the allocator; False when not available
_HEAP_KEEP = 64 << 20  # free heap bytes a run() may leave behind for the next one


def _tuned_heap() -> Any:
    """Keep freed memory in the heap between run()'s chunks (glibc), and return the release to call after.

    Every chunk allocates the same few MB of fresh arrays. glibc's default thresholds return freed
    top-of-heap memory to the OS and serve large arrays with mmap, so each chunk page-faults its whole
    working set again (about 230 MB of faults per 250 VWW inputs, a third of the run time). Raising
    M_MMAP_THRESHOLD to 32 MB and M_TRIM_THRESHOLD to 256 MB keeps that memory for the next chunk.
    After its chunks run() gives the memory back with malloc_trim(0) only when more than 64 MB of the
    heap is free (glibc's mallinfo2): trimming a few MB after every call made the next call fault them
    in again (2,900 faults, 11% of a 250-input KWS run). This is process-wide (glibc only; other
    allocators are left alone); set EDGEQUANT_MALLOC_TUNING=0 to opt out."""
    global _MALLOC_TRIM
    if _MALLOC_TRIM is None:
        _MALLOC_TRIM = False
        if os.environ.get("EDGEQUANT_MALLOC_TUNING", "1") != "0" and sys.platform.startswith("linux"):
            try:
                import ctypes

                libc = ctypes.CDLL(None)
                mallopt, trim = libc.mallopt, libc.malloc_trim
                m_trim_threshold, m_mmap_threshold = -1, -3
                if mallopt(m_mmap_threshold, 32 << 20) and mallopt(m_trim_threshold, 256 << 20):
                    _MALLOC_TRIM = _release(libc, trim)
            except (OSError, AttributeError):
                pass
    return _MALLOC_TRIM or None


def _release(libc: Any, trim: Any) -> Callable[[], None]:
    """malloc_trim(0) when the heap holds more than _HEAP_KEEP free bytes; always, without mallinfo2."""
    import ctypes

    class Mallinfo2(ctypes.Structure):
        _fields_ = [(f, ctypes.c_size_t) for f in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                   "fsmblks", "uordblks", "fordblks", "keepcost")]

    info = getattr(libc, "mallinfo2", None)  # glibc >= 2.33
    if info is None:
        return lambda: trim(0)
    info.restype = Mallinfo2

    def release() -> None:
        if info().fordblks > _HEAP_KEEP:
            trim(0)

    return release


def _reset_value(t: Tensor) -> int:
    """What a variable tensor starts as: TFLite's ResetVariableTensor memsets int8 ones to their zero
    point and everything else to 0."""
    qp = t.quantization
    if t.type == dtypes.INT8 and qp is not None and qp.zero_point is not None and len(qp.zero_point):
        return int(qp.zero_point[0])
    return 0


@dataclass
class _Step:
    index: int
    name: str
    kernel: Any
    params: Any
    inputs: list[int]
    outputs: list[int]
    state: list[int]  # tensor indices overwritten by the op (variable tensors), after the outputs


class _CustomKernel(Kernel):
    """Wraps a user function ``fn(inputs, op) -> outputs`` registered with ``register_custom``."""

    def __init__(self, fn: CustomFn):
        self.fn = fn

    def prepare(self, ctx: OpContext, op: Any) -> Any:
        return op

    def eval(self, params: Any, inputs: list) -> list:
        return list(self.fn(inputs, params))


class _Plan:
    """One prepared subgraph."""

    def __init__(self, model: Model, sg_index: int, custom: Mapping[str, CustomFn], target: str):
        self.model = model
        self.sg_index = sg_index
        self.sg = model.subgraphs[sg_index]
        self.steps: list[_Step] = []
        registry = load_all()
        tensors = self.sg.tensors or []
        self.constants: dict[int, np.ndarray] = {}
        graph_inputs = set(self.sg.inputs or [])
        for i, t in enumerate(tensors):
            if not t.is_variable and t.is_constant and i not in graph_inputs:
                self.constants[i] = t.numpy()
        self.variables = [i for i, t in enumerate(tensors) if t.is_variable]
        self.folded: list[int] = []  # outputs of ops computed at prepare time (all inputs constant)
        for o, op in enumerate(self.sg.operators or []):
            name = model.op_name(op)
            if name.startswith("CUSTOM:"):
                fn = custom.get(name[7:])
                if fn is None:
                    raise UnsupportedError(f"subgraph {sg_index} op {o}: custom op '{name[7:]}' has no kernel; "
                                           f"register one with Interpreter.register_custom('{name[7:]}', fn)")
                k: Any = _CustomKernel(fn)
            else:
                k = registry.get(name)
                if k is None:
                    raise UnsupportedError(f"subgraph {sg_index} op {o} ({name}): no kernel for this op")
            ctx = OpContext(model, self.sg, op, o, name, target, self.constants)
            try:
                params = k.prepare(ctx, op)
            except EdgequantError as e:
                raise type(e)(f"{self.where(o, name, op)}: {e}") from None
            state = list(getattr(params, "state_inputs", ()) or ())
            step = _Step(o, name, k, params, list(op.inputs or []), list(op.outputs or []),
                         [op.inputs[s] for s in state])
            ins = [i for i in op.inputs or [] if i >= 0]
            if ins and not state and all(i in self.constants for i in ins) and not name.startswith("CUSTOM:"):
                # every input is constant: compute once now (e.g. float16 weights -> DEQUANTIZE)
                tmp = dict(self.constants)
                self._run_step(step, tmp)
                for i in step.outputs:
                    if i >= 0:
                        self.constants[i] = tmp[i]
                        self.folded.append(i)
                continue
            self.steps.append(step)
        self.batchable = all(getattr(s.params, "batchable", True) for s in self.steps)
        # run() drops each intermediate after the last step reading it: kept to the end of a chunk, every
        # activation was a fresh allocation (kws: 13 x 2 MB per chunk, more than the caches), whereas a block
        # freed a step earlier is still in cache when malloc hands it out again.
        keep = set(self.sg.outputs or []) | set(self.sg.inputs or []) | set(self.variables) | set(self.constants)
        last: dict[int, int] = {}
        for k, step in enumerate(self.steps):
            for i in step.inputs + step.outputs + step.state:
                if i >= 0 and i not in keep:
                    last[i] = k
        self.dead_after: list[list[int]] = [[] for _ in self.steps]
        for i, k in last.items():
            self.dead_after[k].append(i)
        # Samples per kernel call in run(): big batches thrash the caches (a 250-sample VWW activation is
        # 9 M values), small ones pay Python's per-op cost on every chunk. Keep the largest activation of
        # a chunk near 512 K values (2 MB in float32); counted in values, not bytes, because integer
        # kernels widen int8 to float32/int32 for their GEMMs and sums. Kernels with bigger temporaries
        # (CONV_2D's im2col matrix) split their chunk further themselves.
        biggest = 1
        for i, t in enumerate(tensors):
            if i not in self.constants and t.shape:
                biggest = max(biggest, int(np.prod(t.shape[1:], dtype=np.int64)))
        self.chunk = int(min(max((1 << 19) // biggest, 1), 512))

    def where(self, o: int, name: str, op: Any) -> str:
        tensors = self.sg.tensors or []
        ins = ", ".join(f"'{tensors[i].name}'" for i in op.inputs or [] if i >= 0)
        outs = ", ".join(f"'{tensors[i].name}'" for i in op.outputs or [] if i >= 0)
        return f"subgraph {self.sg_index} op {o} ({name}; inputs {ins}; outputs {outs})"

    def execute(self, values: dict[int, np.ndarray], drop: bool = False) -> None:
        """Run every step, reading and writing ``values`` (tensor index -> array). ``drop``: remove each
        intermediate from ``values`` once no later step reads it (graph inputs, outputs and variables stay)."""
        if not drop:
            for step in self.steps:
                self._run_step(step, values)
            return
        for step, dead in zip(self.steps, self.dead_after):
            self._run_step(step, values)
            for i in dead:
                values.pop(i, None)

    def _run_step(self, step: _Step, values: dict[int, np.ndarray]) -> None:
        try:
            ins = [None if i < 0 else values[i] for i in step.inputs]
        except KeyError as e:
            t = self.sg.tensors[e.args[0]]
            raise EdgequantError(f"{self.where(step.index, step.name, self.sg.operators[step.index])}: "
                                 f"input tensor {e.args[0]} '{t.name}' has no value (not set?)") from None
        try:
            outs = step.kernel.eval(step.params, ins)
        except EdgequantError as e:
            raise type(e)(f"{self.where(step.index, step.name, self.sg.operators[step.index])}: {e}") from None
        except (ValueError, IndexError, TypeError, FloatingPointError) as e:
            raise EdgequantError(f"{self.where(step.index, step.name, self.sg.operators[step.index])}: "
                                 f"{type(e).__name__}: {e}") from None
        n = len(step.outputs)
        for i, v in zip(step.outputs, outs[:n]):
            if i >= 0:
                values[i] = v
        for i, v in zip(step.state, outs[n:]):
            values[i] = v


def _details(t: Tensor, index: int, shape: Sequence[int] | None = None) -> dict:
    """LiteRT's tensor-details dict for one tensor; ``shape``: the shape in use when not the model's."""
    qp = t.quantization
    sc = np.asarray(qp.scale, np.float32) if qp is not None and qp.scale is not None else np.zeros(0, np.float32)
    zp = (np.asarray(qp.zero_point, np.int32) if qp is not None and qp.zero_point is not None
          else np.zeros(0, np.int32))
    qdim = int(qp.quantized_dimension) if qp is not None else 0
    legacy = (float(sc[0]), int(zp[0]) if zp.size else 0) if sc.size == 1 else (0.0, 0)
    try:
        dt = dtypes.to_numpy(t.type).type
    except UnsupportedError:
        dt = np.object_
    shape = list(t.shape or []) if shape is None else list(shape)
    sig = list(t.shape_signature) if t.shape_signature is not None else shape  # LiteRT: no signature, the dims
    return {
        "name": t.name or "", "index": index, "shape": np.array(shape, np.int32),
        "shape_signature": np.array(sig, np.int32), "dtype": dt, "quantization": legacy,
        "quantization_parameters": {"scales": sc, "zero_points": zp, "quantized_dimension": qdim,
                                    "block_size": int(getattr(getattr(qp, "details", None), "block_size", 0) or 0)},
        "sparsity_parameters": {},
    }


class Interpreter:
    """Run a TFLite model with numpy (see the module docstring).

    ``model_or_path``: a path, .tflite bytes or a loaded :class:`edgequant.Model`.
    ``target``: the runtime to match bit for bit on integer paths. ``"litert"`` (default):
    ai-edge-litert's reference kernels (OpResolverType.BUILTIN_REF; pinned by the golden cases on
    2.3.0, whose kernels mix single and double rounding in MultiplyByQuantizedMultiplier);
    ``"tflm"``: tflite-micro's reference kernels (gemmlowp double rounding throughout).

    Shapes, and where this differs from LiteRT:

    - ``set_tensor`` takes an array of any size along the dimensions shape_signature marks -1 (usually the
      batch) without ``resize_tensor_input`` first; LiteRT raises "Dimension mismatch" there. Kept because it was
      public behaviour and the -1 already says the dimension is free (no caller in this repository depends on it:
      the CLI, analysis.crosscheck, the quantizer and the golden cases feed the model's shapes). Such a call is
      a resize: ``get_input_details`` reports the shape given, and outputs report what the next ``invoke``
      gives them, as LiteRT's details do after resize_tensor_input + allocate_tensors + invoke.
    - ``resize_tensor_input(i, shape, strict=False)`` is there for LiteRT code and for fixed-batch models. Before
      the next invoke, tensors whose shape_signature starts with -1 report the new batch; after it every tensor
      reports the shape it has. LiteRT keeps the old shape until invoke for outputs it sizes at run time
      (digits_cnn's, behind SHAPE -> RESHAPE); we report the new batch at once. A fixed dimension other than
      the batch cannot be resized (LiteRT tries, and fails or not at allocate_tensors): the kernels are
      prepared for the model's shapes.
    - ``tensor(i)()`` returns the array the interpreter holds, not a view of an arena: fill an input through it
      as with LiteRT, and call it again after each invoke.
    - ``run()`` ignores all of this: it takes any number of samples along axis 0, whatever the shapes set.
    """

    def __init__(self, model_or_path: Model | str | os.PathLike | bytes, target: str = "litert"):
        if target not in ("litert", "tflm"):
            raise EdgequantError(f"target must be 'litert' or 'tflm', not {target!r}")
        self.target = target
        if isinstance(model_or_path, Model):
            self.model = model_or_path
        elif isinstance(model_or_path, (bytes, bytearray, memoryview)):
            self.model = load(model_or_path)
        else:
            self.model = load_file(model_or_path)
        self._custom: dict[str, CustomFn] = {}
        self._plans: dict[int, _Plan] = {}
        self._values: dict[int, dict[int, np.ndarray]] = {}
        self._resized: dict[int, dict[int, tuple[int, ...]]] = {}  # subgraph -> {input: shape in use, not the model's}
        self._invoked: set[int] = set()  # subgraphs invoked since their input shapes last changed
        self._warn_nonstandard()

    # -- preparation ---------------------------------------------------------------------------

    def register_custom(self, name: str, fn: CustomFn) -> None:
        """Provide ``fn(inputs, op) -> [outputs]`` for custom op ``name`` (e.g. 'ethos-u')."""
        self._custom[name] = fn
        self._plans.clear()

    def allocate_tensors(self) -> None:
        """Prepare the main subgraph now (otherwise done on first use). Not needed after ``resize_tensor_input``
        (which checks the new shape itself) but harmless, so LiteRT code runs unchanged."""
        self._plan(0)

    def _plan(self, sg_index: int) -> _Plan:
        plan = self._plans.get(sg_index)
        if plan is None:
            if not 0 <= sg_index < len(self.model.subgraphs):
                raise EdgequantError(f"subgraph {sg_index} does not exist ({len(self.model.subgraphs)} subgraphs)")
            plan = self._plans[sg_index] = _Plan(self.model, sg_index, self._custom, self.target)
            self._values[sg_index] = self._initial_values(plan)
        return plan

    def _initial_values(self, plan: _Plan) -> dict[int, np.ndarray]:
        vals: dict[int, np.ndarray] = dict(plan.constants)
        for i in plan.variables:
            t = plan.sg.tensors[i]
            stored = t.numpy() if t.is_constant else None
            vals[i] = np.array(stored) if stored is not None else np.full(t.shape or [], _reset_value(t),
                                                                          dtypes.to_numpy(t.type))
        return vals

    def reset_all_variables(self) -> None:
        for s, plan in self._plans.items():
            for i in plan.variables:
                self._values[s][i] = self._initial_values(plan)[i]

    def _warn_nonstandard(self) -> None:
        for s, t in self.model.tensors():
            qp = t.quantization
            if qp is None or qp.scale is None or len(qp.scale) <= 1:
                continue
            shape = list(t.shape or [])
            if not 0 <= qp.quantized_dimension < len(shape):
                axis = channel_axis(t)  # raises ModelFormatError if it cannot be resolved
                warnings.warn(f"subgraph {s} tensor {t.index} '{t.name}': quantized_dimension "
                              f"{qp.quantized_dimension} is out of range for shape {shape} (LiteRT rejects this "
                              f"model; tflite-micro accepts it); using axis {axis}", stacklevel=3)

    # -- LiteRT-style API ----------------------------------------------------------------------

    def get_input_details(self, subgraph: int = 0) -> list[dict]:
        sg = self.model.subgraphs[subgraph]
        return [_details(sg.tensors[i], i, self._shape(subgraph, i)) for i in sg.inputs or []]

    def get_output_details(self, subgraph: int = 0) -> list[dict]:
        sg = self.model.subgraphs[subgraph]
        return [_details(sg.tensors[i], i, self._shape(subgraph, i)) for i in sg.outputs or []]

    def get_tensor_details(self, subgraph: int = 0) -> list[dict]:
        sg = self.model.subgraphs[subgraph]
        return [_details(t, i, self._shape(subgraph, i)) for i, t in enumerate(sg.tensors or [])]

    def _shape(self, subgraph: int, index: int) -> list[int]:
        """The shape tensor ``index`` has now: a resized input's new shape; after an invoke with the current input
        shapes, the shape of the value it computed; before that, the model's shape with the leading dimension
        scaled by the inputs' new sample count where shape_signature marks it -1; otherwise the model's shape."""
        resized = self._resized.get(subgraph, {})
        if index in resized:
            return list(resized[index])
        t = self.model.subgraphs[subgraph].tensors[index]
        shape = list(t.shape or [])
        value = self._values.get(subgraph, {}).get(index)
        if subgraph in self._invoked and value is not None:
            return list(value.shape)
        sig = t.shape_signature
        if resized and shape and sig is not None and len(sig) and sig[0] == -1 and not t.is_constant:
            n = self._sample_count(subgraph)
            if n is not None:
                shape[0] *= n
        return shape

    def _sample_count(self, subgraph: int) -> int | None:
        """How many times the model's batch the resized inputs hold, when they all changed only their leading
        dimension and agree; None otherwise (then other tensors' shapes are known after the next invoke)."""
        sg = self.model.subgraphs[subgraph]
        counts = set()
        for i, new in self._resized.get(subgraph, {}).items():
            old = list(sg.tensors[i].shape or [])
            if len(new) != len(old) or list(new[1:]) != old[1:] or not old or old[0] <= 0 or new[0] % old[0]:
                return None
            counts.add(new[0] // old[0])
        return counts.pop() if len(counts) == 1 else None

    def resize_tensor_input(self, input_index: int, tensor_size: Sequence[int], strict: bool = False,
                            subgraph: int = 0) -> None:
        """Give input ``input_index`` the shape ``tensor_size``, as LiteRT's call does; then feed arrays of that shape
        with ``set_tensor``. The details report the new shape (see ``get_output_details``).

        Dimensions marked -1 in the input's shape_signature can change; with ``strict=False`` so can the leading
        (batch) dimension of a model whose ops all run on any batch and keep no state (LiteRT then re-plans the
        whole graph; we run the same kernels on more rows). Other changes raise, here rather than at
        ``allocate_tensors``: the kernels were prepared for the model's shapes.

        >>> it.resize_tensor_input(it.get_input_details()[0]["index"], [32, 49, 10, 1])
        >>> it.allocate_tensors()   # optional here, required by LiteRT
        """
        plan = self._plan(subgraph)
        sg = plan.sg
        if not isinstance(input_index, (int, np.integer)) or input_index not in (sg.inputs or []):
            raise EdgequantError(f"tensor {input_index!r} is not an input of subgraph {subgraph} "
                                 f"(inputs: {list(sg.inputs or [])})")
        t = sg.tensors[input_index]
        try:
            new = tuple(int(d) for d in tensor_size)
        except (TypeError, ValueError):
            raise EdgequantError(f"resize_tensor_input takes a list of ints, got {tensor_size!r}") from None
        old = list(t.shape or [])
        sig = list(t.shape_signature) if t.shape_signature is not None else old
        if len(new) != len(old):
            raise EdgequantError(f"input tensor {input_index} '{t.name}' has rank {len(old)}; cannot resize it to "
                                 f"{list(new)}")
        batch_ok = not strict and plan.batchable and not plan.variables
        for k, (d, s, g) in enumerate(zip(new, old, sig)):
            if d < 0:
                raise EdgequantError(f"input tensor {input_index} '{t.name}': dimension {k} cannot be {d}")
            if d != s and g != -1 and not (k == 0 and batch_ok):
                why = ("strict resizing changes only dimensions marked -1 in shape_signature" if strict or k else
                       "the model has ops that cannot run on another batch size or keeps state; use run() for batches")
                raise EdgequantError(f"input tensor {input_index} '{t.name}' (shape {old}, shape_signature {sig}) "
                                     f"cannot become {list(new)}: {why}")
        self._use_shape(subgraph, input_index, new)

    def _use_shape(self, subgraph: int, index: int, shape: tuple[int, ...]) -> None:
        """Record that input ``index`` now has ``shape``; other tensors' shapes wait for the next invoke."""
        if list(shape) == self._shape(subgraph, index):
            return
        resized = self._resized.setdefault(subgraph, {})
        if list(shape) == list(self.model.subgraphs[subgraph].tensors[index].shape or []):
            resized.pop(index, None)
        else:
            resized[index] = tuple(shape)
        self._invoked.discard(subgraph)
        values = self._values.get(subgraph, {})
        if index in values and values[index].shape != tuple(shape):
            del values[index]  # the old array no longer fits: invoke asks for a new one rather than run on it

    def set_tensor(self, index: int, value: Any, subgraph: int = 0) -> None:
        """Copy ``value`` into input ``index`` (a copy, as LiteRT makes: refilling your array later changes
        nothing)."""
        plan = self._plan(subgraph)
        value = self._check_input(plan, index, np.array(value), exact=True)
        self._use_shape(subgraph, index, value.shape)
        self._values[subgraph][index] = value

    def get_tensor(self, index: int, subgraph: int = 0) -> np.ndarray:
        plan = self._plan(subgraph)
        try:
            v = self._values[subgraph][index]
        except (KeyError, TypeError):
            if not isinstance(index, (int, np.integer)):
                raise EdgequantError(f"get_tensor takes a tensor index (an int), got {index!r}") from None
            t = self.model.subgraphs[subgraph].tensor(index)
            then = "set it with set_tensor first" if index in (plan.sg.inputs or []) else "call invoke first"
            raise EdgequantError(f"tensor {index} '{t.name}' has no value yet ({then})") from None
        return np.array(v)

    def tensor(self, tensor_index: int, subgraph: int = 0) -> Callable[[], np.ndarray]:
        """LiteRT's ``tensor``: a function returning the array the interpreter holds for the tensor now, not a copy,
        so LiteRT's way of filling an input in place works:

        >>> inp = it.tensor(it.get_input_details()[0]["index"])
        >>> inp()[...] = x          # then it.invoke()

        An input with no value yet gets zeros of its current shape. As with LiteRT, call the function again after
        each ``invoke``/``set_tensor``/``resize_tensor_input`` rather than keeping the array: those replace the
        arrays the interpreter holds. Write only into inputs: an output may share memory with the op's input,
        and constants are read-only views of the model's bytes."""
        plan = self._plan(subgraph)
        if tensor_index in (plan.sg.inputs or []):
            dtype = dtypes.to_numpy(plan.sg.tensors[tensor_index].type)

            def view() -> np.ndarray:
                values = self._values[subgraph]
                if tensor_index not in values:
                    values[tensor_index] = np.zeros(self._shape(subgraph, tensor_index), dtype)
                return values[tensor_index]

            return view

        def value() -> np.ndarray:
            self.get_tensor(tensor_index, subgraph)  # the same errors: bad index, no value yet
            return self._values[subgraph][tensor_index]

        return value

    def invoke(self, subgraph: int = 0) -> None:
        plan = self._plan(subgraph)
        plan.execute(self._values[subgraph])
        self._invoked.add(subgraph)

    def _check_input(self, plan: _Plan, index: int, value: np.ndarray, exact: bool) -> np.ndarray:
        t = plan.sg.tensor(index)
        want = dtypes.to_numpy(t.type)
        if value.dtype != want:
            raise EdgequantError(f"input tensor {index} '{t.name}' needs {want}, got {value.dtype}")
        shape = list(self._resized.get(plan.sg_index, {}).get(index, t.shape or []))
        sig = list(t.shape_signature) if t.shape_signature is not None else list(t.shape or [])
        ok = len(value.shape) == len(shape) and all(
            d == s or g == -1 or (not exact and k == 0) for k, (d, s, g) in enumerate(zip(value.shape, shape, sig)))
        if not ok:
            raise EdgequantError(f"input tensor {index} '{t.name}' has shape {list(shape)}, got {list(value.shape)}")
        return value

    # -- signatures ----------------------------------------------------------------------------

    def get_signature_list(self) -> dict[str, dict[str, list[str]]]:
        return {s.signature_key: {"inputs": [m.name for m in s.inputs or []],
                                  "outputs": [m.name for m in s.outputs or []]}
                for s in self.model.signature_defs or []}

    def get_signature_runner(self, signature_key: str | None = None) -> SignatureRunner:
        sigs = self.model.signature_defs or []
        if not sigs:
            raise EdgequantError("model has no signatures")
        if signature_key is None:
            if len(sigs) > 1:
                raise EdgequantError(f"model has {len(sigs)} signatures; name one of "
                                     f"{[s.signature_key for s in sigs]}")
            return SignatureRunner(self, sigs[0])
        for s in sigs:
            if s.signature_key == signature_key:
                return SignatureRunner(self, s)
        raise EdgequantError(f"no signature '{signature_key}'; the model has {[s.signature_key for s in sigs]}")

    # -- batched run ---------------------------------------------------------------------------

    def run(self, inputs: Sequence[np.ndarray] | Mapping[str | int, np.ndarray], keep_intermediates: bool = False,
            subgraph: int = 0):
        """Run a batch of samples stacked along axis 0 (any count, whatever the model's batch size).

        ``inputs``: a list in input order, or a dict by input tensor name, by the input's name in a signature
        that points at ``subgraph`` (``'image'`` as well as ``'serving_default_image:0'``) or by index. Returns the list
        of outputs (each with the same leading count), or ``(outputs, intermediates)`` with
        ``keep_intermediates``: {tensor index: array} for every tensor an op wrote.
        Variable tensors (stateful ops) carry over from sample to sample and from one call to the next, like
        repeated ``invoke``; for independent sequences (an LSTM classifying each sample on its own) call
        ``reset_all_variables()`` before each run.
        """
        plan = self._plan(subgraph)
        sg = plan.sg
        order = list(sg.inputs or [])
        arrays = self._order_inputs(sg, order, inputs)
        n = None
        per_call: list[int] = []  # each input's rows per sample: its own leading dimension in the model
        for idx, a in zip(order, arrays):
            t = sg.tensors[idx]
            shape = list(t.shape or [])
            if not shape:
                raise EdgequantError(f"input '{t.name}' is a scalar; run() needs a leading batch axis: use invoke()")
            self._check_input(plan, idx, a, exact=False)
            b0 = max(shape[0], 1)
            if a.shape[0] % b0:
                raise EdgequantError(f"input '{t.name}': {a.shape[0]} rows is not a multiple of the model's batch {b0}")
            count = a.shape[0] // b0
            per_call.append(b0)
            if n is None:
                n = count
            elif count != n:
                raise EdgequantError(f"inputs hold different numbers of samples ({n} and {count})")
        n = n or 0
        values = self._values[subgraph]
        if n == 0:
            raise EdgequantError("run() needs at least one sample")
        release = _tuned_heap() if n > max(plan.chunk, 1) else None
        if (plan.batchable and not plan.variables) or n == 1:
            step = max(plan.chunk, 1)
            parts_out: list[list[np.ndarray]] = []
            parts_inter: dict[int, list[np.ndarray]] = {}
            for k in range(0, n, step):
                vals = dict(values)
                vals.update((i, a[k * b:(k + step) * b]) for i, a, b in zip(order, arrays, per_call))
                plan.execute(vals, drop=not keep_intermediates)
                for i in plan.variables:
                    values[i] = vals[i]
                parts_out.append([vals[i] for i in sg.outputs or []])
                if keep_intermediates:
                    for s in plan.steps:
                        for i in s.outputs:
                            if i >= 0:
                                parts_inter.setdefault(i, []).append(vals[i])
            rows = [min(step, n - k) * per_call[0] for k in range(0, n, step)]
            outs, inter = _gather(sg, parts_out, parts_inter if keep_intermediates else None, rows, False)
        else:
            chunks_out: list[list[np.ndarray]] = []
            chunks_inter: dict[int, list[np.ndarray]] = {}
            for k in range(n):
                vals = dict(values)
                vals.update((i, a[k * b:(k + 1) * b]) for i, a, b in zip(order, arrays, per_call))
                plan.execute(vals)
                for i in plan.variables:
                    values[i] = vals[i]
                chunks_out.append([vals[i] for i in sg.outputs or []])
                if keep_intermediates:
                    for s in plan.steps:
                        for i in s.outputs:
                            if i >= 0:
                                chunks_inter.setdefault(i, []).append(vals[i])
            outs, inter = _gather(sg, chunks_out, chunks_inter if keep_intermediates else None, [per_call[0]] * n, True)
        if release is not None:
            release()
        if keep_intermediates:
            return outs, inter
        return outs

    def _order_inputs(self, sg: Any, order: list[int], inputs: Any) -> list[np.ndarray]:
        if inputs is None or isinstance(inputs, (str, bytes)):
            raise EdgequantError(f"run() takes a list of arrays in input order or a dict by input name, got "
                                 f"{type(inputs).__name__}")
        if isinstance(inputs, np.ndarray):
            inputs = [inputs]
        if isinstance(inputs, Mapping):
            by_name = {sg.tensors[i].name: i for i in order}
            by_sig = self._signature_inputs(sg)
            got: dict[int, np.ndarray] = {}
            for k, v in inputs.items():
                idx = k if isinstance(k, (int, np.integer)) else by_name.get(k, by_sig.get(k))
                if idx not in order:
                    sig = f"; signature input names: {list(by_sig)}" if by_sig else ""
                    raise EdgequantError(f"'{k}' is not an input of the model (tensor names: {list(by_name)}{sig})")
                if int(idx) in got:
                    raise EdgequantError(f"input '{sg.tensors[int(idx)].name}' is given twice (by tensor name and by "
                                         "signature name)")
                got[int(idx)] = np.asarray(v)
            missing = [sg.tensors[i].name for i in order if i not in got]
            if missing:
                raise EdgequantError(f"missing inputs: {missing}")
            return [got[i] for i in order]
        arrays = [np.asarray(v) for v in inputs]
        if len(arrays) != len(order):
            raise EdgequantError(f"model has {counted(len(order), 'input')}, got {len(arrays)}")
        return arrays


    def _signature_inputs(self, sg: Any) -> dict[str, int]:
        """{signature input name: tensor index} over the signatures that run subgraph ``sg``."""
        s_index = next(k for k, g in enumerate(self.model.subgraphs) if g is sg)
        return {m.name: m.tensor_index for s in self.model.signature_defs or [] if s.subgraph_index == s_index
                for m in s.inputs or []}


def _gather(sg: Any, outs: list[list[np.ndarray]], inter: dict[int, list[np.ndarray]] | None, rows: list[int],
            per_sample: bool) -> tuple[list[np.ndarray], dict[int, np.ndarray] | None]:
    """The outputs and intermediates of run() from its calls' values (see _join); an intermediate with no single
    value over the whole batch is left out, an output like that is an error."""
    joined = []
    for j, i in enumerate(sg.outputs or []):
        v = _join([c[j] for c in outs], rows, per_sample)
        if v is None:
            raise EdgequantError(f"output '{sg.tensors[i].name}' depends on how many samples run together (a "
                                 "shape, not per-sample values); run the samples one by one with invoke()")
        joined.append(v)
    if inter is None:
        return joined, None
    kept = {i: _join(v, rows, per_sample) for i, v in inter.items()}
    return joined, {i: v for i, v in kept.items() if v is not None}


def _join(parts: list[np.ndarray], rows: list[int], per_sample: bool) -> np.ndarray | None:
    """One tensor's values from run()'s calls (``rows[k]`` input rows in call k) as one array. Calls of one sample
    each (``per_sample``): their values along axis 0, scalars stacked. Calls of several samples: along axis 0 when
    each value has one row per input row; the common value when every call gave the same; otherwise None: the
    value depends on how the batch was split (the SHAPE of a batched tensor), and no single array is right."""
    if len(parts) == 1:
        return parts[0]
    if per_sample:
        return np.stack(parts) if parts[0].ndim == 0 else np.concatenate(parts)
    if all(p.ndim >= 1 and p.shape[0] == r for p, r in zip(parts, rows)):
        return np.concatenate(parts)
    if all(p.shape == parts[0].shape and np.array_equal(p, parts[0]) for p in parts[1:]):
        return parts[0]
    return None


class SignatureRunner:
    """``runner(**inputs) -> {output name: array}`` for one signature, like LiteRT's."""

    def __init__(self, interp: Interpreter, sig: Any):
        self._interp = interp
        self._sig = sig
        self.subgraph = int(sig.subgraph_index)

    def get_input_details(self) -> dict[str, dict]:
        sg, it = self._interp.model.subgraphs[self.subgraph], self._interp
        return {m.name: _details(sg.tensors[m.tensor_index], m.tensor_index, it._shape(self.subgraph, m.tensor_index))
                for m in self._sig.inputs or []}

    def get_output_details(self) -> dict[str, dict]:
        sg, it = self._interp.model.subgraphs[self.subgraph], self._interp
        return {m.name: _details(sg.tensors[m.tensor_index], m.tensor_index, it._shape(self.subgraph, m.tensor_index))
                for m in self._sig.outputs or []}

    def __call__(self, **inputs: Any) -> dict[str, np.ndarray]:
        names = {m.name: m.tensor_index for m in self._sig.inputs or []}
        unknown = set(inputs) - set(names)
        missing = set(names) - set(inputs)
        if unknown or missing:
            raise EdgequantError(f"signature '{self._sig.signature_key}' takes inputs {sorted(names)}; "
                                 f"unknown {sorted(unknown)}, missing {sorted(missing)}")
        for name, v in inputs.items():
            self._interp.set_tensor(names[name], np.asarray(v), subgraph=self.subgraph)
        self._interp.invoke(self.subgraph)
        return {m.name: self._interp.get_tensor(m.tensor_index, self.subgraph) for m in self._sig.outputs or []}
