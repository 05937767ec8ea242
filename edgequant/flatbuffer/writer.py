"""Serialise Node objects with the official flatbuffers Builder, driven by the schema tables.

Deterministic: the same model always gives the same bytes. ``[ubyte]`` vectors (buffer data,
custom options) are aligned to 16 bytes, because the Python flatbuffers package ignores the
schema's ``force_align``. Models whose buffers exceed the 2 GB flatbuffer limit (or on request)
keep buffer data after the flatbuffer, addressed by ``Buffer.offset``/``Buffer.size``.
"""

from __future__ import annotations

import flatbuffers
import numpy as np

from ..errors import EdgequantError
from .nodes import Node, visible_fields
from .schema import FILE_IDENTIFIER, SCALARS, UNIONS

_PREPEND = {
    "bool": "PrependBoolSlot", "byte": "PrependInt8Slot", "ubyte": "PrependUint8Slot",
    "short": "PrependInt16Slot", "ushort": "PrependUint16Slot", "int": "PrependInt32Slot",
    "int32": "PrependInt32Slot", "uint": "PrependUint32Slot", "long": "PrependInt64Slot",
    "ulong": "PrependUint64Slot", "float": "PrependFloat32Slot", "double": "PrependFloat64Slot",
}
_NP = {"bool": np.bool_, "byte": np.int8, "ubyte": np.uint8, "short": np.int16, "ushort": np.uint16,
       "int": np.int32, "int32": np.int32, "uint": np.uint32, "long": np.int64, "ulong": np.uint64,
       "float": np.float32, "double": np.float64}
DATA_ALIGN = 16
# The schema's force_align attributes: (table, field) -> bytes. Only these vectors get more than their
# element size (Python flatbuffers ignores force_align, so we apply it here).
_FORCE_ALIGN_BY_FIELD = {("Buffer", "data"): DATA_ALIGN, ("CustomQuantization", "custom"): 16,
                         ("Uint16Vector", "values"): 4, ("Uint8Vector", "values"): 4}
FLATBUFFER_LIMIT = 2**31 - 1


