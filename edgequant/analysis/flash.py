"""Where a model's flash bytes go, and a stripped copy without names and non-essential metadata.

Categories sum exactly to the file size. Buffer payloads are attributed to what uses them
(weights and biases per layer, metadata); strings and quantization vectors are counted as
flatbuffers stores them (4-byte length + data, strings NUL-terminated, padded to 4 bytes); the
remainder — tables, vtables, shapes, operator lists and alignment padding — is "graph structure".

>>> report = flash_report(edgequant.load_file("model.tflite"), file_size=...); report.categories
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import dtypes
from ..graph import Buffer, Model

# Metadata entries a runtime reads: tflite-micro's offline arena plan. Everything else
# (min_runtime_version, CONVERSION_METADATA, model cards) is informational.
ESSENTIAL_METADATA = frozenset({"OfflineMemoryAllocation"})
BIAS_OPS = {"CONV_2D": 2, "DEPTHWISE_CONV_2D": 2, "FULLY_CONNECTED": 2, "TRANSPOSE_CONV": 3, "CONV_3D": 2}


def _string_bytes(s: str | None) -> int:
    if s is None:
        return 0
    n = 4 + len(s.encode()) + 1
    return (n + 3) // 4 * 4


def _vector_bytes(v, itemsize: int) -> int:
    return 0 if v is None else 4 + itemsize * len(v)


@dataclass
class FlashReport:
    file_size: int
    categories: dict[str, int]  # sums to file_size
    layers: list[dict] = field(default_factory=list)  # per op: weights and bias bytes

    def to_dict(self) -> dict:
        return {"file_size": self.file_size, "categories": dict(self.categories), "layers": self.layers}


def flash_report(model: Model, file_size: int | None = None) -> FlashReport:
    if file_size is None:
        file_size = len(model._source) if model._source is not None else 0
    buffers = model.buffers or []
    counted: set[int] = set()
    weights = biases = 0
    layers = []
    for s, sub in enumerate(model.subgraphs or []):
        for o, op in enumerate(sub.operators or []):
            name = model.op_name(op)
            w = b = 0
            for k, i in enumerate(op.inputs or []):
                if i < 0:
                    continue
                t = sub.tensors[i]
                if not t.is_constant or t.buffer in counted:
                    continue
                counted.add(t.buffer)
                if BIAS_OPS.get(name) == k or (t.type == dtypes.INT32 and len(t.shape or []) == 1
                                               and name in BIAS_OPS):
                    b += t.data_bytes
                else:
                    w += t.data_bytes
            if w or b:
                layers.append({"subgraph": s, "op_index": o, "op": name, "weights": w, "biases": b})
            weights += w
            biases += b
    # constants no operator reads (e.g. only graph outputs) still count as weights
    for _, t in model.tensors():
        if t.is_constant and t.buffer not in counted:
            counted.add(t.buffer)
            weights += t.data_bytes
    meta_bufs = {m.buffer for m in model.metadata or []} | set(model.metadata_buffer or [])
    metadata = sum(buffers[i].nbytes for i in meta_bufs - counted if 0 <= i < len(buffers))
    counted |= meta_bufs
    unreferenced = sum(b.nbytes for i, b in enumerate(buffers) if i not in counted)
    quant = names = 0
    for _, t in model.tensors():
        names += _string_bytes(t.name)
        qp = t.quantization
        if qp is not None:
            quant += _vector_bytes(qp.scale, 4) + _vector_bytes(qp.zero_point, 8)
            quant += _vector_bytes(qp.min, 4) + _vector_bytes(qp.max, 4)
    names += sum(_string_bytes(sub.name) for sub in model.subgraphs or [])
    meta_strings = _string_bytes(model.description)
    meta_strings += sum(_string_bytes(m.name) for m in model.metadata or [])
    sigs = 0
    for sd in model.signature_defs or []:
        sigs += _string_bytes(sd.signature_key)
        for tm in list(sd.inputs or []) + list(sd.outputs or []):
            sigs += _string_bytes(tm.name) + 12  # TensorMap table: name, tensor index, vtable share
    cats = {"weights": weights, "biases": biases, "quantization_params": quant, "tensor_names": names,
            "metadata": metadata + meta_strings, "signatures": sigs, "unreferenced_buffers": unreferenced}
    cats["graph_structure"] = file_size - sum(cats.values())
    return FlashReport(file_size, cats, layers)


def strip(model: Model, *, keep_signatures: bool = False) -> Model:
    """A copy without tensor/subgraph names, the description and informational metadata.

    Kept: everything a runtime reads, including the ``OfflineMemoryAllocation`` metadata tflite-micro
    uses; signature defs only with ``keep_signatures`` (LiteRT's signature runners need them).
    Dropped metadata buffers are emptied, not removed, so every buffer index stays valid.
    """
    m = model.clone()
    for _, t in m.tensors():
        t.name = None
    for sub in m.subgraphs or []:
        sub.name = None
    m.description = None
    kept = []
    for md in m.metadata or []:
        if md.name in ESSENTIAL_METADATA:
            kept.append(md)
        elif 0 <= md.buffer < len(m.buffers or []):
            m.buffers[md.buffer] = Buffer()
    m.metadata = kept or None
    if m.metadata_buffer:
        keep_bufs = {md.buffer for md in kept}
        for i in m.metadata_buffer:
            if i not in keep_bufs and 0 <= i < len(m.buffers or []):
                m.buffers[i] = Buffer()
        m.metadata_buffer = [i for i in m.metadata_buffer if i in keep_bufs] or None
    if not keep_signatures:
        m.signature_defs = None
    return m.bind()
