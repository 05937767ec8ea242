"""Python objects for schema tables: one class per table, fields as attributes.

Field values: scalars and enums are Python numbers; strings are ``str`` (or None when absent);
sub-tables are Node objects (or None); vectors of tables or strings are lists (or None when absent);
``[ubyte]`` vectors are read-only ``np.uint8`` views of the file; float and long vectors are numpy
arrays; other scalar vectors are lists of int. A union is stored as its member object (or None);
its type is the object's table. Absent and empty vectors are kept apart so a round trip is exact.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .schema import TABLES, Table

_CLASSES: dict[str, type[Node]] = {}


class Node:
    """Base of every schema table object."""

    _table: Table  # set per class

    def __init__(self, **values: Any):
        for f in visible_fields(self._table):
            setattr(self, f.name, values.pop(f.name, f.default if f.kind in ("scalar", "enum") else None))
        if values:
            raise TypeError(f"{self._table.name} has no field(s) {sorted(values)}")

    @classmethod
    def table_name(cls) -> str:
        return cls._table.name

    def field_names(self) -> list[str]:
        return [f.name for f in visible_fields(self._table)]

    def to_dict(self) -> dict[str, Any]:
        """The table as nested dicts with snake_case keys; vectors of numbers stay numpy arrays or lists."""
        return {name: _to_plain(getattr(self, name)) for name in self.field_names()}

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self) and getattr(other, "_table", None) is not self._table:
            return NotImplemented
        return all(values_equal(getattr(self, n), getattr(other, n)) for n in self.field_names())

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        parts = []
        for n in self.field_names():
            v = getattr(self, n)
            if v is None:
                continue
            if isinstance(v, np.ndarray) and v.size > 8:
                v = f"<{v.dtype}[{v.size}]>"
            elif isinstance(v, list) and len(v) > 8:
                v = f"[{len(v)} items]"
            parts.append(f"{n}={v!r}")
        return f"{self._table.name}({', '.join(parts)})"


_VISIBLE: dict[str, tuple] = {}


def visible_fields(table: Table) -> tuple:
    """The fields a Node exposes: all but deprecated ones and union type tags."""
    v = _VISIBLE.get(table.name)
    if v is None:
        v = _VISIBLE[table.name] = tuple(f for f in table.fields if not f.deprecated and not _is_union_tag(table, f))
    return v


def _is_union_tag(table: Table, f) -> bool:
    if not f.name.endswith("_type"):
        return False
    base = f.name[: -len("_type")]
    return any(g.name == base and g.kind == "union" for g in table.fields)


def _to_plain(v: Any) -> Any:
    if isinstance(v, Node):
        d = v.to_dict()
        return d
    if isinstance(v, list):
        return [_to_plain(x) for x in v]
    return v


def values_equal(a: Any, b: Any) -> bool:
    """Field equality that treats numpy arrays by value and keeps None apart from empty."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and a.dtype.kind == b.dtype.kind and bool(
            np.array_equal(a.view(np.uint8) if a.dtype.kind == "f" else a,
                           b.view(np.uint8) if b.dtype.kind == "f" else b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True  # NaN defaults compare equal to themselves
    return bool(a == b)


def node_class(name: str) -> type[Node]:
    """The class for a table: a registered subclass (see graph.py) or a plain generated one."""
    cls = _CLASSES.get(name)
    if cls is None:
        cls = type(name, (Node,), {"_table": TABLES[name]})
        _CLASSES[name] = cls
    return cls


def register(cls: type[Node]) -> type[Node]:
    """Class decorator: use ``cls`` (which sets ``_table``) for its table when reading."""
    _CLASSES[cls._table.name] = cls
    return cls


def to_json(v: Any, *, max_bytes: int = 0) -> Any:
    """A JSON-ready copy: enum values by name, numpy arrays as lists, and ``[ubyte]`` blobs
    (weights, custom options) as ``{"bytes": n}`` unless they are at most ``max_bytes`` long."""
    from .schema import ENUMS

    if isinstance(v, Node):
        out: dict[str, Any] = {}
        for f in visible_fields(v._table):
            x = getattr(v, f.name)
            if f.kind == "enum":
                out[f.name] = ENUMS[f.ref].name_of(x)
            elif f.kind == "union" and x is not None:
                out[f.name] = {"type": x._table.name, **to_json(x, max_bytes=max_bytes)}
            elif f.kind == "vector" and f.scalar == "ubyte" and x is not None and len(x) > max_bytes:
                out[f.name] = {"bytes": len(x)}
            elif f.kind == "vector" and f.ref in ENUMS and x is not None:
                out[f.name] = [ENUMS[f.ref].name_of(int(e)) for e in x]
            else:
                out[f.name] = to_json(x, max_bytes=max_bytes)
        return out
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, list):
        return [to_json(x, max_bytes=max_bytes) for x in v]
    if isinstance(v, (np.integer, np.floating, np.bool_)):
        return v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v
