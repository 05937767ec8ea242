"""Tensor-arena plan for tflite-micro: lifetimes, the greedy plan, its lower bound, persistent bytes.

Reproduces what tflite-micro does when it allocates a model
(tensorflow/lite/micro/micro_allocation_info.cc, micro_allocator.cc,
memory_planner/greedy_memory_planner.cc):

* lifetimes are counted in "allocation scopes": scope 0 is the start of subgraph 0, operator ``i``
  (in execution order) is scope ``i + 1``. Graph inputs and outputs are created at scope 0; an
  operator's outputs are (re)created at its scope; every read extends a buffer's last use; graph
  outputs live to the end. IF / WHILE / CALL_ONCE open new scopes for the subgraphs they call.
* a tensor needs arena space when it has no constant data, is not a variable and has a non-zero
  byte length (product of its shape times the element size); tensors nobody touches still get a
  buffer with lifetime (-1, -1), as in tflite-micro.
* kernel scratch buffers live for the scope of the operator that requested them.
* every size is rounded up to 16 bytes (MicroArenaBufferAlignment) before planning.
* the greedy planner puts buffers in descending size order (a stable bubble sort over the buffers
  listed in reverse order of addition — ties go to the later-added buffer) and first-fits each into
  the lowest gap between already-placed buffers whose lifetimes overlap.

>>> from edgequant.analysis.arena import plan_arena
>>> plan = plan_arena(edgequant.load_file("model.tflite")); plan.planned_bytes
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .. import dtypes
from ..errors import UnsupportedError
from ..graph import Model

ALIGNMENT = 16  # MicroArenaBufferAlignment()
UNUSED = -1  # kUninitializedLifetime


def align_up(n: int, alignment: int = ALIGNMENT) -> int:
    return (n + alignment - 1) // alignment * alignment


@dataclass
class ArenaBuffer:
    """One buffer the planner places: an activation tensor or a kernel scratch buffer."""

    kind: str  # "tensor" or "scratch"
    subgraph: int
    index: int  # tensor index, or operator index for scratch buffers
    name: str
    nbytes: int  # requested bytes
    first: int  # first allocation scope it is alive in (-1: never)
    last: int  # last allocation scope it is alive in
    offset: int = -1  # set by the planner

    @property
    def size(self) -> int:
        """Bytes reserved in the arena (aligned)."""
        return align_up(self.nbytes)


@dataclass
class ArenaPlan:
    buffers: list[ArenaBuffer]
    n_scopes: int  # scopes 0 .. n_scopes - 1
    planned_bytes: int  # the greedy plan's size: tflite-micro's non-persistent "head"
    lower_bound: int  # peak of simultaneously live (aligned) bytes: no plan can use less
    timeline: list[int]  # aligned bytes alive in each scope
    op_names: list[str]  # subgraph 0's operators in execution order (scope i + 1)
    persistent: dict[str, int] = field(default_factory=dict)  # estimated "tail" by category
    better_order: list[int] | None = None  # an operator order with a smaller plan, if found
    better_order_bytes: int | None = None
    order_search: str = ""  # what the order search did

    @property
    def persistent_bytes(self) -> int:
        return sum(self.persistent.values())

    @property
    def total_bytes(self) -> int:
        """Estimated arena_size tflite-micro needs: planned head plus persistent tail."""
        return self.planned_bytes + self.persistent_bytes

    @property
    def peak_scope(self) -> int:
        return max(range(len(self.timeline)), key=lambda t: self.timeline[t]) if self.timeline else 0

    def to_dict(self) -> dict:
        return {
            "planned_bytes": self.planned_bytes, "lower_bound": self.lower_bound,
            "persistent_bytes": self.persistent_bytes, "persistent": dict(self.persistent),
            "total_bytes": self.total_bytes, "peak_scope": self.peak_scope, "timeline": list(self.timeline),
            "better_order": self.better_order, "better_order_bytes": self.better_order_bytes,
            "order_search": self.order_search,
            "buffers": [{"kind": b.kind, "subgraph": b.subgraph, "index": b.index, "name": b.name,
                         "bytes": b.nbytes, "size": b.size, "first": b.first, "last": b.last, "offset": b.offset}
                        for b in self.buffers],
        }


# -- sizes ----------------------------------------------------------------------------------------

def tensor_bytes(t) -> int:
    """TfLiteEvalTensorByteLength: element count (1 for a scalar) times the element size."""
    count = 1
    for d in t.shape or []:
        count *= max(int(d), 0)
    return count * max(dtypes.BITS.get(t.type, 8) // 8, 1)


# -- scratch buffers ------------------------------------------------------------------------------

def scratch_requests(model: Model, sg: int, op_index: int) -> list[int]:
    """Bytes of the scratch buffers tflite-micro's reference kernels request in Prepare for one op.

    Only the reference kernels (what the Python tflite-micro package runs) are modelled; optimised
    kernels (CMSIS-NN, Xtensa) request other sizes, e.g. an im2col buffer for CONV_2D.
    """
    sub = model.subgraphs[sg]
    op = sub.operators[op_index]
    name = model.op_name(op)
    fn = _SCRATCH.get(name)
    return fn(model, sub, op) if fn else []


def _t(sub, idx):
    return sub.tensors[idx] if idx is not None and idx >= 0 else None


def _scratch_transpose_conv(model, sub, op):
    # transpose_conv.cc: int8 and int16 inputs get one int32 (int64 for 16x8) accumulator over the
    # whole output; float needs none.
    x, out = _t(sub, op.inputs[2]), _t(sub, op.outputs[0])
    if x is None or out is None:
        return []
    n = tensor_bytes(out) // max(dtypes.BITS.get(out.type, 8) // 8, 1)
    if x.type == dtypes.INT8:
        return [n * 4]
    if x.type == dtypes.INT16:
        return [n * 8]
    return []


def _scratch_svdf(model, sub, op):
    # svdf_common.cc PrepareSvdf: int32 (float) scratch of batch * num_filters; int8 adds an int32
    # buffer of batch * num_units.
    x, wf = _t(sub, op.inputs[0]), _t(sub, op.inputs[1])
    if x is None or wf is None or len(x.shape or []) < 1 or len(wf.shape or []) < 1:
        return []
    batch, filters = int(x.shape[0]), int(wf.shape[0])
    rank = max(int(getattr(op.options, "rank", 1) or 1), 1)
    if x.type == dtypes.INT8:
        return [batch * filters * 4, batch * (filters // rank) * 4]
    return [batch * filters * 4]


def _scratch_sequence_lstm(model, sub, op):
    # unidirectional_sequence_lstm.cc: four gate buffers, each the size of the cell state.
    cell = _t(sub, op.inputs[19]) if len(op.inputs or []) > 19 else None
    return [tensor_bytes(cell)] * 4 if cell is not None else []


_SCRATCH = {
    "TRANSPOSE_CONV": _scratch_transpose_conv,
    "SVDF": _scratch_svdf,
    "UNIDIRECTIONAL_SEQUENCE_LSTM": _scratch_sequence_lstm,
}


# -- lifetimes ------------------------------------------------------------------------------------

_CONTROL_FLOW = {
    "IF": ("then_subgraph_index", "else_subgraph_index"),
    "WHILE": ("cond_subgraph_index", "body_subgraph_index"),
    "CALL_ONCE": ("init_subgraph_index",),
}


def lifetimes(model: Model, order: Sequence[int] | None = None) -> tuple[list[ArenaBuffer], int]:
    """Every buffer tflite-micro would plan, with its (first, last) allocation scopes.

    ``order``: subgraph 0's operators in the order to run them (default: as stored). Returns the
    buffers in the order tflite-micro adds them to the planner (tensors of every subgraph, then
    scratch buffers) and the number of scopes.
    """
    subs = model.subgraphs or []
    tensor_bufs: list[list[ArenaBuffer | None]] = []
    for s, sub in enumerate(subs):
        row: list[ArenaBuffer | None] = []
        for i, t in enumerate(sub.tensors or []):
            nbytes = tensor_bytes(t)
            needs = (not t.is_constant) and (not t.is_variable) and nbytes != 0
            row.append(ArenaBuffer("tensor", s, i, t.name or f"tensor{i}", nbytes, UNUSED, UNUSED) if needs else None)
        tensor_bufs.append(row)
    scratch: list[ArenaBuffer] = []
    scope = 0

    def created(b, at):
        if b is not None:
            b.first = b.last = at

    def used(b, at):
        if b is not None:
            b.last = at

    def mark(s: int, ops: Sequence[int]) -> None:
        nonlocal scope
        sub = subs[s]
        row = tensor_bufs[s]
        for i in list(sub.inputs or []) + list(sub.outputs or []):
            created(row[i], scope)
        for o in ops:
            scope += 1
            op = sub.operators[o]
            for i in op.outputs or []:
                if i >= 0:
                    created(row[i], scope)
            start = scope
            name = model.op_name(op)
            if name in _CONTROL_FLOW:
                opts = op.options
                for attr in _CONTROL_FLOW[name]:
                    callee = getattr(opts, attr, None) if opts is not None else None
                    if callee is None or not 0 <= callee < len(subs):
                        raise UnsupportedError(f"subgraph {s} op {o} ({name}): no valid {attr}")
                    scope += 1
                    mark(callee, range(len(subs[callee].operators or [])))
            for i in op.inputs or []:
                if i >= 0:
                    used(row[i], scope)
            for i in op.outputs or []:
                if i >= 0:
                    used(row[i], scope)
            for nbytes in scratch_requests(model, s, o):
                scratch.append(ArenaBuffer("scratch", s, o, f"scratch for op {o} ({name})", nbytes, start, scope))
        for i in sub.outputs or []:
            used(row[i], scope)

    ops0 = list(range(len(subs[0].operators or []))) if order is None else list(order)
    mark(0, ops0)
    buffers = [b for row in tensor_bufs for b in row if b is not None]
    # tflite-micro lists scratch buffers in the order the kernels requested them (Prepare runs in
    # stored order, subgraph by subgraph), not in execution order.
    scratch.sort(key=lambda b: (b.subgraph, b.index))
    return buffers + scratch, scope + 1


# -- the greedy planner ---------------------------------------------------------------------------

def greedy_plan(buffers: list[ArenaBuffer]) -> int:
    """Place ``buffers`` as tflite-micro's GreedyMemoryPlanner does; set ``.offset``; return the arena size."""
    n = len(buffers)
    if n == 0:
        return 0
    sizes = [b.size for b in buffers]
    # The planner fills its sort arrays from the tail, so buffer i starts at position n - 1 - i,
    # then a stable bubble sort puts them in descending size order.
    ids = list(range(n - 1, -1, -1))
    ids.sort(key=lambda i: -sizes[i])  # Python's sort is stable, like the bubble sort
    placed: list[tuple[int, int]] = []  # (offset, buffer id), kept sorted by offset (ties: insertion order)
    for rank, bid in enumerate(ids):
        want = buffers[bid]
        offset = 0
        if rank:
            for p_off, pid in placed:
                other = buffers[pid]
                if other.first > want.last or want.first > other.last:
                    continue  # not alive at the same time
                if p_off - offset >= sizes[bid]:
                    break  # the gap before this buffer is big enough
                offset = max(offset, p_off + sizes[pid])
        want.offset = offset
        pos = len(placed)
        for k, (p_off, _) in enumerate(placed):
            if p_off > offset:
                pos = k
                break
        placed.insert(pos, (offset, bid))
    return max(b.offset + b.size for b in buffers)


