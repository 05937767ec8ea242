"""A bounds-checked, zero-copy flatbuffer reader driven by the schema tables.

Every offset and length is checked against the buffer before it is followed, so corrupt input
raises ModelFormatError naming the table, field and byte offset, and a claimed vector length can
never make us allocate more than the file holds. ``[ubyte]`` vectors (buffer data, custom options)
are returned as read-only numpy views: opening a model never copies or touches its weights.
"""

from __future__ import annotations

import struct

import numpy as np

from ..errors import ModelFormatError
from .nodes import Node, node_class, visible_fields
from .schema import ENUMS, FILE_IDENTIFIER, ROOT, SCALARS, TABLES, UNIONS, Table

_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U16 = struct.Struct("<H")
_U16x2 = struct.Struct("<HH")
_FMT = {k: struct.Struct("<" + v[0]) for k, v in SCALARS.items()}
_NP = {"bool": np.bool_, "byte": np.int8, "ubyte": np.uint8, "short": np.int16, "ushort": np.uint16,
       "int": np.int32, "int32": np.int32, "uint": np.uint32, "long": np.int64, "ulong": np.uint64,
       "float": np.float32, "double": np.float64}
_MAX_DEPTH = 32  # the TFLite schema nests at most ~7 deep; anything deeper is corrupt


class Reader:
    """Decodes one flatbuffer into Node objects. ``buf`` is bytes, a memoryview or an mmap."""

    def __init__(self, buf, *, check_identifier: bool = True):
        self.mv = memoryview(buf).cast("B") if not isinstance(buf, memoryview) else buf.cast("B")
        self.size = len(self.mv)
        self.array = np.frombuffer(self.mv, dtype=np.uint8)
        self.array.flags.writeable = False
        # Every table needs at least 4 bytes of its own, so a valid file cannot decode into more
        # tables than size/4. Offsets that all point at one table would otherwise let a small file
        # expand exponentially ("billion laughs"): count, and stop at the bound.
        self.table_budget = self.size // 4 + 64
        if self.size < 8:
            raise ModelFormatError(f"file is {self.size} bytes; a .tflite flatbuffer needs at least 8")
        if check_identifier and bytes(self.mv[4:8]) != FILE_IDENTIFIER:
            raise ModelFormatError(
                f"file identifier is {bytes(self.mv[4:8])!r} at offset 4, expected {FILE_IDENTIFIER!r}"
                " (not a .tflite model)")

    # -- primitives -------------------------------------------------------------------------------
    def _need(self, pos: int, n: int, what: str) -> None:
        if pos < 0 or n < 0 or pos + n > self.size:
            raise ModelFormatError(f"{what}: offset {pos}+{n} is outside the file ({self.size} bytes)")

    def _uoffset(self, pos: int, what: str) -> int:
        self._need(pos, 4, what)
        target = pos + _U32.unpack_from(self.mv, pos)[0]
        self._need(target, 4 if target < self.size else 1, what)
        return target

    def root(self) -> Node:
        return self.table(self._uoffset(0, "root table offset"), TABLES[ROOT], 0)

    # -- tables ---------------------------------------------------------------------------------
    def table(self, pos: int, t: Table, depth: int) -> Node:
        if depth > _MAX_DEPTH:
            raise ModelFormatError(f"{t.name} at offset {pos}: tables nested deeper than {_MAX_DEPTH}")
        self.table_budget -= 1
        if self.table_budget < 0:
            raise ModelFormatError(f"{t.name} at offset {pos}: more tables than a {self.size}-byte file can hold "
                                   "(offsets point at the same tables over and over)")
        mv, size = self.mv, self.size
        # The messages are built only on failure: this runs for every table of the file.
        if pos < 0 or pos + 4 > size:
            self._need(pos, 4, f"{t.name} at offset {pos}")
        vt = pos - _I32.unpack_from(mv, pos)[0]
        if vt < 0 or vt + 4 > size:
            self._need(vt, 4, f"{t.name} at offset {pos}: vtable")
        vt_size, obj_size = _U16x2.unpack_from(mv, vt)
        if vt_size < 4 or vt_size % 2:
            raise ModelFormatError(f"{t.name} at offset {pos}: vtable at {vt} has invalid size {vt_size}")
        if vt + vt_size > size:
            self._need(vt, vt_size, f"{t.name} at offset {pos}: vtable")
        if pos + obj_size > size:
            self._need(pos, obj_size, f"{t.name} at offset {pos}: table body")
        slots = _slots(vt_size).unpack_from(mv, vt + 4)  # every field's offset in the table, 0 = absent
        cls = node_class(t.name)
        node = cls.__new__(cls)
        values = node.__dict__
        union_types: dict[str, int] = {}
        n_slots = len(slots)
        for f, slot, name, fmt, default, tag_of in _plan(t):
            off = slots[slot] if slot < n_slots else 0
            if not off:
                if tag_of:
                    union_types[tag_of] = default
                else:
                    values[name] = default  # the schema default of a scalar, None for the others
                continue
            if off >= obj_size:
                raise ModelFormatError(f"{t.name} at offset {pos}: field '{name}' offset {off} is past the "
                                       f"table's {obj_size} bytes")
            if fmt is None:
                values[name] = self._field(pos + off, f, t, depth, union_types)
            elif tag_of:
                union_types[tag_of] = fmt.unpack_from(mv, pos + off)[0]
            else:
                values[name] = fmt.unpack_from(mv, pos + off)[0]
        return node

    def _field(self, fpos: int, f, t: Table, depth: int, union_types: dict[str, int]):
        # This runs for every offset field of the file: the checks are inline and the messages are built only
        # on failure, by the slower checking helpers.
        mv, size = self.mv, self.size
        target = fpos + _U32.unpack_from(mv, fpos)[0] if fpos + 4 <= size else size
        if target + 4 > size:
            self._uoffset(fpos, f"{t.name}.{f.name} at offset {fpos}")  # raises
        kind = f.kind
        if kind == "string":
            return self._string(target, f"{t.name}.{f.name} at offset {fpos}")
        if kind == "table":
            return self.table(target, TABLES[f.ref], depth + 1)
        if kind == "union":
            tag = union_types.get(f.name, 0)
            members = UNIONS[f.ref]
            if tag == 0:
                return None
            if tag > len(members):
                raise ModelFormatError(f"{t.name}.{f.name} at offset {fpos}: union type {tag} is not a known "
                                       f"{f.ref} member")
            return self.table(target, TABLES[members[tag - 1]], depth + 1)
        # vector
        n = _U32.unpack_from(mv, target)[0]
        start = target + 4
        if f.elem == "scalar":
            width = SCALARS[f.scalar][1]
            if start + n * width > size:
                self._need(start, n * width, f"{t.name}.{f.name} at offset {fpos}: vector of {n} {f.scalar}")
            if f.scalar == "ubyte":
                return self.array[start:start + n]
            arr = np.frombuffer(mv, dtype=_NP[f.scalar], count=n, offset=start)
            if f.scalar in ("float", "double", "long", "ulong"):
                return arr.copy()
            return arr.tolist()
        if start + n * 4 > size:
            self._need(start, n * 4, f"{t.name}.{f.name} at offset {fpos}: vector of {n} offsets")
        targets = [p + o for p, o in zip(range(start, start + 4 * n, 4), _vector(n).unpack_from(mv, start))]
        strings = f.elem == "string"
        sub = None if strings else TABLES[f.ref]
        items = []
        for i, p in enumerate(targets):  # in order: the first fault found is the one reported, as before
            if p + 4 > size:
                self._uoffset(start + 4 * i, f"{t.name}.{f.name} at offset {fpos}")  # raises
            items.append(self._string(p, f"{t.name}.{f.name} at offset {fpos}") if strings
                         else self.table(p, sub, depth + 1))
        return items

    def _string(self, pos: int, what: str) -> str:
        self._need(pos, 4, what)
        n = _U32.unpack_from(self.mv, pos)[0]
        self._need(pos + 4, n, f"{what}: string of {n} bytes")
        try:
            return bytes(self.mv[pos + 4:pos + 4 + n]).decode("utf-8")
        except UnicodeDecodeError as e:
            raise ModelFormatError(f"{what}: string is not valid UTF-8 (byte {e.start})") from None