class _Writer:
    def __init__(self, size_hint: int):
        self.b = flatbuffers.Builder(max(1024, size_hint))

    def table(self, node: Node) -> int:
        t = node._table
        children: dict[str, int] = {}
        for f in visible_fields(t):
            if f.kind in ("scalar", "enum"):
                continue
            v = getattr(node, f.name)
            if v is None:
                continue
            children[f.name] = self._child(t.name, f, v)
        b = self.b
        b.StartObject(max((f.slot for f in t.fields), default=-1) + 1)
        # Widest fields first, as flatc's generated builders do: no padding between fields of a table.
        for f in _by_width(t):
            if f.kind in ("scalar", "enum"):
                v = getattr(node, f.name)
                getattr(b, _PREPEND[f.scalar])(f.slot, v, f.default)
            elif f.name in children:
                b.PrependUOffsetTRelativeSlot(f.slot, children[f.name], 0)
        for f in visible_fields(t):  # union type tags are one byte: last
            if f.kind == "union" and f.name in children:
                member = getattr(node, f.name)._table.name
                b.PrependUint8Slot(f.slot - 1, UNIONS[f.ref].index(member) + 1, 0)
        return b.EndObject()

    def _child(self, table: str, f, v) -> int:
        b = self.b
        if f.kind == "string":
            return b.CreateString(v.encode("utf-8"))
        if f.kind in ("table", "union"):
            return self.table(v)
        if f.elem == "scalar":
            arr = np.ascontiguousarray(np.asarray(v, dtype=_NP[f.scalar]))
            size = SCALARS[f.scalar][1]
            return self.bytes_vector(arr.view(np.uint8), size, max(size, _FORCE_ALIGN_BY_FIELD.get((table, f.name), 0)))
        offsets = [b.CreateString(s.encode("utf-8")) for s in v] if f.elem == "string" \
            else [self.table(x) for x in v]
        b.StartVector(4, len(offsets), 4)
        for off in reversed(offsets):
            b.PrependUOffsetTRelative(off)
        return b.EndVector()

    def bytes_vector(self, data: np.ndarray, elem_size: int, align: int) -> int:
        b = self.b
        n = data.size
        b.StartVector(elem_size, n // elem_size, align)
        b.head = b.head - n
        b.Bytes[b.head:b.head + n] = data.tobytes() if n < 4096 else memoryview(data)
        return b.EndVector()


_WIDTH_ORDER: dict[str, list] = {}


def _by_width(t) -> list:
    """The table's fields, 8-byte scalars first, then 4-byte scalars and offsets, then 2 and 1 byte."""
    order = _WIDTH_ORDER.get(t.name)
    if order is None:
        def width(f) -> int:
            return SCALARS[f.scalar][1] if f.kind in ("scalar", "enum") else 4
        order = _WIDTH_ORDER[t.name] = sorted(visible_fields(t), key=width, reverse=True)
    return order


def _data_bytes(model: Node) -> int:
    return sum(int(np.asarray(buf.data).size) for buf in (model.buffers or []) if buf.data is not None)


def serialize(model: Node, *, external_data: bool | None = None) -> bytes:
    """The model's bytes. ``external_data``: None = only when the buffers exceed the 2 GB limit."""
    total = _data_bytes(model)
    if external_data is None:
        external_data = total > FLATBUFFER_LIMIT - 64 * 2**20
    if not external_data:
        saved = [(buf.offset, buf.size) for buf in model.buffers or []]
        try:
            for buf in model.buffers or []:
                buf.offset, buf.size = 0, 0  # data is inline
            w = _Writer(total + 64 * 1024)
            w.b.Finish(w.table(model), file_identifier=FILE_IDENTIFIER)
            out = bytes(w.b.Output())
        finally:
            for buf, (o, s) in zip(model.buffers or [], saved):
                buf.offset, buf.size = o, s
        if len(out) > FLATBUFFER_LIMIT:
            raise EdgequantError("model exceeds the 2 GB flatbuffer limit; save with external_data=True")
        return out
    return _serialize_external(model)


def _serialize_external(model: Node) -> bytes:
    """Flatbuffer first, then each non-empty buffer 16-byte aligned, addressed by offset/size."""
    datas = [np.asarray(buf.data, dtype=np.uint8) if buf.data is not None else None for buf in model.buffers]
    saved = [(buf.data, buf.offset, buf.size) for buf in model.buffers]
    try:
        # Pass 1 with placeholder offsets measures the flatbuffer; offsets are fixed-size scalars,
        # so pass 2 with the real offsets has exactly the same length.
        for buf, d in zip(model.buffers, datas):
            buf.data = None
            buf.offset, buf.size = (1, d.size) if d is not None and d.size else (0, 0)
        head_len = len(_finish(model))
        pos = _align(head_len)
        layout = []
        for buf, d in zip(model.buffers, datas):
            if d is not None and d.size:
                buf.offset, buf.size = pos, d.size
                layout.append((pos, d))
                pos = _align(pos + d.size)
        head = _finish(model)
        assert len(head) == head_len
        out = bytearray(pos)
        out[:head_len] = head
        for p, d in layout:
            out[p:p + d.size] = memoryview(d)
        return bytes(out)
    finally:
        for buf, (d, o, s) in zip(model.buffers, saved):
            buf.data, buf.offset, buf.size = d, o, s


def _finish(model: Node) -> bytes:
    w = _Writer(64 * 1024)
    w.b.Finish(w.table(model), file_identifier=FILE_IDENTIFIER)
    return bytes(w.b.Output())


def _align(n: int) -> int:
    return (n + DATA_ALIGN - 1) // DATA_ALIGN * DATA_ALIGN


__all__ = ["serialize"]