def live_bytes(buffers: list[ArenaBuffer], n_scopes: int) -> list[int]:
    """Aligned bytes alive in each scope."""
    alive = [0] * n_scopes
    for b in buffers:
        if b.first < 0:
            continue
        for t in range(b.first, b.last + 1):
            alive[t] += b.size
    return alive


# -- persistent ("tail") allocations --------------------------------------------------------------

# Struct sizes on the 64-bit host the Python tflite-micro package runs on (read from the recording
# allocator's report) and on a 32-bit microcontroller (from the struct layouts).
_STRUCTS = {
    8: {"eval_tensor": 24, "tflite_tensor": 64, "affine_quant": 24, "node_and_registration": 64,
        "scratch_handle": 8, "fixed": 496},
    4: {"eval_tensor": 12, "tflite_tensor": 40, "affine_quant": 12, "node_and_registration": 36,
        "scratch_handle": 4, "fixed": 280},
}
# Kernel OpData / builtin-parameter bytes per operator (64-bit; a rough per-op average for ops not
# listed). Per-channel multiplier and shift arrays are added separately.
_OP_DATA = {"CONV_2D": 112, "DEPTHWISE_CONV_2D": 112, "FULLY_CONNECTED": 116, "TRANSPOSE_CONV": 120}
_OP_DATA_DEFAULT = 64
_PER_CHANNEL_OPS = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "TRANSPOSE_CONV": 0}


