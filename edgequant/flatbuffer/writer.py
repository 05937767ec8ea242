"""Serialise Node objects into a flatbuffer, driven by the schema tables.

Each table, vector and string becomes one object (``packer.Obj``); ``packer.Layout`` then places
them front to back with as little padding as the format allows (see there). Tables hold the fields
that differ from the schema default, widest first so none needs padding; identical vtables are
written once. Deterministic: the same model always gives the same bytes. ``[ubyte]`` vectors with
a ``force_align`` in the schema (buffer data: 16 bytes) get it, counted from the start of the file.
Models whose buffers exceed the 2 GB flatbuffer limit (or on request) keep buffer data after the
flatbuffer, addressed by ``Buffer.offset``/``Buffer.size``.
"""

from __future__ import annotations

import struct

import numpy as np

from ..errors import EdgequantError
from .nodes import Node, visible_fields
from .packer import Layout, Obj
from .schema import FILE_IDENTIFIER, SCALARS, UNIONS

_NP = {"bool": np.bool_, "byte": np.int8, "ubyte": np.uint8, "short": np.int16, "ushort": np.uint16,
       "int": np.int32, "int32": np.int32, "uint": np.uint32, "long": np.int64, "ulong": np.uint64,
       "float": np.float32, "double": np.float64}
_LE = {k: np.dtype(v).newbyteorder("<") for k, v in _NP.items()}
_FMT = {k: struct.Struct("<" + v[0]) for k, v in SCALARS.items()}
_U32 = struct.Struct("<I")
DATA_ALIGN = 16
# The schema's force_align attributes: (table, field) -> bytes. Only these vectors get more than their
# element size.
_FORCE_ALIGN_BY_FIELD = {("Buffer", "data"): DATA_ALIGN, ("CustomQuantization", "custom"): 16,
                         ("Uint16Vector", "values"): 4, ("Uint8Vector", "values"): 4}
FLATBUFFER_LIMIT = 2**31 - 1
# 4-byte integer vector elements: such a vector (4-byte length, then the elements) is aligned to 4 like any object.
_INT_VECTOR = {"int": "i", "int32": "i", "uint": "I"}


class _Writer:
    def __init__(self):
        self.vtables: dict[bytes, Obj] = {}
        self.data: list[Obj] = []  # non-empty Buffer.data, in buffer order: placed back to back
        self.empty: dict[str, Obj] = {}  # one table per type with no field written, shared by all

    def table(self, node: Node) -> Obj:
        t = node._table
        scalars, refs = _fields(t)
        # (-width, slot, bytes, uoffset target): sorting the tuples puts the widest first, then by slot (slots
        # are unique, so the bytes and targets are never compared)
        inline: list[tuple[int, int, bytes, Obj | None]] = []
        for name, slot, fmt, default, packed_default, kind in scalars:
            v = getattr(node, name)
            if v is default:  # the schema's default object itself (small ints, False): packs to the default
                continue
            try:
                packed = fmt.pack(v)
            except struct.error:
                raise EdgequantError(f"{t.name}.{name} = {v!r} does not fit a {kind}") from None
            if packed != packed_default:  # defaults are not written, as flatc does
                inline.append((-fmt.size, slot, packed, None))
        for f, tags in refs:
            v = getattr(node, f.name)
            if v is not None:
                inline.append((-4, f.slot, b"\0\0\0\0", self._child(t.name, f, v)))
                if tags is not None:  # a union: its type tag, one slot before
                    inline.append((-1, f.slot - 1, bytes((tags[v._table.name],)), None))
        if not inline:
            # Nothing to read and nothing to change in place: one copy serves every parent (the older
            # converter that wrote the MLPerf Tiny float models shares its empty buffers this way).
            obj = self.empty.get(t.name)
            if obj is None:
                obj = self.empty[t.name] = Obj(bytes(4))
                obj.vtable = self._vtable(struct.pack("<HH", 4, 4))
            return obj
        # Widest first after the 4-byte soffset, so no field needs padding: a table with 8-byte fields
        # starts 4 bytes before a multiple of 8.
        inline.sort()
        align, phase = (8, 4) if inline[0][0] == -8 else (4, 0)
        head = bytearray(4)
        slots = [0] * (max(slot for _, slot, _, _ in inline) + 1)
        refs = []
        for _, slot, packed, target in inline:
            slots[slot] = len(head)
            if target is not None:
                refs.append((len(head), target))
            head += packed
        obj = Obj(bytes(head), align, phase)
        obj.refs = refs
        vt = struct.pack(f"<HH{len(slots)}H", 4 + 2 * len(slots), len(head), *slots)
        obj.vtable = self._vtable(vt)
        return obj

    def _vtable(self, vt: bytes) -> Obj:
        obj = self.vtables.get(vt)
        if obj is None:
            obj = self.vtables[vt] = Obj(vt, 2, 0)
        return obj

    def _child(self, table: str, f, v) -> Obj:
        if f.kind == "string":
            return _string(v)
        if f.kind in ("table", "union"):
            return self.table(v)
        if f.elem == "scalar":
            if type(v) is list and (table, f.name) not in _FORCE_ALIGN_BY_FIELD and f.scalar in _INT_VECTOR:
                try:  # the common small vectors (shapes, op inputs/outputs): struct is ~5x faster than numpy
                    return Obj(_U32.pack(len(v)) + struct.pack(f"<{len(v)}{_INT_VECTOR[f.scalar]}", *v))
                except struct.error:
                    pass  # not plain ints in range: numpy converts them (or raises) as before
            arr = np.ascontiguousarray(np.asarray(v, dtype=_LE[f.scalar])).reshape(-1)
            # The length is 4-byte aligned; the elements after it to their size or force_align (an
            # empty vector has none to align).
            align = max(4, arr.itemsize, _FORCE_ALIGN_BY_FIELD.get((table, f.name), 0)) if arr.size else 4
            prefix = _U32.pack(arr.size)
            if (table, f.name) == ("Buffer", "data") and arr.size:
                obj = Obj(prefix, align, align - 4, blob=arr.view(np.uint8))
                self.data.append(obj)
                return obj
            return Obj(prefix + arr.tobytes(), align, align - 4)
        children = [_string(x) for x in v] if f.elem == "string" else [self.table(x) for x in v]
        obj = Obj(_U32.pack(len(children)) + bytes(4 * len(children)))
        obj.refs = [(4 + 4 * i, c) for i, c in enumerate(children)]
        return obj