_SLOTS: dict[int, struct.Struct] = {}
_VECTORS: dict[int, struct.Struct] = {}


def _vector(n: int) -> struct.Struct:
    """The struct reading ``n`` uoffsets."""
    st = _VECTORS.get(n)
    if st is None:
        st = struct.Struct(f"<{n}I")
        if n <= 1024:  # the usual lengths are few; don't keep one per length of a long vector
            _VECTORS[n] = st
    return st


def _slots(vt_size: int) -> struct.Struct:
    """The struct reading a vtable's field offsets (all after its two 16-bit sizes)."""
    st = _SLOTS.get(vt_size)
    if st is None:
        st = _SLOTS[vt_size] = struct.Struct(f"<{(vt_size - 4) // 2}H")
    return st


_PLANS: dict[str, list] = {}


def _plan(t: Table) -> list:
    """Per table, once: (field, slot, name, scalar struct or None, the value when absent, union name if the field
    is a union tag) for each field that is not deprecated."""
    plan = _PLANS.get(t.name)
    if plan is None:
        unions = {g.name for g in t.fields if g.kind == "union"}
        plan = []
        for f in t.fields:
            if f.deprecated:
                continue
            scalar = f.kind in ("scalar", "enum")
            tag_of = f.name[:-5] if scalar and f.name.endswith("_type") and f.name[:-5] in unions else ""
            plan.append((f, f.slot, f.name, _FMT[f.scalar] if scalar else None, f.default if scalar else None,
                         tag_of))
        _PLANS[t.name] = plan
    return plan


def enum_name(enum: str, value: int) -> str:
    return ENUMS[enum].name_of(value)


__all__ = ["Reader", "enum_name", "visible_fields"]