def persistent_estimate(model: Model, pointer_bytes: int = 8) -> dict[str, int]:
    """tflite-micro's persistent allocations by category (estimate; exact only for the struct arrays).

    ``pointer_bytes``: 8 matches the Python tflite-micro package on a 64-bit host, 4 a Cortex-M.
    """
    if pointer_bytes not in _STRUCTS:
        raise UnsupportedError(f"pointer size {pointer_bytes} bytes: use 4 or 8")
    s = _STRUCTS[pointer_bytes]
    subs = model.subgraphs or []
    n_tensors = sum(len(sub.tensors or []) for sub in subs)
    n_ops = sum(len(sub.operators or []) for sub in subs)
    main = subs[0]
    io = list(main.inputs or []) + list(main.outputs or [])
    quant = 0
    for i in io:
        qp = main.tensors[i].quantization
        if qp is not None and qp.scale is not None and len(qp.scale) and qp.zero_point is not None \
                and len(qp.zero_point):
            quant += s["affine_quant"] + 4 + 4 * len(qp.scale)
    op_data = per_channel = 0
    n_scratch = 0
    for si, sub in enumerate(subs):
        for o, op in enumerate(sub.operators or []):
            name = model.op_name(op)
            op_data += _OP_DATA.get(name, _OP_DATA_DEFAULT) * pointer_bytes // 8
            n_scratch += len(scratch_requests(model, si, o))
            if name in _PER_CHANNEL_OPS and len(op.outputs or []) and op.outputs[0] >= 0:
                out = sub.tensors[op.outputs[0]]
                if out.shape:  # allocated for float models too
                    channels = int(out.shape[-1])
                    per_channel += 2 * align_up(4 * channels, 4)  # int32 multiplier + int32 shift
    variables = sum(align_up(tensor_bytes(t)) for sub in subs for t in sub.tensors or [] if t.is_variable)
    est = {
        "eval_tensors": s["eval_tensor"] * n_tensors,
        "io_tensors": s["tflite_tensor"] * len(io),
        "io_quantization": align_up(quant, 16) if quant else 0,
        "node_and_registration": s["node_and_registration"] * n_ops,
        "op_data": op_data,
        "per_channel_params": per_channel,
        "variables": variables,
        "scratch_handles": s["scratch_handle"] * n_scratch,
        "runtime_fixed": s["fixed"],
    }
    return est


