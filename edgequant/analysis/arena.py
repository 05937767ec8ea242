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
* the persistent "tail" is replayed allocation by allocation (``persistent_estimate``): runtime
  structs, builtin data, each kernel's Init/Prepare buffers (LSTM, Signal custom ops, per-channel
  arrays, ...), scratch handles, variables and the input/output tensors, each with its C layout and
  alignment, downward from the top of the arena.

>>> from edgequant.analysis.arena import plan_arena
>>> plan = plan_arena(edgequant.load_file("model.tflite")); plan.planned_bytes
"""

from __future__ import annotations

import struct
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
    guessed: list[str] = field(default_factory=list)  # op types whose persistent data is a guess, not a replay

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
            "order_search": self.order_search, "guessed_ops": list(self.guessed),
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


def _scratch_rfft(model, sub, op):
    # signal/micro/kernels/rfft.cc RfftPrepare: a work area of fft_length values of the input type.
    x = _t(sub, op.inputs[0]) if op.inputs else None
    if x is None:
        return []
    return [_rfft_length(sub, op) * max(dtypes.BITS.get(x.type, 16) // 8, 1)]


_SCRATCH = {
    "TRANSPOSE_CONV": _scratch_transpose_conv,
    "SVDF": _scratch_svdf,
    "UNIDIRECTIONAL_SEQUENCE_LSTM": _scratch_sequence_lstm,
    "CUSTOM:SignalRfft": _scratch_rfft,
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
#
# tflite-micro takes persistent memory from the top of the arena downwards
# (SingleArenaBufferAllocator::AllocatePersistentBuffer: tail = AlignPointerDown(tail - size, alignment)),
# so the padding of each allocation depends on where the previous one ended. persistent_estimate
# replays the allocations in the order MicroInterpreter::AllocateTensors makes them, each with the
# size and alignment of the C struct or array the runtime asks for, and reads off the bytes used.

_PRIM = {"b": 1, "h": 2, "i": 4, "q": 8}


def _layout(fields: Sequence, pointer_bytes: int) -> tuple[int, int]:
    """(sizeof, alignof) of a C struct whose members are listed in declaration order.

    A member is a code — ``b`` one byte (bool, int8_t, an ``enum class : uint8_t``), ``h`` int16_t,
    ``i`` four bytes (int32_t, int, float, a C enum), ``q`` eight bytes (int64_t, double: 8-aligned on
    x86-64 and on Arm EABI alike), ``p`` a pointer — with an optional array length (``"i5"`` is
    ``int32_t[5]``); a struct named in ``_NESTED``, optionally ``"Name*n"`` for an array of n; or the
    (size, align) pair of a nested struct.

    >>> _layout(["b", "i14"], 8), _layout(["i", "p5", "i2"], 4)
    ((60, 4), (32, 4))
    """
    offset, align = 0, 1
    for f in fields:
        count = 1
        if isinstance(f, tuple):
            size, a = f
        elif f[0].isupper():
            name, _, n = f.partition("*")
            size, a = _layout(_NESTED[name], pointer_bytes)
            count = int(n or 1)
        else:
            count = int(f[1:] or 1)
            size = a = pointer_bytes if f[0] == "p" else _PRIM[f[0]]
        offset = align_up(offset, a) + size * count
        align = max(align, a)
    return align_up(offset, align), align


def _sizeof(fields: Sequence, pointer_bytes: int) -> int:
    return _layout(fields, pointer_bytes)[0]


# Runtime structs (tensorflow/lite/micro/micro_common.h, tensorflow/lite/c/common.h with
# TF_LITE_STATIC_MEMORY).
_EVAL_TENSOR = ["p", "p", "i"]  # TfLiteEvalTensor {data, dims, type}
_NODE_AND_REGISTRATION = ["p6", "i", "b", "p"]  # TfLiteNode {inputs, outputs, intermediates, user_data,
#   builtin_data, custom_initial_data, custom_initial_data_size, might_have_side_effect} + registration
#   pointer (the bool hides in padding on 64-bit and rounds the 32-bit figure up)
# SubgraphAllocations {node_and_registrations, tensors} plus one more pointer: the header read has two,
# but only three per subgraph make the three-subgraph model come out to the byte (the compression
# build's per-subgraph table, presumably).
_SUBGRAPH_ALLOCATIONS = ["p3"]
_BUILTIN_DATA_ALLOCATOR = ["p2"]  # MicroBuiltinDataAllocator: vtable + persistent allocator
_AFFINE_QUANTIZATION = ["p", "p", "i"]  # TfLiteAffineQuantization {scale, zero_point, quantized_dimension}
_SCRATCH_HANDLE = ["p"]  # internal::ScratchBufferHandle {uint8_t* data}
# TfLiteTensor under TF_LITE_STATIC_MEMORY (what AllocatePersistentTfLiteTensor hands out); its size
# on both targets was read from the recording allocator / the struct layout.
_TFLITE_TENSOR = {8: (64, 8), 4: (40, 4)}
# The objects MicroAllocator::Create and the interpreter place at the top of the arena before the
# model is read (buffer allocator, greedy planner, MicroAllocator, the Python package's recording
# bookkeeping). Not derivable from the model: on the 64-bit host it is the one constant that makes
# every one-op model cut from the shared models come out to the byte; the 32-bit figure is 2/3 of it
# (what a struct of as many pointers as ints shrinks to), rounded up to 16: an estimate.
_RUNTIME_FIXED = {8: 448, 4: 304}
# Measured, not explained: with the Python package every FULLY_CONNECTED takes a second 16-byte,
# 8-aligned block right after its TfLiteFullyConnectedParams (the only size, alignment and place that
# makes all 571 one-op, prefix and whole models cut from the shared models come out to the byte); no
# allocation in fully_connected.cc, fully_connected_common.cc or ParseFullyConnected accounts for it.
_FC_UNEXPLAINED = 16

# TfLiteXxxParams builtin data (tensorflow/lite/core/c/builtin_op_data.h) that the op's parser
# allocates from the tail (MicroBuiltinDataAllocator::Allocate, aligned to the struct), whether or
# not the operator stores options.
_BUILTIN_DATA = {
    "ADD": ["i", "b"],  # TfLiteAddParams {activation, pot_scale_int16}
    "SUB": ["i", "b"],  # TfLiteSubParams
    "MUL": ["i"],  # TfLiteMulParams {activation}
    "DIV": ["i"],  # TfLiteDivParams {activation}
    "FULLY_CONNECTED": ["i", "i", "b", "b", "i"],  # activation, weights_format, keep_num_dims,
    #   asymmetric_quantize_inputs, quantized_bias_type
    "CONV_2D": ["i7"],  # padding, stride w/h, activation, dilation w/h, quantized_bias_type
    "DEPTHWISE_CONV_2D": ["i7"],  # padding, stride w/h, depth_multiplier, activation, dilation w/h
    "TRANSPOSE_CONV": ["i5"],  # padding, stride w/h, activation, quantized_bias_type
    "AVERAGE_POOL_2D": ["i6", "i4"],  # padding, stride w/h, filter w/h, activation, computed padding
    "MAX_POOL_2D": ["i6", "i4"],
    "RESHAPE": ["i8", "i"],  # shape[8], num_dimensions
    "SOFTMAX": ["i"],  # beta
    "CONCATENATION": ["i2"],  # axis, activation
    "SVDF": ["i2", "b"],  # rank, activation, asymmetric_quantize_inputs
    "STRIDED_SLICE": ["i5", "b"],  # the five masks, offset
    "UNIDIRECTIONAL_SEQUENCE_LSTM": ["i3", "b3"],  # activation, cell_clip, proj_clip, time_major,
    #   asymmetric_quantize_inputs, diagonal_recurrent_tensors
    "BATCH_MATMUL": ["b3"],  # adj_x, adj_y, asymmetric_quantize_inputs
    "CAST": ["i2"],  # TfLiteCastParams {in_data_type, out_data_type} (ParseCast)
    "SHAPE": ["i"],  # TfLiteShapeParams {out_type} (ParseShape)
    "PACK": ["i2"],  # TfLitePackParams {values_count, axis} (ParsePack)
}

# Kernel structs allocated with AllocatePersistentBuffer (16-aligned) in Init. USE_TFLM_COMPRESSION
# members are counted: the Python package is built with them, and on a device without them the
# estimate is a few bytes high, the safe side.
# Structs the kernels embed (tensorflow/lite/kernels/internal/types.h, lstm_eval.h, signal/src/*.h).
_NESTED = {
    # padding_type, PaddingValues {4 int16}, stride and dilation (int16), offsets + multiplier + shift,
    # quantized and float activation ranges
    "ConvParams": ["b", "h4", "h4", "i5", "i2", "i2"],
    "FullyConnectedParams": ["i9", "b3"],  # offsets, multiplier, shift, ranges, cacheable flags, format
    # broadcast_category, offsets / multipliers / shifts, int32, float and int64 ranges, broadcast_shape[5]
    "ArithmeticParams": ["b", "i10", "i2", "i2", "q2", "i5"],
    "ConcatenationParams": ["b", "p2", "h", "i", "i"],  # axis, zero-point / scale pointers, count, output
    "SoftmaxParams": ["q", "i7", "p5"],  # beta, 7 ints, lookup-table pointers
    "StridedSliceParams": ["b", "i5", "b", "i5", "b", "i5", "h5", "b"],
    "QuantizationParams": ["i", "q"],  # zero_point, scale (double)
    "LstmSizeInfo": ["b", "i4"],
    "CellStateInfo": ["i", "h", "i"],
    "GateParameters": ["FullyConnectedParams*2"],  # input and recurrent FC
    "FilterbankConfig": ["i", "p5", "i2"],  # num_channels, 5 table pointers, output_scale, correction bits
    "SpectralSubtractionConfig": ["i8", "b"],  # num_channels, 7 uint32 parameters, clamping
}
_OP_DATA = {
    # add.h OpDataAdd / sub.h OpDataSub: requires_broadcast + 14 int32 / float fields
    "ADD": ["b", "i14"], "SUB": ["b", "i14"],
    "MUL": ["i9"],  # mul.h OpDataMul
    "DIV": ["i7"],  # div.cc OpDataDiv
    # fully_connected.h OpDataFullyConnected: 8 int32 + filter_buffer_index, per-channel pointers,
    # is_per_channel, compression scratch indices
    "FULLY_CONNECTED": ["i9", "p2", "b", "i2"],
    # conv.h OpDataConv (also DepthwiseConv's): padding, zero points, multiplier, shift, per-channel
    # pointers, activation range, filter_buffer_index, compression scratch indices
    "CONV_2D": ["i4", "i5", "p2", "i2", "i", "i2"],
    "DEPTHWISE_CONV_2D": ["i4", "i5", "p2", "i2", "i", "i2"],
    # transpose_conv.cc OpData: ConvParams, scratch/bias-conversion indices, compression indices,
    # per-channel pointers
    "TRANSPOSE_CONV": ["ConvParams", "i2", "i2", "p2"],
    "AVERAGE_POOL_2D": ["i4", "i2", "i2"],  # pooling.h OpDataPooling
    "MAX_POOL_2D": ["i4", "i2", "i2"],
    "SOFTMAX": ["SoftmaxParams"],  # softmax.cc keeps SoftmaxParams as its OpData
    "CONCATENATION": ["ConcatenationParams", "i10"],  # OpData: params + compression scratch indices
    "STRIDED_SLICE": ["StridedSliceParams"],  # strided_slice.h OpData
    "QUANTIZE": ["QuantizationParams", "i3"],  # OpDataQuantizeReference: + requantize mult/shift, input zp
    "DEQUANTIZE": ["QuantizationParams", "i3"],  # DequantizeOpData: + output multiplier, shift, zp
    "SVDF": ["i9"],  # svdf.h OpDataSvdf
    "BATCH_MATMUL": ["p3", "b3"],  # batch_matmul.h OpDataBatchMatmul
    # lstm_eval.h OpDataLSTM: LstmSizeInfo, CellStateInfo, cell gate activation, four gates of two
    # FullyConnectedParams, three ArithmeticParams, buffer_indices[4]
    "UNIDIRECTIONAL_SEQUENCE_LSTM": ["LstmSizeInfo", "CellStateInfo", "i", "GateParameters*4",
                                     "ArithmeticParams*3", "i4"],
}
_NO_OP_DATA = {"RESHAPE", "CAST", "MINIMUM", "MAXIMUM", "SHAPE", "PACK", "CUSTOM:SignalFftAutoScale",
               "CUSTOM:SignalFilterBankSquareRoot"}
# An op this module does not know: one 64-byte OpData and 40 bytes of builtin data, the largest
# common sizes above (the figure is then an estimate, not a replay).
_UNKNOWN_OP_DATA, _UNKNOWN_BUILTIN = 64, (40, 4)


def _custom_options(op) -> dict:
    raw = getattr(op, "custom_options", None)
    if raw is None or not len(raw):
        return {}
    try:
        from flatbuffers import flexbuffers

        d = flexbuffers.Loads(bytes(raw))
    except (ValueError, TypeError, KeyError, IndexError, struct.error):  # malformed: use the tensors instead
        return {}
    return d if isinstance(d, dict) else {}


def _shape(sub, idx) -> list[int]:
    t = _t(sub, idx)
    return [int(d) for d in (t.shape or [])] if t is not None else []


def _rfft_length(sub, op) -> int:
    """SignalRfft's fft_length: its flexbuffer option, else what its output shape implies (fft_length / 2 + 1
    complex values)."""
    opts = _custom_options(op)
    if "fft_length" in opts:
        return int(opts["fft_length"])
    out = _shape(sub, op.outputs[0]) if op.outputs else []
    return (out[-1] // 2 - 1) * 2 if out else 0


def _kiss_fftr_bytes(fft_length: int, cpx_bytes: int, pointer_bytes: int) -> int:
    """kiss_fftr_alloc's memneeded (kissfft tools/kiss_fftr.c, kiss_fft.c, MAXFACTORS 32).

    kiss_fftr_state {substate, tmpbuf, super_twiddles} + kiss_fft_state {nfft, inverse, factors[64],
    twiddles[1]} + (nfft - 1) more twiddles + 3 * nfft / 2 complex values, with nfft = fft_length / 2.
    """
    nfft = fft_length // 2
    state = _layout(["i", "i", "i64", (cpx_bytes, min(cpx_bytes // 2, 8))], pointer_bytes)[0]
    sub = state + cpx_bytes * (nfft - 1)
    return 3 * pointer_bytes + sub + cpx_bytes * (nfft * 3 // 2)


def _signal_buffers(name: str, model: Model, sub, op, p: int) -> list[int] | None:
    """Init-time persistent buffers of tflite-micro's Signal library kernels (signal/micro/kernels)."""
    opts = _custom_options(op)
    if name == "CUSTOM:SignalWindow":  # WindowInit: TFLMSignalWindowParams {shift, input_size}
        return [_sizeof(["i2"], p)]
    if name == "CUSTOM:SignalEnergy":  # EnergyInit: TFLMSignalEnergyParams {end_index, start_index}
        return [_sizeof(["i2"], p)]
    if name == "CUSTOM:SignalPCAN":  # PcanInit: TfLitePcanParams {snr_shift}
        return [_sizeof(["i"], p)]
    if name == "CUSTOM:SignalFilterBankLog":  # FilterBankLogInit: {input_correction_bits, output_scale}
        return [_sizeof(["i2"], p)]
    if name == "CUSTOM:SignalFilterBank":
        # filter_bank.cc Init: TFLMSignalFilterBankParams {FilterbankConfig {num_channels, 5 table
        # pointers, output_scale, input_correction_bits}, work_area}, then a uint64 work area of
        # num_channels + 1.
        out = _shape(sub, op.outputs[0]) if op.outputs else []
        channels = int(opts.get("num_channels", out[-1] if out else 0))
        return [_sizeof(["FilterbankConfig", "p"], p), (channels + 1) * 8]
    if name == "CUSTOM:SignalFilterBankSpectralSubtraction":
        # filter_bank_spectral_subtraction.cc Init: {SpectralSubtractionConfig {num_channels, 7 uint32,
        # clamping}, noise_estimate pointer, noise_estimate_size}, then num_channels uint32 of state.
        x = _shape(sub, op.inputs[0]) if op.inputs else []
        channels = int(opts.get("num_channels", x[-1] if x else 0))
        return [_sizeof(["SpectralSubtractionConfig", "p", "p"], p), channels * 4]
    if name == "CUSTOM:SignalRfft":
        # rfft.cc RfftInit<T>: TfLiteAudioFrontendRfftParams<T> {fft_length, input_size, input_length,
        # output_length, fft_type, work_area, scratch_buffer_index, state}, then the kiss_fftr state.
        # T is int16, int32 or float; a complex value is two of them.
        t = _t(sub, op.inputs[0]) if op.inputs else None
        elem = max(dtypes.BITS.get(t.type, 16) // 8, 1) if t is not None else 2
        return [_sizeof(["i5", "p", "i", "p"], p), _kiss_fftr_bytes(_rfft_length(sub, op), 2 * elem, p)]
    return None


def _kernel_buffers(model: Model, sub, op, pointer_bytes: int) -> tuple[list[int], list[int]]:
    """Bytes the op's kernel asks AllocatePersistentBuffer for: (in Init, in Prepare).

    From the reference kernels' Init/Prepare (tensorflow/lite/micro/kernels/*.cc); ops not listed get
    one 64-byte allocation in Init.
    """
    p = pointer_bytes
    name = model.op_name(op)
    if name in _NO_OP_DATA:
        return [], []
    signal = _signal_buffers(name, model, sub, op, p) if name.startswith("CUSTOM:Signal") else None
    if signal is not None:
        return signal, []
    fields = _OP_DATA.get(name)
    if fields is None:
        return [_UNKNOWN_OP_DATA], []
    init = [_sizeof(fields, p)]
    prepare: list[int] = []
    if name in ("CONV_2D", "TRANSPOSE_CONV", "DEPTHWISE_CONV_2D"):
        # ConvPrepare / DepthwiseConvPrepare / transpose_conv Prepare: per-channel int32 multiplier
        # and shift arrays over the filter's output channels (dim 0; 3 for depthwise), for every
        # input type.
        w = _shape(sub, op.inputs[1]) if len(op.inputs or []) > 1 else []
        if w:
            channels = w[3] if name == "DEPTHWISE_CONV_2D" and len(w) == 4 else w[0]
            prepare += [4 * channels, 4 * channels]
    elif name == "FULLY_CONNECTED":
        # CalculateOpDataFullyConnected: per-channel arrays when a non-float filter has several scales.
        x = _t(sub, op.inputs[0])
        w = _t(sub, op.inputs[1]) if len(op.inputs or []) > 1 else None
        qp = w.quantization if w is not None else None
        scales = len(qp.scale) if qp is not None and qp.scale is not None else 0
        if x is not None and x.type != dtypes.FLOAT32 and scales > 1:
            prepare += [4 * scales, 4 * scales]
    elif name == "SOFTMAX":
        # SoftmaxPrepare (softmax_common.cc): an int16 input gets two int16 lookup tables of
        # kInt16LUTArraySize = 513 entries (exp and 1 / (1 + x)).
        x = _t(sub, op.inputs[0])
        if x is not None and x.type == dtypes.INT16:
            prepare += [2 * 513, 2 * 513]
    elif name == "BATCH_MATMUL":
        # BatchMatMulPrepare: quantization data (7 int32) for int8/int16, a transposed copy
        # (TfLiteEvalTensor, dims, data) of LHS when adj_x and of RHS unless adj_y, then
        # ReshapeOutputTensor's writable copy of the output dims.
        lhs, rhs = _t(sub, op.inputs[0]), _t(sub, op.inputs[1])
        opts = op.options
        if lhs is not None and lhs.type in (dtypes.INT8, dtypes.INT16):
            prepare.append(_sizeof(["i7"], p))
        for t, wanted in ((lhs, bool(getattr(opts, "adj_x", False))), (rhs, not getattr(opts, "adj_y", False))):
            if wanted and t is not None:
                prepare += [_sizeof(_EVAL_TENSOR, p), 4 + 4 * len(t.shape or []), tensor_bytes(t)]
        out = _t(sub, op.outputs[0])
        if out is not None:
            prepare.append(4 + 4 * len(out.shape or []))
    return init, prepare


def guessed_ops(model: Model) -> list[str]:
    """The op types of ``model`` whose persistent data this module does not replay from the kernels (each gets
    the guessed :data:`_UNKNOWN_OP_DATA` and :data:`_UNKNOWN_BUILTIN`), in first-seen order."""
    out: list[str] = []
    for sub in model.subgraphs or []:
        for op in sub.operators or []:
            name = model.op_name(op)
            known = name in _OP_DATA or name in _NO_OP_DATA or (
                name.startswith("CUSTOM:Signal") and _signal_buffers(name, model, sub, op, 8) is not None)
            if not known and name not in out:
                out.append(name)
    return out


def _builtin_data(model: Model, op, pointer_bytes: int) -> tuple[int, int] | None:
    name = model.op_name(op)
    if name.startswith("CUSTOM:"):
        return None  # custom ops read their flexbuffer in place
    if name in _BUILTIN_DATA:
        return _layout(_BUILTIN_DATA[name], pointer_bytes)
    if name in _OP_DATA or name in _NO_OP_DATA:
        return None  # the parsers of these ops allocate nothing (QUANTIZE, DEQUANTIZE, RESHAPE's is above)
    return _UNKNOWN_BUILTIN


class _Tail:
    """The persistent end of the arena: a downward bump allocator that keeps its used bytes by category."""

    def __init__(self) -> None:
        self.used = 0
        self.by: dict[str, int] = {}

    def take(self, category: str, size: int, align: int) -> None:
        before = self.used
        self.used = align_up(self.used + size, align)
        self.by[category] = self.by.get(category, 0) + self.used - before


def persistent_estimate(model: Model, pointer_bytes: int = 8) -> dict[str, int]:
    """tflite-micro's persistent ("tail") bytes by category, replaying MicroInterpreter::AllocateTensors.

    Per-op kernel data comes from each kernel's Init/Prepare (see ``_kernel_buffers``); struct sizes
    from their C layouts for ``pointer_bytes`` (8: the Python tflite-micro package on a 64-bit host,
    to the byte on every shared model it runs; 4: a Cortex-M, not measured). What the model file
    cannot tell, and is therefore measured or guessed: the runtime's own objects (``runtime_fixed``:
    measured on the host, 2/3 of it on 32-bit), FULLY_CONNECTED's extra 16-byte block and the third
    pointer per subgraph (measured), ops not modelled here (64 bytes of OpData and 40 of builtin data
    each, the larger common sizes) and USE_TFLM_COMPRESSION members (counted, as the Python package
    has them; a device built without them needs a few bytes less).

    >>> persistent_estimate(edgequant.load_file("hello_world_int8.tflite"))["op_data"]
    """
    if pointer_bytes not in _TFLITE_TENSOR:
        raise UnsupportedError(f"pointer size {pointer_bytes} bytes: use 4 or 8")
    p = pointer_bytes
    subs = model.subgraphs or []
    tail = _Tail()
    tail.take("runtime_fixed", _RUNTIME_FIXED[p], 8)
    # MicroAllocator::StartModelAllocation
    tail.take("runtime_fixed", *_layout(_BUILTIN_DATA_ALLOCATOR, p))
    size, align = _layout(_SUBGRAPH_ALLOCATIONS, p)
    tail.take("runtime_fixed", size * len(subs), align)
    size, align = _layout(_EVAL_TENSOR, p)
    for sub in subs:
        tail.take("eval_tensors", size * len(sub.tensors or []), align)
    size, align = _layout(_NODE_AND_REGISTRATION, p)
    for sub in subs:
        tail.take("node_and_registration", size * len(sub.operators or []), align)
    # MicroInterpreter::PrepareNodeAndRegistrationDataFromFlatbuffer: builtin data, op by op
    for sub in subs:
        for op in sub.operators or []:
            b = _builtin_data(model, op, p)
            if b is not None:
                tail.take("builtin_data", *b)
            if model.op_name(op) == "FULLY_CONNECTED":
                tail.take("builtin_data", _FC_UNEXPLAINED, 8)
    # InitSubgraphs then PrepareSubgraphs: kernel buffers, 16-aligned
    buffers = [[_kernel_buffers(model, sub, op, p) for op in sub.operators or []] for sub in subs]
    for stage in (0, 1):
        for per_sub in buffers:
            for per_op in per_sub:
                for nbytes in per_op[stage]:
                    tail.take("op_data", nbytes, ALIGNMENT)
    # MicroAllocator::FinishModelAllocation: scratch buffer handles, then variable tensors' buffers
    n_scratch = sum(len(scratch_requests(model, s, o)) for s, sub in enumerate(subs)
                    for o in range(len(sub.operators or [])))
    size, align = _layout(_SCRATCH_HANDLE, p)
    tail.take("scratch_handles", size * n_scratch, align)
    for sub in subs:
        for t in sub.tensors or []:
            if t.is_variable:
                tail.take("variables", tensor_bytes(t), ALIGNMENT)
    # input_tensors_ / output_tensors_: a pointer array, then one persistent TfLiteTensor each (with
    # its quantization struct and zero-point array when the tensor is quantized)
    main = subs[0]
    tsize, talign = _TFLITE_TENSOR[p]
    for ios in (main.inputs or [], main.outputs or []):
        tail.take("io_tensors", p * len(ios), ALIGNMENT)
        for i in ios:
            tail.take("io_tensors", tsize, talign)
            qp = main.tensors[i].quantization
            if qp is not None and qp.scale is not None and len(qp.scale) and qp.zero_point is not None \
                    and len(qp.zero_point):
                tail.take("io_quantization", *_layout(_AFFINE_QUANTIZATION, p))
                tail.take("io_quantization", 4 + 4 * len(qp.scale), 4)
    return tail.by


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
                     persistent=persistent_estimate(model, pointer_bytes), guessed=guessed_ops(model))
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
