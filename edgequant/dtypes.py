"""TensorType <-> numpy dtype: the one table.

TFLite's TensorType enum values come from the schema. Packed sub-byte types (INT4, UINT4, INT2)
are stored two (or four) per byte; their storage dtype is uint8 and ``unpack_subbyte`` widens them.
"""

from __future__ import annotations

import numpy as np

FLOAT32, FLOAT16, INT32, UINT8, INT64, STRING, BOOL, INT16, COMPLEX64, INT8 = range(10)
FLOAT64, COMPLEX128, UINT64, RESOURCE, VARIANT, UINT32, UINT16, INT4, BFLOAT16, INT2 = range(10, 20)
UINT4, FLOAT8_E4M3FN, FLOAT8_E5M2 = 20, 21, 22

NAMES = {
    FLOAT32: "float32", FLOAT16: "float16", INT32: "int32", UINT8: "uint8", INT64: "int64",
    STRING: "string", BOOL: "bool", INT16: "int16", COMPLEX64: "complex64", INT8: "int8",
    FLOAT64: "float64", COMPLEX128: "complex128", UINT64: "uint64", RESOURCE: "resource",
    VARIANT: "variant", UINT32: "uint32", UINT16: "uint16", INT4: "int4", BFLOAT16: "bfloat16",
    INT2: "int2", UINT4: "uint4", FLOAT8_E4M3FN: "float8_e4m3fn", FLOAT8_E5M2: "float8_e5m2",
}
BY_NAME = {v: k for k, v in NAMES.items()}

# numpy dtype used to hold the values. None: no numpy equivalent (string, resource, variant).
_NUMPY = {
    FLOAT32: np.float32, FLOAT16: np.float16, INT32: np.int32, UINT8: np.uint8, INT64: np.int64,
    BOOL: np.bool_, INT16: np.int16, COMPLEX64: np.complex64, INT8: np.int8, FLOAT64: np.float64,
    COMPLEX128: np.complex128, UINT64: np.uint64, UINT32: np.uint32, UINT16: np.uint16,
    INT4: np.int8, INT2: np.int8, UINT4: np.uint8,
    BFLOAT16: np.uint16, FLOAT8_E4M3FN: np.uint8, FLOAT8_E5M2: np.uint8,  # raw bits, no numpy type
}
# Bits one element occupies in a buffer.
BITS = {t: np.dtype(d).itemsize * 8 for t, d in _NUMPY.items()}
BITS.update({INT4: 4, UINT4: 4, INT2: 2})
PACKED = (INT4, UINT4, INT2)


def to_numpy(tensor_type: int) -> np.dtype:
    """The numpy dtype holding values of ``tensor_type`` (int8 for packed int4/int2)."""
    try:
        return np.dtype(_NUMPY[tensor_type])
    except KeyError:
        from .errors import UnsupportedError

        raise UnsupportedError(f"tensor type {name(tensor_type)} has no numpy equivalent") from None


def from_numpy(dtype) -> int:
    """The TensorType for a numpy dtype."""
    dt = np.dtype(dtype)
    for t in (FLOAT32, FLOAT16, INT32, UINT8, INT64, BOOL, INT16, COMPLEX64, INT8, FLOAT64, COMPLEX128,
              UINT64, UINT32, UINT16):
        if np.dtype(_NUMPY[t]) == dt:
            return t
    from .errors import UnsupportedError

    raise UnsupportedError(f"numpy dtype {dt} has no TFLite tensor type")


def name(tensor_type: int) -> str:
    return NAMES.get(tensor_type, f"unknown({tensor_type})")


def storage_bytes(tensor_type: int, count: int) -> int:
    """Bytes ``count`` elements take in a buffer (packed types round up)."""
    return (BITS.get(tensor_type, 8) * count + 7) // 8


def integer_range(tensor_type: int) -> tuple[int, int]:
    """Smallest and largest value of an integer tensor type."""
    bits = BITS[tensor_type]
    if tensor_type in (UINT8, UINT16, UINT32, UINT64, UINT4):
        return 0, (1 << bits) - 1
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def unpack_subbyte(raw: np.ndarray, tensor_type: int, count: int) -> np.ndarray:
    """Widen packed int4/uint4/int2 values (low nibble first, as TFLite stores them) to one per byte."""
    bits = BITS[tensor_type]
    per_byte = 8 // bits
    b = np.asarray(raw, dtype=np.uint8)
    parts = [(b >> (bits * i)) & ((1 << bits) - 1) for i in range(per_byte)]
    vals = np.stack(parts, axis=-1).reshape(-1)[:count].astype(np.int16)
    if tensor_type != UINT4:
        vals = np.where(vals >= (1 << (bits - 1)), vals - (1 << bits), vals)
    return vals.astype(to_numpy(tensor_type))