# -- operator order -------------------------------------------------------------------------------

def _order_peak(model: Model, order: Sequence[int]) -> tuple[int, int]:
    bufs, n = lifetimes(model, order)
    return max(live_bytes(bufs, n), default=0), greedy_plan(bufs)


def search_order(model: Model, max_states: int = 20000) -> tuple[list[int] | None, str]:
    """A topological order of subgraph 0 with the smallest peak of live bytes, or None.

    Dynamic programming over the sets of already-run operators (down-sets of the graph): each state
    keeps the order reaching it with the smallest running peak. Exact for graphs whose number of
    down-sets stays under ``max_states`` (chains and small branchy graphs); skipped otherwise.
    """
    sub = model.subgraphs[0]
    ops = sub.operators or []
    n = len(ops)
    if n < 2 or len(model.subgraphs) > 1:
        return None, "not searched (needs one subgraph and 2+ operators)"
    producers = sub.producers()
    deps = [0] * n
    for o, op in enumerate(ops):
        for i in op.inputs or []:
            if i >= 0 and i in producers and producers[i] != o:
                deps[o] |= 1 << producers[i]
    sizes = {i: align_up(tensor_bytes(t)) for i, t in enumerate(sub.tensors or [])
             if not t.is_constant and not t.is_variable}
    consumers = sub.consumers()
    outputs = set(sub.outputs or [])
    inputs = set(sub.inputs or [])

    def alive_after(done: int) -> int:
        total = 0
        for t, size in sizes.items():
            made = t in inputs or (t in producers and done >> producers[t] & 1)
            if not made:
                continue
            if t in outputs or any(not (done >> c & 1) for c in consumers.get(t, [])):
                total += size
        return total

    def step_peak(done: int, o: int) -> int:
        # live during op o: everything alive before it plus its outputs.
        extra = sum(sizes.get(t, 0) for t in ops[o].outputs or [] if t >= 0)
        return alive_after(done) + extra

    best: dict[int, tuple[int, list[int]]] = {0: (alive_after(0), [])}
    frontier = [0]
    for _ in range(n):
        nxt: dict[int, tuple[int, list[int]]] = {}
        for done in frontier:
            peak, order = best[done]
            for o in range(n):
                if done >> o & 1 or deps[o] & ~done:
                    continue
                new = done | 1 << o
                p = max(peak, step_peak(done, o))
                if new not in nxt or p < nxt[new][0]:
                    nxt[new] = (p, order + [o])
        if len(nxt) > max_states:
            return None, f"not searched ({len(nxt)}+ partial orders exceed {max_states})"
        best.update(nxt)
        frontier = list(nxt)
    full = (1 << n) - 1
    if full not in best:
        return None, "not searched (graph has a cycle or unreachable operators)"
    return best[full][1], f"searched {len(best)} partial orders"