_FIELDS: dict[str, tuple] = {}


def _fields(t) -> tuple:
    """Per table, once: its visible scalar fields as (name, slot, struct, default, packed default, scalar type), and
    the others as (field, union type tags by member table or None)."""
    plan = _FIELDS.get(t.name)
    if plan is None:
        fields = visible_fields(t)
        plan = _FIELDS[t.name] = (
            tuple((f.name, f.slot, _FMT[f.scalar], f.default, _FMT[f.scalar].pack(f.default), f.scalar)
                  for f in fields if f.kind in ("scalar", "enum")),
            tuple((f, {m: i + 1 for i, m in enumerate(UNIONS[f.ref])} if f.kind == "union" else None)
                  for f in fields if f.kind not in ("scalar", "enum")))
    return plan


def _string(s: str) -> Obj:
    b = s.encode("utf-8")
    return Obj(_U32.pack(len(b)) + b + b"\0")  # flatbuffers strings end in a zero byte


def _data_bytes(model: Node) -> int:
    return sum(int(np.asarray(buf.data).size) for buf in (model.buffers or []) if buf.data is not None)


def _finish(model: Node) -> bytes:
    w = _Writer()
    layout = Layout(w.table(model), w.data)
    if layout.size > FLATBUFFER_LIMIT:
        raise EdgequantError("model exceeds the 2 GB flatbuffer limit; save with external_data=True")
    return layout.write(FILE_IDENTIFIER)


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
            out = _finish(model)
        finally:
            for buf, (o, s) in zip(model.buffers or [], saved):
                buf.offset, buf.size = o, s
        return out
    return _serialize_external(model)


def _serialize_external(model: Node) -> bytes:
    """Flatbuffer first, then each non-empty buffer 16-byte aligned, addressed by offset/size."""
    datas = [np.asarray(buf.data, dtype=np.uint8) if buf.data is not None else None for buf in model.buffers]
    saved = [(buf.data, buf.offset, buf.size) for buf in model.buffers]
    try:
        # Pass 1 with placeholder offsets measures the flatbuffer; offsets are fixed-size scalars and
        # the layout depends only on which fields are present, so pass 2 with the real offsets has
        # exactly the same length.
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


def _align(n: int) -> int:
    return (n + DATA_ALIGN - 1) // DATA_ALIGN * DATA_ALIGN


__all__ = ["serialize"]