def plan_arena(model: Model, *, pointer_bytes: int = 8, search: bool = True) -> ArenaPlan:
    """The whole arena analysis for subgraph 0's execution order.

    >>> p = plan_arena(edgequant.load_file("kws.tflite")); (p.planned_bytes, p.lower_bound, p.total_bytes)
    """
    if not model.subgraphs:
        raise UnsupportedError("model has no subgraphs")
    buffers, n_scopes = lifetimes(model)
    planned = greedy_plan(buffers)
    timeline = live_bytes(buffers, n_scopes)
    sub = model.subgraphs[0]
    plan = ArenaPlan(buffers=buffers, n_scopes=n_scopes, planned_bytes=planned,
                     lower_bound=max(timeline, default=0), timeline=timeline,
                     op_names=[model.op_name(op) for op in sub.operators or []],
                     persistent=persistent_estimate(model, pointer_bytes))
    if search:
        order, how = search_order(model)
        plan.order_search = how
        if order is not None and order != list(range(len(sub.operators or []))):
            _, bytes_ = _order_peak(model, order)
            if bytes_ < planned:
                plan.better_order, plan.better_order_bytes = order, bytes_
            else:
                plan.order_search += "; no order beats the stored one"
        elif order is not None:
            plan.order_search += "; the stored order is already best"
    return plan


def measure_tflite_micro(model_bytes: bytes, arena_size: int = 8_000_000) -> dict[str, int] | None:
    """What the real tflite-micro allocates for the model: its RecordingMicroAllocator's "head" (the
    planned non-persistent arena), "tail" (persistent) and "total" bytes, after one invoke on zeros.
    None when tflite-micro cannot allocate or run the model. Needs the ``micro`` extra."""
    import os
    import re
    import tempfile

    import numpy as np

    from ..errors import require

    runtime = require("tflite_micro.python.tflite_micro.runtime", "micro")
    with tempfile.TemporaryFile(mode="w+b") as log:
        saved = os.dup(2)
        os.dup2(log.fileno(), 2)  # print_allocations writes from C++ to stderr
        try:
            try:
                it = runtime.Interpreter.from_bytes(model_bytes, arena_size=arena_size)
                k = 0
                while True:
                    try:
                        d = it.get_input_details(k)
                    except IndexError:  # past the last input
                        break
                    it.set_input(np.zeros(d["shape"], d["dtype"]), k)
                    k += 1
                it.invoke()
                it.print_allocations()
            except RuntimeError:
                return None
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        log.seek(0)
        text = log.read().decode(errors="replace")
    found = dict(re.findall(r"Arena allocation (total|head|tail) (\d+) bytes", text))
    return {k: int(v) for k, v in found.items()} or None
